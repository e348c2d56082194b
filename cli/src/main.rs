//! `dinfogan`: train Double InfoGAN and use a trained model from the command line.

mod args;
mod backend;
mod bench;
mod data;
#[cfg(test)]
mod doc_commands;
mod draw;
mod eval;
#[cfg(test)]
mod fuzz;
mod images;
mod io;
mod markdown;
mod metrics;
mod model;
mod plot;
mod progress;
mod run;
mod tools;
mod torch;
mod train;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "dinfogan",
    version,
    about = "Double InfoGAN for Contrastive Analysis: separate what is common to a background \
             and a target set from what is salient in the target"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train (or resume) a model; writes checkpoints, sample sheets and metrics.csv.
    Train(train::TrainArgs),
    /// A grid of generated images: rows share z, column 1 has s = 0, the others s != 0.
    Generate(tools::GenerateArgs),
    /// Real images and their reconstructions G(Qz(x), 0) and G(Qz(y), Qs(y)).
    Reconstruct(tools::ReconstructArgs),
    /// Salient swap: x, y, G(z_x, s_y) and G(z_y, 0) (y's salient features removed).
    Swap(tools::SwapArgs),
    /// Move one salient dimension from -1.5 to 1.5 with z fixed.
    Traverse(tools::TraverseArgs),
    /// z and s of a set of images, with their labels, to CSV.
    Encode(tools::EncodeArgs),
    /// Write the model file that inference needs (G and the encoder) for the browser or the tools.
    Export(tools::ExportArgs),
    /// A model of the paper's public PyTorch code (a Lightning checkpoint, a state dict or a
    /// safetensors file) as a model file the tools, the page and the widget open.
    Import(torch::ImportArgs),
    /// Time one training iteration of the paper's model on this machine.
    Bench(bench::BenchArgs),
    /// The compute devices this build can use: wgpu adapters and the CPU.
    Devices(backend::DevicesArgs),
    /// Evaluate a trained model: latent separation, tables over runs, the FactorVAE score.
    Eval {
        #[command(subcommand)]
        command: eval::EvalCommand,
    },
    /// Training curves of a run (every loss term, images/s) and its recorded separations, or maps
    /// of a model's codes coloured by a label (`plot codes`), as PNG.
    Plot(plot::PlotArgs),
    /// Build, inspect and preview dataset files (the paper's contrastive datasets).
    Data {
        #[command(subcommand)]
        command: data::commands::DataCommand,
    },
    /// Shell completions, to stdout: `dinfogan completions bash > ~/.local/share/bash-completion/completions/dinfogan`
    /// (zsh: a file `_dinfogan` in a folder of $fpath; fish: ~/.config/fish/completions/dinfogan.fish).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Keeps freed memory in the process for the next allocation instead of handing it back.
/// A training step allocates and frees the same large activations every iteration; glibc
/// serves blocks over 32 MiB with a fresh `mmap` each time and returns them with `munmap`, so
/// every step page-faults its activations in again (at 128x128, batch 32, a third of the CPU
/// time was the kernel's). From the heap, freed blocks are reused as they are. Measured on the
/// 2-core Zen 5 machine, builds alternating (`bench --size 128 --channels 1 --batch 8`): 12.8
/// to 12.9 s per iteration before, 10.7 s after; 64x64 batch 64: 4.47 s before, 4.24 s after
/// (BENCHMARKS.md). The process then keeps
/// its peak memory until it exits.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

/// Runs `command` on a worker of a rayon pool of the CPU backend's threads. burn-flex's and the
/// CPU kernels' parallel loops then start on the calling worker, which takes its share of the
/// work; called from the main thread, every loop (thousands per training step) was handed to
/// the pool and waited for, a wake-up and a sleep each, all of it overhead with one thread.
/// The batch loader's thread stays outside the pool (the global one serves it, should it ever
/// run a parallel loop), so nothing it waits for can wait for it.
fn on_pool<R: Send>(command: impl FnOnce() -> R + Send) -> R {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(backend::cpu_threads())
        // The main thread's size: burn's backward pass and the model parsers recurse.
        .stack_size(8 << 20)
        .thread_name(|i| format!("dinfogan-{i}"))
        .build();
    match pool {
        Ok(pool) => pool.install(command),
        Err(_) => command(), // (no threads could start: the main thread does it all)
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    // A mistake on the command line is a user's mistake like any other: one `error:` sentence
    // (clap's) and exit code 1. Help and version are not errors.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            let _ = error.print();
            return ExitCode::FAILURE;
        }
    };
    let result = on_pool(move || match cli.command {
        Command::Train(args) => train::run(args),
        Command::Generate(args) => tools::generate(args),
        Command::Reconstruct(args) => tools::reconstruct(args),
        Command::Swap(args) => tools::swap(args),
        Command::Traverse(args) => tools::traverse(args),
        Command::Encode(args) => tools::encode(args),
        Command::Export(args) => tools::export(args),
        Command::Import(args) => torch::import(args),
        Command::Bench(args) => bench::run(args),
        Command::Devices(args) => backend::list_devices(args),
        Command::Data { command } => data::commands::run(command),
        Command::Eval { command } => eval::run(command),
        Command::Plot(args) => plot::run(args),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "dinfogan",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
