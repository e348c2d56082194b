//! The CPU kernels (native builds only): the operations where burn-flex's generic ones cost
//! the training iteration most, rewritten as one or a few passes over the batch and registered
//! with burn's autodiff. Each takes f32 tensors on burn-flex and leaves every other device
//! (wgpu, WebGPU) to burn's own operation; the networks call them through
//! [`crate::nets::layers`].
//!
//! - [`conv`]: every convolution as im2col and matrix products over the batch, forward and
//!   backward;
//! - [`norm`]: batch norm in training in three passes each way;
//! - [`activation`]: LeakyReLU and tanh in one pass each way;
//! - `noise`: the discriminator's noise drawn and added in one pass;
//! - `buffer`: outputs written without a zero fill first, and one scratch buffer per thread;
//! - `tensor`: what the kernels need of burn-flex's tensors.

pub mod activation;
mod buffer;
pub mod conv;
pub(crate) mod noise;
pub mod norm;
mod tensor;
