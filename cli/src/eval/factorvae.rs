//! The FactorVAE disentanglement score of the salient space (Kim and Mnih 2018; the paper's
//! Table 9), on groups of target images that share one fixed factor.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use dinfogan::builtin::Domain;
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use serde::Serialize;

use super::separation::{encode_images, EncoderMode};
use super::show_and_keep;
use crate::args::OutputFile;
use crate::data::file::DatasetFile;
use crate::data::{DataSpec, SizeMismatch};
use crate::markdown;
use crate::model::ModelArgs;

/// The result of [`factorvae`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FactorVaeScore {
    /// Majority-vote accuracy on the groups the vote table was not built from.
    #[serde(rename = "held_out_score")]
    pub held_out: f64,
    /// Majority-vote accuracy with the table built from every group (the public code's score).
    #[serde(rename = "all_groups_score")]
    pub all: f64,
    /// votes[d][k]: groups whose fixed factor k gave salient dimension d the least variance.
    pub votes: Vec<Vec<usize>>,
    /// Salient dimensions left out because they do not vary on the reference set.
    #[serde(rename = "collapsed_dimensions")]
    pub collapsed: Vec<usize>,
}

/// The first position of the largest value, as numpy's `argmax` (ties go to the first).
fn argmax_first(values: &[usize]) -> usize {
    let mut best = 0;
    for (k, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = k;
        }
    }
    best
}

fn accuracy(votes: &[Vec<usize>], classify: &[Vec<usize>]) -> f64 {
    // Each dimension predicts the factor it received most training votes for.
    let total: usize = classify.iter().flatten().sum();
    if total == 0 {
        return 0.0;
    }
    let correct: usize = votes
        .iter()
        .zip(classify)
        .map(|(train, test)| test.get(argmax_first(train)).copied().unwrap_or(0))
        .sum();
    correct as f64 / total as f64
}

/// The FactorVAE score. `reference`: codes `[n][M]` giving each dimension's scale (its standard
/// deviation); `groups`: (fixed factor, codes of the group's images). In each group the dimension
/// of least variance, after scaling, votes for the group's fixed factor; a dimension then
/// predicts the factor with most votes. Groups alternate between building the vote table and
/// being scored (`held_out`); `all` scores the table on the groups it was built from. Any
/// number of salient dimensions and factors.
pub fn factorvae(
    reference: &[Vec<f32>],
    groups: &[(usize, Vec<Vec<f32>>)],
    factors: usize,
) -> FactorVaeScore {
    let m = reference.first().map_or(0, Vec::len);
    let n = reference.len().max(1) as f64;
    let scale: Vec<f64> = (0..m)
        .map(|d| {
            let mean = reference.iter().map(|c| c[d] as f64).sum::<f64>() / n;
            (reference
                .iter()
                .map(|c| (c[d] as f64 - mean).powi(2))
                .sum::<f64>()
                / n)
                .sqrt()
        })
        .collect();
    let largest = scale.iter().copied().fold(0.0, f64::max);
    let collapsed: Vec<usize> = (0..m)
        .filter(|&d| scale[d] <= 1e-6 * largest.max(1e-12))
        .collect();
    let mut train = vec![vec![0usize; factors]; m];
    let mut test = vec![vec![0usize; factors]; m];
    for (g, (factor, codes)) in groups.iter().enumerate() {
        let count = codes.len().max(1) as f64;
        let variance = |d: usize| {
            let mean = codes.iter().map(|c| c[d] as f64 / scale[d]).sum::<f64>() / count;
            codes
                .iter()
                .map(|c| (c[d] as f64 / scale[d] - mean).powi(2))
                .sum::<f64>()
                / count
        };
        let Some(dim) = (0..m)
            .filter(|d| !collapsed.contains(d))
            .min_by(|&a, &b| variance(a).total_cmp(&variance(b)))
        else {
            continue;
        };
        // Consecutive rounds of `factors` groups alternate, so both halves see every factor.
        let table = if (g / factors.max(1)).is_multiple_of(2) {
            &mut train
        } else {
            &mut test
        };
        table[dim][*factor] += 1;
    }
    let all: Vec<Vec<usize>> = train
        .iter()
        .zip(&test)
        .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x + y).collect())
        .collect();
    FactorVaeScore {
        held_out: accuracy(&train, &test),
        all: accuracy(&all, &all),
        votes: all,
        collapsed,
    }
}

#[derive(Debug, Args)]
pub struct FactorVaeArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The grouped set, from `dinfogan data build dsprites-mnist-groups`.
    #[arg(long)]
    pub data: PathBuf,
    #[command(flatten)]
    pub reference: ReferenceOptions,
    /// Also write the result as Markdown.
    #[arg(long)]
    pub out: Option<OutputFile>,
    /// Print the score and the vote table as one JSON document on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Where the FactorVAE score takes each salient dimension's scale from.
