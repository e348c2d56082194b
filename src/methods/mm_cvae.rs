//! MM-cVAE (Weinberger, Beebe-Wang and Lee 2022), the paper's strongest baseline, trained on
//! the same batches as Double InfoGAN: the networks of [`crate::nets::vae`] and, per batch of B
//! background images x and B target images y, one Adam step on
//!
//! ```text
//!   |x - D(z_x, 0)|^2 + KL(q(z|x)) + |y - D(z_y, s_y)|^2 + KL(q(z|y)) + KL(q(s|y))
//!   + lambda_1 MMD(z_x, z_y) + lambda_2 MMD(s_x, 0)
//! ```
//!
//! with the latents sampled from their posteriors, every term summed over the batch as the
//! reference code sums them (no KL on s of background images: MMD(s_x, 0) pulls it to zero
//! instead), and the squared errors taken in [0, 1] pixel units as the reference's images are.
//! The weights are [`crate::config::VaeConfig`]'s: by default the paper's Table 2 settings,
//! lambda_1 = 100 and lambda_2 = 1000.

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use super::training::{Losses, Training};
use super::vae_shared::{load_vae_state, reference_adam, vae_inference_model, vae_state};
use crate::checkpoint::TrainerState;
use crate::config::{Method, TrainConfig};
use crate::error::{Error, Result};
use crate::infer::InferenceModel;
use crate::loss::{gaussian_kl_sum, mmd, MMD_GAMMAS};
use crate::nets::init::initialized;
use crate::nets::vae::ContrastiveVae;
use crate::terms::LossTerm;

/// The model and its optimiser, on one autodiff device.
pub struct MmCvaeTrainer {
    config: TrainConfig,
    device: Device,
    pub model: ContrastiveVae,
    optim: ModuleOptimizer,
}

impl MmCvaeTrainer {
    /// A new model for `config` (its `model` shape and `vae` weights; the method is set to
    /// MM-cVAE), on `device` switched to autodiff and seeded with `seed`.
    pub fn new(mut config: TrainConfig, device: &Device, seed: u64) -> Result<Self> {
        config.method = Method::MmCvae;
        config.validate().map_err(Error::InvalidConfig)?;
        let device = device.clone().autodiff();
        device.seed(seed);
        Ok(Self {
            model: initialized(ContrastiveVae::new(&config.model, &device)),
            optim: reference_adam(Method::MmCvae).init(),
            config,
            device,
        })
    }

    /// One Adam step on a batch of background `[b, c, h, w]` and target images in [-1, 1].
    pub fn step(&mut self, background: Tensor<4>, target: Tensor<4>) -> Losses {
        let m = &self.model;
        let limit = self.config.vae.log_var_limit;
        let (zx, sx) = (
            m.common.forward(background.clone()).bounded(limit),
            m.salient.forward(background.clone()).bounded(limit),
        );
        let (zy, sy) = (
            m.common.forward(target.clone()).bounded(limit),
            m.salient.forward(target.clone()).bounded(limit),
        );
        let (zx_sample, sx_sample) = (zx.sample(), sx.sample());
        let (zy_sample, sy_sample) = (zy.sample(), sy.sample());
        // Squared errors in [0, 1] units: (a - b)^2 / 4 for images in [-1, 1].
        let squared = |a: Tensor<4>, b: Tensor<4>| (a - b).powi_scalar(2).sum().div_scalar(4.0);
        let reconstruction = squared(
            m.decoder.forward(zx_sample.clone(), sx_sample.zeros_like()),
            background,
        ) + squared(m.decoder.forward(zy_sample.clone(), sy_sample), target);
        let kl = gaussian_kl_sum(zx.mean, zx.log_var)
            + gaussian_kl_sum(zy.mean, zy.log_var)
            + gaussian_kl_sum(sy.mean, sy.log_var);
        let mmd_common = mmd(zx_sample, zy_sample, &MMD_GAMMAS);
        let mmd_salient = mmd(sx_sample.clone(), sx_sample.zeros_like(), &MMD_GAMMAS);
        let weights = &self.config.vae;
        let total = reconstruction.clone()
            + kl.clone()
            + mmd_common.clone().mul_scalar(weights.mmd_common)
            + mmd_salient.clone().mul_scalar(weights.mmd_salient);
        let grads = GradientsParams::from_grads(total.backward(), &self.model);
        self.model = self.optim.step(weights.lr, self.model.clone(), grads);
        let mut losses = Losses::zeros(Method::MmCvae, &self.device);
        losses.set(LossTerm::VaeReconstruction, reconstruction);
        losses.set(LossTerm::VaeKl, kl);
        losses.set(LossTerm::VaeMmdCommon, mmd_common);
        losses.set(LossTerm::VaeMmdSalient, mmd_salient);
        losses.set(LossTerm::VaeTotal, total);
        losses
    }
}

impl Training for MmCvaeTrainer {
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
        vae_state(&self.model, &self.optim)
    }

    fn load_state(&mut self, mut state: TrainerState) -> Result<()> {
        (self.model, self.optim) = load_vae_state(&mut state, &self.model, &self.optim)?;
        Ok(())
    }
}
