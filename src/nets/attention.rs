//! The self-attention block of the 128x128 generator (Supplementary Table 5), as in SAGAN and
//! BigGAN: every position of a feature map attends to a 2x2-pooled grid of all positions, and
//! the result is added to the input scaled by a learned gamma that starts at 0 (so the block
//! starts as the identity and the network learns how much attention to use).
//!
//! ```text
//! theta = Wθ x            (C/8 channels, every position)
//! phi   = maxpool2(Wφ x)  (C/8 channels, a quarter of the positions)
//! g     = maxpool2(Wg x)  (C/2 channels, a quarter of the positions)
//! beta  = softmax over the pooled positions of thetaᵀ phi
//! out   = x + gamma · Wo (g betaᵀ)
//! ```
//!
//! The four 1x1 convolutions have no bias and are spectrally normalised.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::ops::MaxPoolOptions;

use super::spectral::SnConv2d;

#[derive(Module, Debug)]
pub struct SelfAttention {
    pub theta: SnConv2d,
    pub phi: SnConv2d,
    pub g: SnConv2d,
    pub o: SnConv2d,
    /// The weight of the attention output; 0 at initialisation.
    pub gamma: Param<Tensor<1>>,
}

impl SelfAttention {
    /// For `channels` feature maps (a multiple of 8).
    pub fn new(channels: usize, device: &Device) -> Self {
        assert!(
            channels.is_multiple_of(8),
            "attention needs a multiple of 8 channels"
        );
        let one = |from, to| SnConv2d::new(from, to, 1, 1, 0, false, device);
        Self {
            theta: one(channels, channels / 8),
            phi: one(channels, channels / 8),
            g: one(channels, channels / 2),
            o: one(channels / 2, channels),
            gamma: Param::from_tensor(Tensor::zeros([1], device)),
        }
    }

    /// Folds the spectral norms' last updates into their state: call before taking a record.
    pub fn sync(&self) {
        for conv in [&self.theta, &self.phi, &self.g, &self.o] {
            conv.norm.sync();
        }
    }

    /// `[batch, C, H, W] -> [batch, C, H, W]`, H and W even.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [batch, channels, height, width] = x.dims();
        let positions = height * width;
        let pool = |t: Tensor<4>| {
            burn::tensor::module::max_pool2d(t, MaxPoolOptions::new([2, 2]).with_stride([2, 2]))
        };
        let theta = self
            .theta
            .forward(x.clone())
            .reshape([batch, channels / 8, positions]);
        let phi = pool(self.phi.forward(x.clone())).reshape([batch, channels / 8, positions / 4]);
        let g = pool(self.g.forward(x.clone())).reshape([batch, channels / 2, positions / 4]);
        // [batch, positions, positions / 4]: for each position, weights over the pooled grid.
        let beta = softmax(theta.swap_dims(1, 2).matmul(phi), 2);
        let attended = g
            .matmul(beta.swap_dims(1, 2))
            .reshape([batch, channels / 2, height, width]);
        let gamma = self.gamma.val().reshape([1, 1, 1, 1]);
        x.add(self.o.forward(attended).mul(gamma))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn starts_as_the_identity() {
        let device = Device::flex();
        let block = SelfAttention::new(16, &device);
        let x = Tensor::<4>::random([2, 16, 4, 4], Distribution::Normal(0.0, 1.0), &device);
        assert_eq!(values(block.forward(x.clone())), values(x));
    }

    /// The block against the formula computed on the host, for one image of 8 channels at 4x2
    /// (two pooled positions), with gamma = 0.5.
    #[test]
    fn matches_the_formula() {
        let device = Device::flex();
        let mut block = SelfAttention::new(8, &device);
        block.gamma = Param::from_tensor(Tensor::from_data(
            TensorData::new(vec![0.5f32], [1]),
            &device,
        ));
        let (h, w, c) = (4usize, 2usize, 8usize);
        let x = Tensor::<4>::random([1, c, h, w], Distribution::Normal(0.0, 1.0), &device);
        let xs = values(x.clone());
        let weight = |conv: &SnConv2d| values(conv.weight.val());
        let (wt, wp, wg, wo) = (
            weight(&block.theta),
            weight(&block.phi),
            weight(&block.g),
            weight(&block.o),
        );
        let n = h * w;
        // 1x1 convolution: out[k][p] = sum_j W[k][j] x[j][p].
        let conv = |wm: &[f32], input: &[f32], from: usize, to: usize, len: usize| -> Vec<f32> {
            (0..to)
                .flat_map(|k| (0..len).map(move |p| (k, p)))
                .map(|(k, p)| {
                    (0..from)
                        .map(|j| wm[k * from + j] * input[j * len + p])
                        .sum()
                })
                .collect()
        };
        let pool = |input: &[f32], channels: usize| -> Vec<f32> {
            let mut out = Vec::new();
            for k in 0..channels {
                for py in 0..h / 2 {
                    for px in 0..w / 2 {
                        let at = |y: usize, x: usize| input[k * n + (2 * py + y) * w + 2 * px + x];
                        out.push(at(0, 0).max(at(0, 1)).max(at(1, 0)).max(at(1, 1)));
                    }
                }
            }
            out
        };
        let m = n / 4;
        let theta = conv(&wt, &xs, c, c / 8, n);
        let phi = pool(&conv(&wp, &xs, c, c / 8, n), c / 8);
        let g = pool(&conv(&wg, &xs, c, c / 2, n), c / 2);
        let mut attended = vec![0.0f32; c / 2 * n];
        for p in 0..n {
            let logits: Vec<f32> = (0..m)
                .map(|q| (0..c / 8).map(|k| theta[k * n + p] * phi[k * m + q]).sum())
                .collect();
            let top = logits.iter().cloned().fold(f32::MIN, f32::max);
            let exps: Vec<f32> = logits.iter().map(|l| (l - top).exp()).collect();
            let total: f32 = exps.iter().sum();
            for k in 0..c / 2 {
                attended[k * n + p] = (0..m).map(|q| g[k * m + q] * exps[q] / total).sum();
            }
        }
        let o = conv(&wo, &attended, c / 2, c, n);
        let expected: Vec<f32> = xs.iter().zip(&o).map(|(x, o)| x + 0.5 * o).collect();
        let out = values(block.forward(x));
        for (a, b) in out.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }
}