#[derive(Debug, Args)]
pub struct ReferenceOptions {
    /// The set whose salient codes give each dimension its scale: a random sample of its target
    /// images is used (default: the grouped set). The paper's code takes 1,000 random
    /// dSprites-MNIST targets, InfoGAN-CR a random 10% of dSprites; pass the training set
    /// (`data build dsprites-mnist`) for the same.
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// Size of the random reference sample.
    #[arg(long, default_value_t = 10_000)]
    pub reference_count: usize,
    /// Seed of the reference sample.
    #[arg(long, default_value_t = 0)]
    pub reference_seed: u64,
}

/// Salient codes of the images `indices` of the dataset file at `path` (inference mode).
fn salient_codes(
    model: &dinfogan::InferenceModel,
    (path, file): &(PathBuf, DatasetFile),
    indices: &[usize],
) -> Result<Vec<Vec<f32>>> {
    let c = model.config();
    let h = &file.header;
    SizeMismatch::check(
        &DataSpec::File(path.clone()),
        (h.channels, h.side),
        (c.channels, c.image_size),
    )?;
    let image = |k: usize| {
        let pixels = file.pixels_of(indices[k]);
        pixels.iter().map(|&p| dinfogan::pixels::unit(p)).collect()
    };
    let (_, salient) = encode_images(model, indices.len(), image, EncoderMode::Inference)?;
    Ok(salient)
}

/// A grouped set (`data build dsprites-mnist-groups`) and a random sample of a reference set's
/// targets, read once, to score any number of models.
pub(crate) struct FactorVaeSets {
    /// The grouped set's path and contents.
    groups_file: (PathBuf, DatasetFile),
    /// (fixed factor, image indices) per group.
    groups: Vec<(usize, Vec<usize>)>,
    factors: usize,
    reference_file: (PathBuf, DatasetFile),
    reference_indices: Vec<usize>,
}

impl FactorVaeSets {
    pub(crate) fn open(data: &std::path::Path, options: &ReferenceOptions) -> Result<Self> {
        let (reference, reference_count, reference_seed) = (
            options.reference.as_deref(),
            options.reference_count,
            options.reference_seed,
        );
        if reference_count == 0 {
            bail!("--reference-count must be at least 1");
        }
        let groups_file = DatasetFile::read(data)?;
        let h = &groups_file.header;
        let (Some(fixed), Some(group)) = (h.label("fixed_factor"), h.label("group")) else {
            bail!(
                "{} has no fixed_factor and group labels: build it with `dinfogan data build dsprites-mnist-groups`",
                data.display()
            );
        };
        let factors = h.factor_names.len().max(1);
        let mut members: std::collections::BTreeMap<i32, (usize, Vec<usize>)> = Default::default();
        for i in 0..h.count {
            let labels = groups_file.labels_of(i);
            let factor = usize::try_from(labels[fixed])
                .ok()
                .filter(|&f| f < factors)
                .with_context(|| {
                    format!("{}: image {i} has no valid fixed factor", data.display())
                })?;
            members
                .entry(labels[group])
                .or_insert((factor, Vec::new()))
                .1
                .push(i);
        }
        let reference_file = match reference {
            Some(path) => (path.to_path_buf(), DatasetFile::read(path)?),
            None => (data.to_path_buf(), groups_file.clone()),
        };
        // A random sample of the reference set's targets, not its first images (a file's order
        // follows the factor grid or the groups).
        let mut reference_indices: Vec<usize> = (0..reference_file.1.header.count)
            .filter(|&i| reference_file.1.domains[i] == Domain::Target)
            .collect();
        if reference_indices.is_empty() {
            bail!("the reference set has no target image");
        }
        reference_indices.shuffle(&mut StdRng::seed_from_u64(reference_seed));
        reference_indices.truncate(reference_count);
        Ok(Self {
            groups_file: (data.to_path_buf(), groups_file),
            groups: members.into_values().collect(),
            factors,
            reference_file,
            reference_indices,
        })
    }

    /// The score of `model`'s salient codes.
    pub(crate) fn score(&self, model: &dinfogan::InferenceModel) -> Result<FactorVaeScore> {
        let mut groups = Vec::new();
        for (factor, indices) in &self.groups {
            groups.push((*factor, salient_codes(model, &self.groups_file, indices)?));
        }
        let reference = salient_codes(model, &self.reference_file, &self.reference_indices)?;
        Ok(factorvae(&reference, &groups, self.factors))
    }
}

