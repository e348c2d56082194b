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
use serde::Serialize;

use crate::args::method_parser;
use crate::backend::{self, Backend};
use crate::io::print_json;

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
    /// Print the model, the times and the peak memory as one JSON document on stdout; the
    /// text goes to stderr.
    #[arg(long)]
    pub json: bool,
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
    dinfogan::pixels::batch(pixels, b, c, side, device)
        .expect("b built-in images of the model's size")
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

/// `bench`: the model timed, the check against the CPU and the times; the text and `--json`
/// both come from it.
#[derive(Debug, Serialize)]
struct BenchReport {
    #[serde(flatten)]
    setup: BenchSetup,
    /// With `--check`: the largest difference from the CPU's step.
    check: Option<CheckReport>,
    /// The untimed first iteration.
    warm_up: IterationTime,
    iterations: Vec<IterationTime>,
    /// Means over `iterations`.
    #[serde(flatten)]
    mean: MeanTime,
    /// The process's peak resident memory (Linux).
    peak_resident_mib: Option<f64>,
}

/// What `bench` times.
#[derive(Debug, Serialize)]
struct BenchSetup {
    /// The device, as `--backend` chose it.
    device: String,
    model: Method,
    /// The network, in words.
    network: &'static str,
    image_size: usize,
    channels: usize,
    width: usize,
    common_dim: usize,
    salient_dim: usize,
    /// Real images per domain (B); as many fakes per domain.
    batch_size: usize,
}

/// `--check`: two iterations on the device and on the CPU.
#[derive(Debug, Serialize)]
struct CheckReport {
    agrees: bool,
    /// |device - cpu| / max(1, |cpu|) of the loss term that differs most (NaN: null).
    largest_relative_difference: f64,
    loss_term: String,
    iteration: usize,
    tolerance: f64,
    loss_terms: usize,
    iterations: usize,
}

/// One iteration's times (Double InfoGAN: its G and D steps).
#[derive(Debug, Clone, Serialize)]
struct IterationTime {
    iteration: usize,
    generator_seconds: Option<f64>,
    discriminator_seconds: Option<f64>,
    total_seconds: f64,
}

/// Means over the timed iterations.
#[derive(Debug, Serialize)]
struct MeanTime {
    #[serde(rename = "timed_iterations")]
    iterations: usize,
    #[serde(rename = "generator_seconds_per_iteration")]
    generator_seconds: Option<f64>,
    #[serde(rename = "discriminator_seconds_per_iteration")]
    discriminator_seconds: Option<f64>,
    seconds_per_iteration: f64,
    /// 2B real images per iteration.
    images_per_second: f64,
}

impl BenchSetup {
    fn text(&self) -> String {
        let b = self.batch_size;
        let side = self.image_size;
        format!(
            "backend: {}\nmodel: {} ({}), {side}x{side}x{}, width {}, L = {}, M = {}; B = {b} + {b} real, {b} + {b} fake",
            self.device, self.model, self.network, self.channels, self.width, self.common_dim, self.salient_dim
        )
    }
}

impl CheckReport {
    fn text(&self) -> String {
        let verdict = if self.agrees { "agrees" } else { "DIFFERS" };
        format!(
            "check: {verdict} with the CPU: largest relative difference of the {} loss terms over {} iterations {:.2e} ({}, iteration {}; tolerance {:.0e})",
            self.loss_terms,
            self.iterations,
            self.largest_relative_difference,
            self.loss_term,
            self.iteration,
            self.tolerance
        )
    }
}

impl IterationTime {
    fn text(&self) -> String {
        let label = if self.iteration == 0 {
            "warm-up"
        } else {
            "iteration"
        };
        match (self.generator_seconds, self.discriminator_seconds) {
            (Some(g), Some(d)) => format!(
                "{label} {}: G step {g:.3} s, D step {d:.3} s, total {:.3} s",
                self.iteration, self.total_seconds
            ),
            _ => format!("{label} {}: {:.3} s", self.iteration, self.total_seconds),
        }
    }
}

impl MeanTime {
    /// `steps`: the times have G and D steps (Double InfoGAN).
    fn of(times: &[IterationTime], batch: usize, steps: bool) -> Self {
        let n = times.len().max(1) as f64;
        let mean = |f: &dyn Fn(&IterationTime) -> Option<f64>| -> Option<f64> {
            let sum = times.iter().map(f).sum::<Option<f64>>();
            sum.filter(|_| steps).map(|sum| sum / n)
        };
        let g = mean(&|t| t.generator_seconds);
        let d = mean(&|t| t.discriminator_seconds);
        // Double InfoGAN's per-iteration time is the sum of the mean G and D steps.
        let seconds = match (g, d) {
            (Some(g), Some(d)) => g + d,
            _ => times.iter().map(|t| t.total_seconds).sum::<f64>() / n,
        };
        Self {
            iterations: times.len(),
            generator_seconds: g,
            discriminator_seconds: d,
            seconds_per_iteration: seconds,
            images_per_second: (2 * batch) as f64 / seconds,
        }
    }

