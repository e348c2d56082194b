//! Batch normalisation in training on burn-flex under autodiff, in three passes each way.
//!
//! burn differentiates batch norm as one node, but burn-flex computes it with burn's generic
//! composition: each reduction over a channel first copies the activations channel-major
//! (`swap_dims` + `reshape`), and the forward and backward each make about ten passes over the
//! activations. Here the forward reads the input twice for the statistics (mean, then the
//! squared deviations) and once to write the output; the backward reads the gradient twice
//! and the input once for the two per-channel sums, then both for the input's gradient; all in
//! NCHW order, without copies. The running statistics are updated as burn's
//! `BatchNorm::forward` updates them. Inference, other devices and frozen layers keep burn's
//! operation.

#[cfg(feature = "train")]
use burn::backend::autodiff::{
    checkpoint::{base::Checkpointer, strategy::NoCheckpointing},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::flex::FlexTensor;
#[cfg(feature = "train")]
use burn::backend::{Autodiff, Flex};
use burn::nn::BatchNorm;
use burn::prelude::*;
use rayon::prelude::*;

use super::buffer::written;
use super::tensor::{dense, flex, on_flex, values};
use std::mem::MaybeUninit;

/// `norm.forward(x)`: fused on burn-flex when the layer trains (an autodiff device and a layer
/// not frozen), burn's own otherwise.
pub fn batch_norm<const D: usize>(norm: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    let fusable = D >= 2 && on_flex(&x) && device.is_autodiff() && norm.training.is_enabled();
    if !fusable {
        return norm.forward(x);
    }
    #[cfg(not(feature = "train"))]
    return norm.forward(x);
    #[cfg(feature = "train")]
    match fused(x.clone(), norm.gamma.val(), norm.beta.val(), norm.epsilon) {
        Some((output, [mean, variance])) => {
            // As burn's BatchNorm::forward_train: an exponential moving average of the batch
            // statistics (biased variance), applied lazily like burn's.
            let momentum = norm.momentum;
            let stat = |values: Vec<f32>| {
                let n = values.len();
                Tensor::<1>::from_data(TensorData::new(values, [n]), &device)
            };
            let running_mean = norm.running_mean.value_sync().to_device(&device);
            let running_var = norm.running_var.value_sync().to_device(&device);
            norm.running_mean.update(
                running_mean
                    .mul_scalar(1.0 - momentum)
                    .add(stat(mean).mul_scalar(momentum))
                    .detach(),
            );
            norm.running_var.update(
                running_var
                    .mul_scalar(1.0 - momentum)
                    .add(stat(variance).mul_scalar(momentum))
                    .detach(),
            );
            output
        }
        None => norm.forward(x),
    }
}

/// The sizes of an NCHW-like tensor seen as `[batch, channels, inner]`.
#[derive(Debug, Clone, Copy)]
struct Planes {
    batch: usize,
    channels: usize,
    /// Values per (image, channel): the product of the dimensions after the channels.
    inner: usize,
}

impl Planes {
    fn of(shape: &[usize]) -> Self {
        Self {
            batch: shape[0],
            channels: shape[1],
            inner: shape[2..].iter().product(),
        }
    }

    /// Values per channel over the batch.
    fn count(&self) -> usize {
        self.batch * self.inner
    }

    /// The planes of channel `c`, one per image.
    fn channel<'a>(&self, v: &'a [f32], c: usize) -> impl Iterator<Item = &'a [f32]> + 'a {
        let (channels, inner) = (self.channels, self.inner);
        (0..self.batch).map(move |b| &v[(b * channels + c) * inner..][..inner])
    }
}

/// `sum f(a_i, b_i)` over two equal runs in f64, eight independent lanes so that it vectorises.
fn sum2(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f64 {
    let mut lanes = [0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&a, &b)| f(a, b) as f64)
        .sum();
    for (a, b) in ca.zip(cb) {
        for i in 0..8 {
            lanes[i] += f(a[i], b[i]) as f64;
        }
    }
    lanes.iter().sum::<f64>() + tail
}

