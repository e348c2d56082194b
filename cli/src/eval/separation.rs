//! The paper's separation protocol (section 5, Tables 1-3): encode held-out images into ẑ and
//! ŝ, then read each label from each space with a cross-validated logistic regression. A
//! salient label should be read well from s and near chance from z; a common label the other
//! way round.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use dinfogan::builtin::{BuiltinDataset, BuiltinFactors, Domain};
use dinfogan::InferenceModel;
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use serde::{Deserialize, Serialize};

use super::classifier::cross_validate;
use super::{show_and_keep_table, to_csv};
use crate::args::{at_least_one, OutputFile};
use crate::data::file::{LabelRole, LabelSpec, ScoredOn};
use crate::data::{Data, DataSpec, SizeMismatch, Source};
use crate::io::read;
use crate::markdown;
use crate::model::ModelArgs;
use crate::run::RunDir;

/// The latent space a label is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Space {
    /// The salient codes ŝ = Qs(x).
    S,
    /// The common codes ẑ = Qz(x).
    Z,
}

impl std::fmt::Display for Space {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            Self::S => "s",
            Self::Z => "z",
        })
    }
}

/// What a good model gives for a (label, space) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Wanted {
    /// The label is read well (salient from s, common from z).
    High,
    /// The label is read at chance (salient from z, common from s).
    Chance,
}

impl Wanted {
    fn of(role: LabelRole, space: Space) -> Self {
        if (space == Space::S) == (role == LabelRole::Salient) {
            Self::High
        } else {
            Self::Chance
        }
    }

    pub fn arrow(self) -> &'static str {
        match self {
            Self::High => "↑",
            Self::Chance => "↓ (chance)",
        }
    }
}

/// How the encoder runs while the codes are taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncoderMode {
    /// Evaluation mode: no noise, batch-norm running statistics; deterministic (the default).
    #[default]
    Inference,
    /// Training mode, as the paper's public evaluation scripts run it: Gaussian noise on and
    /// batch-norm statistics of shuffled batches of 128 mixing both domains.
    Train,
}

impl EncoderMode {
    /// As sentences say it: "encoder in {} mode".
    pub fn describe(self) -> &'static str {
        match self {
            Self::Inference => "inference",
            Self::Train => "training",
        }
    }
}

/// One label of an evaluation set: what it is, and its class on each image (`None`: not
/// defined there, or not scored there).
#[derive(Debug)]
pub struct Label {
    pub spec: LabelSpec,
    pub classes: Vec<Option<usize>>,
    /// The name of each class where the data has one (the domains, folder names); empty: the
    /// classes are numbered.
    pub names: Vec<String>,
}

impl Label {
    /// What a plot's legend calls class `k`.
    pub fn class_name(&self, k: usize) -> String {
        self.names.get(k).cloned().unwrap_or_else(|| k.to_string())
    }
}

/// Held-out images with their labels (the domain is one of them).
pub struct EvalSet {
    /// `channels x side x side` values in [-1, 1] per image.
    pub images: Vec<Vec<f32>>,
    pub labels: Vec<Label>,
}

/// The seed of the built-in evaluation images: one no training run uses by default.
pub(crate) const BUILTIN_EVAL_SEED: u64 = 0x5EED_0E7A;

/// Bins a value of [lo, hi) into `n` equal classes.
fn bin(v: f32, lo: f32, hi: f32, n: usize) -> Option<usize> {
    (!v.is_nan()).then(|| (((v - lo) / (hi - lo) * n as f32).max(0.0) as usize).min(n - 1))
}

/// The label every set has: background (0) or target (1), salient, scored on every image.
fn domain_label(domains: &[Domain]) -> Label {
    Label {
        spec: LabelSpec {
            name: "target".into(),
            role: LabelRole::Salient,
            scored_on: ScoredOn::All,
        },
        classes: domains.iter().map(|d| Some(d.label() as usize)).collect(),
        names: vec!["background".into(), "target".into()],
    }
}

