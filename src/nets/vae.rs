//! The contrastive VAEs' networks, the paper's baselines (Tables 1-2): MM-cVAE (Weinberger et
//! al. 2022, `Conv_MM_cVAE` of suinleelab/MM-cVAE) and cVAE (Abid and Zou 2019) share them.
//!
//! - [`VaeEncoder`]: blocks of 4x4 stride-2 convolution (no bias) -> LeakyReLU(0.2) -> batch
//!   norm (in that order, as the reference), channels `width`, 2 `width`, ... (32, 64, 128, 256
//!   at 64x64 with width 32), then linear heads for the mean and the log-variance, without
//!   bias as the reference (`model.vae_head_bias`).
//! - [`VaeDecoder`]: linear to `(top, 4, 4)` -> LeakyReLU -> blocks of 4x4 stride-2 transposed
//!   convolution -> LeakyReLU -> batch norm, and a last transposed convolution to the image.
//!   The reference ends in a sigmoid for [0, 1] images; the data here are in [-1, 1], so tanh.
//! - [`ContrastiveVae`]: two encoders, one for the common factors z and one for the salient
//!   factors s, and one decoder of [z, s]; background images decode from [z, 0].
//!
//! The log-variances are unbounded by default, as in the references. `vae.log_var_limit` bounds
//! them softly in training ([`Posterior::bounded`], `limit * tanh(raw / limit)`; [`LOG_VAR_LIMIT`]
//! is the bound docs/results.md measured): the paper reports MM-cVAE diverging in about 10% of
//! runs, and an exp of an unbounded log-variance in the KL term is the likely cause.

use burn::nn::{
    conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig},
    BatchNorm, BatchNormConfig, LeakyRelu, LeakyReluConfig, Linear, LinearConfig, PaddingConfig2d,
};
use burn::prelude::*;
use burn::tensor::Distribution;

use super::layers::{batch_norm, conv_transpose, convolve, leaky_relu, sync_running_stats, tanh};
use crate::config::ModelConfig;

/// A bound of |log-variance| in training (a variance between e^-8 and e^8), the one measured in
/// docs/results.md; the default, as the references, is no bound.
pub const LOG_VAR_LIMIT: f64 = 8.0;

fn leaky() -> LeakyRelu {
    LeakyReluConfig::new().with_negative_slope(0.2).init()
}

/// A Gaussian posterior q(x) = N(mean, exp(log_var)), `[batch, dim]` each.
#[derive(Debug, Clone)]
pub struct Posterior {
    pub mean: Tensor<2>,
    pub log_var: Tensor<2>,
}

impl Posterior {
    /// The log-variance bounded softly to (-limit, limit); `limit` 0: unbounded, as the
    /// reference.
    pub fn bounded(self, limit: f64) -> Self {
        if limit <= 0.0 {
            return self;
        }
        Self {
            log_var: tanh(self.log_var.div_scalar(limit)).mul_scalar(limit),
            ..self
        }
    }

    /// mean + exp(log_var / 2) * eps, eps ~ N(0, I): the reparameterised sample.
    pub fn sample(&self) -> Tensor<2> {
        let eps = Tensor::random(
            self.mean.dims(),
            Distribution::Normal(0.0, 1.0),
            &self.mean.device(),
        );
        self.mean.clone() + self.log_var.clone().mul_scalar(0.5).exp() * eps
    }
}

/// One encoder: the image to a Gaussian over `outputs` factors.
#[derive(Module, Debug)]
pub struct VaeEncoder {
    convs: Vec<Conv2d>,
    norms: Vec<BatchNorm>,
    activation: LeakyRelu,
    mean: Linear,
    log_var: Linear,
}

impl VaeEncoder {
    pub fn new(config: &ModelConfig, outputs: usize, device: &Device) -> Self {
        let mut convs = Vec::new();
        let mut norms = Vec::new();
        let mut channels = config.channels;
        for i in 0..config.blocks() {
            let out = config.width << i;
            convs.push(
                Conv2dConfig::new([channels, out], [4, 4])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .with_bias(false)
                    .init(device),
            );
            norms.push(BatchNormConfig::new(out).init(device));
            channels = out;
        }
        let features = channels * 16;
        Self {
            convs,
            norms,
            activation: leaky(),
            mean: LinearConfig::new(features, outputs)
                .with_bias(config.vae_head_bias)
                .init(device),
            log_var: LinearConfig::new(features, outputs)
                .with_bias(config.vae_head_bias)
                .init(device),
        }
    }

    /// `[batch, channels, side, side]` -> the posterior over `[batch, outputs]` (its
    /// log-variance unbounded: see [`Posterior::bounded`]).
    pub fn forward(&self, images: Tensor<4>) -> Posterior {
        let mut x = images;
        for (conv, norm) in self.convs.iter().zip(&self.norms) {
            x = batch_norm(norm, leaky_relu(&self.activation, convolve(conv, x)));
        }
        let x = x.flatten::<2>(1, 3);
        Posterior {
            log_var: self.log_var.forward(x.clone()),
            mean: self.mean.forward(x),
        }
    }

    pub fn sync_running_stats(&self) {
        sync_running_stats(&self.norms);
    }
}

/// The decoder of [z, s] to an image in [-1, 1].
#[derive(Module, Debug)]
pub struct VaeDecoder {
    input: Linear,
    blocks: Vec<ConvTranspose2d>,
    norms: Vec<BatchNorm>,
    output: ConvTranspose2d,
    activation: LeakyRelu,
    top: usize,
}

