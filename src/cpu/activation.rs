//! LeakyReLU and tanh on burn-flex under autodiff as one parallel pass forward and one backward.
//!
//! burn-autodiff has no LeakyReLU of its own: it composes it from a comparison, a scaled copy
//! and a `mask_where`, and the backward of that `mask_where` fills two zero tensors, masks each
//! and adds the two gradients. Every discriminator layer ends in a LeakyReLU, so on the 64x64
//! training iteration `mask_where` alone took 8% of the time (perf, one thread). Here the
//! forward is one pass over the input and the backward one pass over (input, gradient), with
//! the gradient registered through burn's autodiff extension API as in [`super::conv`].
//!
//! tanh (the generator's output): burn's backward computes tanh of the input again, then
//! `1 - y^2` and the product in four more passes, all on one thread (perf at the cpu-hour
//! shape, two threads: `tanhf` and its `expm1f` 3% of the samples, all on the step's thread).
//! Here the backward reads the saved output: `dy (1 - y^2)`, and the forward is a tanh of our
//! own that vectorises (within 2 ulp of f64's tanh, as libm's). It and ReLU share that shape
//! ([`FromOutput`]).
//!
//! ReLU (the generator's blocks): burn-flex's forward and backward are each one pass, but on
//! the step's thread (perf at the cpu-hour shape, two threads: 0.85% of the samples in the
//! generator's forward alone, none on the other thread). Here both run in parallel chunks,
//! burn's values bit for bit (NaN passes, as in burn-flex and PyTorch).
//!
//! Other devices, and burn-flex without autodiff (already one pass), keep burn's operation.

#[cfg(feature = "train")]
use burn::backend::autodiff::{
    checkpoint::base::Checkpointer,
    grads::Gradients,
    ops::{Backward, Ops},
};
use burn::backend::flex::FlexTensor;
#[cfg(feature = "train")]
use burn::backend::Flex;
use burn::nn::LeakyRelu;
use burn::prelude::*;
use rayon::prelude::*;

use super::buffer::written;
#[cfg(feature = "train")]
use super::tensor::tracked_unary;
use super::tensor::{dense, flex, tracked_on_flex, values};
use std::mem::MaybeUninit;

/// Values per rayon task: large enough that the split costs nothing against the pass.
const GRAIN: usize = 1 << 15;

/// `activation.forward(x)`, fused on burn-flex with autodiff.
pub fn leaky_relu<const D: usize>(activation: &LeakyRelu, x: Tensor<D>) -> Tensor<D> {
    fused(x.clone(), activation.negative_slope as f32).unwrap_or_else(|| activation.forward(x))
}

/// `f(a, b)` over two equal-length runs, in parallel chunks, into a new tensor of `shape`.
fn zip_map(a: &[f32], b: &[f32], shape: Shape, f: impl Fn(f32, f32) -> f32 + Sync) -> FlexTensor {
    let write = |out: &mut [MaybeUninit<f32>]| {
        out.par_chunks_mut(GRAIN)
            .zip(a.par_chunks(GRAIN).zip(b.par_chunks(GRAIN)))
            .for_each(|(out, (a, b))| {
                for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
                    o.write(f(a, b));
                }
            })
    };
    // SAFETY: the chunks of `out` pair with those of `a` (as long), each value written.
    flex(unsafe { written(a.len(), write) }, shape)
}

/// `b * gain(a)`, where the gain is `slope` below zero and 1 elsewhere (NaN included), as
/// burn's composition routes values (its comparison is `a < 0`). Both passes are this: the
/// forward is `x gain(x)`, the backward `dy gain(x)`. Written as a select on a copied slope so
/// that it vectorises (a branch per value and a slope read through the closure compiled to
/// scalar code: 7% of the 64x64 iteration in perf, against under 1% as a select).
fn scaled_by_gain(a: &[f32], b: &[f32], slope: f32, shape: Shape) -> FlexTensor {
    zip_map(a, b, shape, move |a, b| {
        b * if a < 0.0 { slope } else { 1.0 }
    })
}

