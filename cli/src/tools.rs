//! The commands that use a trained model: generate, reconstruct, swap, traverse, encode, export.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use burn::prelude::*;
use clap::Args;
use dinfogan::builtin::{BuiltinDataset, Domain};
use dinfogan::InferenceModel;

use crate::args::{at_least_one, OutputFile};
use crate::backend::{self, Backend};
use crate::data::{Data, DataSpec, SizeMismatch, BUILTIN_LEN};
use crate::images;
use crate::io::write_atomic;
use crate::model::{load_model, ModelArgs};
use crate::run::RunDir;

fn tensor(model: &InferenceModel, pixels: Vec<f32>, n: usize) -> Result<Tensor<4>> {
    let c = model.config();
    Ok(dinfogan::pixels::batch(
        pixels,
        n,
        c.channels,
        c.image_size,
        model.device(),
    )?)
}

fn load_images(model: &InferenceModel, files: &[PathBuf]) -> Result<Tensor<4>> {
    let c = model.config();
    let mut pixels = Vec::new();
    for f in files {
        pixels.extend(images::load(f, c.image_size, c.channels)?);
    }
    tensor(model, pixels, files.len())
}

fn save(sheet: &image::RgbImage, model: &InferenceModel, out: &Path) -> Result<()> {
    images::save_png(sheet, out, images::sheet_scale(model.config().image_size))?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[arg(long)]
    pub out: OutputFile,
    /// Rows (one common z each).
    #[arg(long, default_value_t = 8, value_parser = at_least_one)]
    pub rows: usize,
    /// Columns: the first has s = 0 (background), the others one salient code each.
    #[arg(long, default_value_t = 8, value_parser = at_least_one)]
    pub cols: usize,
    /// Seed of the salient codes (default: the value of --seed, which seeds the common codes).
    /// The codes are drawn on the host: the browser viewer shows the same grid for the same
    /// seeds.
    #[arg(long)]
    pub salient_seed: Option<u64>,
    /// Enlarge the sheet this many times (default: 2 for 32x32 models, else 1).
    #[arg(long)]
    pub scale: Option<u32>,
    /// Draw G(z, s) for the codes in this CSV instead (columns z_0.. and s_0.., as `dinfogan
    /// encode` writes them; other columns are ignored), one image per row of the file, --cols
    /// to a row of the sheet.
    #[arg(long, conflicts_with_all = ["rows", "salient_seed"])]
    pub codes: Option<PathBuf>,
}

/// Codes are read from a user's file: at most this many rows.
const MAX_CODE_ROWS: usize = 4096;

/// The z and s columns of a codes CSV (`dinfogan encode`'s), row-major: (`[n, L]`, `[n, M]`).
fn read_codes(path: &Path, config: &dinfogan::ModelConfig) -> Result<(Vec<f32>, Vec<f32>)> {
    let (l, m) = (config.common_dim, config.salient_dim);
    let mut reader = csv::Reader::from_path(path)
        .with_context(|| format!("could not read the codes file {}", path.display()))?;
    let headers = reader
        .headers()
        .with_context(|| format!("{} has no header line", path.display()))?
        .clone();
    let column = |name: String| {
        headers.iter().position(|h| h == name).with_context(|| {
            format!(
                "{} has no column {name}: the model takes {l} common (z_0..z_{}) and {m} salient \
                 (s_0..s_{}) values per code",
                path.display(),
                l - 1,
                m - 1
            )
        })
    };
    let z: Vec<usize> = (0..l)
        .map(|i| column(format!("z_{i}")))
        .collect::<Result<_>>()?;
    let s: Vec<usize> = (0..m)
        .map(|i| column(format!("s_{i}")))
        .collect::<Result<_>>()?;
    let (mut common, mut salient) = (Vec::new(), Vec::new());
    for (row, record) in reader.records().enumerate() {
        let record =
            record.with_context(|| format!("{}: row {} is not CSV", path.display(), row + 2))?;
        if row == MAX_CODE_ROWS {
            bail!(
                "{} has more than {MAX_CODE_ROWS} codes: split it",
                path.display()
            );
        }
        for (columns, out) in [(&z, &mut common), (&s, &mut salient)] {
            for &c in columns {
                let text = record.get(c).unwrap_or("");
                let value: f32 = text
                    .trim()
                    .parse()
                    .ok()
                    .filter(|v: &f32| v.is_finite())
                    .with_context(|| {
                        format!(
                            "{}: row {}, column {}: `{text}` is not a finite number",
                            path.display(),
                            row + 2,
                            &headers[c]
                        )
                    })?;
                out.push(value);
            }
        }
    }
    if common.is_empty() {
        bail!("{} holds no codes", path.display());
    }
    Ok((common, salient))
}

