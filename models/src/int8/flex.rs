//! burn's layers through the int8 kernels: flex's int8 weights read in place (no copy).
//! Anything the kernels do not cover goes to burn's own op.

use burn::nn::conv::Conv2d;
use burn::nn::{Linear, PaddingConfig2d};
use burn::tensor::{DType, Tensor};
use burn_flex::FlexQTensor;

use super::conv::{conv2d, ConvShape};
use super::gemm::linear_rows;
use super::kernel::Kernel;
use super::pack::PackedWeights;
use crate::flex_tensor::{f32_storage, from_f32, int8_storage};
use crate::quantize::{Bits, BlockQuantized};

/// `forward`, through the int8 kernels where the layer's weight is int8 on the CPU.
pub trait Int8Forward<const D: usize> {
    fn forward_int8(&self, x: Tensor<D>) -> Tensor<D>;
    /// Whether the weight is one the kernels take (an f32 flex input then runs them).
    fn uses_int8_kernels(&self) -> bool;
}

/// A flex int8 weight blocked along `block_axis` in blocks of 64 (the kernels' layout), read in place.
fn int8_weight<const D: usize>(weight: &Tensor<D>, block_axis: usize) -> Option<FlexQTensor> {
    let DType::QFloat(scheme) = weight.dtype() else {
        return None;
    };
    BlockQuantized::is_layout(&scheme, &weight.dims(), block_axis, Bits::Eight).then(|| int8_storage(weight)).flatten()
}

impl<const D: usize> Int8Forward<D> for Linear {
    fn uses_int8_kernels(&self) -> bool {
        int8_weight(&self.weight.val(), 0).is_some()
    }

    fn forward_int8(&self, x: Tensor<D>) -> Tensor<D> {
        let weight = self.weight.val();
        let bias = self.bias.as_ref().map(|b| b.val());
        let (Some(w), Some(input)) = (int8_weight(&weight, 0), f32_storage(&x)) else {
            return self.forward(x);
        };
        let bias = match bias.as_ref().map(f32_storage) {
            None => None,
            Some(Some(b)) => Some(b),
            Some(None) => return self.forward(x),
        };
        let [k, n] = weight.dims();
        let packed = PackedWeights::linear(w.tensor().as_slice::<i8>().expect("checked"), w.scales(), k, n);
        let values = input.as_slice::<f32>().expect("checked");
        let out = linear_rows(Kernel::detect(), values, k, &packed, bias.as_ref().map(|b| b.as_slice::<f32>().expect("checked")));
        let mut dims = x.dims();
        dims[D - 1] = n;
        from_f32(out, dims)
    }
}

impl Int8Forward<4> for Conv2d {
    fn uses_int8_kernels(&self) -> bool {
        self.groups == 1 && self.dilation == [1, 1] && int8_weight(&self.weight.val(), 1).is_some()
    }

    fn forward_int8(&self, x: Tensor<4>) -> Tensor<4> {
        let weight = self.weight.val();
        let simple = self.groups == 1 && self.dilation == [1, 1];
        let (true, Some(w), Some(input)) = (simple, int8_weight(&weight, 1), f32_storage(&x)) else {
            return self.forward(x);
        };
        let bias = match self.bias.as_ref().map(|b| f32_storage(&b.val())) {
            None => None,
            Some(Some(b)) => Some(b),
            Some(None) => return self.forward(x),
        };
        let input_dims = x.dims();
        let [n, cin, kh, kw] = weight.dims();
        if input_dims[1] != cin {
            return self.forward(x); // burn names the mismatch
        }
        // burn-nn's own `Explicit` order: top, left, bottom, right. `Same` (never in SD) stays burn's.
        let [top, left, bottom, right] = match self.padding {
            PaddingConfig2d::Valid => [0; 4],
            PaddingConfig2d::Explicit(top, left, bottom, right) => [top, left, bottom, right],
            PaddingConfig2d::Same => return self.forward(x),
        };
        let shape = ConvShape { input: input_dims, kernel: [kh, kw], stride: self.stride, padding: [top, bottom, left, right] };
        let packed = PackedWeights::conv(w.tensor().as_slice::<i8>().expect("checked"), w.scales(), [n, cin, kh, kw]);
        let out = conv2d(
            Kernel::detect(),
            input.as_slice::<f32>().expect("checked"),
            shape,
            &packed,
            bias.as_ref().map(|b| b.as_slice::<f32>().expect("checked")),
        );
        let [oh, ow] = shape.output();
        from_f32(out, [input_dims[0], n, oh, ow])
    }
}
