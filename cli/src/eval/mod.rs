//! `dinfogan eval`: the paper's quantitative protocol: how well a logistic regression reads each
//! label from the common codes z and from the salient codes s (section 5, Tables 1-3), and the
//! FactorVAE disentanglement score of the salient space (Kim and Mnih 2018; Table 9).

pub mod classifier;
pub mod compare;
pub mod factorvae;
pub mod leak;
pub mod lesion;
pub mod separation;
pub mod swap;

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use dinfogan::builtin::Domain;
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use serde::Serialize;

use crate::data::DataSpec;

use crate::args::{at_least_one, OutputFile};
use crate::data::file::DatasetFile;
use crate::io::{print_json, write_atomic};
use crate::run::RunDir;
use crate::tools::{load_model, ModelArgs};
use separation::{EncoderMode, SeparationRow, Space, Wanted};

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Accuracy of a logistic regression (5-fold cross-validation) reading each label from z and from s.
    Separation(SeparationArgs),
    /// Best / average / worst separation over several runs (seeds), as the paper's Tables 1 and 2.
    Table(TableArgs),
    /// Several models (Double InfoGAN and the baselines, several seeds each) side by side, in the
    /// layout of the paper's Table 2, with one sheet of their reconstructions and swaps.
    Compare(compare::CompareArgs),
    /// The FactorVAE score of the salient codes on a grouped set (`data build dsprites-mnist-groups`).
    Factorvae(FactorVaeArgs),
    /// How much of the codes of generated images G(z, s) comes from z and how much from s.
    Leak(LeakArgs),
    /// How well the healthy counterpart G(Qz(y), 0) finds each target image's lesion (a dataset
    /// with segmentation masks, from `data build brats`): ROC AUC and Dice of |y - G(Qz(y), 0)|.
    Lesion(lesion::LesionArgs),
    /// Where the salient code puts the target's salient object, and at what size, on data whose
    /// object is known (the built-in sprite, dSprites-MNIST): the difference G(z, s_y) - G(z, 0)
    /// on the target's own z and on a background's, against the true sprite.
    Swap(SwapArgs),
}

pub fn run(command: EvalCommand) -> Result<()> {
    match command {
        EvalCommand::Factorvae(args) => factorvae_command(args),
        EvalCommand::Separation(args) => separation_command(args),
        EvalCommand::Table(args) => table_command(args),
        EvalCommand::Compare(args) => compare::compare_command(args),
        EvalCommand::Leak(args) => leak_command(args),
        EvalCommand::Lesion(args) => lesion::lesion_command(args),
        EvalCommand::Swap(args) => swap_command(args),
    }
}

/// What a separation table is computed on, and where it goes.
#[derive(Debug, Args)]
pub struct SeparationOptions {
    /// `builtin` (a held-out set of the built-in data, with its true factors), a dataset file
    /// (its header says which labels are salient or common, and on which images each is
    /// scored), or a folder with background/ and target/ (sub-folders are sub-classes).
    #[arg(long, default_value = "builtin")]
    pub data: DataSpec,
    /// Only the labels starting with these names (default: all).
    #[arg(long, num_args = 1..)]
    pub labels: Vec<String>,
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
    fn check(&self) -> Result<()> {
        if self.folds < 2 {
            bail!("--folds must be at least 2, not {}", self.folds);
        }
        if self.count == 0 {
            bail!("--count must be at least 1");
        }
        Ok(())
    }

    fn table(&self, model: &dinfogan::InferenceModel) -> Result<Vec<SeparationRow>> {
        let set = separation::eval_set(model, &self.data, self.count)?;
        separation::separation(
            model,
            &set,
            &self.labels,
            self.folds,
            self.fold_seed,
            self.encoder,
        )
    }

    pub fn setup(&self) -> SeparationSetup {
        SeparationSetup {
            data: self.data.to_string(),
            builtin_count: matches!(self.data, DataSpec::Builtin).then_some(self.count),
            labels: self.labels.clone(),
            encoder: self.encoder,
            folds: self.folds,
            fold_seed: self.fold_seed,
        }
    }