impl EvalSet {
    /// `count` images per domain of the built-in data (a seed no training uses), with every
    /// true factor binned into classes.
    pub fn builtin(count: usize, side: usize, channels: usize) -> Self {
        let data = BuiltinDataset::new(BUILTIN_EVAL_SEED, count);
        let (mut images, mut domains, mut factors) = (Vec::new(), Vec::new(), Vec::new());
        for domain in [Domain::Background, Domain::Target] {
            for i in 0..count {
                images.push(data.image(domain, i, side, channels));
                domains.push(domain);
                factors.push(data.factors(domain, i));
            }
        }
        let label = |spec: LabelSpec, f: &dyn Fn(&BuiltinFactors) -> Option<usize>| Label {
            spec,
            classes: factors.iter().map(f).collect(),
            names: Vec::new(),
        };
        let labels = vec![
            domain_label(&domains),
            label(LabelSpec::common("hue (6 bins)"), &|f| {
                bin(f.common.hue, 0.0, 1.0, 6)
            }),
            label(LabelSpec::common("orientation (6 bins)"), &|f| {
                bin(f.common.orientation, 0.0, std::f32::consts::PI, 6)
            }),
            label(LabelSpec::common("frequency (4 bins)"), &|f| {
                bin(f.common.frequency, 1.0, 3.0, 4)
            }),
            // Background images have no sprite: no class.
            label(LabelSpec::salient("shape"), &|f| {
                f.sprite.map(|s| s.shape.index())
            }),
            label(LabelSpec::salient("scale (6 levels)"), &|f| {
                f.sprite.and_then(|s| bin(s.scale, 0.45, 1.05, 6))
            }),
            label(LabelSpec::salient("x (4 bins)"), &|f| {
                f.sprite.and_then(|s| bin(s.x, 0.25, 0.75, 4))
            }),
            label(LabelSpec::salient("y (4 bins)"), &|f| {
                f.sprite.and_then(|s| bin(s.y, 0.25, 0.75, 4))
            }),
        ];
        Self { images, labels }
    }

    /// A dataset file (its labels say what they are, [`LabelSpec`]) or a folder of images
    /// (`background/` and `target/`, whose sub-folders are sub-classes: a common label on the
    /// background images, a salient one on the targets).
    pub fn open(spec: &DataSpec, side: usize, channels: usize) -> Result<Self> {
        let data = Data::open(spec, side, channels, 0).map_err(|e| {
            SizeMismatch::advise(e, |m| {
                format!(
                    "evaluate on data built at the model's size (`dinfogan data build ... \
                     --size {}`), or evaluate a model trained at the data's size",
                    m.model.1
                )
            })
        })?;
        let (mut images, mut domains) = (Vec::new(), Vec::new());
        let mut labels = Vec::new();
        match &data.source {
            Source::Builtin(_) => unreachable!("built-in data has its own evaluation set"),
            Source::File { file, .. } => {
                for domain in [Domain::Background, Domain::Target] {
                    for i in 0..data.len(domain) {
                        images.push(data.image(domain, i));
                        domains.push(domain);
                    }
                }
                let rows: Vec<usize> = [Domain::Background, Domain::Target]
                    .iter()
                    .flat_map(|&d| (0..data.len(d)).map(move |i| (d, i)))
                    .map(|(d, i)| data.file_index(d, i).expect("a file source"))
                    .collect();
                labels.push(domain_label(&domains));
                for (k, spec) in file.header.labels.iter().enumerate() {
                    if spec.role == LabelRole::Bookkeeping {
                        continue;
                    }
                    let classes = rows
                        .iter()
                        .map(|&row| {
                            let scored = spec.scored_on.includes(file.domains[row]);
                            usize::try_from(file.labels_of(row)[k])
                                .ok()
                                .filter(|_| scored)
                        })
                        .collect();
                    labels.push(Label {
                        spec: spec.clone(),
                        classes,
                        names: Vec::new(),
                    });
                }
            }
            Source::Folder { .. } => {
                let mut names = Vec::new();
                for domain in [Domain::Background, Domain::Target] {
                    for i in 0..data.len(domain) {
                        images.push(data.image(domain, i));
                        domains.push(domain);
                        names.push(data.subclass(domain, i));
                    }
                }
                labels.push(domain_label(&domains));
                for (domain, spec) in [
                    (
                        Domain::Background,
                        LabelSpec {
                            name: "background_subclass".into(),
                            role: LabelRole::Common,
                            scored_on: ScoredOn::Background,
                        },
                    ),
                    (Domain::Target, LabelSpec::salient("target_subclass")),
                ] {
                    let kinds: BTreeSet<&String> = names
                        .iter()
                        .zip(&domains)
                        .filter(|(_, d)| **d == domain)
                        .filter_map(|(n, _)| n.as_ref())
                        .collect();
                    if kinds.len() < 2 {
                        continue;
                    }
                    let index: HashMap<&String, usize> =
                        kinds.iter().enumerate().map(|(k, n)| (*n, k)).collect();
                    let classes = names
                        .iter()
                        .zip(&domains)
                        .map(|(n, d)| n.as_ref().filter(|_| *d == domain).map(|n| index[n]))
                        .collect();
                    labels.push(Label {
                        spec,
                        classes,
                        names: kinds.into_iter().cloned().collect(),
                    });
                }
            }
        }
        Ok(Self { images, labels })
    }
}

