//! What the kernels need of burn-flex's tensors: whether a tensor is one of them, its values
//! as one dense slice, and a tensor made from computed values.

use burn::backend::flex::FlexTensor;
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
