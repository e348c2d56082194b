//! What both VAE baselines (MM-cVAE and cVAE) share as methods: their reference's optimiser,
//! the VAE and its optimiser in a checkpoint, and their inference model.

use burn::optim::ModuleOptimizer;
use burn::prelude::*;

use crate::checkpoint::{load_module, load_optimizer, module_bytes, optimiser_bytes};
use crate::checkpoint::{StatePart, TrainerState};
use crate::config::{Method, TrainConfig};
use crate::error::Result;
use crate::infer::InferenceModel;
use crate::nets::vae::ContrastiveVae;

/// Adam as each baseline's reference code runs it: PyTorch's defaults for MM-cVAE (betas 0.9
/// and 0.999, epsilon 1e-8), Keras's for cVAE (epsilon 1e-7). burn's own default epsilon is 1e-5.
pub fn reference_adam(method: Method) -> burn::optim::AdamConfig {
    let epsilon = match method {
        Method::Cvae => 1e-7,
        _ => 1e-8,
    };
    burn::optim::AdamConfig::new().with_epsilon(epsilon)
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
    let vae = load_module(
        vae.clone(),
        state.take(StatePart::Vae)?,
        StatePart::Vae.describe(),
    )?;
    let optim = load_optimizer(optim, state.take(StatePart::OptimVae)?, StatePart::OptimVae)?;
    Ok((vae, optim))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baselines_use_their_references_adam() {
        let epsilon = |method| {
            serde_json::to_value(reference_adam(method)).unwrap()["epsilon"]
                .as_f64()
                .unwrap() as f32
        };
        assert_eq!(epsilon(Method::MmCvae), 1e-8);
        assert_eq!(epsilon(Method::Cvae), 1e-7);
    }
}
