//! cVAE (Abid and Zou 2019, `contrastive_vae`), the paper's other baseline, on the networks of
//! [`crate::nets::vae`]. In the reference's naming its "z" is the salient latent and "s" the shared
//! one; here, as everywhere in this project, z is common and s salient. Per batch:
//!
//! ```text
//!   VAE:  |y - D(z_y, s_y)|^2 + |x - D(z_x, 0)|^2 + beta (KL(q(z|y)) + KL(q(s|y)) + KL(q(z|x)))
//!         + gamma mean logit T([s, z] of target pairs)
//!   T:    -log sigmoid(T(q)) - log(1 - sigmoid(T(q_bar)))
//! ```
//!
//! T, the total-correlation discriminator, is one linear layer on [s, z]; q pairs each target's
//! s with its own z, q_bar with another target's (the batch's halves swapped), so T tells a
//! joint sample from a product of marginals and the VAE term pushes s and z of a target apart.
//! T has its own Adam optimiser and is frozen during the VAE step (the reference optimises the
//! sum of both with one optimiser). Squared errors are summed over pixels in [0, 1] units and
//! every term is averaged over the batch, as the reference's Keras losses.
//!
//! The port of cVAE in MM-cVAE's code replaces every score by a constant before the logs, so
//! its TC term has no gradient at all; here the term is the published one, and a test checks
//! that its gradient reaches the salient encoder.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;

use super::training::{Losses, Training};
use super::vae_shared::{load_vae_state, reference_adam, vae_inference_model, vae_state};
use crate::checkpoint::{load_module, load_optimizer, module_bytes, optimiser_bytes};
use crate::checkpoint::{StatePart, TrainerState};
use crate::config::{Method, ModelConfig, TrainConfig};
use crate::error::{Error, Result};
use crate::infer::InferenceModel;
use crate::loss::gaussian_kl_sum;
use crate::nets::init::initialized;
use crate::nets::vae::{ContrastiveVae, Posterior};
use crate::terms::LossTerm;

/// T: one linear layer from [s, z] to a logit.
#[derive(Module, Debug)]
pub struct TcDiscriminator {
    linear: Linear,
}

impl TcDiscriminator {
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        Self {
            linear: LinearConfig::new(config.salient_dim + config.common_dim, 1).init(device),
        }
    }

    /// `[batch, M]`, `[batch, L]` -> logits `[batch]`.
    pub fn forward(&self, salient: Tensor<2>, common: Tensor<2>) -> Tensor<1> {
        self.linear
            .forward(Tensor::cat(vec![salient, common], 1))
            .flatten(0, 1)
    }
}

/// The pairs T judges: (s, z) of the same target, and s with the z of a target of the other
/// half of the batch. `[2 * (b / 2), M]` and `[.., L]` each.
fn pairs(salient: Tensor<2>, common: Tensor<2>) -> [(Tensor<2>, Tensor<2>); 2] {
    let half = salient.dims()[0] / 2;
    let (s1, s2) = (
        salient.clone().narrow(0, 0, half),
        salient.narrow(0, half, half),
    );
    let (z1, z2) = (
        common.clone().narrow(0, 0, half),
        common.narrow(0, half, half),
    );
    [
        (
            Tensor::cat(vec![s1.clone(), s2.clone()], 0),
            Tensor::cat(vec![z1.clone(), z2.clone()], 0),
        ),
        (Tensor::cat(vec![s1, s2], 0), Tensor::cat(vec![z2, z1], 0)),
    ]
}

/// The VAE, T and their optimisers, on one autodiff device.
pub struct CvaeTrainer {
    config: TrainConfig,
    device: Device,
    pub model: ContrastiveVae,
    pub tc: TcDiscriminator,
    optim_model: ModuleOptimizer,
    optim_tc: ModuleOptimizer,
}

impl CvaeTrainer {
    /// A new model for `config` (its `model` shape and `vae` weights; the method is set to
    /// cVAE), on `device` switched to autodiff and seeded with `seed`.
    pub fn new(mut config: TrainConfig, device: &Device, seed: u64) -> Result<Self> {
        config.method = Method::Cvae;
        config.validate().map_err(Error::InvalidConfig)?;
        let device = device.clone().autodiff();
        device.seed(seed);
        Ok(Self {
            model: initialized(ContrastiveVae::new(&config.model, &device)),
            tc: initialized(TcDiscriminator::new(&config.model, &device)),
            optim_model: reference_adam(Method::Cvae).init(),
            optim_tc: reference_adam(Method::Cvae).init(),
            config,
            device,
        })
    }

    /// The VAE's total-correlation term on target codes: the mean logit of T (frozen: `tc`
    /// is a `no_grad` copy in a step) on joint pairs, log(q / (1 - q)).
    pub fn total_correlation(
        tc: &TcDiscriminator,
        salient: Tensor<2>,
        common: Tensor<2>,
    ) -> Tensor<1> {
        let [(s, z), _] = pairs(salient, common);
        tc.forward(s, z).mean()
    }

