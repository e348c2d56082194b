//! The three networks of Double InfoGAN (paper section 4, Supplementary Table 4 and Fig. 10):
//!
//! - [`DcganGenerator`] G(z, s): DCGAN transposed convolutions from (L+M, 1, 1) to an image.
//! - [`DcganDiscriminator`]: one trunk shared by four heads, D (real/fake), C (background/target),
//!   Qz and Qs. The trunk with Qz and Qs is the [`DcganEncoder`] that inference keeps.
//! - [`DcganRegulariser`] H: the contrastive regulariser, the same trunk on two images stacked on the
//!   channel axis, predicting which salient factor they share.
//!
//! Heads return logits; the sigmoid of D and C lives in the losses (`log_sigmoid`), which is the
//! same function as the paper's `-log(sigmoid(.))` without its overflow.

use burn::nn::{
    conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig},
    BatchNorm, BatchNormConfig, GaussianNoise, GaussianNoiseConfig, LeakyRelu, LeakyReluConfig,
    PaddingConfig2d,
};
use burn::prelude::*;

use super::init::dcgan_init;
use super::layers::{
    batch_norm, conv_transpose, convolve, leaky_relu, relu, sync_running_stats, tanh,
    DiscriminatorOutput,
};
use super::noise::add_noise;
use crate::config::ModelConfig;

/// 4x4 convolution, stride 2, padding 1, no bias: halves the side.
fn down(channels_in: usize, channels_out: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([channels_in, channels_out], [4, 4])
        .with_stride([2, 2])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .with_initializer(dcgan_init())
        .init(device)
}

/// 4x4 valid convolution from the 4x4 trunk output to `outputs` values per image.
fn head(channels_in: usize, outputs: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([channels_in, outputs], [4, 4])
        .with_bias(false)
        .with_initializer(dcgan_init())
        .init(device)
}

/// 4x4 transposed convolution, no bias; stride 1 from 1x1 to 4x4, stride 2 (padding 1) doubles the side.
fn up(channels_in: usize, channels_out: usize, first: bool, device: &Device) -> ConvTranspose2d {
    let config = ConvTranspose2dConfig::new([channels_in, channels_out], [4, 4])
        .with_bias(false)
        .with_initializer(dcgan_init());
    let config = if first {
        config
    } else {
        config.with_stride([2, 2]).with_padding([1, 1])
    };
    config.init(device)
}

/// G(z, s) of Table 4.
#[derive(Module, Debug)]
pub struct DcganGenerator {
    /// ConvT blocks, each followed by batch norm and ReLU: 1 -> 4 -> 8 -> ... -> side/2.
    blocks: Vec<ConvTranspose2d>,
    norms: Vec<BatchNorm>,
    /// Last ConvT to the image channels, then tanh.
    output: ConvTranspose2d,
    common_dim: usize,
    salient_dim: usize,
}

impl DcganGenerator {
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        let blocks = config.blocks();
        // Channels from the top (512 at 64x64) down to `width`.
        let widths: Vec<usize> = (0..blocks).rev().map(|i| config.width << i).collect();
        let mut convs = Vec::with_capacity(blocks);
        let mut norms = Vec::with_capacity(blocks);
        let mut channels_in = config.common_dim + config.salient_dim;
        for (i, &channels_out) in widths.iter().enumerate() {
            convs.push(up(channels_in, channels_out, i == 0, device));
            norms.push(BatchNormConfig::new(channels_out).init(device));
            channels_in = channels_out;
        }
        Self {
            blocks: convs,
            norms,
            output: up(config.width, config.channels, false, device),
            common_dim: config.common_dim,
            salient_dim: config.salient_dim,
        }
    }

    /// See [`sync_running_stats`]: call before taking a record.
    pub fn sync_running_stats(&self) {
        sync_running_stats(&self.norms);
    }

    /// # Shapes
    /// - common: `[batch, L]`, salient: `[batch, M]` (zeros for background images)
    /// - output: `[batch, channels, side, side]` in [-1, 1]
    pub fn forward(&self, common: Tensor<2>, salient: Tensor<2>) -> Tensor<4> {
        let [batch, _] = common.dims();
        // z first, as in the paper's code: [batch, L + M, 1, 1]
        let mut x = Tensor::cat(vec![common, salient], 1).reshape([
            batch,
            self.common_dim + self.salient_dim,
            1,
            1,
        ]);
        for (conv, norm) in self.blocks.iter().zip(&self.norms) {
            x = relu(batch_norm(norm, conv_transpose(conv, x)));
        }
        tanh(conv_transpose(&self.output, x))
    }
}

