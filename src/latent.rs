//! The priors of the latent factors (paper section 4) and the pairs of the contrastive
//! regulariser (Supplementary D.4). Everything is drawn on the device, from the device's RNG
//! (seed it with `Device::seed`), so a step never waits on the host; inside
//! [`random::with_host_stream`](crate::random::with_host_stream) from the host stream instead.

use burn::prelude::*;
use burn::tensor::Distribution;
use rand::{rngs::StdRng, RngExt, SeedableRng};

use crate::config::SalientPrior;
use crate::random::next_host_seed;

/// z ~ N(0, I), the common prior of both domains. `[batch, L]`
pub fn sample_common(batch: usize, common_dim: usize, device: &Device) -> Tensor<2> {
    if let Some(seed) = next_host_seed() {
        let values = seeded_normal(batch * common_dim, seed);
        return Tensor::from_data(TensorData::new(values, [batch, common_dim]), device);
    }
    Tensor::random([batch, common_dim], Distribution::Normal(0.0, 1.0), device)
}

/// s ~ P_y(s), the salient prior of target images. `[batch, M]`
///
/// Background images use s = 0 exactly (a Dirac at 0), see [`background_salient`].
pub fn sample_salient(
    batch: usize,
    salient_dim: usize,
    prior: SalientPrior,
    device: &Device,
) -> Tensor<2> {
    if let Some(seed) = next_host_seed() {
        let values = seeded_salient(batch, salient_dim, prior, seed);
        return Tensor::from_data(TensorData::new(values, [batch, salient_dim]), device);
    }
    match prior {
        SalientPrior::Normal => {
            Tensor::random([batch, salient_dim], Distribution::Normal(0.0, 1.0), device)
        }
        // U(0, 1] as written in the paper: 1 - U[0, 1) never gives 0, the background's code.
        SalientPrior::Uniform => Tensor::random(
            [batch, salient_dim],
            Distribution::Uniform(0.0, 1.0),
            device,
        )
        .neg()
        .add_scalar(1.0),
    }
}

/// s = 0, the salient code of every background image. `[batch, M]`
pub fn background_salient(batch: usize, salient_dim: usize, device: &Device) -> Tensor<2> {
    Tensor::zeros([batch, salient_dim], device)
}

/// Two salient codes per row that agree only at one random index k per row, and k.
#[derive(Debug, Clone)]
pub struct ContrastivePairs {
    /// s¹: `[batch, M]`
    pub first: Tensor<2>,
    /// s²: `[batch, M]`, equal to s¹ at column k of each row, independent elsewhere.
    pub second: Tensor<2>,
    /// k: `[batch]`, uniform over 0..M.
    pub shared: Tensor<1, Int>,
}

/// Draws the pairs of eq. (18): s¹, s² ~ P_y(s) independently, then s²_k := s¹_k for one
/// uniformly random k per row. With continuous priors the other coordinates differ almost surely.
pub fn sample_contrastive_pairs(
    batch: usize,
    salient_dim: usize,
    prior: SalientPrior,
    device: &Device,
) -> ContrastivePairs {
    let first = sample_salient(batch, salient_dim, prior, device);
    let independent = sample_salient(batch, salient_dim, prior, device);
    // The argmax of i.i.d. uniforms is a uniform index, drawn without leaving the device.
    let shared: Tensor<1, Int> = match next_host_seed() {
        Some(seed) => {
            let mut rng = StdRng::seed_from_u64(seed);
            let k: Vec<i64> = (0..batch)
                .map(|_| rng.random_range(0..salient_dim) as i64)
                .collect();
            Tensor::from_data(TensorData::new(k, [batch]), device)
        }
        None => Tensor::<2>::random([batch, salient_dim], Distribution::Default, device)
            .argmax(1)
            .flatten(0, 1),
    };
    // [batch, M]: true at (row, k_row).
    let mask = Tensor::<1, Int>::arange(0..salient_dim as i64, device)
        .unsqueeze_dim::<2>(0)
        .repeat_dim(0, batch)
        .equal(
            shared
                .clone()
                .unsqueeze_dim::<2>(1)
                .repeat_dim(1, salient_dim),
        );
    let second = independent.mask_where(mask, first.clone());
    ContrastivePairs {
        first,
        second,
        shared,
    }
}

/// Standard normal numbers drawn on the host from `seed` (ChaCha12 `StdRng`, Box-Muller).
///
/// The device RNGs of flex, wgpu and WebGPU all differ, so latents meant to be shown again
/// (the grid of `dinfogan generate --seed`, the browser viewer's grid) are drawn here: the
/// same seed gives the same z and s on every backend and platform.
pub fn seeded_normal(count: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(count + 1);
    while out.len() < count {
        // u1 in (0, 1]: ln(u1) is finite.
        let u1 = 1.0 - rng.random::<f64>();
        let u2 = rng.random::<f64>();
        let radius = (-2.0 * u1.ln()).sqrt();
        let angle = std::f64::consts::TAU * u2;
        out.push((radius * angle.cos()) as f32);
        out.push((radius * angle.sin()) as f32);
    }
    out.truncate(count);
    out
}

/// `batch x salient_dim` salient codes from the prior P_y(s), drawn on the host from `seed`
/// (see [`seeded_normal`]). Row-major.
pub fn seeded_salient(
    batch: usize,
    salient_dim: usize,
    prior: SalientPrior,
    seed: u64,
) -> Vec<f32> {
    let count = batch * salient_dim;
    match prior {
        SalientPrior::Normal => seeded_normal(count, seed),
        SalientPrior::Uniform => {
            let mut rng = StdRng::seed_from_u64(seed);
            // U(0, 1], as [`sample_salient`].
            (0..count).map(|_| 1.0 - rng.random::<f32>()).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_share_exactly_index_k() {
        let device = Device::flex();
        device.seed(3);
        let (batch, m) = (400, 5);
        let pairs = sample_contrastive_pairs(batch, m, SalientPrior::Normal, &device);
        let first = pairs.first.into_data().try_to_vec::<f32>().unwrap();
        let second = pairs.second.into_data().try_to_vec::<f32>().unwrap();
        let shared = pairs
            .shared
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .unwrap();
        let mut counts = vec![0usize; m];
        for row in 0..batch {
            let k = shared[row] as usize;
            assert!(k < m);
            counts[k] += 1;
            for j in 0..m {
                let (a, b) = (first[row * m + j], second[row * m + j]);
                if j == k {
                    assert_eq!(a, b, "row {row}: s1 and s2 must agree at k = {k}");
                } else {
                    assert_ne!(a, b, "row {row}: s1 and s2 must differ at j = {j} != k");
                }
            }
        }
        // Each index is drawn about batch / m = 80 times: uniform, not stuck.
        for (k, &c) in counts.iter().enumerate() {
            assert!(
                (40..=120).contains(&c),
                "index {k} drawn {c} times of {batch}"
            );
        }
    }

    #[test]
    fn uniform_prior_is_in_zero_one() {
        let device = Device::flex();
        let s = sample_salient(256, 4, SalientPrior::Uniform, &device)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert!(s.iter().all(|&v| v > 0.0 && v <= 1.0));
        let normal = sample_salient(4096, 1, SalientPrior::Normal, &device)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let mean = normal.iter().sum::<f32>() / normal.len() as f32;
        let var = normal.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / normal.len() as f32;
        assert!(
            mean.abs() < 0.1 && (var - 1.0).abs() < 0.1,
            "mean {mean} var {var}"
        );
    }
}
