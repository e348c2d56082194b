//! Double InfoGAN for Contrastive Analysis (Carton, Louiset & Gori, AISTATS 2024).
//!
//! Contrastive Analysis separates what is *common* to a background set X and a target set Y
//! (the factors z) from what is *salient*, only in Y (the factors s). This crate is the model
//! core shared by the native trainer (`cli/`) and the browser viewer (`web/`): it names no
//! backend (the caller passes a burn `Device`), touches no file system and spawns no thread of
//! its own (natively, the noise draw shares the rayon pool burn-flex runs), so it builds for
//! `wasm32-unknown-unknown`.
//!
//! The layers, from the bottom:
//!
//! - [`config`] (model shape, loss weights, optimisers, presets: paper Table 6), [`error`],
//!   [`random`] (where a step's random numbers come from), [`latent`] (priors of z and s,
//!   contrastive-regulariser pairs), [`loss`] (one function per loss term) and [`terms`] (the
//!   terms an iteration reports, with their network and CSV name).
//! - `cpu` (native only): the burn-flex kernels the networks' convolutions, batch norms and
//!   LeakyReLUs take on the CPU, forward and backward.
//! - [`nets`]: the networks. Table 4's (32x32, 64x64) and Table 5's (128x128 brain MRI, with
//!   spectral norm and self-attention) behind one interface, and the VAE baselines' networks.
//! - [`methods`]: one module per method: Double InfoGAN's trainer (its G, D and H steps), the
//!   contrastive VAE baselines MM-cVAE and cVAE, contrastive PCA; the iterative ones through
//!   one interface, `Training` (feature `train`, on by default: the browser viewer builds
//!   without it, so no autodiff or optimiser code in its bundle).
//! - [`checkpoint`]: what a checkpoint of each method holds, each part as bytes and back;
//!   [`infer`]: encode, generate, reconstruct, swap, traverse, and the exported model file in
//!   the project's [`container`].
//! - [`builtin`]: the procedural dataset with ground-truth factors; [`pixels`]: host values to
//!   a batch tensor, network values to RGBA bytes and back; `gpu` (feature `gpu-pixels`): the
//!   same packing as a WGSL kernel on wgpu.

pub mod builtin;
pub mod checkpoint;
pub mod config;
pub mod container;
#[cfg(not(target_arch = "wasm32"))]
pub mod cpu;
pub mod error;
#[cfg(feature = "gpu-pixels")]
pub mod gpu;
pub mod infer;
pub mod latent;
pub mod loss;
pub mod methods;
pub mod nets;
pub mod pixels;
pub mod random;
pub mod terms;

pub use checkpoint::{StatePart, TrainerState};
pub use config::{
    Architecture, Batching, CpcaConfig, HeadOutput, LossWeights, Method, ModelConfig, OptimConfig,
    Preset, SalientPrior, TrainConfig, VaeConfig,
};
pub use error::{Error, Result};
pub use infer::InferenceModel;
#[cfg(feature = "train")]
pub use methods::double_infogan::Trainer;
#[cfg(feature = "train")]
pub use methods::{trainer, Losses, Training};
pub use terms::{LossTerm, LossValues, Network};