pub fn factorvae_command(args: FactorVaeArgs) -> Result<()> {
    let sets = FactorVaeSets::open(&args.data, &args.reference)?;
    let model = args.model.load()?;
    let report = FactorVaeReport {
        checkpoint: args.model.checkpoint.display().to_string(),
        data: args.data.display().to_string(),
        groups: sets.groups.len(),
        reference: args
            .reference
            .reference
            .as_ref()
            .unwrap_or(&args.data)
            .display()
            .to_string(),
        reference_images: sets.reference_indices.len(),
        reference_seed: args.reference.reference_seed,
        salient_dim: model.config().salient_dim,
        factors: sets.groups_file.1.header.factor_names.clone(),
        score: sets.score(&model)?,
    };
    show_and_keep(args.json, &report, &report.text(), args.out.as_deref())
}

/// `eval factorvae`: the score and what it was computed on; the text and `--json` come from it.
#[derive(Debug, Serialize)]
struct FactorVaeReport {
    checkpoint: String,
    /// The grouped set.
    data: String,
    groups: usize,
    /// The set whose random target images give each salient dimension its scale.
    reference: String,
    reference_images: usize,
    reference_seed: u64,
    /// M, the salient dimensions (the rows of `votes`).
    salient_dim: usize,
    /// The fixed factors (the columns of `votes`).
    factors: Vec<String>,
    #[serde(flatten)]
    score: FactorVaeScore,
}

impl FactorVaeReport {
    fn text(&self) -> String {
        let score = &self.score;
        let mut table = markdown::Table::new(["score", "value"]);
        table
            .row(["held-out groups".into(), format!("{:.4}", score.held_out)])
            .row([
                "all groups (public code)".into(),
                format!("{:.4}", score.all),
            ]);
        let mut text = format!(
            "FactorVAE score of the salient space ({} groups; scales from {} random target images of {}; M = {})\n\n{table}",
            self.groups, self.reference_images, self.reference, self.salient_dim
        );
        text += &format!(
            "\nVotes (rows: salient dimension; columns: {}):\n\n",
            self.factors.join(", ")
        );
        for (d, row) in score.votes.iter().enumerate() {
            let mark = if score.collapsed.contains(&d) {
                " (collapsed)"
            } else {
                ""
            };
            text += &format!("s_{d}{mark}: {row:?}\n");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, RngExt, SeedableRng};

    /// Groups of `per` codes of `m` dimensions; `encode` maps the 5 factor values to a code.
    fn groups(
        encode: &dyn Fn(&[f32; 5], &mut StdRng) -> Vec<f32>,
        count: usize,
        per: usize,
    ) -> Vec<(usize, Vec<Vec<f32>>)> {
        let mut rng = StdRng::seed_from_u64(1);
        (0..count)
            .map(|g| {
                let fixed = g % 5;
                let value: f32 = rng.random();
                let codes = (0..per)
                    .map(|_| {
                        let mut f: [f32; 5] = std::array::from_fn(|_| rng.random());
                        f[fixed] = value;
                        encode(&f, &mut rng)
                    })
                    .collect();
                (fixed, codes)
            })
            .collect()
    }

    #[test]
    fn a_planted_code_scores_one_and_a_random_one_chance() {
        let mut rng = StdRng::seed_from_u64(2);
        let reference: Vec<Vec<f32>> = (0..500)
            .map(|_| (0..7).map(|_| rng.random::<f32>()).collect())
            .collect();
        // Dimensions 0..5 are the factors (any order), 5 and 6 are noise: any M works.
        let planted = groups(
            &|f, rng| vec![f[3], f[0], f[4], f[1], f[2], rng.random(), rng.random()],
            200,
            50,
        );
        let score = factorvae(&reference, &planted, 5);
        assert_eq!(score.held_out, 1.0);
        assert_eq!(score.all, 1.0);
        let random = groups(
            &|_, rng| (0..7).map(|_| rng.random::<f32>()).collect(),
            500,
            50,
        );
        let score = factorvae(&reference, &random, 5);
        assert!(
            score.held_out < 0.4,
            "random encoder scored {}",
            score.held_out
        );
    }

    #[test]
    fn collapsed_dimensions_do_not_vote() {
        let reference: Vec<Vec<f32>> = (0..10).map(|i| vec![i as f32, 0.0]).collect();
        let g = vec![(1, vec![vec![1.0, 0.0], vec![1.0, 0.0]])];
        let score = factorvae(&reference, &g, 5);
        assert_eq!(score.collapsed, vec![1]);
        assert_eq!(score.votes[0][1], 1);
    }

    #[test]
    fn tied_votes_go_to_the_first_factor_as_numpy_argmax() {
        assert_eq!(argmax_first(&[0, 3, 1, 3]), 1);
        // A dimension with as many votes for factor 0 as for factor 1 predicts factor 0: the
        // groups fixing factor 0 count as correct, those fixing factor 1 do not.
        let votes = vec![vec![2, 2, 0]];
        assert_eq!(accuracy(&votes, &votes), 0.5);
        let classify = vec![vec![1, 0, 0]];
        assert_eq!(accuracy(&votes, &classify), 1.0);
    }
}
