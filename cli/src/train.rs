//! `dinfogan train`: the training loop, progress, metrics, sample sheets, checkpoints, resume.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use burn::prelude::*;
use clap::Args;
use dinfogan::builtin::Domain;
use dinfogan::{InferenceModel, LossTerm, Method, Preset, TrainConfig};

use crate::backend::{self, Backend};
use crate::data::{Batches, Data, DataSpec, RealBatch, SizeMismatch};
use crate::images;
use crate::metrics::MetricsWriter;
use crate::progress::Progress;
use crate::run::{CheckpointMeta, Divergence, RunDir, RunLock};

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The method: Double InfoGAN, or one of the paper's baselines on the same data, batches
    /// and evaluation (MM-cVAE, cVAE; cPCA is fitted in one pass). Default: double-infogan.
    #[arg(long, value_parser = crate::args::method_parser())]
    pub model: Option<Method>,
    /// TOML file with the fields to change (on top of --preset); see docs/guide/configuration.md.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Start from a named configuration (cpu-hour: your own images on a CPU, about an hour).
    /// Defaults to builtin for the built-in data, to the paper's Table 4 model otherwise.
    #[arg(long, value_parser = preset_parser())]
    pub preset: Option<Preset>,
    /// `builtin` (the default for a new run), a dataset file written by `dinfogan data build`,
    /// or a folder with background/ and target/ sub-folders of images. With --resume: the run's
    /// own data, which this may only repeat.
    #[arg(long)]
    pub data: Option<DataSpec>,
    /// Image side: 32 or 64 (the paper's Table 4 network), or 128 (its Table 5 network, made
    /// for brain MRI).
    #[arg(long)]
    pub size: Option<usize>,
    /// Image channels: 1 or 3.
    #[arg(long)]
    pub channels: Option<usize>,
    /// Real images per domain in a batch.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Channels of the first discriminator block (the paper: 64).
    #[arg(long)]
    pub width: Option<usize>,
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: Backend,
    /// Total training steps (one step = one batch: loop_G G, loop_D D and loop_CR H updates).
    #[arg(long, conflicts_with = "epochs")]
    pub steps: Option<u64>,
    /// Total epochs (passes over the larger domain), instead of --steps.
    #[arg(long)]
    pub epochs: Option<u64>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The run folder (checkpoints, samples, metrics). Required unless --resume.
    #[arg(long, required_unless_present = "resume")]
    pub out: Option<PathBuf>,
    /// Continue the run in this folder from its last checkpoint.
    #[arg(long, conflicts_with_all = ["model", "config", "preset", "size", "channels", "batch_size", "width", "out"])]
    pub resume: Option<PathBuf>,
    /// Write a sample sheet every N steps (and at the end); 0: only at the end.
    #[arg(long, default_value_t = 100)]
    pub sample_every: u64,
    /// Write a checkpoint every N steps (and at the end).
    #[arg(long, default_value_t = 100)]
    pub checkpoint_every: u64,
    /// No progress bar, even at a terminal: progress lines as in a log file (see --log-every).
    #[arg(long)]
    pub quiet: bool,
    /// Without a terminal (a log file, CI, nohup) or with --quiet: one progress line every N
    /// steps (step, losses, images/s, time left), and one at the end; 0: only at the end.
    #[arg(long, default_value_t = 100)]
    pub log_every: u64,
}

/// `--preset`: the core's list of presets, shown by `--help` and in clap's error for a typo.
fn preset_parser() -> impl clap::builder::TypedValueParser<Value = Preset> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Preset::ALL.map(Preset::name))
        .map(|name| name.parse::<Preset>().expect("a listed preset"))
}

