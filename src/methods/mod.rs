//! The methods this crate trains and fits: [`double_infogan`] (the paper's, with its G, D and H
//! steps), the contrastive VAE baselines [`mm_cvae`] and [`cvae`] (sharing [`vae_shared`]), and
//! contrastive PCA ([`cpca`], fitted in one pass, so needed by inference without the `train`
//! feature). The iterative ones train through one interface, [`Training`], made by [`trainer`].

pub mod cpca;
#[cfg(feature = "train")]
pub mod cvae;
#[cfg(feature = "train")]
pub mod double_infogan;
#[cfg(feature = "train")]
pub mod mm_cvae;
#[cfg(feature = "train")]
pub mod training;
#[cfg(feature = "train")]
pub mod vae_shared;

#[cfg(feature = "train")]
pub use training::{Losses, Training};

#[cfg(feature = "train")]
use crate::config::{Method, TrainConfig};
#[cfg(feature = "train")]
use crate::error::{Error, Result};

/// The trainer of `config.method`, initialised from `seed`.
#[cfg(feature = "train")]
pub fn trainer(
    config: TrainConfig,
    device: &burn::prelude::Device,
    seed: u64,
) -> Result<Box<dyn Training>> {
    Ok(match config.method {
        Method::DoubleInfogan => Box::new(double_infogan::Trainer::new(config, device, seed)?),
        Method::MmCvae => Box::new(mm_cvae::MmCvaeTrainer::new(config, device, seed)?),
        Method::Cvae => Box::new(cvae::CvaeTrainer::new(config, device, seed)?),
        Method::Cpca => {
            return Err(Error::InvalidConfig(
                "cPCA is fitted in one pass over the data, not trained step by step".into(),
            ))
        }
    })
}