/// One code per image.
pub type Codes = Vec<Vec<f32>>;

/// Images per encoder call, and the batch size of the public evaluation.
const ENCODE_BATCH: usize = 128;

/// Common and salient codes of images `0..count`, `image(i)` giving image i
/// (`channels x side x side` in [-1, 1]); only one batch of images is in memory at a time.
pub fn encode_images(
    model: &InferenceModel,
    count: usize,
    image: impl Fn(usize) -> Vec<f32>,
    mode: EncoderMode,
) -> Result<(Codes, Codes)> {
    let c = model.config();
    // Training mode: shuffled batches mixing both domains (batch statistics depend on them),
    // as the public scripts' `DataLoader(shuffle=True)`, seeded so that a table is reproducible.
    let mut order: Vec<usize> = (0..count).collect();
    if mode == EncoderMode::Train {
        order.shuffle(&mut StdRng::seed_from_u64(0));
    }
    let (mut z, mut s) = (vec![Vec::new(); count], vec![Vec::new(); count]);
    for (k, chunk) in order.chunks(ENCODE_BATCH).enumerate() {
        let pixels: Vec<f32> = chunk.iter().flat_map(|&i| image(i)).collect();
        let batch = dinfogan::pixels::batch(
            pixels,
            chunk.len(),
            c.channels,
            c.image_size,
            model.device(),
        )?;
        let (common, salient) = match mode {
            EncoderMode::Inference => model.encode(batch)?,
            EncoderMode::Train => model.encode_training_mode(batch, k as u64)?,
        };
        let (common, salient) = (read(common)?, read(salient)?);
        for (row, &i) in chunk.iter().enumerate() {
            z[i] = common[row * c.common_dim..(row + 1) * c.common_dim].to_vec();
            s[i] = salient[row * c.salient_dim..(row + 1) * c.salient_dim].to_vec();
        }
    }
    Ok((z, s))
}

/// One line of the separation table (a CSV row: `eval separation --out` and the records of a
/// run folder, which [`read_record`] reads back).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeparationRow {
    pub space: Space,
    pub label: String,
    pub classes: usize,
    pub images: usize,
    #[serde(rename = "accuracy_mean")]
    pub mean: f64,
    #[serde(rename = "accuracy_std")]
    pub std: f64,
    /// The majority-class rate.
    #[serde(rename = "majority_class")]
    pub chance: f64,
    #[serde(rename = "desired")]
    pub wanted: Wanted,
    /// (Records written before this column existed were all in inference mode.)
    #[serde(default)]
    pub encoder: EncoderMode,
}

/// The rows of a separation table written as CSV (a run folder's `eval/` record).
pub fn read_record(path: &Path) -> Result<Vec<SeparationRow>> {
    let mut reader = csv::Reader::from_path(path)
        .with_context(|| format!("could not read {}", path.display()))?;
    reader
        .deserialize()
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} is not a separation table", path.display()))
}

/// The separation table of `model` on `set`: every scored label (those starting with one of
/// `only`, when given), read from s and from z.
pub fn separation(
    model: &InferenceModel,
    set: &EvalSet,
    only: &[String],
    folds: usize,
    fold_seed: u64,
    mode: EncoderMode,
) -> Result<Vec<SeparationRow>> {
    let labels: Vec<&Label> = set
        .labels
        .iter()
        .filter(|l| only.is_empty() || only.iter().any(|n| l.spec.name.starts_with(n.as_str())))
        .collect();
    if labels.is_empty() {
        bail!("none of the labels {only:?} exists in this data");
    }
    let (z, s) = encode_images(model, set.images.len(), |i| set.images[i].clone(), mode)?;
    let mut rows = Vec::new();
    for label in labels {
        match label_rows(label, &z, &s, folds, fold_seed, mode)? {
            Some(pair) => rows.extend(pair),
            None => eprintln!("skipped {}: fewer than two classes", label.spec.name),
        }
    }
    Ok(rows)
}