/// Merges TOML `overlay` into `base`, table by table. Hand-written (a layering crate such as
/// figment was considered): three layers (preset, file, flags) need these fifteen lines, and
/// deserialising the merged value keeps toml's own messages, which name the field
/// ("invalid type: string \"fast\", expected f64 in `optim.lr_generator`").
fn merge(base: &mut toml::Value, overlay: toml::Value) {
    match (base, overlay) {
        (toml::Value::Table(base), toml::Value::Table(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (slot, value) => *slot = value,
    }
}

/// The configuration of a new run: preset, then the TOML file, then the flags.
pub fn resolve_config(args: &TrainArgs) -> Result<TrainConfig> {
    let data = args.data.clone().unwrap_or(DataSpec::Builtin);
    let preset = args
        .preset
        .or((data == DataSpec::Builtin).then_some(Preset::Builtin));
    let mut config = preset.map_or_else(TrainConfig::default, TrainConfig::preset);
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read the configuration file {}", path.display()))?;
        let overlay: toml::Value = toml::from_str(&text)
            .with_context(|| format!("{} is not valid TOML", path.display()))?;
        let mut value = toml::Value::try_from(&config)?;
        merge(&mut value, overlay);
        config = value.try_into().with_context(|| {
            format!(
                "the configuration file {} has an unknown field or a wrong value",
                path.display()
            )
        })?;
    }
    // A dataset file says its image size and channels: they are the defaults.
    if let DataSpec::File(path) = &data {
        if let Some(header) = crate::data::file::DatasetFile::peek(path)? {
            config.model.image_size = header.side;
            config.model.channels = header.channels;
        }
    }
    if let Some(method) = args.model {
        config.method = method;
    }
    if let Some(size) = args.size {
        config.model.image_size = size;
    }
    if let Some(channels) = args.channels {
        config.model.channels = channels;
    }
    if let Some(batch) = args.batch_size {
        config.batch_size = batch;
    }
    if let Some(width) = args.width {
        config.model.width = width;
    }
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    Ok(config)
}

/// Images to show on every sample sheet: the same 8 of each domain all run long.
const SHEET_COLUMNS: usize = 8;

/// The sample sheet of the paper's figures: real background, real target, their
/// reconstructions, the swaps G(z_x, s_y) and G(z_y, 0), then a generation grid whose rows
/// share z (first column s = 0).
pub fn sample_sheet(model: &InferenceModel, data: &Data, path: &Path) -> Result<()> {
    let (c, side) = (model.config().channels, model.config().image_size);
    let device = model.device().clone();
    let n = SHEET_COLUMNS
        .min(data.len(Domain::Background))
        .min(data.len(Domain::Target));
    // A fixed sample across the data, not its first images (a file on a factor grid, such as
    // dSprites-MNIST, starts with one shape at its smallest scales).
    let batch = |domain| {
        let picked = crate::data::sample_in_order(data.len(domain), Some(n), 0);
        let pixels: Vec<f32> = picked.iter().flat_map(|&i| data.image(domain, i)).collect();
        dinfogan::pixels::batch(pixels, n, c, side, &device)
    };
    let (bg, t) = (batch(Domain::Background)?, batch(Domain::Target)?);
    let rec_bg = model.reconstruct(bg.clone(), false)?;
    let rec_t = model.reconstruct(t.clone(), true)?;
    let (gained, removed) = model.swap(bg.clone(), t.clone())?;
    // Fixed seeds: every sheet of a run shows the same latents, so progress is visible.
    let grid = model.sample_grid(4, SHEET_COLUMNS, 0, 0)?;
    let mut rows = Vec::new();
    for tensor in [bg, t, rec_bg, rec_t, gained, removed] {
        rows.push(images::tensor_to_rgb(tensor)?);
    }
    let generated = images::tensor_to_rgb(grid)?;
    rows.extend(generated.chunks(SHEET_COLUMNS).map(<[_]>::to_vec));
    images::save_png(&images::grid(&rows), path, images::sheet_scale(side))
}

pub fn run(args: TrainArgs) -> Result<()> {
    if args.steps == Some(0) || args.epochs == Some(0) {
        bail!("--steps and --epochs must be at least 1");
    }
    // Where the run lives and what it trains; the lock is held until this function returns
    // (or the process ends).
    let (run, _lock, meta) = open_run(&args)?;
    let CheckpointMeta {
        step: start_step,
        seed,
        data: ref data_spec,
        ref config,
    } = meta;

    let selected = backend::select(args.backend)?;
    eprintln!("backend: {}", selected.description);
    let model = &config.model;
    let data = Data::open(data_spec, model.image_size, model.channels, seed).map_err(|e| {
        SizeMismatch::advise(e, |m| {
            format!(
                "leave out --size and --channels (a dataset file's own size is the default), \
                 or build the data at the model's size with `dinfogan data build ... --size {}`",
                m.model.1
            )
        })
    })?;
    let data = std::sync::Arc::new(data);
    eprintln!("data: {}", data.describe());
    if !config.method.iterates() {
        if start_step > 0 {
            bail!(
                "the {} model in {} is fitted in one pass: there is nothing to resume",
                config.method.label(),
                run.root.display()
            );
        }
        if args.steps.is_some() || args.epochs.is_some() {
            eprintln!("note: --steps and --epochs do not apply: cPCA is fitted in one pass");
        }
        return fit_cpca(&run, &meta, &data, &selected.device);
    }

    let total_steps = total_steps(&args, &data, config, &run, start_step)?;

    eprintln!("model: {}", config.method.label());
    let mut trainer = dinfogan::trainer(config.clone(), &selected.device, seed)?;
    if start_step > 0 {
        let (state, _) = run.load_checkpoint()?;
        trainer.load_state(state).with_context(|| {
            format!(
                "could not resume from the checkpoint in {}",
                run.root.display()
            )
        })?;
        run.clear_divergence()?;
        eprintln!("resuming at step {start_step} of {total_steps}");
    } else {
        run.write_config(config)?;
    }

    let mut metrics = MetricsWriter::open(&run.metrics(), LossTerm::of(config.method), start_step)?;
    let batches = spawn_loader(&data, seed, config, start_step..total_steps);
    let (c, side) = (model.channels, model.image_size);
    let device = trainer.device().clone();

    let progress = Progress::new(total_steps, start_step, args.quiet, args.log_every);
    let mut images_per_second = 0.0f64;
    let mut last_saved = start_step;

    for step in start_step..total_steps {
        let started = Instant::now();
        let real = batches
            .recv()
            .context("the data loader thread stopped unexpectedly")?;
        let images = real.background_count + real.target_count;
        let bg = dinfogan::pixels::batch(real.background, real.background_count, c, side, &device)?;
        let t = dinfogan::pixels::batch(real.target, real.target_count, c, side, &device)?;
        // Each step draws its latents and noise from a stream of its own, a function of
        // (seed, step) like its batch: a run resumed at any checkpoint continues exactly as
        // the uninterrupted run (the device RNG's state itself is never saved).
        device.seed(step_seed(seed, step));
        let values = trainer.iteration(bg, t).values();
        let elapsed = started.elapsed().as_secs_f64();
        let rate = images as f64 / elapsed.max(1e-9);
        images_per_second = if step == start_step {
            rate
        } else {
            0.9 * images_per_second + 0.1 * rate
        };

        if let Some((bad, value)) = values.first_non_finite() {
            progress.abandon();
            run.mark_diverged(&Divergence {
                step: step + 1,
                term: bad.name().into(),
                value: value.to_string(),
            })?;
            // Resuming would replay the same step: the way on is a new run with lower rates.
            let rates = if config.method == Method::DoubleInfogan {
                "optim.lr_generator and optim.lr_discriminator"
            } else {
                "vae.lr"
            };
            bail!(
                "the loss {bad} became {value} at step {}: training stopped. The last good \
                 checkpoint (step {last_saved}) is kept in {}, marked as diverged; train a new \
                 run with lower learning rates (a --config file setting {rates})",
                step + 1,
                run.root.display(),
            );
        }
        let done = step + 1;
        metrics.write(done, images_per_second, &values)?;
        let summary = LossTerm::headline(config.method)
            .iter()
            .map(|term| format!("{term} {:.3}", values[*term]))
            .chain(std::iter::once(format!("| {images_per_second:.1} img/s")))
            .collect::<Vec<_>>()
            .join(" ");
        progress.update(done, &summary);

        let last = done == total_steps;
        if last || (args.sample_every > 0 && done % args.sample_every == 0) {
            let path = run.samples().join(format!("step_{done:06}.png"));
            sample_sheet(&trainer.inference_model(), &data, &path)?;
        }
        if last || (args.checkpoint_every > 0 && done % args.checkpoint_every == 0) {
            run.save_checkpoint(&trainer.state()?, &meta.at(done))?;
            last_saved = done;
        }
    }
    progress.finish();
    eprintln!(
        "done: {total_steps} steps; checkpoint, samples and metrics.csv in {}",
        run.root.display()
    );
    Ok(())
}

/// The run folder, claimed for this process, and what the run is: its seed, data and
/// configuration (`CheckpointMeta` at its last step; each checkpoint records it at its own).
/// A new run for `--out`, or the run in `--resume`, which may only repeat its own data.
fn open_run(args: &TrainArgs) -> Result<(RunDir, RunLock, CheckpointMeta)> {
    Ok(match &args.resume {
        Some(dir) => {
            let run = RunDir::open(dir)?;
            let lock = run.lock()?;
            let meta = run.load_meta()?;
            if let Some(data) = args.data.as_ref().filter(|data| **data != meta.data) {
                bail!(
                    "the run in {} was trained on {}, not {data}: resume without --data",
                    dir.display(),
                    meta.data
                );
            }
            (run, lock, meta)
        }
        None => {
            let out = args.out.clone().context("--out is required")?;
            let run = RunDir::create(&out)?;
            let lock = run.lock()?;
            if run.has_checkpoint() {
                bail!(
                    "{} already holds a run: continue it with `dinfogan train --resume {}`, or \
                     choose another --out",
                    out.display(),
                    out.display()
                );
            }
            let meta = CheckpointMeta {
                step: 0,
                seed: args.seed,
                data: args.data.clone().unwrap_or(DataSpec::Builtin),
                config: resolve_config(args)?,
            };
            (run, lock, meta)
        }
    })
}

/// The step the run stops at: `--steps`, or `--epochs` of the data, or 300; more than it has.
fn total_steps(
    args: &TrainArgs,
    data: &Data,
    config: &TrainConfig,
    run: &RunDir,
    start_step: u64,
) -> Result<u64> {
    let total = match (args.steps, args.epochs) {
        (Some(steps), _) => steps,
        (None, Some(epochs)) => epochs * data.steps_per_epoch(config.batch_size, config.batching),
        (None, None) => 300,
    };
    if start_step >= total {
        bail!(
            "the run in {} has already done {start_step} steps: pass a larger --steps to train further",
            run.root.display()
        );
    }
    Ok(total)
}

/// The real batches of `steps`, prepared on their own thread, one or two steps ahead of the
/// device.
fn spawn_loader(
    data: &std::sync::Arc<Data>,
    seed: u64,
    config: &TrainConfig,
    steps: std::ops::Range<u64>,
) -> std::sync::mpsc::Receiver<RealBatch> {
    let (sender, batches) = std::sync::mpsc::sync_channel::<RealBatch>(2);
    let data = data.clone();
    let mut loader = Batches::new(seed, config.batch_size, config.batching);
    std::thread::spawn(move || {
        for step in steps {
            if sender.send(loader.get(&data, step)).is_err() {
                break; // training stopped
            }
        }
    });
    batches
}

/// Fits cPCA on (a strided sample of at most `cpca.max_images` of) each domain of the training
/// data and saves it as the run's checkpoint, at step 1.
fn fit_cpca(run: &RunDir, meta: &CheckpointMeta, data: &Data, device: &Device) -> Result<()> {
    let config = &meta.config;
    let started = Instant::now();
    let sample = |domain| -> Vec<f32> {
        let n = data.len(domain);
        let take = n.min(config.cpca.max_images);
        // Evenly spaced: deterministic, and representative of data stored in label order.
        (0..take)
            .flat_map(|k| data.image(domain, k * n / take))
            .collect()
    };
    let (background, target) = (sample(Domain::Background), sample(Domain::Target));
    let model = &config.model;
    let options = dinfogan::methods::cpca::CpcaOptions {
        alpha: config.cpca.alpha,
        seed: meta.seed,
        ..Default::default()
    };
    let dim = model.channels * model.image_size * model.image_size;
    eprintln!(
        "fitting cPCA on {} background and {} target images ({dim} values each)",
        background.len() / dim,
        target.len() / dim
    );
    let fit = dinfogan::methods::cpca::fit(
        &background,
        &target,
        dim,
        model.common_dim,
        model.salient_dim,
        &options,
    )
    .map_err(|e| anyhow::anyhow!("cPCA could not be fitted: {e}"))?;
    let state = dinfogan::methods::cpca::CpcaModel::from_host(
        model,
        fit.mean,
        fit.common,
        fit.salient,
        device,
    )
    .state()?;
    run.write_config(config)?;
    // The alpha search, for a user who wants to refit with another of the exemplars.
    let search = serde_json::json!({
        "alpha": fit.alpha,
        "alpha_given": config.cpca.alpha.is_some(),
        "candidates": fit.alphas,
        "exemplars": fit.exemplars.iter().map(|&i| fit.alphas[i]).collect::<Vec<_>>(),
        "smallest_salient_eigenvalue_per_candidate": fit.candidate_min_eigenvalues,
        "salient_eigenvalues": fit.salient_eigenvalues,
        "reduced_dim": fit.reduced_dim,
        "retained_variance": fit.retained_variance,
    });
    crate::io::write_atomic(&run.cpca_search(), &serde_json::to_vec_pretty(&search)?)?;
    run.save_checkpoint(&state, &meta.at(1))?;
    eprintln!(
        "done: cPCA with alpha = {:.4} ({}) in {:.1} s; checkpoint and the alpha search \
         (cpca.json) in {}",
        fit.alpha,
        if config.cpca.alpha.is_some() {
            "given"
        } else {
            "chosen automatically"
        },
        started.elapsed().as_secs_f64(),
        run.root.display()
    );
    Ok(())
}

/// The device RNG seed of training step `step` of a run seeded with `seed`.
fn step_seed(seed: u64, step: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ step.wrapping_mul(0xD1B5_4A32_D192_ED03)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The user guide's list of every field with its default (docs/guide/configuration.md) is
    /// the default configuration.
    #[test]
    fn the_guide_lists_every_field_with_its_default() {
        let guide = include_str!("../../docs/guide/configuration.md");
        let after = guide
            .split("Every field, with its default:")
            .nth(1)
            .expect("docs/guide/configuration.md lists the fields");
        let block = after
            .split("```toml\n")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .expect("a TOML block");
        let listed: TrainConfig = toml::from_str(block).expect("the guide's TOML parses");
        assert_eq!(listed, TrainConfig::default());
    }

    /// `--preset cpu-hour` is run D of docs/results.md with `info_common_encoder = 10`: the
    /// dsprites-mnist preset with those runs' configuration files on top, at the dataset
    /// file's size and channels.
    #[test]
    fn the_cpu_hour_preset_is_run_d_with_the_encoder_held_to_z() {
        let mut value = toml::Value::try_from(TrainConfig::preset(Preset::DspritesMnist)).unwrap();
        merge(
            &mut value,
            toml::from_str(include_str!("../../docs/results/infoz2.toml")).unwrap(),
        );
        merge(
            &mut value,
            toml::from_str(include_str!("../../docs/results/cpuhour-enc10.toml")).unwrap(),
        );
        let mut run_d: TrainConfig = value.try_into().unwrap();
        run_d.model.image_size = 32;
        let mut preset = TrainConfig::preset(Preset::CpuHour);
        preset.model.channels = 1;
        assert_eq!(preset, run_d);
    }
}
