//! The paper's 128x128 networks for brain MRI (Supplementary Table 5), with `width` w (64 in the
//! paper) scaling every channel count:
//!
//! - [`MriGenerator`]: concat(z, s) -> FC to (8w, 4, 4) -> [nearest upsample x2] 3x3 conv
//!   16w, 8w, 4w, each with batch norm and ReLU -> self-attention -> upsample 3x3 conv 4w ->
//!   3x3 conv 2w (no upsample) -> upsample 3x3 conv w -> 3x3 conv to the image, tanh.
//! - [`MriEncoder`]: five blocks of noise -> spectrally normalised 4x4 conv, stride 2 (w, 2w,
//!   4w, 8w, 8w) -> LeakyReLU(0.2), no batch norm, then Qz and Qs: noise -> SN-FC 128 ->
//!   LeakyReLU -> noise -> SN-FC (n or m) -> LeakyReLU, as the table writes them.
//! - [`MriDiscriminator`]: the encoder, plus D and C: noise -> FC 1 (logits; the sigmoid lives
//!   in the losses, as for Table 4).
//! - [`MriRegulariser`]: H, Qs's architecture on two images stacked on the channel axis.
//!
//! Where the public code differs (an extra 3x3 conv 2w block at 128x128 in G, no activation after
//! Qz's and Qs's last layer), the paper is followed. [`crate::nets`] puts them behind the
//! same interface as the Table 4 networks.

use burn::nn::{
    conv::{Conv2d, Conv2dConfig},
    BatchNorm, BatchNormConfig, GaussianNoise, GaussianNoiseConfig, LeakyRelu, LeakyReluConfig,
    Linear, LinearConfig, PaddingConfig2d,
};
use burn::prelude::*;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

use super::attention::SelfAttention;
use super::init::dcgan_init;
use super::layers::{
    batch_norm, convolve, leaky_relu, relu, sync_running_stats, tanh, DiscriminatorOutput,
};
use super::noise::add_noise;
use super::spectral::{SnConv2d, SnLinear};
use crate::config::{HeadOutput, ModelConfig};

/// The side these networks take and make.
pub const SIDE: usize = 128;
/// Hidden features of Qz and Qs.
const HEAD_HIDDEN: usize = 128;

fn upsample(x: Tensor<4>) -> Tensor<4> {
    burn::tensor::module::interpolate(
        x,
        InterpolateOptions::new(InterpolateMode::Nearest).with_scale_factor([2.0, 2.0]),
    )
}

/// One generator block: [upsample x2], 3x3 conv (no bias), batch norm, ReLU.
#[derive(Module, Debug)]
struct UpBlock {
    conv: Conv2d,
    norm: BatchNorm,
    upsample: bool,
}