    /// Prints the Markdown table (or, with `--json`, `json`) and writes the Markdown and the CSV
    /// under `--out`.
    fn report<T: Serialize>(&self, markdown: &str, csv: &[u8], json: &T) -> Result<()> {
        if self.json {
            print_json(json)?;
        } else {
            print!("{markdown}");
        }
        if let Some(prefix) = &self.out {
            write_atomic(&prefix.with_extension("md"), markdown.as_bytes())?;
            write_atomic(&prefix.with_extension("csv"), csv)?;
        }
        Ok(())
    }
}

/// Rows as CSV (a header from the field names).
pub(crate) fn to_csv<T: Serialize>(rows: &[T]) -> Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.serialize(row)?;
    }
    writer
        .into_inner()
        .map_err(|e| anyhow::anyhow!("could not write the table: {e}"))
}

#[derive(Debug, Args)]
pub struct SeparationArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub options: SeparationOptions,
}

fn separation_command(args: SeparationArgs) -> Result<()> {
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
        let file = run.record_separation(at, args.options.encoder == EncoderMode::Train, &csv)?;
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
        let mut markdown = format!(
            "Encoder in {} mode; {}-fold stratified cross-validation of the rows in a random order \
             (seed {}).\n\n| space | label | classes | images | accuracy | majority class | desired |\n|---|---|---|---|---|---|---|\n",
            match self.setup.encoder {
                EncoderMode::Inference => "inference",
                EncoderMode::Train => "training",
            },
            self.setup.folds,
            self.setup.fold_seed
        );
        for r in &self.rows {
            markdown += &format!(
                "| {} | {} | {} | {} | {:.3} ± {:.3} | {:.3} | {} |\n",
                r.space,
                r.label,
                r.classes,
                r.images,
                r.mean,
                r.std,
                r.chance,
                r.wanted.arrow()
            );
        }
        markdown
    }
}

#[derive(Debug, Args)]
pub struct TableArgs {
    /// Run folders (or exported model files), e.g. one per seed.
    #[arg(required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,
    #[command(flatten)]
    pub options: SeparationOptions,
}

/// One line of `eval table`.
#[derive(Debug, Serialize)]
struct TableRow {
    space: Space,
    label: String,
    best: f64,
    average: f64,
    worst: f64,
    runs: usize,
    desired: Wanted,
}

/// The accuracies of several runs, label by label: (space, label) -> (desired direction, each
/// run's mean accuracy), in the order the first run gave them.
#[derive(Debug, Default)]
struct RunAccuracies {
    order: Vec<(Space, String)>,
    by_label: HashMap<(Space, String), (Wanted, Vec<f64>)>,
}

impl RunAccuracies {
    /// One run's table.
    fn add(&mut self, rows: Vec<SeparationRow>) {
        for row in rows {
            let key = (row.space, row.label);
            if !self.by_label.contains_key(&key) {
                self.order.push(key.clone());
            }
            self.by_label
                .entry(key)
                .or_insert((row.wanted, Vec::new()))
                .1
                .push(row.mean);
        }
    }
}

fn table_command(args: TableArgs) -> Result<()> {
    args.options.check()?;
    let mut results = RunAccuracies::default();
    for run in &args.runs {
        let cpu = crate::backend::select(crate::backend::Backend::Cpu)?.device;
        let model = load_model(run, &cpu)?;
        eprintln!("evaluating {}", run.display());
        results.add(args.options.table(&model)?);
    }
    let mut rows = Vec::new();
    for key in results.order {
        let (wanted, means) = &results.by_label[&key];
        let (best, average, worst) = best_average_worst(*wanted, means);
        rows.push(TableRow {
            space: key.0,
            label: key.1,
            best,
            average,
            worst,
            runs: means.len(),
            desired: *wanted,
        });
    }
    let report = TableReport {
        runs: args.runs.iter().map(|r| r.display().to_string()).collect(),
        setup: args.options.setup(),
        rows,
    };
    args.options
        .report(&report.markdown(), &to_csv(&report.rows)?, &report)
}