/// Per channel: the mean and the biased variance, as f32 (what burn returns).
fn statistics(x: &[f32], p: Planes) -> (Vec<f32>, Vec<f32>) {
    let n = p.count() as f64;
    (0..p.channels)
        .into_par_iter()
        .map(|c| {
            let mean = p.channel(x, c).map(|v| sum2(v, v, |a, _| a)).sum::<f64>() / n;
            let m = mean as f32;
            let squares: f64 = p
                .channel(x, c)
                .map(|v| sum2(v, v, |a, _| (a - m) * (a - m)))
                .sum();
            (m, (squares / n) as f32)
        })
        .unzip()
}

/// `out[b, c, :] = f(c, a[b, c, :], b[b, c, :])` plane by plane, in parallel, into a new tensor;
/// `f` writes every value of its plane.
fn per_plane(
    a: &[f32],
    b: &[f32],
    p: Planes,
    f: impl Fn(usize, &[f32], &[f32], &mut [MaybeUninit<f32>]) + Sync,
) -> Vec<f32> {
    let write = |out: &mut [MaybeUninit<f32>]| {
        out.par_chunks_mut(p.inner.max(1))
            .enumerate()
            .for_each(|(plane, out)| {
                let range = plane * p.inner..(plane + 1) * p.inner;
                f(plane % p.channels, &a[range.clone()], &b[range], out);
            })
    };
    // SAFETY: `f` writes every value of its plane (its contract), and the planes cover `out`.
    unsafe { written(a.len(), write) }
}

fn inverse_std(variance: &[f32], epsilon: f64) -> Vec<f32> {
    variance
        .iter()
        .map(|&v| 1.0 / (v + epsilon as f32).sqrt())
        .collect()
}

/// The output `gamma (x - mean) / sqrt(var + eps) + beta`, with the batch's mean and variance.
fn forward(
    x: &[f32],
    p: Planes,
    gamma: &[f32],
    beta: &[f32],
    epsilon: f64,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (mean, variance) = statistics(x, p);
    let inv_std = inverse_std(&variance, epsilon);
    let out = per_plane(x, x, p, |c, x, _, out| {
        let (m, scale, shift) = (mean[c], gamma[c] * inv_std[c], beta[c]);
        for (o, &v) in out.iter_mut().zip(x) {
            o.write((v - m) * scale + shift);
        }
    });
    (out, mean, variance)
}

/// The gradients of x, gamma and beta for the output's gradient `dy`:
/// `dx = gamma / std (dy - mean(dy) - x̂ mean(dy x̂))`, `dgamma = sum(dy x̂)`, `dbeta = sum(dy)`.
#[cfg(feature = "train")]
fn backward(
    x: &[f32],
    dy: &[f32],
    p: Planes,
    gamma: &[f32],
    mean: &[f32],
    inv_std: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (sum_dy, sum_dy_xhat): (Vec<f32>, Vec<f32>) = (0..p.channels)
        .into_par_iter()
        .map(|c| {
            let (m, s) = (mean[c], inv_std[c]);
            let planes = p.channel(x, c).zip(p.channel(dy, c));
            let (mut sum, mut dot) = (0f64, 0f64);
            for (x, dy) in planes {
                sum += sum2(dy, dy, |g, _| g);
                dot += sum2(x, dy, |v, g| g * (v - m) * s);
            }
            (sum as f32, dot as f32)
        })
        .unzip();
    let n = p.count() as f32;
    let dx = per_plane(x, dy, p, |c, x, dy, out| {
        let (m, s) = (mean[c], inv_std[c]);
        let (mean_dy, mean_dot) = (sum_dy[c] / n, sum_dy_xhat[c] / n);
        let scale = gamma[c] * s;
        for ((o, &v), &g) in out.iter_mut().zip(x).zip(dy) {
            o.write(scale * (g - mean_dy - (v - m) * s * mean_dot));
        }
    });
    (dx, sum_dy_xhat, sum_dy)
}

