//! Contrastive PCA (Abid et al. 2018) as a model of this project: a mean and two linear
//! projections of the flattened image, z onto the top principal directions of the background
//! images and s onto the top directions of C_target - alpha C_background. It encodes like the
//! other methods (so `encode` and the evaluations take it) and has no generator. The fit
//! (feature `train`), with its reduction and its choice of alpha, is in [`fit`].

use burn::module::{Module, Param};
use burn::prelude::*;

use crate::checkpoint::{StatePart, TrainerState};
use crate::config::ModelConfig;
use crate::error::{Error, Result};

#[cfg(feature = "train")]
pub mod fit;
#[cfg(feature = "train")]
pub use fit::{fit, AffinityCosines, CpcaFit, CpcaOptions};

/// The fitted projections, as parameters so that they travel in the model file's record.
#[derive(Module, Debug)]
pub struct CpcaModel {
    /// `[D]`, D = channels x side x side: subtracted before projecting.
    mean: Param<Tensor<1>>,
    /// `[D, L]`: the common directions.
    common: Param<Tensor<2>>,
    /// `[D, M]`: the salient directions.
    salient: Param<Tensor<2>>,
}

impl CpcaModel {
    /// Zeros of `config`'s shape: a load target.
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        let d = config.channels * config.image_size * config.image_size;
        Self {
            mean: Param::from_tensor(Tensor::zeros([d], device)),
            common: Param::from_tensor(Tensor::zeros([d, config.common_dim], device)),
            salient: Param::from_tensor(Tensor::zeros([d, config.salient_dim], device)),
        }
    }

    /// From host numbers: `mean` (D), `common` (D x L, row-major), `salient` (D x M).
    pub fn from_host(
        config: &ModelConfig,
        mean: Vec<f32>,
        common: Vec<f32>,
        salient: Vec<f32>,
        device: &Device,
    ) -> Self {
        let d = config.channels * config.image_size * config.image_size;
        let (l, m) = (config.common_dim, config.salient_dim);
        Self {
            mean: Param::from_tensor(Tensor::from_data(TensorData::new(mean, [d]), device)),
            common: Param::from_tensor(Tensor::from_data(TensorData::new(common, [d, l]), device)),
            salient: Param::from_tensor(Tensor::from_data(
                TensorData::new(salient, [d, m]),
                device,
            )),
        }
    }

    /// The checkpoint of a fitted model: its one part.
    pub fn state(&self) -> Result<TrainerState> {
        let bytes = self
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| Error::Weights {
                what: StatePart::Cpca.describe().into(),
                reason: e.to_string(),
            })?;
        let mut state = TrainerState::default();
        state.insert(StatePart::Cpca, bytes.to_vec());
        Ok(state)
    }

    /// `[n, c, side, side]` -> (z `[n, L]`, s `[n, M]`).
    pub fn encode(&self, images: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let flat = images.flatten::<2>(1, 3) - self.mean.val().unsqueeze_dim(0);
        (
            flat.clone().matmul(self.common.val()),
            flat.matmul(self.salient.val()),
        )
    }
}

#[cfg(all(test, feature = "train"))]
mod tests {
    use super::*;

    /// The model projects as the fit's own host encoder does, and travels through its record.
    #[test]
    fn the_model_encodes_as_the_fit_and_survives_its_record() {
        let config = ModelConfig {
            image_size: 32,
            channels: 1,
            width: 4,
            common_dim: 3,
            salient_dim: 2,
            noise_std: 0.0,
            ..Default::default()
        };
        let d = 32 * 32;
        // Background: two random patterns with random weights; targets add a third.
        let pattern = |k: usize| -> Vec<f32> {
            (0..d)
                .map(|i| ((i * (k + 3) * 7919 % 101) as f32 / 50.0 - 1.0) * 0.3)
                .collect()
        };
        let (a, b, c) = (pattern(0), pattern(1), pattern(2));
        let image = |n: usize, with_c: bool| -> Vec<f32> {
            let (u, v, w) = (
                ((n * 37 % 17) as f32 / 8.0) - 1.0,
                ((n * 11 % 13) as f32 / 6.0) - 1.0,
                ((n * 5 % 7) as f32 / 3.0) - 1.0,
            );
            (0..d)
                .map(|i| u * a[i] + v * b[i] + if with_c { w * c[i] } else { 0.0 })
                .collect()
        };
        let background: Vec<f32> = (0..40).flat_map(|n| image(n, false)).collect();
        let target: Vec<f32> = (0..40).flat_map(|n| image(n + 100, true)).collect();
        let options = CpcaOptions {
            alpha: Some(2.0),
            ..CpcaOptions::default()
        };
        let fit = fit(&background, &target, d, 3, 2, &options).unwrap();
        let device = Device::flex();
        let model = CpcaModel::from_host(
            &config,
            fit.mean.clone(),
            fit.common.clone(),
            fit.salient.clone(),
            &device,
        );
        let rows = &target[..3 * d];
        let images =
            Tensor::<4>::from_data(TensorData::new(rows.to_vec(), [3, 1, 32, 32]), &device);
        let (z, s) = model.encode(images.clone());
        let (z, s) = (
            z.into_data().try_to_vec::<f32>().unwrap(),
            s.into_data().try_to_vec::<f32>().unwrap(),
        );
        for n in 0..3 {
            let (hz, hs) = fit.encode_host(&rows[n * d..(n + 1) * d]);
            for (a, b) in z[n * 3..n * 3 + 3]
                .iter()
                .zip(&hz)
                .chain(s[n * 2..n * 2 + 2].iter().zip(&hs))
            {
                assert!((a - b).abs() < 1e-4, "{a} vs {b}");
            }
        }
        // The record gives the same model back.
        let mut state = model.state().unwrap();
        let loaded = crate::checkpoint::load_module(
            CpcaModel::new(&config, &device),
            state.take(StatePart::Cpca).unwrap(),
            "cPCA",
        )
        .unwrap();
        let (z2, _) = loaded.encode(images);
        assert_eq!(z2.into_data().try_to_vec::<f32>().unwrap(), z);
    }
}