pub fn generate(args: GenerateArgs) -> Result<()> {
    if args.rows == 0 || args.cols == 0 {
        bail!("--rows and --cols must be at least 1");
    }
    let model = args.model.load()?;
    let grid = match &args.codes {
        Some(path) => {
            let (common, salient) = read_codes(path, model.config())?;
            model.generate_from(&common, &salient)?
        }
        None => {
            let salient_seed = args.salient_seed.unwrap_or(args.model.seed);
            model.sample_grid(args.rows, args.cols, args.model.seed, salient_seed)?
        }
    };
    let tiles = images::tensor_to_rgb(grid)?;
    let rows: Vec<_> = tiles.chunks(args.cols).map(<[_]>::to_vec).collect();
    match args.scale {
        Some(0) => bail!("--scale must be at least 1"),
        Some(scale) => {
            images::save_png(&images::grid(&rows), &args.out, scale)?;
            eprintln!("wrote {}", args.out.display());
            Ok(())
        }
        None => save(&images::grid(&rows), &model, &args.out),
    }
}

#[derive(Debug, Args)]
pub struct ReconstructArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[arg(long)]
    pub out: OutputFile,
    /// Background images (reconstructed as G(Qz(x), 0)).
    #[arg(long, num_args = 1..)]
    pub background: Vec<PathBuf>,
    /// Target images (reconstructed as G(Qz(y), Qs(y))).
    #[arg(long, num_args = 1..)]
    pub target: Vec<PathBuf>,
    /// Without image files: this many images of each domain of the built-in data.
    #[arg(long, default_value_t = 8, value_parser = at_least_one)]
    pub count: usize,
}

/// `--background`/`--target` files, or the first `count` built-in images of each domain.
fn inputs(
    model: &InferenceModel,
    background: &[PathBuf],
    target: &[PathBuf],
    count: usize,
    data_seed: u64,
) -> Result<(Option<Tensor<4>>, Option<Tensor<4>>)> {
    if background.is_empty() && target.is_empty() {
        let c = model.config();
        let data = BuiltinDataset::new(data_seed, BUILTIN_LEN);
        let batch = |domain| {
            let pixels = (0..count)
                .flat_map(|i| data.image(domain, i, c.image_size, c.channels))
                .collect();
            tensor(model, pixels, count)
        };
        return Ok((
            Some(batch(Domain::Background)?),
            Some(batch(Domain::Target)?),
        ));
    }
    let load = |files: &[PathBuf]| -> Result<Option<Tensor<4>>> {
        if files.is_empty() {
            Ok(None)
        } else {
            load_images(model, files).map(Some)
        }
    };
    Ok((load(background)?, load(target)?))
}

pub fn reconstruct(args: ReconstructArgs) -> Result<()> {
    let model = args.model.load()?;
    let (bg, t) = inputs(
        &model,
        &args.background,
        &args.target,
        args.count,
        args.model.seed,
    )?;
    let mut rows = Vec::new();
    if let Some(bg) = bg {
        rows.push(images::tensor_to_rgb(bg.clone())?);
        rows.push(images::tensor_to_rgb(model.reconstruct(bg, false)?)?);
    }
    if let Some(t) = t {
        rows.push(images::tensor_to_rgb(t.clone())?);
        rows.push(images::tensor_to_rgb(model.reconstruct(t, true)?)?);
    }
    save(&images::grid(&rows), &model, &args.out)
}

#[derive(Debug, Args)]
pub struct SwapArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[arg(long)]
    pub out: OutputFile,
    /// Background images x (paired in order with --target).
    #[arg(long, num_args = 1.., requires = "target")]
    pub background: Vec<PathBuf>,
    /// Target images y.
    #[arg(long, num_args = 1.., requires = "background")]
    pub target: Vec<PathBuf>,
    /// Without image files: this many built-in pairs.
    #[arg(long, default_value_t = 8, value_parser = at_least_one)]
    pub count: usize,
}