impl UpBlock {
    fn new(channels_in: usize, channels_out: usize, upsample: bool, device: &Device) -> Self {
        Self {
            conv: Conv2dConfig::new([channels_in, channels_out], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .with_initializer(dcgan_init())
                .init(device),
            norm: BatchNormConfig::new(channels_out).init(device),
            upsample,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = if self.upsample { upsample(x) } else { x };
        relu(batch_norm(&self.norm, convolve(&self.conv, x)))
    }
}

/// G(z, s) of Table 5.
#[derive(Module, Debug)]
pub struct MriGenerator {
    input: Linear,
    /// The blocks before the attention (up to 32x32) and after it.
    early: Vec<UpBlock>,
    attention: SelfAttention,
    late: Vec<UpBlock>,
    output: Conv2d,
    width: usize,
}

impl MriGenerator {
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        let w = config.width;
        Self {
            input: LinearConfig::new(config.common_dim + config.salient_dim, 8 * w * 16)
                .with_bias(false)
                .with_initializer(dcgan_init())
                .init(device),
            early: vec![
                UpBlock::new(8 * w, 16 * w, true, device),
                UpBlock::new(16 * w, 8 * w, true, device),
                UpBlock::new(8 * w, 4 * w, true, device),
            ],
            attention: SelfAttention::new(4 * w, device),
            late: vec![
                UpBlock::new(4 * w, 4 * w, true, device),
                UpBlock::new(4 * w, 2 * w, false, device),
                UpBlock::new(2 * w, w, true, device),
            ],
            output: Conv2dConfig::new([w, config.channels], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_initializer(dcgan_init())
                .init(device),
            width: w,
        }
    }

    pub fn sync_running_stats(&self) {
        sync_running_stats(self.early.iter().chain(&self.late).map(|b| &b.norm));
        self.attention.sync();
    }

    /// `[batch, L]`, `[batch, M]` -> `[batch, channels, 128, 128]` in [-1, 1].
    pub fn forward(&self, common: Tensor<2>, salient: Tensor<2>) -> Tensor<4> {
        let [batch, _] = common.dims();
        let x = self.input.forward(Tensor::cat(vec![common, salient], 1));
        let mut x = x.reshape([batch, 8 * self.width, 4, 4]);
        for block in &self.early {
            x = block.forward(x);
        }
        x = self.attention.forward(x);
        for block in &self.late {
            x = block.forward(x);
        }
        let bias = self.output.bias.as_ref().map(|b| b.val());
        #[cfg(not(target_arch = "wasm32"))]
        let x = crate::cpu::conv::conv2d_weight(x, self.output.weight.val(), bias, 1, 1);
        #[cfg(target_arch = "wasm32")]
        let x = burn::tensor::module::conv2d(
            x,
            self.output.weight.val(),
            bias,
            burn::tensor::ops::ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        );
        tanh(x)
    }
}

/// The convolutional trunk of Table 5: five blocks of noise -> SN 4x4 conv, stride 2 ->
/// LeakyReLU(0.2), from 128x128 down to `[batch, 8w, 4, 4]`, flattened.
#[derive(Module, Debug)]
pub struct MriTrunk {
    convs: Vec<SnConv2d>,
    pub noise: GaussianNoise,
    activation: LeakyRelu,
}

impl MriTrunk {
    pub fn new(config: &ModelConfig, channels_in: usize, device: &Device) -> Self {
        let w = config.width;
        let channels = [channels_in, w, 2 * w, 4 * w, 8 * w, 8 * w];
        Self {
            convs: channels
                .windows(2)
                .map(|c| SnConv2d::new(c[0], c[1], 4, 2, 1, true, device))
                .collect(),
            noise: GaussianNoiseConfig::new(config.noise_std).init(),
            activation: LeakyReluConfig::new().with_negative_slope(0.2).init(),
        }
    }

    pub fn sync_running_stats(&self) {
        for conv in &self.convs {
            conv.norm.sync();
        }
    }

    /// `[batch, channels_in, 128, 128]` -> `[batch, 8w * 16]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images;
        for conv in &self.convs {
            x = leaky_relu(&self.activation, conv.forward(add_noise(&self.noise, x)));
        }
        x.flatten(1, 3)
    }
}

/// A Q head of Table 5: noise -> SN-FC 128 -> LeakyReLU -> noise -> SN-FC `outputs` ->
/// LeakyReLU (the table) or nothing (the public code): [`HeadOutput`].
#[derive(Module, Debug)]
pub struct MriHead {
    layers: [SnLinear; 2],
    noise: GaussianNoise,
    activation: LeakyRelu,
    #[module(skip)]
    output: HeadOutput,
}

impl MriHead {
    fn new(config: &ModelConfig, outputs: usize, device: &Device) -> Self {
        Self {
            layers: [
                SnLinear::new(8 * config.width * 16, HEAD_HIDDEN, false, device),
                SnLinear::new(HEAD_HIDDEN, outputs, true, device),
            ],
            noise: GaussianNoiseConfig::new(config.noise_std).init(),
            activation: LeakyReluConfig::new().with_negative_slope(0.2).init(),
            output: config.head_output,
        }
    }

