//! flex's tensors read in place (f32 activations, int8 weights) and f32 results made into flex
//! tensors, for Keepsake's CPU kernels (the int8 layers, attention): no copy in, one allocation out.

use burn::tensor::{Bytes, DType, Shape, Tensor};
use burn_dispatch::{BackendTensor, DispatchAutodiffContext, DispatchTensor, DispatchTensorKind};
use burn_flex::{FlexQTensor, FlexTensor, Layout};

/// `x` as a contiguous flex f32 tensor (a strided view is copied once), None on any other
/// backend or type.
pub fn f32_storage<const D: usize>(x: &Tensor<D>) -> Option<FlexTensor> {
    match x.clone().into_dispatch().kind {
        DispatchTensorKind::Flex(BackendTensor::Float(t)) if t.dtype() == DType::F32 => {
            Some(if t.as_slice::<f32>().is_some() { t } else { t.to_contiguous() })
        }
        _ => None,
    }
}

/// A flex tensor of `dims` holding `values` (row-major).
pub fn from_f32<const D: usize>(values: Vec<f32>, dims: [usize; D]) -> Tensor<D> {
    let tensor = FlexTensor::new(Bytes::from_elems(values), Layout::contiguous(Shape::from(dims.to_vec())), DType::F32);
    Tensor::from_dispatch(DispatchTensor {
        kind: DispatchTensorKind::Flex(BackendTensor::Float(tensor)),
        autodiff: DispatchAutodiffContext::Disabled,
    })
}

/// `x`'s int8 values and scales as flex holds them (values contiguous), None on any other backend,
/// type or layout.
pub fn int8_storage<const D: usize>(x: &Tensor<D>) -> Option<FlexQTensor> {
    match x.clone().into_dispatch().kind {
        DispatchTensorKind::Flex(BackendTensor::Quantized(q)) if q.tensor().as_slice::<i8>().is_some() => Some(q),
        _ => None,
    }
}
