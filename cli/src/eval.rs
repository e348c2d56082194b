//! `dinfogan eval`: the paper's quantitative protocol: how well a logistic regression reads each
//! label from the common codes z and from the salient codes s (section 5, Tables 1-3), and the
//! FactorVAE disentanglement score of the salient space (Kim and Mnih 2018; Table 9).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use burn::prelude::*;
use clap::{Args, Subcommand};

use crate::data::file::DatasetFile;
use crate::run::RunDir;
use crate::tools::{load_model, ModelArgs};
use crate::train::read;

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Accuracy of a logistic regression (5-fold cross-validation) reading each label from z and from s.
    Separation(SeparationArgs),
    /// Best / average / worst separation over several runs (seeds), as the paper's Tables 1 and 2.
    Table(TableArgs),
    /// The FactorVAE score of the salient codes on a grouped set (`data build dsprites-mnist-groups`).
    Factorvae(FactorVaeArgs),
}

pub fn run(command: EvalCommand) -> Result<()> {
    match command {
        EvalCommand::Factorvae(args) => factorvae_command(args),
        EvalCommand::Separation(args) => separation_command(args),
        EvalCommand::Table(args) => table_command(args),
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

/// Folds of a stratified, unshuffled k-fold split (as scikit-learn's `StratifiedKFold`): the
/// members of each class go to folds 0, 1, ..., k-1, 0, ... in their order.
fn stratified_folds(y: &[usize], folds: usize) -> Vec<usize> {
    let mut seen = std::collections::HashMap::new();
    y.iter()
        .map(|c| {
            let k = seen.entry(*c).or_insert(0usize);
            *k += 1;
            (*k - 1) % folds
        })
        .collect()
}

/// Mean and standard deviation of the test accuracy of a multinomial logistic regression over
/// stratified folds. Matches scikit-learn's `LogisticRegression()` defaults: L2 penalty with
/// C = 1 (linfa's alpha = 1/C on the weights, intercept not penalised), L-BFGS, at most 100
/// iterations, features not standardised.
pub fn cross_validate(x: &[Vec<f32>], y: &[usize], folds: usize) -> Result<(f64, f64)> {
    use linfa::prelude::*;
    use linfa_logistic::MultiLogisticRegression;
    let dims = x.first().map_or(0, Vec::len);
    let assignment = stratified_folds(y, folds);
    let mut scores = Vec::with_capacity(folds);
    for fold in 0..folds {
        let split = |test: bool| {
            let rows: Vec<usize> = (0..y.len())
                .filter(|&i| (assignment[i] == fold) == test)
                .collect();
            let records =
                ndarray::Array2::from_shape_fn((rows.len(), dims), |(r, c)| x[rows[r]][c] as f64);
            let targets = ndarray::Array1::from_iter(rows.iter().map(|&i| y[i]));
            (records, targets)
        };
        let (train_x, train_y) = split(false);
        let (test_x, test_y) = split(true);
        if test_y.is_empty() {
            continue;
        }
        let model = MultiLogisticRegression::default()
            .alpha(1.0)
            .max_iterations(100)
            .fit(&Dataset::new(train_x, train_y))
            .map_err(|e| anyhow::anyhow!("the logistic regression failed ({e})"))?;
        let predicted = model.predict(&test_x);
        let correct = predicted
            .iter()
            .zip(test_y.iter())
            .filter(|(a, b)| a == b)
            .count();
        scores.push(correct as f64 / test_y.len() as f64);
    }
    if scores.is_empty() {
        bail!("too few samples for {folds}-fold cross-validation");
    }
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    let var = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / scores.len() as f64;
    Ok((mean, var.sqrt()))
}

/// One label to read from the codes: its classes per image (None: not defined for that image)
/// and whether it is salient content (should be read from s, not from z).
struct Label {
    name: String,
    classes: Vec<Option<usize>>,
    salient: bool,
}

/// One line of the separation table.
#[derive(Debug, Clone)]
pub struct SeparationRow {
    /// `s` or `z`.
    pub space: &'static str,
    pub label: String,
    pub classes: usize,
    pub images: usize,
    pub mean: f64,
    pub std: f64,
    /// The majority-class rate.
    pub chance: f64,
    /// `high` or `chance`.
    pub wanted: &'static str,
}

/// Bins a value of [lo, hi) into `n` equal classes.
fn bin(v: f32, lo: f32, hi: f32, n: usize) -> Option<usize> {
    (!v.is_nan()).then(|| (((v - lo) / (hi - lo) * n as f32) as usize).min(n - 1))
}

/// What a separation table is computed on, and where it goes.
#[derive(Debug, Args)]
pub struct SeparationOptions {
    /// `builtin` (a held-out set of the built-in data, with its true factors) or a dataset file.
    #[arg(long, default_value = "builtin")]
    pub data: String,
    /// Only the labels starting with these names (default: all).
    #[arg(long, num_args = 1..)]
    pub labels: Vec<String>,
    /// Built-in data: images per domain.
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Folds of the cross-validation.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Write the table to PREFIX.csv and PREFIX.md.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl SeparationOptions {
    fn table(&self, model: &dinfogan::InferenceModel) -> Result<Vec<SeparationRow>> {
        separation(model, &self.data, &self.labels, self.count, self.folds)
    }

    /// Prints the Markdown table and writes both forms under `--out`.
    fn report(&self, markdown: &str, csv: &str) -> Result<()> {
        print!("{markdown}");
        if let Some(prefix) = &self.out {
            crate::run::write_atomic(&prefix.with_extension("md"), markdown.as_bytes())?;
            crate::run::write_atomic(&prefix.with_extension("csv"), csv.as_bytes())?;
        }
        Ok(())
    }
}

#[derive(Debug, Args)]
pub struct SeparationArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub options: SeparationOptions,
}

/// One code per image.
type Codes = Vec<Vec<f32>>;

/// Common and salient codes of images (`channels x side x side` in [-1, 1] each).
fn encode_images(model: &dinfogan::InferenceModel, images: &[Vec<f32>]) -> Result<(Codes, Codes)> {
    let c = model.config();
    let (mut z, mut s) = (Vec::new(), Vec::new());
    for chunk in images.chunks(128) {
        let pixels: Vec<f32> = chunk.iter().flatten().copied().collect();
        let batch = Tensor::<4>::from_data(
            TensorData::new(
                pixels,
                [chunk.len(), c.channels, c.image_size, c.image_size],
            ),
            model.device(),
        );
        let (common, salient) = model.encode(batch)?;
        z.extend(read(common)?.chunks(c.common_dim).map(<[f32]>::to_vec));
        s.extend(read(salient)?.chunks(c.salient_dim).map(<[f32]>::to_vec));
    }
    Ok((z, s))
}

fn separation_command(args: SeparationArgs) -> Result<()> {
    let (model, _) = load_model(&args.model)?;
    let rows = args.options.table(&model)?;
    let mut markdown = String::from(
        "| space | label | classes | images | accuracy | majority class | desired |\n|---|---|---|---|---|---|---|\n",
    );
    let mut csv = String::from(
        "space,label,classes,images,accuracy_mean,accuracy_std,majority_class,desired\n",
    );
    for r in &rows {
        let arrow = if r.wanted == "high" {
            "↑"
        } else {
            "↓ (chance)"
        };
        markdown += &format!(
            "| {} | {} | {} | {} | {:.3} ± {:.3} | {:.3} | {arrow} |\n",
            r.space, r.label, r.classes, r.images, r.mean, r.std, r.chance
        );
        csv += &format!(
            "{},{},{},{},{:.4},{:.4},{:.4},{}\n",
            r.space, r.label, r.classes, r.images, r.mean, r.std, r.chance, r.wanted
        );
    }
    // A run folder keeps every evaluation of its checkpoints: `dinfogan plot` draws them over
    // training.
    let path = &args.model.checkpoint;
    if path.is_dir() {
        let step = RunDir::open(path)?.load_meta()?.step;
        let dir = path.join("eval");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
        let file = dir.join(format!("separation-step-{step:06}.csv"));
        crate::run::write_atomic(&file, csv.as_bytes())?;
        eprintln!("recorded {}", file.display());
    }
    args.options.report(&markdown, &csv)
}

#[derive(Debug, Args)]
pub struct TableArgs {
    /// Run folders (or exported model files), e.g. one per seed.
    #[arg(required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,
    #[command(flatten)]
    pub options: SeparationOptions,
}

fn table_command(args: TableArgs) -> Result<()> {
    // (space, label) -> (desired, mean accuracy of each run), in the order of the first run.
    let mut order: Vec<(&'static str, String)> = Vec::new();
    let mut results: std::collections::HashMap<(&'static str, String), (&'static str, Vec<f64>)> =
        Default::default();
    for run in &args.runs {
        let (model, _) = load_model(&ModelArgs {
            checkpoint: run.clone(),
            backend: crate::backend::Backend::Cpu,
            seed: 0,
        })?;
        eprintln!("evaluating {}", run.display());
        for row in args.options.table(&model)? {
            let key = (row.space, row.label.clone());
            if !results.contains_key(&key) {
                order.push(key.clone());
            }
            results
                .entry(key)
                .or_insert((row.wanted, Vec::new()))
                .1
                .push(row.mean);
        }
    }
    let mut markdown = format!(
        "Separation over {} runs\n\n| space | label | best | average | worst | desired |\n|---|---|---|---|---|---|\n",
        args.runs.len()
    );
    let mut csv = String::from("space,label,best,average,worst,runs,desired\n");
    for key in &order {
        let (wanted, means) = &results[key];
        // "Best" is best for the desired direction: highest where high is wanted, lowest where chance is.
        let high = *wanted == "high";
        let pick = |better: bool| {
            means
                .iter()
                .copied()
                .fold(if better == high { f64::MIN } else { f64::MAX }, |a, b| {
                    if better == high {
                        a.max(b)
                    } else {
                        a.min(b)
                    }
                })
        };
        let (best, worst) = (pick(true), pick(false));
        let average = means.iter().sum::<f64>() / means.len() as f64;
        let arrow = if high { "↑" } else { "↓ (chance)" };
        markdown += &format!(
            "| {} | {} | {best:.3} | {average:.3} | {worst:.3} | {arrow} |\n",
            key.0, key.1
        );
        csv += &format!(
            "{},{},{best:.4},{average:.4},{worst:.4},{},{wanted}\n",
            key.0,
            key.1,
            means.len()
        );
    }
    args.options.report(&markdown, &csv)
}

/// The separation table of one model on `data` (`builtin` or a dataset file).
pub fn separation(
    model: &dinfogan::InferenceModel,
    data: &str,
    only: &[String],
    count: usize,
    folds: usize,
) -> Result<Vec<SeparationRow>> {
    use dinfogan::builtin::{BuiltinDataset, Domain};
    let c = model.config().clone();
    let mut images = Vec::new();
    let mut labels: Vec<Label> = Vec::new();
    if data == "builtin" {
        // A seed no training run uses by default: images the model has not seen.
        let data = BuiltinDataset::new(0x5EED_0E7A, count);
        let mut factors = Vec::new();
        for domain in [Domain::Background, Domain::Target] {
            for i in 0..count {
                images.push(data.image(domain, i, c.image_size, c.channels));
                factors.push(data.factors(domain, i));
            }
        }
        let label =
            |name: &str,
             salient,
             f: &dyn Fn(&dinfogan::builtin::BuiltinFactors) -> Option<usize>| Label {
                name: name.into(),
                classes: factors.iter().map(f).collect(),
                salient,
            };
        labels.push(label("target", true, &|f| Some(f.domain.label() as usize)));
        labels.push(label("hue (6 bins)", false, &|f| {
            bin(f.common.hue, 0.0, 1.0, 6)
        }));
        labels.push(label("orientation (6 bins)", false, &|f| {
            bin(f.common.orientation, 0.0, std::f32::consts::PI, 6)
        }));
        labels.push(label("frequency (4 bins)", false, &|f| {
            bin(f.common.frequency, 1.0, 3.0, 4)
        }));
        let sprite = |f: &dinfogan::builtin::BuiltinFactors, k: usize| f.values()[k];
        labels.push(label("shape", true, &|f| bin(sprite(f, 4), 0.0, 3.0, 3)));
        labels.push(label("scale (6 levels)", true, &|f| {
            bin(sprite(f, 5), 0.45, 1.05, 6)
        }));
        labels.push(label("x (4 bins)", true, &|f| {
            bin(sprite(f, 7), 0.25, 0.75, 4)
        }));
        labels.push(label("y (4 bins)", true, &|f| {
            bin(sprite(f, 8), 0.25, 0.75, 4)
        }));
    } else {
        let file = DatasetFile::read(std::path::Path::new(data))?;
        for i in 0..file.header.count {
            images.push(
                file.pixels_of(i)
                    .iter()
                    .map(|&p| p as f32 / 127.5 - 1.0)
                    .collect(),
            );
        }
        labels.push(Label {
            name: "target".into(),
            classes: file.domains.iter().map(|&d| Some(d as usize)).collect(),
            salient: true,
        });
        for (k, name) in file.header.label_names.iter().enumerate() {
            labels.push(Label {
                name: name.clone(),
                classes: (0..file.header.count)
                    .map(|i| usize::try_from(file.labels_of(i)[k]).ok())
                    .collect(),
                // What the recipes put in the target images only is salient content.
                salient: matches!(
                    name.as_str(),
                    "digit" | "shape" | "accessory" | "fixed_factor"
                ),
            });
        }
    }
    if !only.is_empty() {
        labels.retain(|l| only.iter().any(|n| l.name.starts_with(n.as_str())));
        if labels.is_empty() {
            bail!("none of the labels {only:?} exists in this data");
        }
    }
    let (z, s) = encode_images(model, &images)?;

    let mut rows = Vec::new();
    for label in &labels {
        let picked: Vec<usize> = (0..images.len())
            .filter(|&i| label.classes[i].is_some())
            .collect();
        let y: Vec<usize> = picked
            .iter()
            .map(|&i| label.classes[i].unwrap_or(0))
            .collect();
        let classes = y.iter().collect::<std::collections::HashSet<_>>().len();
        if classes < 2 {
            eprintln!("skipped {}: fewer than two classes", label.name);
            continue;
        }
        let mut counts = std::collections::HashMap::new();
        for c in &y {
            *counts.entry(*c).or_insert(0usize) += 1;
        }
        let chance = *counts.values().max().unwrap_or(&0) as f64 / y.len() as f64;
        for (space, codes) in [("s", &s), ("z", &z)] {
            let x: Vec<Vec<f32>> = picked.iter().map(|&i| codes[i].clone()).collect();
            let (mean, std) = cross_validate(&x, &y, folds)?;
            let wanted = if (space == "s") == label.salient {
                "high"
            } else {
                "chance"
            };
            rows.push(SeparationRow {
                space,
                label: label.name.clone(),
                classes,
                images: y.len(),
                mean,
                std,
                chance,
                wanted,
            });
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, RngExt, SeedableRng};

    #[test]
    fn logistic_regression_reads_separable_data_and_not_noise() {
        let mut rng = StdRng::seed_from_u64(5);
        let y: Vec<usize> = (0..300).map(|i| i % 3).collect();
        let separable: Vec<Vec<f32>> = y
            .iter()
            .map(|&c| vec![c as f32 * 3.0 + rng.random::<f32>(), rng.random::<f32>()])
            .collect();
        let (mean, _) = cross_validate(&separable, &y, 5).unwrap();
        assert!(mean > 0.97, "separable data: {mean}");
        let noise: Vec<Vec<f32>> = (0..300).map(|_| vec![rng.random(), rng.random()]).collect();
        let (mean, _) = cross_validate(&noise, &y, 5).unwrap();
        assert!(mean < 0.5, "noise: {mean}");
    }

    #[test]
    fn agrees_with_scikit_learn_on_a_known_example() {
        use linfa::prelude::*;
        // scikit-learn 1.9.1: LogisticRegression(C=1.0, max_iter=10000, tol=1e-12) on
        // x_i = (sin i, cos 1.7 i), y_i = i mod 3, i < 30; predict_proba of the first 4 rows.
        let expected = [
            [0.30594, 0.35662, 0.33744],
            [0.340822, 0.339059, 0.320119],
            [0.365301, 0.319314, 0.315385],
            [0.323505, 0.343223, 0.333272],
        ];
        let x = ndarray::Array2::from_shape_fn((30, 2), |(i, j)| {
            let i = i as f64;
            if j == 0 {
                i.sin()
            } else {
                (1.7 * i).cos()
            }
        });
        let y = ndarray::Array1::from_iter((0..30).map(|i| i % 3));
        let model = linfa_logistic::MultiLogisticRegression::default()
            .alpha(1.0)
            .max_iterations(1000)
            .fit(&Dataset::new(x.clone(), y))
            .unwrap();
        let p = model.predict_probabilities(&x);
        for (r, row) in expected.iter().enumerate() {
            for (c, &e) in row.iter().enumerate() {
                assert!(
                    (p[[r, c]] - e).abs() < 1e-3,
                    "row {r} class {c}: {} vs {e}",
                    p[[r, c]]
                );
            }
        }
    }

    #[test]
    fn folds_are_stratified_in_order() {
        assert_eq!(
            stratified_folds(&[0, 0, 1, 0, 1, 1], 2),
            vec![0, 1, 0, 0, 1, 0]
        );
    }

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