    /// One VAE step and one T step on a batch of background and target images in [-1, 1]
    /// (at least two targets, for the pairs).
    pub fn step(&mut self, background: Tensor<4>, target: Tensor<4>) -> Losses {
        let m = &self.model;
        let limit = self.config.vae.log_var_limit;
        // The domains may differ in size (batches drawn from both together): every term is a
        // mean over its own domain's images, the reference's per-image mean when they agree.
        let ([bx, ..], [by, ..]) = (background.dims(), target.dims());
        let zx: Posterior = m.common.forward(background.clone()).bounded(limit);
        let (zy, sy) = (
            m.common.forward(target.clone()).bounded(limit),
            m.salient.forward(target.clone()).bounded(limit),
        );
        let (zx_sample, zy_sample, sy_sample) = (zx.sample(), zy.sample(), sy.sample());
        let squared = |a: Tensor<4>, x: Tensor<4>, n: usize| {
            (a - x).powi_scalar(2).sum().div_scalar(4.0 * n as f32)
        };
        let no_salient = Tensor::zeros([bx, self.config.model.salient_dim], &self.device);
        let reconstruction = squared(
            m.decoder.forward(zy_sample.clone(), sy_sample.clone()),
            target,
            by,
        ) + squared(m.decoder.forward(zx_sample, no_salient), background, bx);
        let kl = (gaussian_kl_sum(zy.mean, zy.log_var) + gaussian_kl_sum(sy.mean, sy.log_var))
            .div_scalar(by as f32)
            + gaussian_kl_sum(zx.mean, zx.log_var).div_scalar(bx as f32);
        let frozen = self.tc.clone().no_grad();
        // T needs two targets for a pair: a batch with one (tiny B) has no TC term.
        let with_pairs = by >= 2;
        let total_correlation = if with_pairs {
            Self::total_correlation(&frozen, sy_sample.clone(), zy_sample.clone())
        } else {
            Tensor::zeros([1], &self.device)
        };
        let weights = &self.config.vae;
        let total = reconstruction.clone()
            + kl.clone().mul_scalar(weights.kl)
            + total_correlation
                .clone()
                .mul_scalar(weights.total_correlation);
        let grads = GradientsParams::from_grads(total.backward(), &self.model);
        self.model = self.optim_model.step(weights.lr, self.model.clone(), grads);

        let mut losses = Losses::zeros(Method::Cvae, &self.device);
        if with_pairs {
            // T on the same codes, detached: joint pairs are 1, swapped ones 0.
            let [(s, z), (s_bar, z_bar)] = pairs(sy_sample.detach(), zy_sample.detach());
            let discriminator = log_sigmoid(self.tc.forward(s, z)).neg().mean()
                + log_sigmoid(self.tc.forward(s_bar, z_bar).neg())
                    .neg()
                    .mean();
            let grads = GradientsParams::from_grads(discriminator.backward(), &self.tc);
            self.tc = self
                .optim_tc
                .step(self.config.vae.lr, self.tc.clone(), grads);
            losses.set(LossTerm::TotalCorrelationDiscriminator, discriminator);
        }
        losses.set(LossTerm::VaeReconstruction, reconstruction);
        losses.set(LossTerm::VaeKl, kl);
        losses.set(LossTerm::VaeTotalCorrelation, total_correlation);
        losses.set(LossTerm::VaeTotal, total);
        losses
    }
}

impl Training for CvaeTrainer {
    fn config(&self) -> &TrainConfig {
        &self.config
    }

    fn device(&self) -> &Device {
        &self.device
    }

    fn iteration(&mut self, background: Tensor<4>, target: Tensor<4>) -> Losses {
        self.step(background, target)
    }

    fn inference_model(&self) -> InferenceModel {
        vae_inference_model(&self.config, &self.model, &self.device)
    }

    fn state(&self) -> Result<TrainerState> {
        let mut state = vae_state(&self.model, &self.optim_model)?;
        state.insert(
            StatePart::TotalCorrelation,
            module_bytes(&self.tc, StatePart::TotalCorrelation)?,
        );
        state.insert(
            StatePart::OptimTotalCorrelation,
            optimiser_bytes(&self.optim_tc, StatePart::OptimTotalCorrelation)?,
        );
        Ok(state)
    }

    fn load_state(&mut self, mut state: TrainerState) -> Result<()> {
        (self.model, self.optim_model) =
            load_vae_state(&mut state, &self.model, &self.optim_model)?;
        self.tc = load_module(
            self.tc.clone(),
            state.take(StatePart::TotalCorrelation)?,
            StatePart::TotalCorrelation.describe(),
        )?;
        self.optim_tc = load_optimizer(
            &self.optim_tc,
            state.take(StatePart::OptimTotalCorrelation)?,
            StatePart::OptimTotalCorrelation,
        )?;
        Ok(())
    }
}
