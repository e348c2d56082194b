//! One function per loss term of the paper (eq. 4-8, Supplementary D). Each returns a mean
//! (a `[1]` tensor), as PyTorch's `reduction="mean"` does; the weights are applied by the step.
//!
//! D and C heads give logits. With p = sigmoid(l): -log p = -log_sigmoid(l) and
//! -log(1 - p) = -log_sigmoid(-l), the paper's terms without the `log(p + 1e-8)` clamp of its code.

use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, log_softmax};

/// Non-saturating generator loss on fakes (eq. 4, G side): mean of -log D(G(z, s)).
pub fn generator_adversarial(fake_logits: Tensor<1>) -> Tensor<1> {
    log_sigmoid(fake_logits).neg().mean()
}

/// Discriminator loss (eq. 4, D side): mean of -log D(real) plus mean of -log(1 - D(fake)).
pub fn discriminator_adversarial(real_logits: Tensor<1>, fake_logits: Tensor<1>) -> Tensor<1> {
    log_sigmoid(real_logits).neg().mean() + log_sigmoid(fake_logits.neg()).neg().mean()
}

/// Binary cross-entropy of logits against one label for the whole batch (eq. 5):
/// `label` 0 for background, 1 for target.
pub fn binary_cross_entropy(logits: Tensor<1>, label: f32) -> Tensor<1> {
    // -[t log p + (1 - t) log(1 - p)]
    let positive = log_sigmoid(logits.clone()).mul_scalar(label);
    let negative = log_sigmoid(logits.neg()).mul_scalar(1.0 - label);
    (positive + negative).neg().mean()
}

/// Mean absolute error (the Laplace log-likelihood of eq. 6 and 8, up to constants).
pub fn l1<const D: usize>(prediction: Tensor<D>, target: Tensor<D>) -> Tensor<1> {
    (prediction - target).abs().mean()
}

/// Mean absolute value: L1 against a zero target (Qs of background images, eq. 6).
pub fn l1_to_zero<const D: usize>(prediction: Tensor<D>) -> Tensor<1> {
    prediction.abs().mean()
}

/// Softmax cross-entropy of logits `[batch, classes]` against class indices `[batch]` (eq. 18).
pub fn cross_entropy(logits: Tensor<2>, classes: Tensor<1, Int>) -> Tensor<1> {
    log_softmax(logits, 1)
        .gather(1, classes.unsqueeze_dim(1))
        .neg()
        .mean()
}

/// KL(N(mean, exp(log_var)) || N(0, I)), summed over dimensions and the batch (the contrastive
/// VAEs' sum reduction): -1/2 sum(1 + log_var - mean^2 - exp(log_var)).
pub fn gaussian_kl_sum(mean: Tensor<2>, log_var: Tensor<2>) -> Tensor<1> {
    (log_var.clone().add_scalar(1.0) - mean.powi_scalar(2) - log_var.exp())
        .sum()
        .mul_scalar(-0.5)
}

/// The kernel widths of MM-cVAE's MMD: gamma = 10^-6, 10^-5, ..., 10^6.
pub const MMD_GAMMAS: [f32; 13] = [
    1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6,
];