/// The two rows of one label, read from s and from z (the codes of every image of the set);
/// `None` when the images it is scored on hold fewer than two classes.
pub fn label_rows(
    label: &Label,
    z: &Codes,
    s: &Codes,
    folds: usize,
    fold_seed: u64,
    mode: EncoderMode,
) -> Result<Option<[SeparationRow; 2]>> {
    let picked: Vec<(usize, usize)> = label
        .classes
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.map(|c| (i, c)))
        .collect();
    let y: Vec<usize> = picked.iter().map(|&(_, c)| c).collect();
    let mut counts: HashMap<usize, usize> = HashMap::new();
    for c in &y {
        *counts.entry(*c).or_default() += 1;
    }
    if counts.len() < 2 {
        return Ok(None);
    }
    let chance = *counts.values().max().unwrap_or(&0) as f64 / y.len() as f64;
    let row = |space: Space, codes: &Codes| -> Result<SeparationRow> {
        let x: Vec<Vec<f32>> = picked.iter().map(|&(i, _)| codes[i].clone()).collect();
        let (mean, std) = cross_validate(&x, &y, folds, fold_seed)?;
        Ok(SeparationRow {
            space,
            label: label.spec.name.clone(),
            classes: counts.len(),
            images: y.len(),
            mean,
            std,
            chance,
            wanted: Wanted::of(label.spec.role, space),
            encoder: mode,
        })
    };
    Ok(Some([row(Space::S, s)?, row(Space::Z, z)?]))
}

/// The evaluation set named by `--data`: `builtin` or a dataset file or folder.
pub fn eval_set(model: &InferenceModel, data: &DataSpec, count: usize) -> Result<EvalSet> {
    let c = model.config();
    match data {
        DataSpec::Builtin => Ok(EvalSet::builtin(count, c.image_size, c.channels)),
        DataSpec::File(path) | DataSpec::Folder(path) if !path.exists() => bail!(
            "the evaluation data {data} does not exist: pass builtin, a dataset file or a folder"
        ),
        _ => EvalSet::open(data, c.image_size, c.channels),
    }
}

/// The images a separation accuracy is measured on and how: the flags `eval separation`,
/// `eval table`, `eval compare` and `plot codes` share.
#[derive(Debug, Args)]
pub struct ScoringArgs {
    /// `builtin` (a held-out set of the built-in data, with its true factors), a dataset file
    /// (its header says which labels are salient or common, and on which images each is
    /// scored), or a folder with background/ and target/ (sub-folders are sub-classes).
    #[arg(long, default_value = "builtin")]
    pub data: DataSpec,
    /// Built-in data: images per domain.
    #[arg(long, default_value_t = 1000, value_parser = at_least_one)]
    pub count: usize,
    /// Folds of the cross-validation (at least 2).
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Seed of the random order of the rows before the stratified split (the public scripts
    /// encode through a shuffled loader).
    #[arg(long, default_value_t = 0)]
    pub fold_seed: u64,
    /// `inference` (no noise, running batch-norm statistics) or `train` (noise and batch
    /// statistics of shuffled mixed batches of 128, as the paper's public evaluation scripts).
    #[arg(long, value_enum, default_value = "inference")]
    pub encoder: EncoderMode,
}

impl ScoringArgs {
    /// Refuses values clap lets through, with a sentence.
    pub fn check(&self) -> Result<()> {
        if self.folds < 2 {
            bail!("--folds must be at least 2, not {}", self.folds);
        }
        Ok(())
    }
}

/// What a separation table is computed on, and where it goes.
#[derive(Debug, Args)]
pub struct SeparationOptions {
    #[command(flatten)]
    pub scoring: ScoringArgs,
    /// Only the labels starting with these names (default: all).
    #[arg(long, num_args = 1..)]
    pub labels: Vec<String>,
    /// Write the table to PREFIX.csv and PREFIX.md.
    #[arg(long)]
    pub out: Option<OutputFile>,
    /// Print the table and what it was computed on as one JSON document on stdout instead of
    /// Markdown (the files under --out are the same).
    #[arg(long)]
    pub json: bool,
}

/// What a separation table was computed on, as `--json` reports it beside the rows.
#[derive(Debug, Serialize)]
pub struct SeparationSetup {
    /// `builtin`, a dataset file or a folder.
    pub data: String,
    /// Built-in data: images per domain.
    pub builtin_count: Option<usize>,
    /// The label names asked for (empty: all).
    pub labels: Vec<String>,
    pub encoder: EncoderMode,
    pub folds: usize,
    pub fold_seed: u64,
}

impl SeparationOptions {
    pub(super) fn check(&self) -> Result<()> {
        self.scoring.check()
    }

    pub(super) fn table(&self, model: &dinfogan::InferenceModel) -> Result<Vec<SeparationRow>> {
        let s = &self.scoring;
        let set = eval_set(model, &s.data, s.count)?;
        separation(model, &set, &self.labels, s.folds, s.fold_seed, s.encoder)
    }