/// `eval table`: the rows and what they were computed on (`--json` prints it as it is).
#[derive(Debug, Serialize)]
struct TableReport {
    runs: Vec<String>,
    #[serde(flatten)]
    setup: SeparationSetup,
    rows: Vec<TableRow>,
}

impl TableReport {
    fn markdown(&self) -> String {
        let mut markdown = format!(
            "Separation over {} runs\n\n| space | label | best | average | worst | desired |\n|---|---|---|---|---|---|\n",
            self.runs.len()
        );
        for r in &self.rows {
            markdown += &format!(
                "| {} | {} | {:.3} | {:.3} | {:.3} | {} |\n",
                r.space,
                r.label,
                r.best,
                r.average,
                r.worst,
                r.desired.arrow()
            );
        }
        markdown
    }
}

/// Best, average and worst of the runs' accuracies, "best" for the desired direction: highest
/// where high is wanted, lowest where chance is.
fn best_average_worst(wanted: Wanted, means: &[f64]) -> (f64, f64, f64) {
    let (lo, hi) = means
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &m| (lo.min(m), hi.max(m)));
    let average = means.iter().sum::<f64>() / means.len() as f64;
    match wanted {
        Wanted::High => (hi, average, lo),
        Wanted::Chance => (lo, average, hi),
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

/// Salient codes of the images `indices` of a dataset file (inference mode).
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
    let image = |k: usize| {
        let pixels = file.pixels_of(indices[k]);
        pixels.iter().map(|&p| dinfogan::pixels::unit(p)).collect()
    };
    let (_, salient) =
        separation::encode_images(model, indices.len(), image, EncoderMode::Inference)?;
    Ok(salient)
}

/// A grouped set (`data build dsprites-mnist-groups`) and a random sample of a reference set's
/// targets, read once, to score any number of models.
pub(crate) struct FactorVaeSets {
    groups_file: DatasetFile,
    /// (fixed factor, image indices) per group.
    groups: Vec<(usize, Vec<usize>)>,
    factors: usize,
    reference_file: DatasetFile,
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
            Some(path) => DatasetFile::read(path)?,
            None => groups_file.clone(),
        };
        // A random sample of the reference set's targets, not its first images (a file's order
        // follows the factor grid or the groups).
        let mut reference_indices: Vec<usize> = (0..reference_file.header.count)
            .filter(|&i| reference_file.domains[i] == Domain::Target)
            .collect();
        if reference_indices.is_empty() {
            bail!("the reference set has no target image");
        }
        reference_indices.shuffle(&mut StdRng::seed_from_u64(reference_seed));
        reference_indices.truncate(reference_count);
        Ok(Self {
            groups_file,
            groups: members.into_values().collect(),
            factors,
            reference_file,
            reference_indices,
        })
    }

    /// The score of `model`'s salient codes.
    pub(crate) fn score(
        &self,
        model: &dinfogan::InferenceModel,
    ) -> Result<factorvae::FactorVaeScore> {
        let mut groups = Vec::new();
        for (factor, indices) in &self.groups {
            groups.push((*factor, salient_codes(model, &self.groups_file, indices)?));
        }
        let reference = salient_codes(model, &self.reference_file, &self.reference_indices)?;
        Ok(factorvae::factorvae(&reference, &groups, self.factors))
    }
}

fn factorvae_command(args: FactorVaeArgs) -> Result<()> {
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
        factors: sets.groups_file.header.factor_names.clone(),
        score: sets.score(&model)?,
    };
    let text = report.text();
    if args.json {
        print_json(&report)?;
    } else {
        print!("{text}");
    }
    if let Some(out) = &args.out {
        write_atomic(out, text.as_bytes())?;
    }
    Ok(())
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
    score: factorvae::FactorVaeScore,
}

