//! A run directory: its configuration, atomic checkpoints, the metrics CSV and sample sheets.
//!
//! ```text
//! OUT/run.toml          the training configuration, human readable (a copy of what each checkpoint records)
//! OUT/checkpoint/       the last checkpoint: one *.bpk per network and optimiser + state.json
//! OUT/metrics.csv       one row per step: step, images/s, every loss term
//! OUT/samples/*.png     sample sheets
//! OUT/diverged.json     only when a loss became NaN or infinite and training stopped
//! OUT/eval/*.csv        `eval separation` tables of its checkpoints (what `plot` draws)
//! OUT/cpca.json         cPCA runs only: the alpha search
//! OUT/train.lock        held by the training process writing into the folder (its process id)
//! ```
//!
//! A checkpoint is written into `checkpoint.tmp/`, then swapped in by renames: at every instant
//! either `checkpoint/` or `checkpoint.old/` holds a complete one.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use burn::tensor::Bytes;
use dinfogan::{StatePart, TrainConfig, TrainerState};
use serde::{Deserialize, Serialize};

use crate::data::DataSpec;

/// What a checkpoint carries besides weights: enough to resume or to rebuild the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Training steps (iterations) completed.
    pub step: u64,
    /// The run's seed; each step seeds the device RNG from (seed, step) (`train::step_seed`),
    /// so a resumed run draws what the uninterrupted one would have.
    pub seed: u64,
    /// What the run trains on.
    pub data: DataSpec,
    pub config: TrainConfig,
}

impl CheckpointMeta {
    /// The same run's record at step `step`.
    pub fn at(&self, step: u64) -> Self {
        Self {
            step,
            ..self.clone()
        }
    }
}

/// Why a run stopped on its own: a loss became NaN or infinite (the paper reports MM-cVAE
/// diverging in about 10% of its runs; `eval compare` counts such runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    /// The step whose loss was not finite.
    pub step: u64,
    /// Its `metrics.csv` name.
    pub term: String,
    /// Its value, as text ("NaN", "inf").
    pub value: String,
}

pub struct RunDir {
    pub root: PathBuf,
}

/// The folder of a run's evaluation records, and the start of a separation table's name.
const EVAL_DIR: &str = "eval";
const SEPARATION_RECORD: &str = "separation-step-";

/// The name of the file a training process locks in its run folder.
const LOCK_FILE: &str = "train.lock";

/// A training process's claim on its run folder: an exclusive lock on `train.lock`, which the
/// operating system releases when this is dropped, when the process ends and when it crashes,
/// so a folder is never left claimed by a process that is gone.
#[derive(Debug)]
pub struct RunLock {
    _file: Option<fs::File>,
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

    /// A folder that may hold a run, checkpoint or not (a run that diverged before its first).
    pub fn at(root: &Path) -> Self {
        Self { root: root.into() }
    }