/// One row per pair: x, y, G(z_x, s_y) (x gains y's salient features), G(z_y, 0) (y without them).
pub fn swap(args: SwapArgs) -> Result<()> {
    if args.background.len() != args.target.len() {
        bail!(
            "swap pairs images in order: {} background and {} target images were given",
            args.background.len(),
            args.target.len()
        );
    }
    let model = args.model.load()?;
    let (bg, t) = inputs(
        &model,
        &args.background,
        &args.target,
        args.count,
        args.model.seed,
    )?;
    let (bg, t) = (
        bg.context("no background image")?,
        t.context("no target image")?,
    );
    let (gained, removed) = model.swap(bg.clone(), t.clone())?;
    let columns = [
        images::tensor_to_rgb(bg)?,
        images::tensor_to_rgb(t)?,
        images::tensor_to_rgb(gained)?,
        images::tensor_to_rgb(removed)?,
    ];
    let rows: Vec<Vec<_>> = (0..columns[0].len())
        .map(|i| columns.iter().map(|c| c[i].clone()).collect())
        .collect();
    save(&images::grid(&rows), &model, &args.out)
}

#[derive(Debug, Args)]
pub struct TraverseArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[arg(long)]
    pub out: OutputFile,
    /// The salient dimension to move (0-based).
    #[arg(long)]
    pub dim: usize,
    /// Values from -1.5 to 1.5 (paper Fig. 9).
    #[arg(long, default_value_t = 11)]
    pub steps: usize,
    /// Rows, each with its own z and other salient values.
    #[arg(long, default_value_t = 8, value_parser = at_least_one)]
    pub rows: usize,
}

pub fn traverse(args: TraverseArgs) -> Result<()> {
    if args.steps < 2 {
        bail!("--steps must be at least 2");
    }
    let model = args.model.load()?;
    let values: Vec<f32> = (0..args.steps)
        .map(|i| -1.5 + 3.0 * i as f32 / (args.steps - 1) as f32)
        .collect();
    let (common, salient) = model.sample_latents(args.rows);
    let mut rows = Vec::new();
    for r in 0..args.rows {
        let z = common.clone().narrow(0, r, 1);
        let s = salient.clone().narrow(0, r, 1);
        rows.push(images::tensor_to_rgb(
            model.traverse(z, s, args.dim, &values)?,
        )?);
    }
    save(&images::grid(&rows), &model, &args.out)
}

#[derive(Debug, Args)]
pub struct EncodeArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// CSV with one row per image: name, domain, label, z_*, s_* (and the true factors of built-in data).
    #[arg(long)]
    pub out: OutputFile,
    /// `builtin`, a dataset file, or a folder with background/ and target/.
    #[arg(long, default_value = "builtin")]
    pub data: DataSpec,
    /// A random sample of this many images per domain (seeded by --sample-seed), written in the
    /// data's order. Default: every image of a dataset file or folder (their first images are
    /// not representative: dSprites-MNIST follows its factor grid), and 1000 per domain of the
    /// built-in data, which has no end.
    #[arg(long, value_parser = at_least_one)]
    pub count: Option<usize>,
    /// Seed of the --count sample.
    #[arg(long, default_value_t = 0)]
    pub sample_seed: u64,
    /// `inference` (no noise, running batch-norm statistics) or `train` (noise and batch
    /// statistics of shuffled batches of 128 mixing both domains, as the paper's public
    /// evaluation scripts encode).
    #[arg(long, value_enum, default_value = "inference")]
    pub encoder: crate::eval::separation::EncoderMode,
    /// Seed of the built-in data (default: the one the run trained on).
    #[arg(long)]
    pub data_seed: Option<u64>,
}