#[cfg(feature = "train")]
#[derive(Debug)]
struct BatchNormBackward;

/// What the backward needs: the input, gamma, and the batch's mean and 1 / std.
#[cfg(feature = "train")]
#[derive(Debug, Clone)]
struct Saved {
    x: FlexTensor,
    gamma: Vec<f32>,
    mean: Vec<f32>,
    inv_std: Vec<f32>,
}

#[cfg(feature = "train")]
impl Backward<Flex, 3> for BatchNormBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = dense(&grads.consume::<Flex>(&ops.node));
        let saved = ops.state;
        let shape = saved.x.layout().shape().clone();
        let p = Planes::of(&shape);
        let (dx, dgamma, dbeta) = backward(
            values(&saved.x),
            values(&dy),
            p,
            &saved.gamma,
            &saved.mean,
            &saved.inv_std,
        );
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, flex(dx, shape));
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, flex(dgamma, Shape::new([p.channels])));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, flex(dbeta, Shape::new([p.channels])));
        }
    }
}

/// The output, and the batch's mean and biased variance; `None` when a tensor is not on
/// burn-flex with autodiff.
#[cfg(feature = "train")]
fn fused<const D: usize>(
    x: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
) -> Option<(Tensor<D>, [Vec<f32>; 2])> {
    let channels = x.dims()[1];
    if gamma.dims() != [channels] || beta.dims() != [channels] {
        return None;
    }
    let x = x.try_into_primitive::<Autodiff<Flex>>().ok()?;
    let gamma = gamma.try_into_primitive::<Autodiff<Flex>>().ok()?;
    let beta = beta.try_into_primitive::<Autodiff<Flex>>().ok()?;
    let prep = BatchNormBackward
        .prepare::<NoCheckpointing>([x.node(), gamma.node(), beta.node()])
        .compute_bound()
        .stateful();
    let x = dense(&x.into_primitive());
    let (gamma, beta) = (
        dense(&gamma.into_primitive()),
        dense(&beta.into_primitive()),
    );
    let shape = x.layout().shape().clone();
    let p = Planes::of(&shape);
    let (out, mean, variance) = forward(values(&x), p, values(&gamma), values(&beta), epsilon);
    let out = flex(out, shape);
    let out = match prep {
        OpsKind::Tracked(prep) => {
            let saved = Saved {
                inv_std: inverse_std(&variance, epsilon),
                gamma: values(&gamma).to_vec(),
                mean: mean.clone(),
                x,
            };
            prep.finish(saved, out)
        }
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Some((
        Tensor::from_primitive::<Autodiff<Flex>>(out),
        [mean, variance],
    ))
}

#[cfg(all(test, feature = "train"))]
mod tests {
    use super::*;
    use burn::module::Param;
    use burn::nn::BatchNormConfig;
    use burn::tensor::Distribution;

    fn close(ours: &[f32], theirs: &[f32], what: &str) {
        assert_eq!(ours.len(), theirs.len(), "{what}: lengths");
        let scale = theirs.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            assert!(
                (a - b).abs() <= 2e-5 * scale,
                "{what}[{i}]: {a} vs burn's {b}"
            );
        }
    }

    fn vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// Output, the gradients of x, gamma and beta, and the running statistics after two
    /// training steps, against burn's BatchNorm, for a 4-D (conv) and a 2-D (linear) input.
    #[test]
    fn fused_batch_norm_matches_burn() {
        let device = Device::flex().autodiff();
        // [9, 4, 1, 1] is fed to the layer as [9, 4].
        for (shape, two_d) in [([6, 5, 7, 3], false), ([9, 4, 1, 1], true)] {
            device.seed(3);
            let channels = shape[1];
            // One layer per path (clones would share their running statistics), gamma and beta
            // away from 1 and 0 so that a swapped or dropped term shows.
            let layer = || {
                let mut norm = BatchNormConfig::new(channels).init(&device);
                let param = |f: fn(usize) -> f32| {
                    let values: Vec<f32> = (0..channels).map(f).collect();
                    Param::from_tensor(Tensor::<1>::from_data(
                        TensorData::new(values, [channels]),
                        &device,
                    ))
                };
                norm.gamma = param(|c| 1.25 + 0.5 * c as f32);
                norm.beta = param(|c| 0.3 * c as f32 - 0.75);
                crate::nets::init::initialized(norm)
            };
            let input = |k: f64| {
                Tensor::<4>::random(
                    [shape.iter().product::<usize>(), 1, 1, 1],
                    Distribution::Normal(k, 2.0),
                    &device,
                )
                .reshape(shape)
            };
            let inputs = [input(0.5), input(-1.0)];
            let weights = Tensor::<4>::random(
                [shape.iter().product::<usize>(), 1, 1, 1],
                Distribution::Normal(0.0, 1.0),
                &device,
            );
            let run = |fused: bool| {
                let norm = layer();
                let mut outputs = Vec::new();
                for x in &inputs {
                    let x = x.clone().require_grad();
                    let y: Tensor<4> = match (fused, two_d) {
                        (true, false) => batch_norm(&norm, x.clone()),
                        (false, false) => norm.forward(x.clone()),
                        (f, _) => {
                            let x2 = x.clone().reshape([shape[0], shape[1]]);
                            let y = if f {
                                batch_norm(&norm, x2)
                            } else {
                                norm.forward(x2)
                            };
                            y.reshape(shape)
                        }
                    };
                    let loss = (y.clone() * weights.clone().reshape(shape)).sum();
                    let grads = loss.backward();
                    outputs.push((
                        vec(y.inner()),
                        vec(x.grad(&grads).unwrap()),
                        vec(norm.gamma.grad(&grads).unwrap()),
                        vec(norm.beta.grad(&grads).unwrap()),
                    ));
                }
                let stats = [
                    vec(norm.running_mean.value()),
                    vec(norm.running_var.value()),
                ];
                (outputs, stats)
            };
            let (ours, theirs) = (run(true), run(false));
            for (step, (a, b)) in ours.0.iter().zip(&theirs.0).enumerate() {
                close(&a.0, &b.0, &format!("{shape:?} step {step} output"));
                close(&a.1, &b.1, &format!("{shape:?} step {step} x gradient"));
                close(&a.2, &b.2, &format!("{shape:?} step {step} gamma gradient"));
                close(&a.3, &b.3, &format!("{shape:?} step {step} beta gradient"));
            }
            close(&ours.1[0], &theirs.1[0], "running mean");
            close(&ours.1[1], &theirs.1[1], "running variance");
        }
    }

    /// The fused path is the one taken on burn-flex with autodiff.
    #[test]
    fn training_on_flex_takes_the_fused_path() {
        let device = Device::flex().autodiff();
        let norm = crate::nets::init::initialized(BatchNormConfig::new(2).init(&device));
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 3.0, -2.0, 4.0], [1, 2, 2, 1]),
            &device,
        );
        let (y, [mean, variance]) = fused(x, norm.gamma.val(), norm.beta.val(), 1e-5)
            .expect("the fused operation on burn-flex");
        // Channel 0: 1, 3 (mean 2, variance 1); channel 1: -2, 4 (mean 1, variance 9).
        assert_eq!(mean, vec![2.0, 1.0]);
        assert_eq!(variance, vec![1.0, 9.0]);
        let y = vec(y);
        let expected = [-1.0, 1.0, -1.0, 1.0];
        for (a, b) in y.iter().zip(expected) {
            assert!((a - b).abs() < 1e-4, "{y:?}");
        }
    }
}