/// The convolutional trunk shared by D, C, Qz and Qs (and, with its own weights, by H):
/// noise -> conv 4x4/2 -> LeakyReLU, then blocks of noise -> conv 4x4/2 -> BN -> LeakyReLU,
/// down to `[batch, top_channels, 4, 4]`.
#[derive(Module, Debug)]
pub struct Trunk {
    convs: Vec<Conv2d>,
    /// One per conv but the first (the paper has no BN after the first conv).
    norms: Vec<BatchNorm>,
    noise: GaussianNoise,
    activation: LeakyRelu,
}

impl Trunk {
    pub fn new(config: &ModelConfig, channels_in: usize, device: &Device) -> Self {
        let mut convs = Vec::new();
        let mut norms = Vec::new();
        let mut channels = channels_in;
        for i in 0..config.blocks() {
            let out = config.width << i;
            convs.push(down(channels, out, device));
            if i > 0 {
                norms.push(BatchNormConfig::new(out).init(device));
            }
            channels = out;
        }
        Self {
            convs,
            norms,
            noise: GaussianNoiseConfig::new(config.noise_std).init(),
            activation: LeakyReluConfig::new().with_negative_slope(0.2).init(),
        }
    }

    pub fn sync_running_stats(&self) {
        sync_running_stats(&self.norms);
    }

    /// # Shapes
    /// - images: `[batch, channels_in, side, side]`
    /// - output: `[batch, top_channels, 4, 4]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        let mut x = images;
        for (i, conv) in self.convs.iter().enumerate() {
            x = convolve(conv, add_noise(&self.noise, x));
            if i > 0 {
                x = batch_norm(&self.norms[i - 1], x);
            }
            x = leaky_relu(&self.activation, x);
        }
        x
    }
}

/// The trunk with its two latent heads, Q = (Qz, Qs): what encodes a real image into (z, s).
#[derive(Module, Debug)]
pub struct DcganEncoder {
    pub trunk: Trunk,
    /// Qz: L values per image.
    common: Conv2d,
    /// Qs: M values per image.
    salient: Conv2d,
    /// The noise in front of each head (a fresh draw per head).
    noise: GaussianNoise,
}

/// Flattens a head output `[batch, k, 1, 1]` to `[batch, k]`.
fn flat(x: Tensor<4>) -> Tensor<2> {
    let [batch, k, _, _] = x.dims();
    x.reshape([batch, k])
}

impl DcganEncoder {
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        let top = config.top_channels();
        Self {
            trunk: Trunk::new(config, config.channels, device),
            common: head(top, config.common_dim, device),
            salient: head(top, config.salient_dim, device),
            noise: GaussianNoiseConfig::new(config.noise_std).init(),
        }
    }

    /// Qz and Qs from trunk features `[batch, top, 4, 4]`: (`[batch, L]`, `[batch, M]`).
    pub fn heads(&self, features: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let common = flat(convolve(
            &self.common,
            add_noise(&self.noise, features.clone()),
        ));
        let salient = flat(convolve(&self.salient, add_noise(&self.noise, features)));
        (common, salient)
    }

    /// (ẑ, ŝ) of images `[batch, channels, side, side]`.
    pub fn forward(&self, images: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        self.heads(self.trunk.forward(images))
    }
}

/// The discriminator with its four heads (D, C, Qz, Qs) on one shared trunk.
#[derive(Module, Debug)]
pub struct DcganDiscriminator {
    pub encoder: DcganEncoder,
    adversarial: Conv2d,
    class: Conv2d,
}