/// The biased maximum mean discrepancy between samples `x` `[n, d]` and `y` `[m, d]` under
/// the kernel k(a, b) = sum over `gammas` of exp(-gamma |a - b|^2) (MM-cVAE's): mean k(x, x) +
/// mean k(y, y) - 2 mean k(x, y), diagonals included, clamped at 0.
pub fn mmd(x: Tensor<2>, y: Tensor<2>, gammas: &[f32]) -> Tensor<1> {
    let kernel = |a: Tensor<2>, b: Tensor<2>| {
        // |a_i - b_j|^2 = |a_i|^2 + |b_j|^2 - 2 a_i . b_j, as an [n, m] matrix.
        let aa = a.clone().powi_scalar(2).sum_dim(1);
        let bb = b.clone().powi_scalar(2).sum_dim(1).transpose();
        let distances = (aa + bb - a.matmul(b.transpose()).mul_scalar(2.0)).clamp_min(0.0);
        let mut total = distances.zeros_like();
        for &gamma in gammas {
            total = total + distances.clone().mul_scalar(-gamma).exp();
        }
        total.mean()
    };
    (kernel(x.clone(), x.clone()) + kernel(y.clone(), y.clone()) - kernel(x, y).mul_scalar(2.0))
        .clamp_min(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t1(values: &[f32]) -> Tensor<1> {
        Tensor::from_floats(values, &Device::flex())
    }

    fn value(t: Tensor<1>) -> f32 {
        t.into_scalar::<f32>()
    }

    fn close(a: f32, b: f32) {
        assert!((a - b).abs() < 1e-5, "{a} != {b}");
    }

    fn sigmoid(x: f32) -> f32 {
        1.0 / (1.0 + (-x).exp())
    }

    #[test]
    fn adversarial_terms_match_the_paper_by_hand() {
        // logits 0 -> p = 0.5; logit 2 -> p = 0.8808
        let g = value(generator_adversarial(t1(&[0.0, 2.0])));
        close(g, (-(0.5f32).ln() - sigmoid(2.0).ln()) / 2.0);
        let d = value(discriminator_adversarial(t1(&[1.0, 3.0]), t1(&[-1.0])));
        let real = (-sigmoid(1.0).ln() - sigmoid(3.0).ln()) / 2.0;
        let fake = -(1.0 - sigmoid(-1.0)).ln();
        close(d, real + fake);
    }

    #[test]
    fn class_cross_entropy_by_hand() {
        let logits = [0.5f32, -2.0];
        let target = value(binary_cross_entropy(t1(&logits), 1.0));
        close(target, -(sigmoid(0.5).ln() + sigmoid(-2.0).ln()) / 2.0);
        let background = value(binary_cross_entropy(t1(&logits), 0.0));
        close(
            background,
            -((1.0 - sigmoid(0.5)).ln() + (1.0 - sigmoid(-2.0)).ln()) / 2.0,
        );
        // Stable where the naive formula overflows: -log(1 - sigmoid(100)) = 100.
        close(value(binary_cross_entropy(t1(&[100.0]), 0.0)), 100.0);
    }

    #[test]
    fn l1_terms_by_hand() {
        let d = Device::flex();
        let a = Tensor::<2>::from_floats([[1.0, -2.0], [0.5, 0.0]], &d);
        let b = Tensor::<2>::from_floats([[0.0, 0.0], [1.0, 1.0]], &d);
        // |1| + |-2| + |-0.5| + |-1| = 4.5 over 4 values
        close(value(l1(a.clone(), b)), 4.5 / 4.0);
        close(value(l1_to_zero(a)), 3.5 / 4.0);
    }

    #[test]
    fn cross_entropy_by_hand() {
        let d = Device::flex();
        let logits = Tensor::<2>::from_floats([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], &d);
        let classes = Tensor::<1, Int>::from_ints([2, 0], &d);
        let lse = (1f32.exp() + 2f32.exp() + 3f32.exp()).ln();
        let expected = ((lse - 3.0) + 3f32.ln()) / 2.0;
        close(value(cross_entropy(logits, classes)), expected);
    }

    #[test]
    fn gaussian_kl_of_a_known_gaussian() {
        // mean (1, 0), variances (1, 4): 1/2 (1 + 1 - 1 - 0) + 1/2 (0 + 4 - 1 - ln 4).
        let device = Device::flex();
        let mean = Tensor::<2>::from_floats([[1.0, 0.0]], &device);
        let log_var = Tensor::<2>::from_floats([[0.0, 4f32.ln()]], &device);
        let expected = 0.5 + 0.5 * (3.0 - 4f32.ln());
        close(
            value(gaussian_kl_sum(mean.clone(), log_var.clone())),
            expected,
        );
        // Summed over the batch: two rows, twice the KL.
        let two = gaussian_kl_sum(mean.repeat_dim(0, 2), log_var.repeat_dim(0, 2));
        close(value(two), 2.0 * expected);
    }

    #[test]
    fn mmd_of_two_small_sets() {
        // One dimension, one kernel (gamma = 1): x = {0, 1}, y = {2}.
        // k(x, x): exp(0) twice, exp(-1) twice -> mean (2 + 2/e) / 4; k(y, y) = 1;
        // k(x, y): exp(-4), exp(-1) -> mean (e^-4 + e^-1) / 2.
        let device = Device::flex();
        let x = Tensor::<2>::from_floats([[0.0], [1.0]], &device);
        let y = Tensor::<2>::from_floats([[2.0]], &device);
        let e = std::f32::consts::E;
        let expected = (2.0 + 2.0 / e) / 4.0 + 1.0 - (e.powi(-4) + 1.0 / e);
        close(value(mmd(x.clone(), y.clone(), &[1.0])), expected);
        // The same set twice: 0; with MM-cVAE's 13 kernels, still 0 and never negative.
        close(value(mmd(x.clone(), x.clone(), &MMD_GAMMAS)), 0.0);
        assert!(value(mmd(x, y, &MMD_GAMMAS)) > 0.0);
    }
}
