//! The model a command reads (`--checkpoint`): a run folder's last checkpoint or a model file
//! written by `export`, in evaluation mode.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use burn::prelude::*;
use clap::Args;
use dinfogan::InferenceModel;

use crate::backend::{self, Backend};
use crate::run::RunDir;

#[derive(Debug, Args)]
pub struct ModelArgs {
    /// A run folder written by `dinfogan train`, or a model file written by `dinfogan export`.
    #[arg(long)]
    pub checkpoint: PathBuf,
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
    /// Seed of the random latents.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl ModelArgs {
    /// The model at `--checkpoint` on `--backend`, whose generator is seeded with `--seed`.
    pub fn load(&self) -> Result<InferenceModel> {
        let device = backend::select(self.backend)?.device;
        device.seed(self.seed);
        load_model(&self.checkpoint, &device)
    }
}

/// The model at `path` (a file written by `export`, or a run folder's last checkpoint) on
/// `device`, in evaluation mode.
pub fn load_model(path: &Path, device: &Device) -> Result<InferenceModel> {
    if path.is_file() {
        let bytes =
            std::fs::read(path).with_context(|| format!("could not read {}", path.display()))?;
        return InferenceModel::from_bytes(&bytes, device)
            .with_context(|| format!("could not load the model file {}", path.display()));
    }
    if !path.exists() {
        bail!("the checkpoint {} does not exist", path.display());
    }
    let run = RunDir::open(path)?;
    let (state, meta) = run.load_for_inference()?;
    InferenceModel::from_checkpoint(&meta.config, state, device)
        .with_context(|| format!("could not load the checkpoint in {}", path.display()))
}