pub fn encode(args: EncodeArgs) -> Result<()> {
    let model = args.model.load()?;
    let c = model.config().clone();
    let data_seed = match args.data_seed {
        Some(s) => s,
        None if args.model.checkpoint.is_dir() => {
            RunDir::open(&args.model.checkpoint)?.load_meta()?.seed
        }
        None => 0,
    };
    let data = Data::open(&args.data, c.image_size, c.channels, data_seed).map_err(|e| {
        SizeMismatch::advise(e, |m| {
            format!(
                "encode data built at the model's size (`dinfogan data build ... --size {}`)",
                m.model.1
            )
        })
    })?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = vec!["image".into(), "domain".into(), "label".into()];
    header.extend((0..c.common_dim).map(|i| format!("z_{i}")));
    header.extend((0..c.salient_dim).map(|i| format!("s_{i}")));
    match &data.source {
        crate::data::Source::Builtin(_) => header.extend(
            dinfogan::builtin::BuiltinFactors::NAMES
                .iter()
                .map(|n| format!("true_{n}")),
        ),
        crate::data::Source::File { file, .. } => {
            let h = &file.header;
            header.extend(h.labels.iter().map(|l| format!("label_{}", l.name)));
            header.extend(h.factor_names.iter().map(|n| format!("true_{n}")));
        }
        crate::data::Source::Folder { .. } => header.push("label_subclass".into()),
    }
    out.write_record(&header)?;
    // Both domains in one list, so that training-mode batches mix them as the public scripts'.
    let builtin = matches!(data.source, crate::data::Source::Builtin(_));
    let count = args.count.or(builtin.then_some(1000));
    let mut rows: Vec<(Domain, usize)> = Vec::new();
    for (k, domain) in [Domain::Background, Domain::Target].into_iter().enumerate() {
        let seed = args.sample_seed.wrapping_add(k as u64);
        let picked = crate::data::sample_in_order(data.len(domain), count, seed);
        let what = if picked.len() < data.len(domain) {
            format!(
                "a random sample of {} of {} (seed {})",
                picked.len(),
                data.len(domain),
                args.sample_seed
            )
        } else {
            format!("all {}", picked.len())
        };
        eprintln!("{domain:?}: {what} images");
        rows.extend(picked.into_iter().map(|i| (domain, i)));
    }
    let (z, s) = crate::eval::separation::encode_images(
        &model,
        rows.len(),
        |r| data.image(rows[r].0, rows[r].1),
        args.encoder,
    )?;
    for (r, &(domain, i)) in rows.iter().enumerate() {
        let mut record = vec![
            data.name(domain, i),
            format!("{domain:?}").to_lowercase(),
            domain.label().to_string(),
        ];
        record.extend(z[r].iter().map(|v| v.to_string()));
        record.extend(s[r].iter().map(|v| v.to_string()));
        let number = |v: f32| {
            if v.is_nan() {
                String::new()
            } else {
                v.to_string()
            }
        };
        match &data.source {
            crate::data::Source::Builtin(d) => {
                record.extend(d.factors(domain, i).values().into_iter().map(number))
            }
            crate::data::Source::File { file, .. } => {
                let k = data.file_index(domain, i).expect("a file source");
                record.extend(file.labels_of(k).iter().map(|v| v.to_string()));
                record.extend(file.factors_of(k).iter().copied().map(number));
            }
            crate::data::Source::Folder { .. } => {
                record.push(data.subclass(domain, i).unwrap_or_default());
            }
        }
        out.write_record(&record)?;
    }
    let bytes = out.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    write_atomic(&args.out, &bytes)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A run folder written by `dinfogan train`.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The file to write: a model file (e.g. model.bpk) or, with --format safetensors,
    /// model.safetensors.
    #[arg(long)]
    pub out: OutputFile,
    #[arg(long, value_enum, default_value = "model")]
    pub format: ExportFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// G and the encoder with their configuration, for the CLI's tools, the page and the widget.
    Model,
    /// G and the whole discriminator (trunk and its four heads) with the parameter names of
    /// the paper's public PyTorch code, the configuration as metadata (Table 4 networks).
    Safetensors,
}

pub fn export(args: ExportArgs) -> Result<()> {
    if args.checkpoint.is_file() {
        bail!(
            "{} is already a model file; --checkpoint takes a run folder",
            args.checkpoint.display()
        );
    }
    if args.format == ExportFormat::Safetensors {
        if !args.checkpoint.exists() {
            bail!(
                "the checkpoint {} does not exist",
                args.checkpoint.display()
            );
        }
        let run = RunDir::open(&args.checkpoint)?;
        let (state, meta) = run.load_for_inference()?;
        let size = crate::torch::export_safetensors(&meta.config, state, &args.out)?;
        eprintln!("wrote {} ({} KiB)", args.out.display(), size / 1024);
        return Ok(());
    }
    let model = load_model(&args.checkpoint, &backend::select(Backend::Cpu)?.device)?;
    let bytes = model.to_bytes()?;
    write_atomic(&args.out, &bytes)?;
    eprintln!("wrote {} ({} KiB)", args.out.display(), bytes.len() / 1024);
    Ok(())
}
