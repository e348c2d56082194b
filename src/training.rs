//! The one interface every iterative method trains through ([`Training`]): Double InfoGAN's
//! [`Trainer`], MM-cVAE's and cVAE's. The CLI's loop, checkpoints, metrics and sample sheets
//! hold a `Box<dyn Training>` from [`trainer`] and run every method alike; the loop asks the
//! method only whether it iterates at all (cPCA is fitted in one pass), which loss terms its
//! metrics have, which of them its progress line shows, and which learning rates to name when a
//! loss diverges.

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use burn::tensor::Bytes;

use crate::checkpoint::{StatePart, TrainerState};
use crate::config::{Method, TrainConfig};
use crate::cvae::CvaeTrainer;
use crate::error::{Error, Result};
use crate::infer::InferenceModel;
use crate::mm_cvae::MmCvaeTrainer;
use crate::step::Trainer;
use crate::terms::{LossTerm, LossValues};
use crate::vae::ContrastiveVae;

/// The unweighted loss terms of an iteration (0 for a term that is switched off or a step that
/// did not run), still on the device: read them with [`Losses::values`] (one transfer) when
/// needed.
#[derive(Debug, Clone)]
pub struct Losses {
    terms: &'static [LossTerm],
    values: Vec<Tensor<1>>,
}

impl Losses {
    /// Zeros for every term of `method`.
    pub(crate) fn zeros(method: Method, device: &Device) -> Self {
        let terms = LossTerm::of(method);
        Self {
            terms,
            values: terms.iter().map(|_| Tensor::zeros([1], device)).collect(),
        }
    }

    /// # Panics
    /// If `term` is not one of the method's (a programming error).
    pub(crate) fn set(&mut self, term: LossTerm, value: Tensor<1>) {
        let at = self
            .terms
            .iter()
            .position(|t| *t == term)
            .unwrap_or_else(|| panic!("{term} is not one of this method's terms"));
        self.values[at] = value.detach();
    }

    fn read(&self, data: TensorData) -> LossValues {
        let values = data
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("losses are f32");
        LossValues::new(self.terms, values)
    }

    fn stacked(&self) -> Tensor<1> {
        Tensor::cat(self.values.clone(), 0)
    }

    /// The values. Synchronous read: native only (use [`Losses::values_async`] on WebGPU).
    pub fn values(&self) -> LossValues {
        self.read(self.stacked().into_data())
    }

    /// The values, read without blocking (works on WebGPU).
    pub async fn values_async(&self) -> LossValues {
        self.read(
            self.stacked()
                .into_data_async()
                .await
                .expect("the device could not be read"),
        )
    }
}

/// A method's networks and optimisers on one autodiff device, trained batch by batch.
pub trait Training {
    fn config(&self) -> &TrainConfig;

    /// The autodiff device the networks live on; put real batches there.
    fn device(&self) -> &Device;

    /// One iteration on B background and B target images `[b, c, side, side]` in [-1, 1]. Its
    /// random numbers come from the device's generator (seed it for a reproducible step).
    fn iteration(&mut self, background: Tensor<4>, target: Tensor<4>) -> Losses;

    /// What inference needs, in evaluation mode on the plain device.
    fn inference_model(&self) -> InferenceModel;

    /// Every network and optimiser as bytes: the parts [`TrainerState::parts_of`] lists.
    fn state(&self) -> Result<TrainerState>;

    /// Restores a [`Training::state`] of the same configuration, so that training continues
    /// exactly.
    fn load_state(&mut self, state: TrainerState) -> Result<()>;
}

/// The trainer of `config.method`, initialised from `seed`.
pub fn trainer(config: TrainConfig, device: &Device, seed: u64) -> Result<Box<dyn Training>> {
    Ok(match config.method {
        Method::DoubleInfogan => Box::new(Trainer::new(config, device, seed)?),
        Method::MmCvae => Box::new(MmCvaeTrainer::new(config, device, seed)?),
        Method::Cvae => Box::new(CvaeTrainer::new(config, device, seed)?),
        Method::Cpca => {
            return Err(Error::InvalidConfig(
                "cPCA is fitted in one pass over the data, not trained step by step".into(),
            ))
        }
    })
}

impl Training for Trainer {
    fn config(&self) -> &TrainConfig {
        Trainer::config(self)
    }

    fn device(&self) -> &Device {
        Trainer::device(self)
    }

    fn iteration(&mut self, background: Tensor<4>, target: Tensor<4>) -> Losses {
        Trainer::iteration(self, background, target)
    }

    fn inference_model(&self) -> InferenceModel {
        Trainer::inference_model(self)
    }

    fn state(&self) -> Result<TrainerState> {
        Trainer::state(self)
    }

    fn load_state(&mut self, state: TrainerState) -> Result<()> {
        Trainer::load_state(self, state)
    }
}

/// A module's record as burnpack bytes.
pub(crate) fn module_bytes<M: Module>(module: &M, part: StatePart) -> Result<Vec<u8>> {
    module
        .clone()
        .into_record()
        .into_bytes()
        .map(|b| b.to_vec())
        .map_err(|e| Error::Weights {
            what: part.describe().into(),
            reason: e.to_string(),
        })
}

/// An optimiser's state (Adam's moments) as bytes.
pub(crate) fn optimiser_bytes(optim: &ModuleOptimizer, part: StatePart) -> Result<Vec<u8>> {
    optim
        .into_bytes()
        .map(|b| b.to_vec())
        .map_err(|e| Error::Weights {
            what: part.describe().into(),
            reason: e.to_string(),
        })
}

pub(crate) fn load_optimizer(
    optim: &ModuleOptimizer,
    bytes: Vec<u8>,
    part: StatePart,
) -> Result<ModuleOptimizer> {
    optim
        .clone()
        .from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| Error::Weights {
            what: part.describe().into(),
            reason: e.to_string(),
        })
}

/// A VAE baseline's inference model: its networks with the last step's batch-norm statistics,
/// in evaluation mode on the plain device.
pub(crate) fn vae_inference_model(
    config: &TrainConfig,
    vae: &ContrastiveVae,
    device: &Device,
) -> InferenceModel {
    vae.sync_running_stats();
    InferenceModel::from_vae(
        config.method,
        config.model.clone(),
        vae.valid(),
        device.clone().without_autodiff(),
    )
}

/// The VAE and its optimiser in a checkpoint (both baselines have them).
pub(crate) fn vae_state(vae: &ContrastiveVae, optim: &ModuleOptimizer) -> Result<TrainerState> {
    vae.sync_running_stats();
    let mut state = TrainerState::default();
    state.insert(StatePart::Vae, module_bytes(vae, StatePart::Vae)?);
    state.insert(
        StatePart::OptimVae,
        optimiser_bytes(optim, StatePart::OptimVae)?,
    );
    Ok(state)
}

/// The VAE and its optimiser from a checkpoint.
pub(crate) fn load_vae_state(
    state: &mut TrainerState,
    vae: &ContrastiveVae,
    optim: &ModuleOptimizer,
) -> Result<(ContrastiveVae, ModuleOptimizer)> {
    let vae = crate::infer::load_module(
        vae.clone(),
        state.take(StatePart::Vae)?,
        StatePart::Vae.describe(),
    )?;
    let optim = load_optimizer(optim, state.take(StatePart::OptimVae)?, StatePart::OptimVae)?;
    Ok((vae, optim))
}
