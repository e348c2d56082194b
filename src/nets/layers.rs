//! What the networks of Table 4, Table 5 and the VAE baselines are built of: the layer calls
//! that take the CPU kernels natively (and burn's own layers in the browser), the batch-norm
//! statistics sync a checkpoint needs, and the discriminator's four outputs.

use burn::nn::{
    conv::{Conv2d, ConvTranspose2d},
    BatchNorm, LeakyRelu,
};
use burn::prelude::*;

/// `conv.forward(x)`; on the CPU as one matrix product over the batch (see `cpu::conv`).
pub(crate) fn convolve(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    #[cfg(not(target_arch = "wasm32"))]
    return crate::cpu::conv::conv2d(conv, x);
    #[cfg(target_arch = "wasm32")]
    conv.forward(x)
}

/// `conv.forward(x)` for a transposed convolution; batched on the CPU like [`convolve`].
pub(crate) fn conv_transpose(conv: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    #[cfg(not(target_arch = "wasm32"))]
    return crate::cpu::conv::conv_transpose2d(conv, x);
    #[cfg(target_arch = "wasm32")]
    conv.forward(x)
}

/// `activation.forward(x)`; on the CPU with autodiff as one fused pass each way (see
/// `cpu::activation`).
pub(crate) fn leaky_relu<const D: usize>(activation: &LeakyRelu, x: Tensor<D>) -> Tensor<D> {
    #[cfg(not(target_arch = "wasm32"))]
    return crate::cpu::activation::leaky_relu(activation, x);
    #[cfg(target_arch = "wasm32")]
    activation.forward(x)
}

/// `relu(x)`; on the CPU with autodiff as one parallel pass each way (see `cpu::activation`).
pub(crate) fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    #[cfg(not(target_arch = "wasm32"))]
    return crate::cpu::activation::relu(x);
    #[cfg(target_arch = "wasm32")]
    burn::tensor::activation::relu(x)
}

/// `tanh(x)`; on the CPU with autodiff as one fused pass each way (see `cpu::activation`).
pub(crate) fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    #[cfg(not(target_arch = "wasm32"))]
    return crate::cpu::activation::tanh(x);
    #[cfg(target_arch = "wasm32")]
    burn::tensor::activation::tanh(x)
}

/// `norm.forward(x)`; on the CPU in training as three fused passes each way (see `cpu::norm`).
pub(crate) fn batch_norm<const D: usize>(norm: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    #[cfg(not(target_arch = "wasm32"))]
    return crate::cpu::norm::batch_norm(norm, x);
    #[cfg(target_arch = "wasm32")]
    norm.forward(x)
}

/// Folds the last pending update of each batch norm's running statistics into its value.
/// burn applies a running-statistics update lazily, at the next forward pass; a record taken
/// without this misses the last training step's update (and a resumed run would differ).
pub(crate) fn sync_running_stats<'a>(norms: impl IntoIterator<Item = &'a BatchNorm>) {
    for norm in norms {
        let _ = norm.running_mean.value_sync();
        let _ = norm.running_var.value_sync();
    }
}

/// Every head of the discriminator on one batch of images.
#[derive(Debug, Clone)]
pub struct DiscriminatorOutput {
    /// D: real/fake logits, `[batch]`.
    pub adversarial: Tensor<1>,
    /// C: background (0) / target (1) logits, `[batch]`.
    pub class: Tensor<1>,
    /// Qz: `[batch, L]`.
    pub common: Tensor<2>,
    /// Qs: `[batch, M]`.
    pub salient: Tensor<2>,
}