    fn sync(&self) {
        for layer in &self.layers {
            layer.norm.sync();
        }
    }

    pub fn forward(&self, features: Tensor<2>) -> Tensor<2> {
        let hidden = leaky_relu(
            &self.activation,
            self.layers[0].forward(add_noise(&self.noise, features)),
        );
        let out = self.layers[1].forward(add_noise(&self.noise, hidden));
        match self.output {
            HeadOutput::LeakyRelu => leaky_relu(&self.activation, out),
            HeadOutput::Linear => out,
        }
    }
}

/// The trunk and Qz, Qs of Table 5: what inference keeps of the discriminator.
#[derive(Module, Debug)]
pub struct MriEncoder {
    pub trunk: MriTrunk,
    common: MriHead,
    salient: MriHead,
}

impl MriEncoder {
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        Self {
            trunk: MriTrunk::new(config, config.channels, device),
            common: MriHead::new(config, config.common_dim, device),
            salient: MriHead::new(config, config.salient_dim, device),
        }
    }

    pub fn sync_running_stats(&self) {
        self.trunk.sync_running_stats();
        self.common.sync();
        self.salient.sync();
    }

    /// Qz and Qs from trunk features: (`[batch, L]`, `[batch, M]`).
    pub fn heads(&self, features: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        (
            self.common.forward(features.clone()),
            self.salient.forward(features),
        )
    }

    /// (ẑ, ŝ) of images.
    pub fn forward(&self, images: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        self.heads(self.trunk.forward(images))
    }
}

/// H for Table 5: "the same architecture as Q_s" (the paper's Table 4 caption) on two images
/// stacked on the channel axis, giving M logits for which salient factor they share.
#[derive(Module, Debug)]
pub struct MriRegulariser {
    trunk: MriTrunk,
    head: MriHead,
}

impl MriRegulariser {
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        Self {
            trunk: MriTrunk::new(config, 2 * config.channels, device),
            head: MriHead::new(config, config.salient_dim, device),
        }
    }

    pub fn sync_running_stats(&self) {
        self.trunk.sync_running_stats();
        self.head.sync();
    }

    /// Two batches of images `[batch, channels, 128, 128]` -> `[batch, M]` logits.
    pub fn forward(&self, first: Tensor<4>, second: Tensor<4>) -> Tensor<2> {
        self.head
            .forward(self.trunk.forward(Tensor::cat(vec![first, second], 1)))
    }
}

/// The Table 5 discriminator: the encoder and the D and C heads (plain FC, no spectral norm).
#[derive(Module, Debug)]
pub struct MriDiscriminator {
    pub encoder: MriEncoder,
    adversarial: Linear,
    class: Linear,
}

