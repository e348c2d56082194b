//! `dinfogan bench`: the time of one training iteration (one G step and one D step, B
//! background + B target real images, B fakes per domain) of the paper's Table 4 model (or,
//! at 128x128, its Table 5 model), or of one step of a baseline (`--model mm-cvae | cvae`) on
//! the same batches, and the process's peak memory. Figures go to BENCHMARKS.md.

use std::time::Instant;

use anyhow::Result;
use burn::prelude::*;
use clap::Args;
use dinfogan::builtin::{BuiltinDataset, Domain};
use dinfogan::{LossTerm, Method, ModelConfig, TrainConfig, Trainer};

use crate::args::method_parser;
use crate::backend::{self, Backend};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
    /// Which method's training step: Double InfoGAN, or a baseline on the same batches
    /// (width 32 is the baselines' reference size: 32, 64, 128, 256 channels at 64x64).
    #[arg(long, default_value = "double-infogan", value_parser = method_parser())]
    pub model: Method,
    /// Image side: 32 or 64 (the Table 4 network) or 128 (the Table 5 network).
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Image channels: 3 (RGB) or 1 (grey, as for brain MRI).
    #[arg(long, default_value_t = 3)]
    pub channels: usize,
    /// Real images per domain (B).
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Channels of the first discriminator block (the paper: 64).
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    /// Timed iterations (after one warm-up iteration).
    #[arg(long, default_value_t = 3)]
    pub iters: usize,
    /// First check this device against the CPU: two iterations from the same weights, data and
    /// random numbers on both; fails when a loss differs by more than `--tolerance`.
    #[arg(long)]
    pub check: bool,
    /// Largest relative difference `--check` accepts, |device - cpu| / max(1, |cpu|).
    #[arg(long, default_value_t = 1e-3)]
    pub tolerance: f64,
}

/// Peak resident memory of this process in MiB (Linux), if known.
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Real images of one domain, `[b, channels, side, side]`, from the built-in data.
fn real_batch(
    data: &BuiltinDataset,
    domain: Domain,
    m: &ModelConfig,
    b: usize,
    device: &Device,
) -> Tensor<4> {
    let (side, c) = (m.image_size, m.channels);
    let pixels: Vec<f32> = (0..b)
        .flat_map(|i| data.image(domain, i, side, c))
        .collect();
    Tensor::from_data(TensorData::new(pixels, [b, c, side, side]), device)
}

/// The batches every timed iteration reuses: B background and B target built-in images.
fn timed_batches(model: &ModelConfig, b: usize, device: &Device) -> (Tensor<4>, Tensor<4>) {
    let data = BuiltinDataset::new(0, b);
    (
        real_batch(&data, Domain::Background, model, b, device),
        real_batch(&data, Domain::Target, model, b, device),
    )
}

/// Two iterations on `device` and on the CPU from the same weights, images and random numbers
/// (drawn on the host: `dinfogan::random::with_host_stream`); the largest relative difference
/// of any loss term, with its name and iteration.
fn check(config: &TrainConfig, device: &Device) -> Result<(f64, LossTerm, usize)> {
    let mut cpu = Trainer::new(config.clone(), &Device::flex(), 0)?;
    let mut other = Trainer::new(config.clone(), device, 0)?;
    other.load_state(cpu.state()?)?;
    let b = config.batch_size;
    let data = BuiltinDataset::new(1, b);
    let mut worst = (0.0, LossTerm::ALL[0], 1);
    for iteration in 1..=2 {
        let losses = |trainer: &mut Trainer| {
            let device = trainer.device().clone();
            let bg = real_batch(&data, Domain::Background, &config.model, b, &device);
            let t = real_batch(&data, Domain::Target, &config.model, b, &device);
            dinfogan::random::with_host_stream(iteration as u64, || trainer.iteration(bg, t))
                .values()
        };
        let (expected, got) = (losses(&mut cpu), losses(&mut other));
        for ((name, e), (_, g)) in expected.iter().zip(got.iter()) {
            let difference = (g as f64 - e as f64).abs() / (e as f64).abs().max(1.0);
            // A NaN on either side counts as the worst difference.
            if difference.is_nan() || difference > worst.0 {
                worst = (difference, name, iteration);
            }
        }
    }
    Ok(worst)
}