    pub fn setup(&self) -> SeparationSetup {
        let s = &self.scoring;
        SeparationSetup {
            data: s.data.to_string(),
            builtin_count: matches!(s.data, DataSpec::Builtin).then_some(s.count),
            labels: self.labels.clone(),
            encoder: s.encoder,
            folds: s.folds,
            fold_seed: s.fold_seed,
        }
    }

    /// Prints the Markdown table (or, with `--json`, `json`) and writes the Markdown and the CSV
    /// under `--out`.
    pub(super) fn report<T: Serialize>(&self, markdown: &str, csv: &[u8], json: &T) -> Result<()> {
        show_and_keep_table(self.json, json, markdown, csv, self.out.as_deref())
    }
}

#[derive(Debug, Args)]
pub struct SeparationArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub options: SeparationOptions,
}

pub fn separation_command(args: SeparationArgs) -> Result<()> {
    args.options.check()?;
    let model = args.model.load()?;
    let rows = args.options.table(&model)?;
    let csv = to_csv(&rows)?;
    // A run folder keeps every evaluation of its checkpoints: `dinfogan plot` draws them over
    // training.
    let path = &args.model.checkpoint;
    let (mut step, mut recorded) = (None, None);
    if path.is_dir() {
        let run = RunDir::open(path)?;
        let at = run.load_meta()?.step;
        let file =
            run.record_separation(at, args.options.scoring.encoder == EncoderMode::Train, &csv)?;
        eprintln!("recorded {}", file.display());
        (step, recorded) = (Some(at), Some(file.display().to_string()));
    }
    let report = SeparationReport {
        checkpoint: path.display().to_string(),
        step,
        recorded,
        setup: args.options.setup(),
        rows,
    };
    args.options.report(&report.markdown(), &csv, &report)
}

/// `eval separation`: the table and what it was computed on (`--json` prints it as it is).
#[derive(Debug, Serialize)]
struct SeparationReport {
    checkpoint: String,
    /// The checkpoint's step, for a run folder.
    step: Option<u64>,
    /// The copy of the CSV kept in a run folder's eval/.
    recorded: Option<String>,
    #[serde(flatten)]
    setup: SeparationSetup,
    rows: Vec<SeparationRow>,
}

impl SeparationReport {
    fn markdown(&self) -> String {
        let mut table = markdown::Table::new([
            "space",
            "label",
            "classes",
            "images",
            "accuracy",
            "majority class",
            "desired",
        ]);
        for r in &self.rows {
            table.row([
                r.space.to_string(),
                r.label.clone(),
                r.classes.to_string(),
                r.images.to_string(),
                format!("{:.3} ± {:.3}", r.mean, r.std),
                format!("{:.3}", r.chance),
                r.wanted.arrow().to_string(),
            ]);
        }
        format!(
            "Encoder in {} mode; {}-fold stratified cross-validation of the rows in a random order \
             (seed {}).\n\n{table}",
            self.setup.encoder.describe(),
            self.setup.folds,
            self.setup.fold_seed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recorded table reads back as written, and a record from before the `encoder` column
    /// reads as inference mode.
    #[test]
    fn a_record_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("separation-step-000100.csv");
        let row = SeparationRow {
            space: Space::Z,
            label: "x".into(),
            classes: 4,
            images: 200,
            mean: 0.5,
            std: 0.01,
            chance: 0.25,
            wanted: Wanted::Chance,
            encoder: EncoderMode::Train,
        };
        std::fs::write(&path, to_csv(&[row]).unwrap()).unwrap();
        let read = read_record(&path).unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(
            (read[0].space, read[0].label.as_str(), read[0].mean),
            (Space::Z, "x", 0.5)
        );
        assert_eq!(
            (read[0].wanted, read[0].encoder),
            (Wanted::Chance, EncoderMode::Train)
        );
        std::fs::write(
            &path,
            "space,label,classes,images,accuracy_mean,accuracy_std,majority_class,desired\n\
             s,shape,3,90,0.41,0.02,0.34,high\n",
        )
        .unwrap();
        let old = read_record(&path).unwrap();
        assert_eq!(
            (old[0].space, old[0].encoder),
            (Space::S, EncoderMode::Inference)
        );
        std::fs::write(&path, "step,images_per_second\n1,2.0\n").unwrap();
        let err = read_record(&path).unwrap_err().to_string();
        assert!(err.contains("is not a separation table"), "{err}");
    }
}
