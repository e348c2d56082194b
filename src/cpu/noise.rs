//! The discriminator's noise (`nets::noise`) drawn and added in one pass on burn-flex under
//! autodiff.
//!
//! As `input + noise` the draw wrote a noise tensor and burn-flex's add read it back with the
//! input, on one thread (its in-place add: 1.5% of the two-thread samples at the cpu-hour
//! shape, all on the step's thread). Here each parallel chunk of the draw adds its values onto
//! the input's, in place when nothing else holds them, the same values bit for bit; the
//! backward passes the gradient through unchanged, as the add's does.

#[cfg(feature = "train")]
use burn::backend::autodiff::{
    checkpoint::base::Checkpointer,
    grads::Gradients,
    ops::{Backward, Ops},
};
#[cfg(feature = "train")]
use burn::backend::Flex;
use burn::prelude::*;

use super::tensor::tracked_on_flex;
#[cfg(feature = "train")]
use super::tensor::tracked_unary;
#[cfg(feature = "train")]
use crate::nets::noise::host::add_normals;

/// Whether [`plus_noise`] takes `x`: an f32 tensor on burn-flex with autodiff, in a build that
/// trains.
pub(crate) fn applies<const D: usize>(x: &Tensor<D>) -> bool {
    cfg!(feature = "train") && tracked_on_flex(x)
}

/// `x` plus the noise `host::normals(x.len(), std, seed)`, added in place where `x` holds its
/// values alone (else into a copy, as burn-flex does). Only for tensors that [`applies`] takes.
pub(crate) fn plus_noise<const D: usize>(x: Tensor<D>, std: f32, seed: u64) -> Tensor<D> {
    #[cfg(not(feature = "train"))]
    unreachable!("plus_noise on a build without training: {x:?} {std} {seed}");
    #[cfg(feature = "train")]
    tracked_unary(PassThrough, x, |x| {
        // A buffer that holds exactly the values, in order: `x`'s own when it does, and then,
        // with `x` dropped, the result is its only holder. `storage_mut` copies only when some
        // other tensor still shares the buffer.
        let mut out = x.to_contiguous();
        drop(x);
        let n = out.layout().num_elements();
        add_normals(&mut out.storage_mut::<f32>()[..n], std, seed);
        ((), out)
    })
}

/// The backward of `x + constant`: the gradient, unchanged.
#[cfg(feature = "train")]
#[derive(Debug)]
struct PassThrough;

#[cfg(feature = "train")]
impl Backward<Flex, 1> for PassThrough {
    type State = ();

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        if let Some(node) = node {
            grads.register::<Flex>(node.id, dy);
        }
    }
}

#[cfg(all(test, feature = "train"))]
mod tests {
    use super::*;
    use crate::nets::noise::host::{normals, CHUNK};

    /// The input plus the same draw as the unfused path, bit for bit, over several chunks; the
    /// gradient passes through unchanged.
    #[test]
    fn fused_noise_is_the_input_plus_the_draw_and_passes_the_gradient() {
        let device = Device::flex().autodiff();
        let n = 3 * CHUNK + 5;
        let input: Vec<f32> = (0..n).map(|i| (i as f32 * 0.3).sin()).collect();
        let x = Tensor::<1>::from_data(TensorData::new(input.clone(), [n]), &device).require_grad();
        assert!(applies(&x));
        let y = plus_noise(x.clone(), 0.2, 42);
        let expected: Vec<f32> = input
            .iter()
            .zip(normals(n, 0.2, 42))
            .map(|(a, b)| a + b)
            .collect();
        let got = y.clone().inner().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(got, expected);
        let w: Vec<f32> = (0..n).map(|i| i as f32 - 7.0).collect();
        let weights = Tensor::<1>::from_data(TensorData::new(w.clone(), [n]), &device);
        let grads = (y * weights).sum().backward();
        let dx = x.grad(&grads).expect("a gradient for x");
        assert_eq!(dx.into_data().try_to_vec::<f32>().unwrap(), w);
    }
}