pub fn run(args: BenchArgs) -> Result<()> {
    if !args.model.iterates() {
        anyhow::bail!(
            "{} has no training step to time: `dinfogan train --model {}` fits it in one pass",
            args.model.label(),
            args.model
        );
    }
    if args.check && args.model != Method::DoubleInfogan {
        anyhow::bail!("--check compares Double InfoGAN's step across devices: leave out --model");
    }
    let selected = backend::select(args.backend)?;
    let config = TrainConfig {
        method: args.model,
        model: ModelConfig {
            image_size: args.size,
            channels: args.channels,
            width: args.width,
            ..ModelConfig::default()
        },
        batch_size: args.batch,
        ..TrainConfig::default()
    };
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("invalid benchmark model: {e}"))?;
    let (b, side, c) = (args.batch, args.size, args.channels);
    println!(
        "backend: {}\nmodel: {} ({}), {side}x{side}x{c}, width {}, L = {}, M = {}; B = {b} + {b} real, {b} + {b} fake",
        selected.description,
        args.model,
        if args.model == Method::DoubleInfogan {
            config.model.architecture().describe()
        } else {
            "two convolutional encoders and a decoder"
        },
        args.width,
        config.model.common_dim,
        config.model.salient_dim
    );
    if args.check {
        let (difference, name, iteration) = check(&config, &selected.device)?;
        let agrees = difference <= args.tolerance; // false for NaN
        let verdict = if agrees { "agrees" } else { "DIFFERS" };
        println!(
            "check: {verdict} with the CPU: largest relative difference of the {} loss terms over 2 iterations {difference:.2e} ({name}, iteration {iteration}; tolerance {:.0e})",
            LossTerm::of(Method::DoubleInfogan).len(),
            args.tolerance
        );
        if !agrees {
            anyhow::bail!(
                "this device's training step differs from the CPU's by {difference:.2e} ({name}, iteration {iteration}), more than --tolerance {:.0e}: its kernels (or fusion/autotune, with --features gpu-tuned) compute something else; train on --backend cpu, or report the device and this output",
                args.tolerance
            );
        }
    }
    if args.model != Method::DoubleInfogan {
        return time_baseline(&args, &config, &selected.device);
    }
    let mut trainer = Trainer::new(config.clone(), &selected.device, 0)?;
    let (bg, t) = timed_batches(&config.model, b, trainer.device());
    let mut g_times = Vec::new();
    let mut d_times = Vec::new();
    for i in 0..=args.iters {
        let mut losses = trainer.iteration_losses();
        let start = Instant::now();
        trainer.generator_step(bg.clone(), t.clone(), &mut losses);
        let _ = losses.values(); // waits for the device
        let g = start.elapsed().as_secs_f64();
        let start = Instant::now();
        trainer.discriminator_step(bg.clone(), t.clone(), &mut losses);
        let _ = losses.values();
        let d = start.elapsed().as_secs_f64();
        let label = if i == 0 { "warm-up" } else { "iteration" };
        println!(
            "{label} {i}: G step {g:.3} s, D step {d:.3} s, total {:.3} s",
            g + d
        );
        if i > 0 {
            g_times.push(g);
            d_times.push(d);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let (g, d) = (mean(&g_times), mean(&d_times));
    println!(
        "mean over {} iterations: G {g:.3} s + D {d:.3} s = {:.3} s per iteration, {:.1} images/s (2B / iteration)",
        args.iters,
        g + d,
        (2 * b) as f64 / (g + d)
    );
    if let Some(peak) = peak_memory_mib() {
        println!("peak resident memory: {peak:.0} MiB");
    }
    Ok(())
}

/// One step of a baseline (the VAE step, and T's for cVAE) on the built-in data, timed until
/// the device is done.
fn time_baseline(args: &BenchArgs, config: &TrainConfig, device: &Device) -> Result<()> {
    let b = args.batch;
    let mut trainer = dinfogan::trainer(config.clone(), device, 0)?;
    let (bg, t) = timed_batches(&config.model, b, trainer.device());
    let mut times = Vec::new();
    for i in 0..=args.iters {
        let start = Instant::now();
        let _ = trainer.iteration(bg.clone(), t.clone()).values(); // waits for the device
        let t = start.elapsed().as_secs_f64();
        let label = if i == 0 { "warm-up" } else { "iteration" };
        println!("{label} {i}: {t:.3} s");
        if i > 0 {
            times.push(t);
        }
    }
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    println!(
        "mean over {} iterations: {mean:.3} s per iteration, {:.1} images/s (2B / iteration)",
        args.iters,
        (2 * b) as f64 / mean
    );
    if let Some(peak) = peak_memory_mib() {
        println!("peak resident memory: {peak:.0} MiB");
    }
    Ok(())
}
