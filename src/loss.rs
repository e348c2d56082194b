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
}