impl DcganDiscriminator {
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        let top = config.top_channels();
        Self {
            encoder: DcganEncoder::new(config, device),
            adversarial: head(top, 1, device),
            class: head(top, 1, device),
        }
    }

    pub fn sync_running_stats(&self) {
        self.encoder.trunk.sync_running_stats();
    }

    /// All four heads from one pass of the trunk.
    pub fn forward(&self, images: Tensor<4>) -> DiscriminatorOutput {
        let features = self.encoder.trunk.forward(images);
        let noise = &self.encoder.noise;
        let adversarial = flat(convolve(
            &self.adversarial,
            add_noise(noise, features.clone()),
        ));
        let class = flat(convolve(&self.class, add_noise(noise, features.clone())));
        let (common, salient) = self.encoder.heads(features);
        DiscriminatorOutput {
            adversarial: adversarial.flatten(0, 1),
            class: class.flatten(0, 1),
            common,
            salient,
        }
    }
}

/// H, the contrastive regulariser (Supplementary C.1, Fig. 10): "the same architecture as Qs"
/// (Table 4) on two images concatenated on the channel axis, giving M logits for "which salient
/// factor do these two images share". The paper's noise level (0.2) is used; the public code
/// used 0.1 here.
#[derive(Module, Debug)]
pub struct DcganRegulariser {
    trunk: Trunk,
    noise: GaussianNoise,
    output: Conv2d,
}

impl DcganRegulariser {
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        Self {
            trunk: Trunk::new(config, 2 * config.channels, device),
            noise: GaussianNoiseConfig::new(config.noise_std).init(),
            output: head(config.top_channels(), config.salient_dim, device),
        }
    }

    pub fn sync_running_stats(&self) {
        self.trunk.sync_running_stats();
    }

    /// # Shapes
    /// - first, second: `[batch, channels, side, side]`
    /// - output: `[batch, M]` logits over the shared salient index k
    pub fn forward(&self, first: Tensor<4>, second: Tensor<4>) -> Tensor<2> {
        let pair = Tensor::cat(vec![first, second], 1);
        flat(convolve(
            &self.output,
            add_noise(&self.noise, self.trunk.forward(pair)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Device {
        Device::flex()
    }

    fn check_shapes(size: usize, channels: usize) {
        let config = ModelConfig {
            image_size: size,
            channels,
            width: 4,
            common_dim: 5,
            salient_dim: 3,
            noise_std: 0.2,
            ..Default::default()
        };
        let device = device();
        let generator = DcganGenerator::new(&config, &device);
        let z = Tensor::<2>::random([2, 5], burn::tensor::Distribution::Default, &device);
        let s = Tensor::<2>::zeros([2, 3], &device);
        let images = generator.forward(z, s);
        assert_eq!(images.dims(), [2, channels, size, size]);

        let discriminator = DcganDiscriminator::new(&config, &device);
        let out = discriminator.forward(images.clone());
        assert_eq!(out.adversarial.dims(), [2]);
        assert_eq!(out.class.dims(), [2]);
        assert_eq!(out.common.dims(), [2, 5]);
        assert_eq!(out.salient.dims(), [2, 3]);
        let trunk = discriminator.encoder.trunk.forward(images.clone());
        assert_eq!(trunk.dims(), [2, config.top_channels(), 4, 4]);

        let regulariser = DcganRegulariser::new(&config, &device);
        assert_eq!(regulariser.forward(images.clone(), images).dims(), [2, 3]);
    }

    #[test]
    fn shapes_at_32_and_64() {
        check_shapes(32, 3);
        check_shapes(64, 1);
        check_shapes(64, 3);
    }

    #[test]
    fn paper_sizes_have_paper_channel_counts() {
        let config = ModelConfig::default();
        let device = device();
        let g = DcganGenerator::new(&config, &device);
        // ConvT (110->512) + 512->256 + 256->128 + 128->64 + 64->3, all 4x4, no bias; batch
        // norm: gamma, beta and the two running statistics (counted by burn, and saved).
        let convs = 4 * 4 * (110 * 512 + 512 * 256 + 256 * 128 + 128 * 64 + 64 * 3);
        let norms = 4 * (512 + 256 + 128 + 64);
        assert_eq!(g.num_params(), convs + norms);
        let d = DcganDiscriminator::new(&config, &device);
        let trunk = 16 * (3 * 64 + 64 * 128 + 128 * 256 + 256 * 512) + 4 * (128 + 256 + 512);
        let heads = 16 * 512 * (1 + 1 + 95 + 15);
        assert_eq!(d.num_params(), trunk + heads);
    }
}