/// The forward pass: `x` where `x >= 0` (and NaN), `slope x` below.
fn forward(x: &FlexTensor, slope: f32) -> FlexTensor {
    let x = dense(x);
    let v = values(&x);
    scaled_by_gain(v, v, slope, x.layout().shape().clone())
}

/// The input's gradient: `dy` where `x >= 0` (and NaN), `slope dy` below.
#[cfg(feature = "train")]
fn backward(x: &FlexTensor, dy: &FlexTensor, slope: f32) -> FlexTensor {
    let (x, dy) = (dense(x), dense(dy));
    scaled_by_gain(values(&x), values(&dy), slope, x.layout().shape().clone())
}

#[cfg(feature = "train")]
#[derive(Debug)]
struct LeakyReluBackward;

#[cfg(feature = "train")]
impl Backward<Flex, 1> for LeakyReluBackward {
    /// The input and the slope.
    type State = (FlexTensor, f32);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x, slope) = ops.state;
        if let Some(node) = node {
            grads.register::<Flex>(node.id, backward(&x, &dy, slope));
        }
    }
}

/// The fused operation when `x` is an f32 tensor on burn-flex with autodiff; else `None`.
fn fused<const D: usize>(x: Tensor<D>, slope: f32) -> Option<Tensor<D>> {
    if !tracked_on_flex(&x) {
        return None;
    }
    #[cfg(not(feature = "train"))]
    return None;
    #[cfg(feature = "train")]
    Some(tracked_unary(LeakyReluBackward, x, |x| {
        let out = forward(&x, slope);
        ((x, slope), out)
    }))
}

/// `tanh(x)`, fused on burn-flex with autodiff (see the module's notes).
pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    fused_tanh(x.clone()).unwrap_or_else(|| burn::tensor::activation::tanh(x))
}

/// `relu(x)`, fused on burn-flex with autodiff (see the module's notes).
pub fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    fused_relu(x.clone()).unwrap_or_else(|| burn::tensor::activation::relu(x))
}

/// Where burn-flex's ReLU keeps a value (and its gradient): above zero, and NaN.
#[inline(always)]
fn relu_keeps(x: f32) -> bool {
    x.is_nan() || x > 0.0
}

/// An element-wise operation whose input gradient is a function of its output and the
/// output's gradient, so that the backward reads the saved output alone.
#[cfg_attr(not(feature = "train"), allow(dead_code))]
trait FromOutput: std::fmt::Debug + Send + Sync + 'static {
    fn gradient(y: f32, dy: f32) -> f32;
}

/// tanh: `dy (1 - y^2)`, computed as burn computes it.
#[derive(Debug)]
struct Tanh;

impl FromOutput for Tanh {
    #[inline(always)]
    fn gradient(y: f32, dy: f32) -> f32 {
        dy * (-(y * y) + 1.0)
    }
}

/// ReLU: burn-flex's `relu_backward`, the gradient where the output is kept.
#[derive(Debug)]
struct Relu;

impl FromOutput for Relu {
    #[inline(always)]
    fn gradient(y: f32, dy: f32) -> f32 {
        if relu_keeps(y) {
            dy
        } else {
            0.0
        }
    }
}

#[cfg(feature = "train")]
#[derive(Debug)]
struct FromOutputBackward<G>(std::marker::PhantomData<G>);

#[cfg(feature = "train")]
impl<G: FromOutput> Backward<Flex, 1> for FromOutputBackward<G> {
    /// The output.
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        if let Some(node) = node {
            let (y, dy) = (dense(&ops.state), dense(&dy));
            let shape = y.layout().shape().clone();
            let dx = zip_map(values(&y), values(&dy), shape, G::gradient);
            grads.register::<Flex>(node.id, dx);
        }
    }
}

