//! Double InfoGAN for Contrastive Analysis (Carton, Louiset & Gori, AISTATS 2024).
//!
//! Contrastive Analysis separates what is *common* to a background set X and a target set Y
//! (the factors z) from what is *salient*, only in Y (the factors s). This crate is the model
//! core shared by the native trainer (`cli/`) and the browser viewer (`web/`): it names no
//! backend (the caller passes a burn `Device`), touches no file system and spawns no thread of
//! its own (natively, the noise draw shares the rayon pool burn-flex runs), so it builds for
//! `wasm32-unknown-unknown`.
//!
//! - [`config`]: model shape, loss weights, optimisers, presets (paper Table 6).
//! - [`model`]: G, the discriminator with heads D, C, Qz, Qs, and the regulariser H of the
//!   paper's Table 4 (32x32, 64x64); [`model_mri`]: the same of its Table 5 (128x128, brain
//!   MRI), with [`spectral`] normalisation and self-[`attention`]; [`networks`]: either one,
//!   chosen by the image side.
//! - `cpu_conv` (native): every convolution of the model as one matrix product over the batch
//!   on burn-flex, forward and backward; `cpu_activation` (native): LeakyReLU there as one
//!   pass each way; `cpu_norm` (native): batch norm in training as three passes each way.
//! - [`noise`]: the discriminator's Gaussian noise, drawn fast on the CPU.
//! - [`random`]: where a step's random numbers come from (the device, or one host stream to
//!   compare devices).
//! - [`latent`]: priors of z and s, contrastive-regulariser pairs.
//! - [`loss`]: one function per loss term.
//! - [`terms`]: the loss terms an iteration reports, with their network and CSV name.
//! - `step` (feature `train`, on by default): the `Trainer` and its G, D and H steps. The
//!   browser viewer builds without it: no autodiff or optimiser code in its bundle.
//! - `training` (feature `train`): the one interface every iterative method trains through;
//!   [`checkpoint`]: what a checkpoint of each method holds.
//! - [`infer`]: encode, generate, reconstruct, swap, traverse; the exported file format.
//! - [`vae`]: the contrastive VAEs' encoders and decoder (the paper's baselines); `mm_cvae` and
//!   `cvae` (feature `train`): MM-cVAE's and cVAE's training steps; [`cpca`]: contrastive PCA.
//! - [`builtin`]: the procedural dataset with ground-truth factors.
//! - [`pixels`]: network values to RGBA bytes and back; `gpu` (feature `gpu-pixels`): the same
//!   packing as a WGSL kernel on wgpu.

pub mod attention;
pub mod builtin;
pub mod checkpoint;
pub mod config;
pub mod container;
pub mod cpca;
#[cfg(not(target_arch = "wasm32"))]
pub mod cpu_activation;
#[cfg(not(target_arch = "wasm32"))]
pub mod cpu_conv;
#[cfg(not(target_arch = "wasm32"))]
pub mod cpu_norm;
#[cfg(feature = "train")]
pub mod cvae;
pub mod error;
#[cfg(feature = "gpu-pixels")]
pub mod gpu;
pub mod infer;
pub mod latent;
pub mod loss;
#[cfg(feature = "train")]
pub mod mm_cvae;
pub mod model;
pub mod model_mri;
pub mod networks;
pub mod noise;
pub mod pixels;
pub mod random;
pub mod spectral;
#[cfg(feature = "train")]
pub mod step;
pub mod terms;
#[cfg(feature = "train")]
pub mod training;
pub mod vae;

pub use checkpoint::{StatePart, TrainerState};
pub use config::{
    Architecture, Batching, CpcaConfig, HeadOutput, LossWeights, Method, ModelConfig, OptimConfig,
    Preset, SalientPrior, TrainConfig, VaeConfig,
};
pub use error::{Error, Result};
pub use infer::InferenceModel;
#[cfg(feature = "train")]
pub use step::Trainer;
pub use terms::{LossTerm, LossValues, Network};
#[cfg(feature = "train")]
pub use training::{trainer, Losses, Training};