impl FactorVaeReport {
    fn text(&self) -> String {
        let score = &self.score;
        let mut text = format!(
            "FactorVAE score of the salient space ({} groups; scales from {} random target images of {}; M = {})\n\n\
             | score | value |\n|---|---|\n| held-out groups | {:.4} |\n| all groups (public code) | {:.4} |\n",
            self.groups, self.reference_images, self.reference, self.salient_dim, score.held_out, score.all
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

#[derive(Debug, Args)]
pub struct LeakArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Common codes z (rows of the grid).
    #[arg(long, default_value_t = 32, value_parser = at_least_one)]
    pub rows: usize,
    /// Salient codes s (columns of the grid).
    #[arg(long, default_value_t = 32, value_parser = at_least_one)]
    pub cols: usize,
    /// Also write the result as Markdown.
    #[arg(long)]
    pub out: Option<OutputFile>,
    /// Print the shares as one JSON document on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

fn leak_command(args: LeakArgs) -> Result<()> {
    let model = args.model.load()?;
    let (z, s) = leak::leak(&model, args.rows, args.cols, args.model.seed)?;
    let report = LeakReport {
        checkpoint: args.model.checkpoint.display().to_string(),
        z_codes: args.rows,
        s_codes: args.cols,
        seed: args.model.seed,
        common_codes: z.into(),
        salient_codes: s.into(),
    };
    let text = report.text();
    if args.json {
        print_json(&report)?;
    } else {
        print!("{text}");
    }
    if let Some(out) = &args.out {
        write_atomic(out, text.as_bytes())?;
    }
    Ok(())
}

/// `eval leak`: the shares of variance and the grid they come from; the text and `--json`
/// come from it.
#[derive(Debug, Serialize)]
struct LeakReport {
    checkpoint: String,
    /// Common codes z (rows of the grid).
    z_codes: usize,
    /// Salient codes s (columns of the grid).
    s_codes: usize,
    seed: u64,
    /// ẑ = Qz(G(z, s)).
    common_codes: ExplainedBy,
    /// ŝ = Qs(G(z, s)).
    salient_codes: ExplainedBy,
}

/// Shares of the variance of some codes of G(z, s) explained by z and by s.
#[derive(Debug, Serialize)]
struct ExplainedBy {
    by_z: f64,
    by_s: f64,
}

impl From<leak::Shares> for ExplainedBy {
    /// The grid's rows are the z, its columns the s.
    fn from(shares: leak::Shares) -> Self {
        Self {
            by_z: shares.rows,
            by_s: shares.columns,
        }
    }
}

impl LeakReport {
    fn text(&self) -> String {
        let (z, s) = (&self.common_codes, &self.salient_codes);
        format!(
            "Codes of generated targets G(z_r, s_c), {} z x {} s (seed {}): share of their variance \
             explained by z and by s. A separating model has z-codes explained by z, s-codes by s.\n\n\
             | codes | by z | by s |\n|---|---|---|\n| ẑ = Qz(G(z, s)) | {:.2} | {:.2} |\n| ŝ = Qs(G(z, s)) | {:.2} | {:.2} |\n",
            self.z_codes, self.s_codes, self.seed, z.by_z, z.by_s, s.by_z, s.by_s
        )
    }
}

/// The training data of the run at `checkpoint`, when it is a dataset file (with masks or
/// not: reading it says so).
pub(crate) fn run_training_file(checkpoint: &std::path::Path) -> Result<PathBuf> {
    if !checkpoint.is_dir() {
        bail!(
            "{} is a model file, which does not say what it was trained on",
            checkpoint.display()
        );
    }
    let data = RunDir::open(checkpoint)?.load_meta()?.data;
    match data.parse::<DataSpec>() {
        Ok(DataSpec::File(path)) => Ok(path),
        _ => bail!(
            "the run in {} was not trained on a dataset file ({data})",
            checkpoint.display()
        ),
    }
}

#[derive(Debug, Args)]
pub struct SwapArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// `builtin` (a held-out set of the built-in data) or a dSprites-MNIST dataset file.
    #[arg(long, default_value = "builtin")]
    pub data: DataSpec,
    /// Targets scored, a seeded random sample (each paired with a random background).
    #[arg(long, default_value_t = 500, value_parser = at_least_one)]
    pub count: usize,
    /// Seed of the sample.
    #[arg(long, default_value_t = 0)]
    pub sample_seed: u64,
    /// A pixel belongs to the drawn object when the difference, averaged over channels, exceeds
    /// this (in units of [-1, 1] images; dSprites-MNIST's sprite adds at least 1).
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f32,
    /// Write the table to PREFIX.csv and PREFIX.md.
    #[arg(long)]
    pub out: Option<OutputFile>,
    /// Print the table as one JSON document on stdout instead of Markdown.
    #[arg(long)]
    pub json: bool,
}

fn swap_command(args: SwapArgs) -> Result<()> {
    if !(args.threshold.is_finite() && args.threshold > 0.0) {
        bail!(
            "--threshold must be a positive number, not {}",
            args.threshold
        );
    }
    let model = args.model.load()?;
    let c = model.config().clone();
    // The built-in data: the held-out set `eval separation` scores.
    let data = crate::data::Data::open(
        &args.data,
        c.image_size,
        c.channels,
        separation::BUILTIN_EVAL_SEED,
    )?;
    let n = args.count.min(data.len(Domain::Target));
    let targets = crate::data::sample_in_order(data.len(Domain::Target), Some(n), args.sample_seed);
    let mut backgrounds = crate::data::sample_in_order(
        data.len(Domain::Background),
        Some(n),
        args.sample_seed.wrapping_add(1),
    );
    backgrounds.shuffle(&mut StdRng::seed_from_u64(args.sample_seed));
    let report = SwapReport {
        checkpoint: args.model.checkpoint.display().to_string(),
        data: args.data.to_string(),
        sample_seed: args.sample_seed,
        threshold: args.threshold,
        rows: swap::swap_table(&model, &data, &targets, &backgrounds, args.threshold)?,
    };
    let markdown = report.markdown();
    if args.json {
        print_json(&report)?;
    } else {
        print!("{markdown}");
    }
    if let Some(prefix) = &args.out {
        write_atomic(&prefix.with_extension("md"), markdown.as_bytes())?;
        write_atomic(&prefix.with_extension("csv"), &to_csv(&report.rows)?)?;
    }
    Ok(())
}

/// `eval swap`: the table and what it was computed on; the Markdown and `--json` come from it.
#[derive(Debug, Serialize)]
struct SwapReport {
    checkpoint: String,
    data: String,
    /// Seed of the random sample of targets (and of the backgrounds they are paired with).
    sample_seed: u64,
    /// The difference above which a pixel belongs to the drawn object.
    threshold: f32,
    /// `self` (the target's own z), then `swap` (a background's z); each says how many
    /// targets (those with a known object) it scored.
    rows: Vec<swap::SwapRow>,
}

impl SwapReport {
    fn markdown(&self) -> String {
        let mut markdown = format!(
            "The object s_y draws, G(z, s_y) - G(z, 0) above {}, against the true sprite ({} targets, \
             seed {}); `self`: on the target's own z, `swap`: on a background's z.\n\n\
             | on | targets | drawn | IoU | area ratio (median) | centre error (px) |\n|---|---|---|---|---|---|\n",
            self.threshold, self.rows[0].targets, self.sample_seed
        );
        for r in &self.rows {
            markdown += &format!(
                "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |\n",
                r.on, r.targets, r.drawn, r.iou, r.area_ratio, r.centre_error
            );
        }
        markdown
    }
}
