//! The one interface every iterative method trains through ([`Training`]), and the loss values
//! an iteration returns ([`Losses`]). The CLI's loop, checkpoints, metrics and sample sheets
//! hold a `Box<dyn Training>` from [`super::trainer`] and run every method alike; the loop asks
//! the method only whether it iterates at all (cPCA is fitted in one pass), which loss terms its
//! metrics have, which of them its progress line shows, and which learning rates to name when a
//! loss diverges.

use burn::prelude::*;

use crate::checkpoint::TrainerState;
use crate::config::{Method, TrainConfig};
use crate::error::Result;
use crate::infer::InferenceModel;
use crate::terms::{LossTerm, LossValues};

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