/// `forward(x)` with the backward of `G` from its saved output, when `x` is an f32 tensor on
/// burn-flex with autodiff; else `None`.
#[cfg_attr(not(feature = "train"), allow(unused_variables))]
fn fused_from_output<G: FromOutput, const D: usize>(
    x: Tensor<D>,
    forward: impl FnOnce(FlexTensor) -> FlexTensor,
) -> Option<Tensor<D>> {
    if !tracked_on_flex(&x) {
        return None;
    }
    #[cfg(not(feature = "train"))]
    return None;
    #[cfg(feature = "train")]
    Some(tracked_unary(
        FromOutputBackward::<G>(std::marker::PhantomData),
        x,
        |x| {
            let y = forward(x);
            (y.clone(), y)
        },
    ))
}

/// The fused tanh: in parallel chunks into a new tensor.
fn fused_tanh<const D: usize>(x: Tensor<D>) -> Option<Tensor<D>> {
    fused_from_output::<Tanh, D>(x, |x| {
        let x = dense(&x);
        let v = values(&x);
        zip_map(v, v, x.layout().shape().clone(), |x, _| tanh_f32(x))
    })
}

/// tanh without a call into libm per value: `tanhf` and the `expm1f` it calls took 3.3% of the
/// one-thread 32x32 iteration. Branch-free, so that it vectorises. Cephes' `tanhf`: below
/// |x| = 0.625 an odd polynomial, above `1 - 2 / (exp(2|x|) + 1)`, with Cephes' `expf`
/// (rounding by the 1.5 2^23 trick, a degree-5 polynomial, the power of two built in the
/// exponent bits). Within 2 ulp of f64's tanh (1 at most over the tested sweep); NaN stays
/// NaN, infinities give +-1 (tested).
#[inline(always)]
fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let poly = (((-5.704_988_7e-3 * z + 2.063_909e-2) * z - 5.373_971_6e-2) * z + 1.333_144_2e-1)
        * z
        - 3.333_328e-1;
    let small = poly * z * x + x;
    // Past 9.01, tanh rounds to 1 in f32; the comparison (not `min`) lets NaN through.
    let e = exp_f32(2.0 * if a > 10.0 { 10.0 } else { a });
    let large = 1.0 - 2.0 / (e + 1.0);
    // The sign set last: the small branch would turn -0 into +0.
    if a < 0.625 { small } else { large }.copysign(x)
}

/// `exp(x)` for x in [0, 20] (and NaN), within 1 ulp (Cephes' `expf`).
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5 2^23: adding and subtracting it rounds to an integer
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 5e-1;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// The fused ReLU: in place where `x` holds its values alone, as burn-flex's ReLU (the batch
/// norm's output, in the generator): a new buffer per block raised the 64x64 peak by ~25 MiB.
/// Where another tensor shares them (seen when the trainer makes its fakes), one pass from
/// `x` into a new buffer: `storage_mut` would copy them first, then pass over the copy.
fn fused_relu<const D: usize>(x: Tensor<D>) -> Option<Tensor<D>> {
    fused_from_output::<Relu, D>(x, |x| {
        if !x.is_unique() {
            let x = dense(&x);
            let v = values(&x);
            let relu = |v, _| if relu_keeps(v) { v } else { 0.0 };
            return zip_map(v, v, x.layout().shape().clone(), relu);
        }
        let mut y = x.to_contiguous();
        drop(x);
        let n = y.layout().num_elements();
        y.storage_mut::<f32>()[..n]
            .par_chunks_mut(GRAIN)
            .for_each(|chunk| {
                for v in chunk {
                    *v = if relu_keeps(*v) { *v } else { 0.0 };
                }
            });
        y
    })
}

#[cfg(all(test, feature = "train"))]
mod tests {
    use super::*;
    use burn::nn::LeakyReluConfig;