    /// Claims the folder for this process's training: a second `dinfogan train` into the same
    /// folder (a resume, or a new run with the same --out) is refused with a sentence instead of
    /// interleaving two runs' checkpoints and metrics. On a file system without locks (some
    /// network shares) training goes on unguarded, with a warning.
    pub fn lock(&self) -> Result<RunLock> {
        let path = self.root.join(LOCK_FILE);
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("could not open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim().parse::<u32>() {
                    Ok(pid) => format!(" (process {pid})"),
                    Err(_) => String::new(),
                };
                bail!(
                    "{} is in use: another `dinfogan train`{holder} is writing into it; wait for \
                     it to end, or train into another folder with --out",
                    self.root.display()
                );
            }
            Err(fs::TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
                eprintln!(
                    "warning: {} cannot be locked on this file system: nothing stops a second \
                     `dinfogan train` from writing into the same folder",
                    path.display()
                );
                return Ok(RunLock { _file: None });
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("could not lock {}", path.display()))
            }
        }
        // Who holds it, for the sentence above (the lock, not the text, is what guards).
        file.set_len(0)
            .and_then(|()| file.write_all(format!("{}\n", std::process::id()).as_bytes()))
            .with_context(|| format!("could not write {}", path.display()))?;
        Ok(RunLock { _file: Some(file) })
    }

    /// Records an `eval separation` table of the checkpoint at `step` in `eval/`, where `plot`
    /// finds it: `training_mode` tables (encoder in training mode) sit beside the inference-mode
    /// ones the plot draws. Returns the file written.
    pub fn record_separation(&self, step: u64, training_mode: bool, csv: &[u8]) -> Result<PathBuf> {
        let dir = self.root.join(EVAL_DIR);
        fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
        let suffix = if training_mode { "-train" } else { "" };
        let file = dir.join(format!("{SEPARATION_RECORD}{step:06}{suffix}.csv"));
        crate::io::write_atomic(&file, csv)?;
        Ok(file)
    }

    /// The inference-mode separation tables recorded so far, in step order.
    pub fn separation_records(&self) -> Result<Vec<(u64, PathBuf)>> {
        let dir = self.root.join(EVAL_DIR);
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut files: Vec<(u64, PathBuf)> = fs::read_dir(&dir)
            .with_context(|| format!("could not list {}", dir.display()))?
            .filter_map(|entry| {
                let path = entry.ok()?.path();
                let name = path.file_name()?.to_str()?;
                let step = name.strip_prefix(SEPARATION_RECORD)?.strip_suffix(".csv")?;
                Some((step.parse().ok()?, path))
            })
            .collect();
        files.sort();
        Ok(files)
    }

    /// Writes the run's configuration (`run.toml`), atomically.
    pub fn write_config(&self, config: &TrainConfig) -> Result<()> {
        let text = toml::to_string_pretty(config)?;
        crate::io::write_atomic(&self.config_file(), text.as_bytes())
    }

    fn config_file(&self) -> PathBuf {
        self.root.join("run.toml")
    }

    /// The run's configuration: its checkpoint's, which resume and every tool read too; the
    /// human-readable `run.toml` (written once, at the start, with the same values) only for a
    /// run without a checkpoint (one that diverged before its first).
    pub fn config(&self) -> Result<TrainConfig> {
        if self.checkpoint_dir().is_some() {
            return Ok(self.load_meta()?.config);
        }
        let path = self.config_file();
        let text = fs::read_to_string(&path)
            .with_context(|| format!("could not read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{} is corrupt", path.display()))
    }

    /// cPCA's alpha search (`cpca.json`), the one file a run of that method adds.
    pub fn cpca_search(&self) -> PathBuf {
        self.root.join("cpca.json")
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

    fn divergence_file(&self) -> PathBuf {
        self.root.join("diverged.json")
    }

    /// Records that training stopped on a non-finite loss.
    pub fn mark_diverged(&self, divergence: &Divergence) -> Result<()> {
        crate::io::write_atomic(
            &self.divergence_file(),
            &serde_json::to_vec_pretty(divergence)?,
        )
    }

    /// Clears the record when the run is resumed (another try, e.g. with lower rates).
    pub fn clear_divergence(&self) -> Result<()> {
        match fs::remove_file(self.divergence_file()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// The recorded divergence, if the run stopped on one.
    pub fn divergence(&self) -> Result<Option<Divergence>> {
        let path = self.divergence_file();
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .with_context(|| format!("{} is corrupt", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("could not read {}", path.display())),
        }
    }

    pub fn save_checkpoint(&self, state: &TrainerState, meta: &CheckpointMeta) -> Result<()> {
        let tmp = self.root.join("checkpoint.tmp");
        let live = self.root.join("checkpoint");
        let old = self.root.join("checkpoint.old");
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir_all(&tmp).with_context(|| format!("could not create {}", tmp.display()))?;
        // One file per part of the state, named as `load_checkpoint` reads it.
        for (part, bytes) in state.iter() {
            fs::write(tmp.join(format!("{}.bpk", part.name())), bytes)
                .with_context(|| format!("could not write the checkpoint in {}", tmp.display()))?;
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

    /// The whole checkpoint (to resume training).
    pub fn load_checkpoint(&self) -> Result<(TrainerState, CheckpointMeta)> {
        let meta = self.load_meta()?;
        let state = self.read_parts(&TrainerState::parts_of(&meta.config))?;
        Ok((state, meta))
    }

    /// The parts of the checkpoint a model for inference is built from (no optimiser state).
    pub fn load_for_inference(&self) -> Result<(TrainerState, CheckpointMeta)> {
        let meta = self.load_meta()?;
        let state = self.read_parts(StatePart::for_inference(meta.config.method))?;
        Ok((state, meta))
    }

    /// The parts' bytes, each checked to be a whole burnpack record (its header and every
    /// tensor's bytes inside the file), so that a truncated or damaged file is named here, with
    /// the step its checkpoint was of, rather than reported later as weights that do not fit.
    fn read_parts(&self, parts: &[StatePart]) -> Result<TrainerState> {
        let dir = self.checkpoint_dir().context("no checkpoint")?;
        let step = self.load_meta()?.step;
        let mut state = TrainerState::default();
        for &part in parts {
            let path = dir.join(format!("{}.bpk", part.name()));
            let bytes = fs::read(&path).with_context(|| {
                format!(
                    "the checkpoint of step {step} in {} is incomplete: could not read {}",
                    self.root.display(),
                    path.display()
                )
            })?;
            let whole = burn_pack::Reader::from_bytes(Bytes::from_bytes_vec(bytes.clone()))
                .and_then(|reader| reader.into_tensors().map(drop));
            if let Err(e) = whole {
                bail!(
                    "the checkpoint of step {step} in {} cannot be read: {} ({} bytes) is \
                     truncated or damaged ({e}); copy the run folder back from a backup, or \
                     train again",
                    self.root.display(),
                    path.display(),
                    bytes.len()
                );
            }
            state.insert(part, bytes);
        }
        Ok(state)
    }
}