impl MriDiscriminator {
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        let features = 8 * config.width * 16;
        let fc = || {
            LinearConfig::new(features, 1)
                .with_initializer(dcgan_init())
                .init(device)
        };
        Self {
            encoder: MriEncoder::new(config, device),
            adversarial: fc(),
            class: fc(),
        }
    }

    pub fn sync_running_stats(&self) {
        self.encoder.sync_running_stats();
    }

    pub fn forward(&self, images: Tensor<4>) -> DiscriminatorOutput {
        let features = self.encoder.trunk.forward(images);
        let noise = &self.encoder.trunk.noise;
        let logit = |fc: &Linear| fc.forward(add_noise(noise, features.clone())).flatten(0, 1);
        let (adversarial, class) = (logit(&self.adversarial), logit(&self.class));
        let (common, salient) = self.encoder.heads(features);
        DiscriminatorOutput {
            adversarial,
            class,
            common,
            salient,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn tiny() -> ModelConfig {
        ModelConfig {
            image_size: SIDE,
            channels: 1,
            width: 8,
            common_dim: 5,
            salient_dim: 3,
            noise_std: 0.2,
            ..Default::default()
        }
    }

    #[test]
    fn shapes_of_table_5() {
        let device = Device::flex().autodiff();
        let config = tiny();
        let g = MriGenerator::new(&config, &device);
        let z = Tensor::<2>::random([2, 5], Distribution::Normal(0.0, 1.0), &device);
        let s = Tensor::<2>::random([2, 3], Distribution::Normal(0.0, 1.0), &device);
        let images = g.forward(z, s);
        assert_eq!(images.dims(), [2, 1, SIDE, SIDE]);
        let range = images.clone().abs().max().into_scalar::<f32>();
        assert!(range <= 1.0, "tanh output in [-1, 1]: {range}");
        let d = MriDiscriminator::new(&config, &device);
        let out = d.forward(images.clone());
        assert_eq!(out.adversarial.dims(), [2]);
        assert_eq!(out.class.dims(), [2]);
        assert_eq!(out.common.dims(), [2, 5]);
        assert_eq!(out.salient.dims(), [2, 3]);
        let h = MriRegulariser::new(&config, &device);
        assert_eq!(h.forward(images.clone(), images.clone()).dims(), [2, 3]);
        // A training step reaches every weight of G through D.
        let loss = out.adversarial.sum().add(out.salient.sum());
        let grads = loss.backward();
        assert!(g.output.weight.val().grad(&grads).is_some());
        assert!(g.input.weight.val().grad(&grads).is_some());
    }

    #[test]
    fn the_paper_widths_at_width_64() {
        // Counted from the table: G's FC 8192 and convs 1024, 512, 256, 256, 128, 64; D's
        // convs 64, 128, 256, 512, 512 and FC 8192 -> 128.
        let device = Device::flex();
        let config = ModelConfig {
            width: 64,
            ..tiny()
        };
        let g = MriGenerator::new(&config, &device);
        assert_eq!(g.input.weight.dims(), [5 + 3, 8192]);
        let outs: Vec<usize> = g
            .early
            .iter()
            .chain(&g.late)
            .map(|b| b.conv.weight.dims()[0])
            .collect();
        assert_eq!(outs, [1024, 512, 256, 256, 128, 64]);
        let e = MriEncoder::new(&config, &device);
        let outs: Vec<usize> = e.trunk.convs.iter().map(|c| c.weight.dims()[0]).collect();
        assert_eq!(outs, [64, 128, 256, 512, 512]);
        assert_eq!(e.common.layers[0].weight.dims(), [128, 8192]);
        let h = MriRegulariser::new(&config, &device);
        assert_eq!(h.trunk.convs[0].weight.dims(), [64, 2, 4, 4]);
        assert_eq!(h.head.layers[1].weight.dims(), [3, 128]);
    }

    /// The public code's linear head output keeps a negative code as it is; Table 5's
    /// LeakyReLU divides it by five. Same weights, so the positive codes agree.
    #[test]
    fn head_output_linear_or_leaky() {
        let device = Device::flex();
        let config = ModelConfig {
            noise_std: 0.0,
            ..tiny()
        };
        let leaky = MriHead::new(&config, 6, &device);
        let mut linear = leaky.clone();
        linear.output = HeadOutput::Linear;
        let features =
            Tensor::<2>::random([4, 8 * 8 * 16], Distribution::Normal(0.0, 1.0), &device);
        let a = leaky
            .forward(features.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let b = linear
            .forward(features)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert!(
            b.iter().any(|&v| v < 0.0) && b.iter().any(|&v| v > 0.0),
            "{b:?}"
        );
        for (a, b) in a.iter().zip(&b) {
            let expected = if *b < 0.0 { 0.2 * b } else { *b };
            assert!((a - expected).abs() < 1e-6, "{a} {b}");
        }
        // The configuration says which, and old files without the field read as Table 5.
        let read: ModelConfig = serde_json::from_str(r#"{"head_output": "linear"}"#).unwrap();
        assert_eq!(read.head_output, HeadOutput::Linear);
        let old: ModelConfig = serde_json::from_str(r#"{"width": 8}"#).unwrap();
        assert_eq!(old.head_output, HeadOutput::LeakyRelu);
    }
}
