//! What the kernels need of burn-flex's tensors: whether a tensor is one of them, its values
//! as one dense slice, a tensor made from computed values, and a one-input operation
//! registered with burn's autodiff.

#[cfg(feature = "train")]
use burn::backend::autodiff::{
    checkpoint::strategy::NoCheckpointing,
    ops::{Backward, OpsKind},
};
use burn::backend::flex::FlexTensor;
#[cfg(feature = "train")]
use burn::backend::{Autodiff, Flex};
use burn::prelude::*;
use burn::tensor::DType;

/// Whether `x` is an f32 tensor on burn-flex (with or without autodiff): the only tensors the
/// kernels take; every other device keeps burn's own operation.
pub(crate) fn on_flex<const D: usize>(x: &Tensor<D>) -> bool {
    x.dtype() == DType::F32 && x.device().without_autodiff() == Device::flex()
}

/// The tensor itself when its values are already one dense run (no copy), else a dense copy.
pub(crate) fn dense(tensor: &FlexTensor) -> FlexTensor {
    match tensor.layout().contiguous_offsets() {
        Some(_) => tensor.clone(),
        None => tensor.to_contiguous(),
    }
}

/// The values of a [`dense`] tensor, borrowed.
pub(crate) fn values(tensor: &FlexTensor) -> &[f32] {
    let (start, end) = tensor
        .layout()
        .contiguous_offsets()
        .expect("values of a dense tensor");
    &tensor.storage::<f32>()[start..end]
}

/// A burn-flex tensor of `shape` holding `values` (row-major).
pub(crate) fn flex(values: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// Whether `x` is an f32 tensor on burn-flex with autodiff: what [`tracked_unary`] takes.
pub(crate) fn tracked_on_flex<const D: usize>(x: &Tensor<D>) -> bool {
    on_flex(x) && x.device().is_autodiff()
}

/// `x` through a one-input operation whose gradient `backward` computes (burn's autodiff
/// extension API): `forward` takes `x`'s values and gives the state the backward keeps and the
/// output. For tensors that [`tracked_on_flex`] takes.
#[cfg(feature = "train")]
pub(crate) fn tracked_unary<O: Backward<Flex, 1>, const D: usize>(
    backward: O,
    x: Tensor<D>,
    forward: impl FnOnce(FlexTensor) -> (O::State, FlexTensor),
) -> Tensor<D> {
    let x = x
        .try_into_primitive::<Autodiff<Flex>>()
        .expect("an f32 tensor on burn-flex with autodiff (checked by `tracked_on_flex`)");
    let prep = backward
        .prepare::<NoCheckpointing>([x.node()])
        .compute_bound()
        .stateful();
    let (state, out) = forward(x.into_primitive());
    let out = match prep {
        OpsKind::Tracked(prep) => prep.finish(state, out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Tensor::from_primitive::<Autodiff<Flex>>(out)
}
