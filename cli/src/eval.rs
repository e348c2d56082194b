//! `dinfogan eval`: the paper's quantitative protocol. For now the FactorVAE disentanglement
//! score of the salient space (Kim and Mnih 2018; the paper's Table 9).

use std::path::PathBuf;

use anyhow::{bail, Result};
use burn::prelude::*;
use clap::{Args, Subcommand};

use crate::data::file::DatasetFile;
use crate::tools::{load_model, ModelArgs};
use crate::train::read;

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// The FactorVAE score of the salient codes on a grouped set (`data build dsprites-mnist-groups`).
    Factorvae(FactorVaeArgs),
}

pub fn run(command: EvalCommand) -> Result<()> {
    match command {
        EvalCommand::Factorvae(args) => factorvae_command(args),
    }
}

/// The result of [`factorvae`].
#[derive(Debug, Clone, PartialEq)]
pub struct FactorVaeScore {
    /// Majority-vote accuracy on the groups the vote table was not built from.
    pub held_out: f64,
    /// Majority-vote accuracy with the table built from every group (the public code's score).
    pub all: f64,
    /// votes[d][k]: groups whose fixed factor k gave salient dimension d the least variance.
    pub votes: Vec<Vec<usize>>,
    /// Salient dimensions left out because they do not vary on the reference set.
    pub collapsed: Vec<usize>,
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
        .map(|(train, test)| {
            let best = (0..train.len()).max_by_key(|&k| train[k]).unwrap_or(0);
            test.get(best).copied().unwrap_or(0)
        })
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
    /// Images whose salient codes give each dimension its scale (default: the grouped set).
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// At most this many reference images.
    #[arg(long, default_value_t = 10_000)]
    pub reference_count: usize,
    /// Also write the result as Markdown.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Salient codes of the target images `indices` of a dataset file.
fn salient_codes(
    model: &dinfogan::InferenceModel,
    file: &DatasetFile,
    indices: &[usize],
) -> Result<Vec<Vec<f32>>> {
    let c = model.config();
    let (side, channels) = (c.image_size, c.channels);
    if file.header.side != side || file.header.channels != channels {
        bail!(
            "the dataset holds {}x{}x{} images but the model works on {channels}x{side}x{side}",
            file.header.channels,
            file.header.side,
            file.header.side
        );
    }
    let mut codes = Vec::with_capacity(indices.len());
    for chunk in indices.chunks(128) {
        let pixels: Vec<f32> = chunk
            .iter()
            .flat_map(|&i| file.pixels_of(i).iter().map(|&p| p as f32 / 127.5 - 1.0))
            .collect();
        let images = Tensor::<4>::from_data(
            TensorData::new(pixels, [chunk.len(), channels, side, side]),
            model.device(),
        );
        let (_, salient) = model.encode(images)?;
        let values = read(salient)?;
        codes.extend(values.chunks(c.salient_dim).map(<[f32]>::to_vec));
    }
    Ok(codes)
}

fn factorvae_command(args: FactorVaeArgs) -> Result<()> {
    let (model, _) = load_model(&args.model)?;
    let groups_file = DatasetFile::read(&args.data)?;
    let h = &groups_file.header;
    let (Some(fixed), Some(group)) = (
        h.label_names.iter().position(|n| n == "fixed_factor"),
        h.label_names.iter().position(|n| n == "group"),
    ) else {
        bail!(
            "{} has no fixed_factor and group labels: build it with `dinfogan data build dsprites-mnist-groups`",
            args.data.display()
        );
    };
    let factors = h.factor_names.len().max(1);
    let mut members: std::collections::BTreeMap<i32, (usize, Vec<usize>)> = Default::default();
    for i in 0..h.count {
        let labels = groups_file.labels_of(i);
        let entry = members
            .entry(labels[group])
            .or_insert((labels[fixed] as usize, Vec::new()));
        entry.1.push(i);
    }
    let mut groups = Vec::new();
    for (factor, indices) in members.values() {
        groups.push((*factor, salient_codes(&model, &groups_file, indices)?));
    }
    let reference_file = match &args.reference {
        Some(path) => DatasetFile::read(path)?,
        None => groups_file.clone(),
    };
    let reference_indices: Vec<usize> = (0..reference_file.header.count)
        .filter(|&i| reference_file.domains[i] == 1)
        .take(args.reference_count)
        .collect();
    if reference_indices.is_empty() {
        bail!("the reference set has no target image");
    }
    let reference = salient_codes(&model, &reference_file, &reference_indices)?;
    let score = factorvae(&reference, &groups, factors);

    let mut text = format!(
        "FactorVAE score of the salient space ({} groups, {} reference images, M = {})\n\n\
         | score | value |\n|---|---|\n| held-out groups | {:.4} |\n| all groups (public code) | {:.4} |\n",
        groups.len(),
        reference.len(),
        model.config().salient_dim,
        score.held_out,
        score.all
    );
    text += &format!(
        "\nVotes (rows: salient dimension; columns: {}):\n\n",
        h.factor_names.join(", ")
    );
    for (d, row) in score.votes.iter().enumerate() {
        let mark = if score.collapsed.contains(&d) {
            " (collapsed)"
        } else {
            ""
        };
        text += &format!("s_{d}{mark}: {row:?}\n");
    }
    print!("{text}");
    if let Some(out) = &args.out {
        crate::run::write_atomic(out, text.as_bytes())?;
    }
    Ok(())
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
}
