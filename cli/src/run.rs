//! A run directory: its configuration, atomic checkpoints, the metrics CSV and sample sheets.
//!
//! ```text
//! OUT/run.toml          the training configuration and run options (human readable)
//! OUT/checkpoint/       the last checkpoint: *.bpk (networks, optimisers) + state.json
//! OUT/metrics.csv       one row per step: step, images/s, every loss term
//! OUT/samples/*.png     sample sheets
//! ```
//!
//! A checkpoint is written into `checkpoint.tmp/`, then swapped in by renames: at every instant
//! either `checkpoint/` or `checkpoint.old/` holds a complete one.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use dinfogan::{TrainConfig, TrainerState};
use serde::{Deserialize, Serialize};

/// What a checkpoint carries besides weights: enough to resume or to rebuild the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Training steps (iterations) completed.
    pub step: u64,
    /// The run's seed; the device RNG is reseeded with `seed + step` on resume.
    pub seed: u64,
    /// `builtin` or the dataset folder.
    pub data: String,
    pub config: TrainConfig,
}

pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    pub fn create(root: &Path) -> Result<Self> {
        fs::create_dir_all(root.join("samples"))
            .with_context(|| format!("could not create the run folder {}", root.display()))?;
        Ok(Self { root: root.into() })
    }

    /// An existing run folder (with a checkpoint).
    pub fn open(root: &Path) -> Result<Self> {
        let run = Self { root: root.into() };
        if run.checkpoint_dir().is_none() {
            if !root.exists() {
                bail!("{} does not exist", root.display());
            }
            bail!(
                "{} holds no checkpoint (expected {}/checkpoint/ written by `dinfogan train`)",
                root.display(),
                root.display()
            );
        }
        Ok(run)
    }

    pub fn samples(&self) -> PathBuf {
        self.root.join("samples")
    }

    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.csv")
    }

    /// The complete checkpoint folder, if any (`checkpoint/`, or `checkpoint.old/` when a
    /// swap was interrupted).
    fn checkpoint_dir(&self) -> Option<PathBuf> {
        ["checkpoint", "checkpoint.old"]
            .iter()
            .map(|d| self.root.join(d))
            .find(|d| d.join("state.json").is_file())
    }

    /// Whether this folder already holds a run.
    pub fn has_checkpoint(&self) -> bool {
        self.checkpoint_dir().is_some()
    }

    pub fn save_checkpoint(&self, state: &TrainerState, meta: &CheckpointMeta) -> Result<()> {
        let tmp = self.root.join("checkpoint.tmp");
        let live = self.root.join("checkpoint");
        let old = self.root.join("checkpoint.old");
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir_all(&tmp).with_context(|| format!("could not create {}", tmp.display()))?;
        // One file per field of the state, named as `load_checkpoint` reads it; H and its
        // optimiser exist only in runs with the contrastive regulariser.
        let parts = [
            ("generator", Some(&state.generator)),
            ("discriminator", Some(&state.discriminator)),
            ("regulariser", state.regulariser.as_ref()),
            ("optim_generator", Some(&state.optim_generator)),
            ("optim_discriminator", Some(&state.optim_discriminator)),
            ("optim_regulariser", state.optim_regulariser.as_ref()),
        ];
        for (name, bytes) in parts {
            if let Some(bytes) = bytes {
                fs::write(tmp.join(format!("{name}.bpk")), bytes).with_context(|| {
                    format!("could not write the checkpoint in {}", tmp.display())
                })?;
            }
        }
        // state.json last: its presence marks a complete checkpoint.
        fs::write(tmp.join("state.json"), serde_json::to_vec_pretty(meta)?)?;
        if old.exists() {
            fs::remove_dir_all(&old)?;
        }
        if live.exists() {
            fs::rename(&live, &old)?;
        }
        fs::rename(&tmp, &live)
            .with_context(|| format!("could not move the checkpoint into {}", live.display()))?;
        if old.exists() {
            fs::remove_dir_all(&old)?;
        }
        Ok(())
    }

    pub fn load_meta(&self) -> Result<CheckpointMeta> {
        let dir = self.checkpoint_dir().context("no checkpoint")?;
        let path = dir.join("state.json");
        let text = fs::read(&path).with_context(|| format!("could not read {}", path.display()))?;
        serde_json::from_slice(&text).with_context(|| {
            format!(
                "the checkpoint file {} is corrupt or from an incompatible version",
                path.display()
            )
        })
    }

    pub fn load_checkpoint(&self) -> Result<(TrainerState, CheckpointMeta)> {
        let meta = self.load_meta()?;
        let dir = self.checkpoint_dir().context("no checkpoint")?;
        let read = |name: &str, required: bool| -> Result<Option<Vec<u8>>> {
            let path = dir.join(format!("{name}.bpk"));
            match fs::read(&path) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(_) if !required => Ok(None),
                Err(e) => Err(e).with_context(|| {
                    format!(
                        "the checkpoint is incomplete: could not read {}",
                        path.display()
                    )
                }),
            }
        };
        let with_cr = meta.config.uses_regulariser();
        let state = TrainerState {
            generator: read("generator", true)?.unwrap_or_default(),
            discriminator: read("discriminator", true)?.unwrap_or_default(),
            regulariser: read("regulariser", with_cr)?,
            optim_generator: read("optim_generator", true)?.unwrap_or_default(),
            optim_discriminator: read("optim_discriminator", true)?.unwrap_or_default(),
            optim_regulariser: read("optim_regulariser", with_cr)?,
        };
        Ok((state, meta))
    }
}