    fn text(&self) -> String {
        match (self.generator_seconds, self.discriminator_seconds) {
            (Some(g), Some(d)) => format!(
                "mean over {} iterations: G {g:.3} s + D {d:.3} s = {:.3} s per iteration, {:.1} images/s (2B / iteration)",
                self.iterations, self.seconds_per_iteration, self.images_per_second
            ),
            _ => format!(
                "mean over {} iterations: {:.3} s per iteration, {:.1} images/s (2B / iteration)",
                self.iterations, self.seconds_per_iteration, self.images_per_second
            ),
        }
    }
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
    // The text as it comes (with --json on stderr: the JSON document is stdout's only output).
    let say = |line: &str| {
        if args.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    let setup = BenchSetup {
        device: selected.description.clone(),
        model: args.model,
        network: if args.model == Method::DoubleInfogan {
            config.model.architecture().describe()
        } else {
            "two convolutional encoders and a decoder"
        },
        image_size: args.size,
        channels: args.channels,
        width: args.width,
        common_dim: config.model.common_dim,
        salient_dim: config.model.salient_dim,
        batch_size: args.batch,
    };
    say(&setup.text());
    let mut checked = None;
    if args.check {
        let (difference, name, iteration) = check(&config, &selected.device)?;
        let report = CheckReport {
            agrees: difference <= args.tolerance, // false for NaN
            largest_relative_difference: difference,
            loss_term: name.to_string(),
            iteration,
            tolerance: args.tolerance,
            loss_terms: LossTerm::of(Method::DoubleInfogan).len(),
            iterations: 2,
        };
        say(&report.text());
        if !report.agrees {
            anyhow::bail!(
                "this device's training step differs from the CPU's by {difference:.2e} ({name}, iteration {iteration}), more than --tolerance {:.0e}: its kernels (or fusion/autotune, with --features gpu-tuned) compute something else; train on --backend cpu, or report the device and this output",
                args.tolerance
            );
        }
        checked = Some(report);
    }
    let mut times = if args.model != Method::DoubleInfogan {
        time_baseline(&args, &config, &selected.device, &say)?
    } else {
        time_double_infogan(&args, &config, &selected.device, &say)?
    };
    let warm_up = times.remove(0);
    let mean = MeanTime::of(&times, args.batch, args.model == Method::DoubleInfogan);
    say(&mean.text());
    let peak_resident_mib = peak_memory_mib();
    if let Some(peak) = peak_resident_mib {
        say(&format!("peak resident memory: {peak:.0} MiB"));
    }
    if args.json {
        print_json(&BenchReport {
            setup,
            check: checked,
            warm_up,
            iterations: times,
            mean,
            peak_resident_mib,
        })?;
    }
    Ok(())
}

/// The warm-up and `--iters` timed iterations of Double InfoGAN: its G and D steps, each timed
/// until the device is done.
fn time_double_infogan(
    args: &BenchArgs,
    config: &TrainConfig,
    device: &Device,
    say: &dyn Fn(&str),
) -> Result<Vec<IterationTime>> {
    let mut trainer = Trainer::new(config.clone(), device, 0)?;
    let (bg, t) = timed_batches(&config.model, args.batch, trainer.device());
    let mut times = Vec::new();
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
        let time = IterationTime {
            iteration: i,
            generator_seconds: Some(g),
            discriminator_seconds: Some(d),
            total_seconds: g + d,
        };
        say(&time.text());
        times.push(time);
    }
    Ok(times)
}

/// The warm-up and `--iters` timed steps of a baseline (the VAE step, and T's for cVAE) on the
/// built-in data, each timed until the device is done.
fn time_baseline(
    args: &BenchArgs,
    config: &TrainConfig,
    device: &Device,
    say: &dyn Fn(&str),
) -> Result<Vec<IterationTime>> {
    let mut trainer = dinfogan::trainer(config.clone(), device, 0)?;
    let (bg, t) = timed_batches(&config.model, args.batch, trainer.device());
    let mut times = Vec::new();
    for i in 0..=args.iters {
        let start = Instant::now();
        let _ = trainer.iteration(bg.clone(), t.clone()).values(); // waits for the device
        let time = IterationTime {
            iteration: i,
            generator_seconds: None,
            discriminator_seconds: None,
            total_seconds: start.elapsed().as_secs_f64(),
        };
        say(&time.text());
        times.push(time);
    }
    Ok(times)
}
