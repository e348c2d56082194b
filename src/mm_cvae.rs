//! MM-cVAE (Weinberger, Beebe-Wang and Lee 2022), the paper's strongest baseline, trained on
//! the same batches as Double InfoGAN: the networks of [`crate::vae`] and, per batch of B
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
//! The weights: the paper's Table 2 settings, lambda_1 = 100 and lambda_2 = 1000 (the public
//! code's `10e3` and `10e2` are 10,000 and 1,000).

use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::loss::{gaussian_kl_sum, mmd, MMD_GAMMAS};
use crate::model::initialized;
use crate::vae::ContrastiveVae;

/// MM-cVAE's weights and optimiser.
#[derive(Debug, Clone, PartialEq)]
pub struct MmCvaeConfig {
    pub model: ModelConfig,
    /// lambda_1: MMD between the common codes of background and target images.
    pub mmd_common: f64,
    /// lambda_2: MMD between the salient codes of background images and 0.
    pub mmd_salient: f64,
    /// Adam's learning rate (the reference: PyTorch's default, 1e-3).
    pub lr: f64,
}

impl MmCvaeConfig {
    /// The paper's Table 2 weights on `model`'s shape.
    pub fn new(model: ModelConfig) -> Self {
        Self {
            model,
            mmd_common: 100.0,
            mmd_salient: 1000.0,
            lr: 1e-3,
        }
    }
}

/// The terms of one step, unweighted, each summed over the batch; still on the device.
#[derive(Debug, Clone)]
pub struct MmCvaeLosses {
    /// Squared reconstruction error of both domains.
    pub reconstruction: Tensor<1>,
    /// KL of z (both domains) and of s (targets).
    pub kl: Tensor<1>,
    pub mmd_common: Tensor<1>,
    pub mmd_salient: Tensor<1>,
    /// The weighted sum that was minimised.
    pub total: Tensor<1>,
}

/// The model and its optimiser, on one autodiff device.
pub struct MmCvaeTrainer {
    config: MmCvaeConfig,
    device: Device,
    pub model: ContrastiveVae,
    optim: ModuleOptimizer,
}

impl MmCvaeTrainer {
    pub fn new(config: MmCvaeConfig, device: &Device, seed: u64) -> Result<Self> {
        config.model.validate().map_err(Error::InvalidConfig)?;
        let device = device.clone().autodiff();
        device.seed(seed);
        Ok(Self {
            model: initialized(ContrastiveVae::new(&config.model, &device)),
            optim: AdamConfig::new().init(),
            config,
            device,
        })
    }

    /// The autodiff device the model lives on; put real batches there.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// One Adam step on a batch of background `[b, c, h, w]` and target images in [-1, 1].
    pub fn step(&mut self, background: Tensor<4>, target: Tensor<4>) -> MmCvaeLosses {
        let m = &self.model;
        let (zx, sx) = (
            m.common.forward(background.clone()),
            m.salient.forward(background.clone()),
        );
        let (zy, sy) = (
            m.common.forward(target.clone()),
            m.salient.forward(target.clone()),
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
        let total = reconstruction.clone()
            + kl.clone()
            + mmd_common.clone().mul_scalar(self.config.mmd_common)
            + mmd_salient.clone().mul_scalar(self.config.mmd_salient);
        let grads = GradientsParams::from_grads(total.backward(), &self.model);
        self.model = self.optim.step(self.config.lr, self.model.clone(), grads);
        MmCvaeLosses {
            reconstruction: reconstruction.detach(),
            kl: kl.detach(),
            mmd_common: mmd_common.detach(),
            mmd_salient: mmd_salient.detach(),
            total: total.detach(),
        }
    }
}