    /// The output and input gradient of `activation` on `input` (`[2, 3, 70, 70]`: more than
    /// one parallel chunk), with `sum(y w)` as the loss; a NaN output is masked out of the
    /// loss, which it would make NaN (and every gradient).
    fn output_and_gradient(
        input: &[f32],
        weights: &[f32],
        activation: impl Fn(Tensor<4>) -> Tensor<4>,
    ) -> (Vec<f32>, Vec<f32>) {
        let device = Device::flex().autodiff();
        let shape = [2, 3, 70, 70];
        let x =
            Tensor::<4>::from_data(TensorData::new(input.to_vec(), shape), &device).require_grad();
        let y = activation(x.clone());
        let w = Tensor::<4>::from_data(TensorData::new(weights.to_vec(), shape), &device);
        let grads = (y.clone().mask_fill(y.clone().is_nan(), 0.0) * w)
            .sum()
            .backward();
        let dx = x.grad(&grads).expect("a gradient for x");
        (
            y.inner().into_data().try_to_vec::<f32>().unwrap(),
            dx.into_data().try_to_vec::<f32>().unwrap(),
        )
    }

    /// Output and input gradient against burn's composition, with exact zeros among the
    /// inputs (the one place the two branches meet) and a weighted sum as the loss.
    #[test]
    fn fused_leaky_relu_matches_burn_forward_and_backward() {
        let activation = LeakyReluConfig::new().with_negative_slope(0.2).init();
        let n = 2 * 3 * 70 * 70; // more than one parallel chunk
        let input: Vec<f32> = (0..n)
            .map(|i| match i % 7 {
                0 => 0.0,
                k => ((i as f32) * 0.37).sin() * k as f32,
            })
            .collect();
        let weights: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.11).cos()).collect();
        // The fused path, not burn's fallback, is what is compared.
        let ours = output_and_gradient(&input, &weights, |x| {
            super::fused(x, 0.2).expect("the fused operation on burn-flex")
        });
        let theirs = output_and_gradient(&input, &weights, |x| activation.forward(x));
        assert_eq!(ours.0, theirs.0, "outputs differ");
        assert_eq!(ours.1, theirs.1, "input gradients differ");
        // Hand-checked entries: a zero input passes its gradient whole, a negative one a fifth.
        assert_eq!(ours.1[0], weights[0]);
        let negative = input.iter().position(|&v| v < 0.0).unwrap();
        assert_eq!(ours.0[negative], 0.2 * input[negative]);
        assert_eq!(ours.1[negative], 0.2 * weights[negative]);
    }

    /// Distance in units in the last place between two finite f32 (the bit patterns mapped to
    /// integers in the floats' order, so that -0 and +0 are one value).
    fn ulps(a: f32, b: f32) -> u32 {
        let key = |v: f32| {
            let bits = v.to_bits() as i32;
            if bits < 0 {
                i32::MIN - bits
            } else {
                bits
            }
        };
        key(a).abs_diff(key(b))
    }

    /// tanh against f64's over the whole line (every 97th f32 from -20 to 20, both branches
    /// and their seam), and at its special values.
    #[test]
    fn tanh_is_within_two_ulp_of_f64() {
        let (mut x, mut worst) = (-20f32, (0, 0f32));
        while x <= 20.0 {
            let err = ulps(super::tanh_f32(x), (x as f64).tanh() as f32);
            if err > worst.0 {
                worst = (err, x);
            }
            x = f32::from_bits(if x < 0.0 {
                x.to_bits().saturating_sub(97).max(0x8000_0000)
            } else {
                x.to_bits() + 97
            });
            if x == -0.0 {
                x = 0.0;
            }
        }
        assert!(worst.0 <= 2, "{} ulp at {}", worst.0, worst.1);
        assert!(ulps(super::tanh_f32(0.625), 0.625f64.tanh() as f32) <= 2);
        for (x, y) in [
            (0.0, 0.0),
            (9.02, 1.0),
            (9.0, 1.0 - f32::EPSILON / 2.0),
            (f32::INFINITY, 1.0),
            (f32::NEG_INFINITY, -1.0),
            (f32::MIN_POSITIVE, f32::MIN_POSITIVE),
        ] {
            assert_eq!(super::tanh_f32(x), y, "tanh({x})");
        }
        assert!(super::tanh_f32(f32::NAN).is_nan());
        assert_eq!(super::tanh_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    }

    /// tanh's output and input gradient against burn's over more than one chunk: the outputs
    /// within 3 ulp (burn calls libm's tanhf, itself within 2), the gradient as burn computes
    /// it from ours.
    #[test]
    fn fused_tanh_matches_burn_forward_and_backward() {
        let n = 2 * 3 * 70 * 70;
        let input: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.37).sin() * 4.0).collect();
        let weights: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.11).cos()).collect();
        let ours = output_and_gradient(&input, &weights, |x| {
            super::fused_tanh(x).expect("the fused operation on burn-flex")
        });
        let theirs = output_and_gradient(&input, &weights, burn::tensor::activation::tanh);
        for (i, (a, b)) in ours.0.iter().zip(&theirs.0).enumerate() {
            assert!(ulps(*a, *b) <= 3, "output {i}: {a} against {b}");
        }
        for ((dx, y), w) in ours.1.iter().zip(&ours.0).zip(&weights) {
            assert_eq!(*dx, w * (-(y * y) + 1.0), "the gradient is dy (1 - y^2)");
        }
        // By hand: tanh(0) = 0 passes its gradient whole.
        assert_eq!((ours.0[0], ours.1[0]), (0.0, weights[0]));
    }

    /// ReLU's output and input gradient against burn's, bit for bit, with exact zeros, a NaN
    /// and more than one chunk.
    #[test]
    fn fused_relu_matches_burn_forward_and_backward() {
        let n = 2 * 3 * 70 * 70;
        let input: Vec<f32> = (0..n)
            .map(|i| match i % 7 {
                0 => 0.0,
                _ if i == 5 => f32::NAN,
                k => ((i as f32) * 0.37).sin() * k as f32,
            })
            .collect();
        let weights: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.11).cos()).collect();
        // Compared as bits, so that the NaN compares equal to itself.
        let bits = |(y, dx): (Vec<f32>, Vec<f32>)| {
            let bits = |t: Vec<f32>| t.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            (bits(y), bits(dx))
        };
        let ours = bits(output_and_gradient(&input, &weights, |x| {
            super::fused_relu(x).expect("the fused operation on burn-flex")
        }));
        let theirs = bits(output_and_gradient(
            &input,
            &weights,
            burn::tensor::activation::relu,
        ));
        assert_eq!(ours.0, theirs.0, "outputs differ");
        assert_eq!(ours.1, theirs.1, "input gradients differ");
        // By hand: a zero input passes no gradient, a positive one all of it.
        assert_eq!(f32::from_bits(ours.1[0]), 0.0);
        let positive = input.iter().position(|&v| v > 0.0).unwrap();
        assert_eq!(f32::from_bits(ours.1[positive]), weights[positive]);
        assert!(f32::from_bits(ours.0[5]).is_nan());
        // Above, the input's values are shared (the test keeps `x`): the pass into a new
        // buffer. An input that holds its values alone (the output of a multiplication) takes
        // the in-place path, with the same values.
        let unique = bits(output_and_gradient(&input, &weights, |x| {
            super::fused_relu(x * 1.0).expect("the fused operation on burn-flex")
        }));
        assert_eq!(unique, ours, "in place and into a new buffer differ");
    }

    /// Without a gradient to track (encoding a batch), the result is the same tensor.
    #[test]
    fn untracked_input_gives_the_same_values() {
        let device = Device::flex().autodiff();
        let activation = LeakyReluConfig::new().with_negative_slope(0.2).init();
        let x = Tensor::<2>::from_data([[-1.0f32, 0.0, 2.0], [3.0, -4.0, 0.5]], &device);
        let y = leaky_relu(&activation, x)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(y, vec![-0.2, 0.0, 2.0, 3.0, -0.8, 0.5]);
    }
}