fn up(channels_in: usize, channels_out: usize, device: &Device) -> ConvTranspose2d {
    ConvTranspose2dConfig::new([channels_in, channels_out], [4, 4])
        .with_stride([2, 2])
        .with_padding([1, 1])
        .with_bias(false)
        .init(device)
}

impl VaeDecoder {
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        let blocks = config.blocks();
        let top = config.width << (blocks - 1);
        let mut convs = Vec::new();
        let mut norms = Vec::new();
        let mut channels = top;
        for _ in 1..blocks {
            convs.push(up(channels, channels / 2, device));
            norms.push(BatchNormConfig::new(channels / 2).init(device));
            channels /= 2;
        }
        Self {
            input: LinearConfig::new(config.common_dim + config.salient_dim, top * 16).init(device),
            blocks: convs,
            norms,
            output: up(channels, config.channels, device),
            activation: leaky(),
            top,
        }
    }

    /// `[batch, L]`, `[batch, M]` -> `[batch, channels, side, side]` in [-1, 1].
    pub fn forward(&self, common: Tensor<2>, salient: Tensor<2>) -> Tensor<4> {
        let [batch, _] = common.dims();
        let x = self
            .activation
            .forward(self.input.forward(Tensor::cat(vec![common, salient], 1)));
        let mut x = x.reshape([batch, self.top, 4, 4]);
        for (conv, norm) in self.blocks.iter().zip(&self.norms) {
            x = batch_norm(norm, leaky_relu(&self.activation, conv_transpose(conv, x)));
        }
        tanh(conv_transpose(&self.output, x))
    }

    pub fn sync_running_stats(&self) {
        sync_running_stats(&self.norms);
    }
}

/// Two encoders (z and s) and one decoder of [z, s].
#[derive(Module, Debug)]
pub struct ContrastiveVae {
    pub common: VaeEncoder,
    pub salient: VaeEncoder,
    pub decoder: VaeDecoder,
}

impl ContrastiveVae {
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        Self {
            common: VaeEncoder::new(config, config.common_dim, device),
            salient: VaeEncoder::new(config, config.salient_dim, device),
            decoder: VaeDecoder::new(config, device),
        }
    }

    /// The posterior means of z and s: the codes the paper's baselines were evaluated on.
    pub fn encode(&self, images: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        (
            self.common.forward(images.clone()).mean,
            self.salient.forward(images).mean,
        )
    }

    pub fn sync_running_stats(&self) {
        self.common.sync_running_stats();
        self.salient.sync_running_stats();
        self.decoder.sync_running_stats();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The heads have no bias, as the reference code's (`bias = False`); a configuration
    /// written before `vae_head_bias` existed builds them with one, as those runs were.
    #[test]
    fn heads_without_bias_unless_an_older_configuration() {
        let device = Device::flex();
        let config = ModelConfig {
            image_size: 32,
            channels: 1,
            width: 4,
            common_dim: 5,
            salient_dim: 3,
            ..Default::default()
        };
        let vae = ContrastiveVae::new(&config, &device);
        for head in [&vae.common, &vae.salient] {
            assert!(head.mean.bias.is_none() && head.log_var.bias.is_none());
        }
        let mut json = serde_json::to_value(&config).unwrap();
        json.as_object_mut().unwrap().remove("vae_head_bias");
        let older: ModelConfig = serde_json::from_value(json).unwrap();
        assert!(older.vae_head_bias);
        let vae = ContrastiveVae::new(&older, &device);
        assert!(vae.common.mean.bias.is_some() && vae.salient.log_var.bias.is_some());
    }

    #[test]
    fn shapes_and_bounded_log_variance() {
        let device = Device::flex();
        for (side, channels) in [(32, 3), (64, 1)] {
            let config = ModelConfig {
                image_size: side,
                channels,
                width: 4,
                common_dim: 5,
                salient_dim: 3,
                noise_std: 0.0,
                ..Default::default()
            };
            let vae = ContrastiveVae::new(&config, &device);
            let images = Tensor::<4>::random(
                [2, channels, side, side],
                Distribution::Normal(0.0, 30.0),
                &device,
            );
            let q = vae.salient.forward(images.clone());
            assert_eq!(q.mean.dims(), [2, 3]);
            // The bound: far values land inside it, near ones barely move; 0 leaves them.
            let far = Posterior {
                mean: q.mean.clone(),
                log_var: Tensor::<1>::from_floats([-100.0, 0.5, 100.0], &device)
                    .reshape([1, 3])
                    .repeat_dim(0, 2),
            };
            let bounded = far.clone().bounded(LOG_VAR_LIMIT).log_var;
            let values = bounded.into_data().try_to_vec::<f32>().unwrap();
            assert!(
                values.iter().all(|v| v.abs() <= LOG_VAR_LIMIT as f32),
                "{values:?}"
            );
            assert!((values[1] - 0.5).abs() < 0.01, "{values:?}");
            let free = far
                .bounded(0.0)
                .log_var
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            assert_eq!(free[2], 100.0);
            let (z, s) = vae.encode(images);
            let out = vae.decoder.forward(z, s);
            assert_eq!(out.dims(), [2, channels, side, side]);
            assert!(out.abs().max().into_scalar::<f32>() <= 1.0);
        }
    }
}
