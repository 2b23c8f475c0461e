//! burn's layers through Keepsake's CPU kernels, on flex only: int8 weights through the integer
//! kernels ([`crate::kernels::int8`], read in place, no copy), f32 3x3 stride-1 convolutions through
//! [`crate::kernels::winograd_cpu`], other f32 stride-1 ones through [`crate::kernels::conv_cpu`], GroupNorm (and GroupNorm then SiLU) through [`crate::kernels::group_norm_cpu`].
//! Anything they do not cover goes to burn's own op (GPUs, int4, groups,
//! dilation, `Same` padding, strided or tiny convolutions).

use burn::nn::conv::Conv2d;
use burn::nn::{GroupNorm, Linear, PaddingConfig2d};
use burn::tensor::activation::silu;
use burn::tensor::{DType, Tensor};
use burn_flex::FlexQTensor;

use crate::kernels::conv_cpu::{self, ConvShape};
use crate::kernels::flex_tensor::{f32_storage, from_f32, int8_storage};
use crate::kernels::group_norm_cpu::{group_norm, GroupNormShape};
use crate::kernels::int8::{conv2d as int8_conv2d, linear_rows, Kernel, PackedWeights};
use crate::kernels::quantize::{Bits, BlockQuantized};
use crate::kernels::winograd_cpu;

/// `forward`, through the CPU kernels where they cover the layer (see the module).
pub trait CpuForward<const D: usize> {
    fn forward_cpu(&self, x: Tensor<D>) -> Tensor<D>;
    /// Whether the weight is one the int8 kernels take (an f32 flex input then runs them).
    fn uses_int8_kernels(&self) -> bool;
}

/// A flex int8 weight blocked along `block_axis` in blocks of 64 (the kernels' layout), read in place.
fn int8_weight<const D: usize>(weight: &Tensor<D>, block_axis: usize) -> Option<FlexQTensor> {
    let DType::QFloat(scheme) = weight.dtype() else {
        return None;
    };
    BlockQuantized::is_layout(&scheme, &weight.dims(), block_axis, Bits::Eight).then(|| int8_storage(weight)).flatten()
}

impl<const D: usize> CpuForward<D> for Linear {
    fn uses_int8_kernels(&self) -> bool {
        int8_weight(&self.weight.val(), 0).is_some()
    }

    fn forward_cpu(&self, x: Tensor<D>) -> Tensor<D> {
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

impl CpuForward<4> for Conv2d {
    fn uses_int8_kernels(&self) -> bool {
        self.groups == 1 && self.dilation == [1, 1] && int8_weight(&self.weight.val(), 1).is_some()
    }

    fn forward_cpu(&self, x: Tensor<4>) -> Tensor<4> {
        let Some(shape) = conv_shape(self, &x) else {
            return self.forward(x);
        };
        let (weight, input) = (self.weight.val(), f32_storage(&x));
        let bias = match self.bias.as_ref().map(|b| f32_storage(&b.val())) {
            None => None,
            Some(Some(b)) => Some(b),
            Some(None) => return self.forward(x),
        };
        let bias = bias.as_ref().map(|b| b.as_slice::<f32>().expect("checked"));
        let [n, cin, kh, kw] = weight.dims();
        let [oh, ow] = shape.output();
        let out = match (int8_weight(&weight, 1), f32_storage(&weight), input) {
            (Some(w), _, Some(input)) => {
                let packed = PackedWeights::conv(w.tensor().as_slice::<i8>().expect("checked"), w.scales(), [n, cin, kh, kw]);
                int8_conv2d(Kernel::detect(), input.as_slice::<f32>().expect("checked"), shape, &packed, bias)
            }
            (None, Some(w), Some(input)) if winograd_cpu::covers(&shape) => {
                winograd_cpu::conv2d(input.as_slice::<f32>().expect("checked"), shape, w.as_slice::<f32>().expect("checked"), n, bias)
            }
            (None, Some(w), Some(input)) if conv_cpu::covers(&shape) => {
                conv_cpu::conv2d(input.as_slice::<f32>().expect("checked"), shape, w.as_slice::<f32>().expect("checked"), n, bias)
            }
            _ => return self.forward(x),
        };
        from_f32(out, [shape.input[0], n, oh, ow])
    }
}

/// `layer`'s geometry for an input `x`, None where the CPU kernels never take the layer.
fn conv_shape(layer: &Conv2d, x: &Tensor<4>) -> Option<ConvShape> {
    let input = x.dims();
    let [_, cin, kh, kw] = layer.weight.dims();
    // A channel mismatch goes to burn, which names it.
    if layer.groups != 1 || layer.dilation != [1, 1] || input[1] != cin {
        return None;
    }
    // burn-nn's own `Explicit` order: top, left, bottom, right. `Same` (never in SD) stays burn's.
    let [top, left, bottom, right] = match layer.padding {
        PaddingConfig2d::Valid => [0; 4],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [top, left, bottom, right],
        PaddingConfig2d::Same => return None,
    };
    // An empty batch or a picture smaller than the kernel: burn answers (and names it).
    if input[0] == 0 || input[2] + top + bottom < kh || input[3] + left + right < kw || layer.stride.contains(&0) {
        return None;
    }
    Some(ConvShape { input, kernel: [kh, kw], stride: layer.stride, padding: [top, bottom, left, right] })
}

/// burn's GroupNorm through [`crate::kernels::group_norm_cpu`] on flex f32, burn's own ops elsewhere.
pub trait GroupNormCpu<const D: usize> {
    fn forward_cpu(&self, x: Tensor<D>) -> Tensor<D>;
    /// `silu(self.forward(x))` in one pass on the CPU.
    fn forward_then_silu(&self, x: Tensor<D>) -> Tensor<D>;
}

impl<const D: usize> GroupNormCpu<D> for GroupNorm {
    fn forward_cpu(&self, x: Tensor<D>) -> Tensor<D> {
        group_norm_on_cpu(self, &x, false).unwrap_or_else(|| self.forward(x))
    }

    fn forward_then_silu(&self, x: Tensor<D>) -> Tensor<D> {
        group_norm_on_cpu(self, &x, true).unwrap_or_else(|| silu(self.forward(x)))
    }
}

/// `norm` (then SiLU if `silu`) through the kernel; None where the kernel does not take it
/// (another backend or type, a channel mismatch burn names, fewer than 3 dims).
fn group_norm_on_cpu<const D: usize>(norm: &GroupNorm, x: &Tensor<D>, silu: bool) -> Option<Tensor<D>> {
    let dims = x.dims();
    if D < 3 || dims[1] != norm.num_channels {
        return None;
    }
    let input = f32_storage(x)?;
    let affine = match (norm.affine, &norm.gamma, &norm.beta) {
        (true, Some(g), Some(b)) => Some((f32_storage(&g.val())?, f32_storage(&b.val())?)),
        (true, _, _) => return None, // burn names the missing parameter
        (false, _, _) => None,
    };
    let shape = GroupNormShape { batch: dims[0], channels: dims[1], spatial: dims[2..].iter().product(), groups: norm.num_groups };
    let affine = affine.as_ref().map(|(g, b)| (g.as_slice::<f32>().expect("checked"), b.as_slice::<f32>().expect("checked")));
    let out = group_norm(input.as_slice::<f32>().expect("checked"), shape, norm.epsilon, affine, silu);
    Some(from_f32(out, dims))
}

#[cfg(test)]
mod tests {
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::{Device, Tensor};

    use super::conv_shape;

    #[test]
    fn pictures_smaller_than_the_kernel_and_empty_batches_stay_burns() {
        // The kernels' geometry would underflow (and their unsafe GEMMs read out of bounds in a
        // release build, where the subtraction wraps): burn's op answers for these instead.
        let device = Device::flex();
        let layer = Conv2dConfig::new([8, 8], [3, 3]).init(&device);
        assert!(conv_shape(&layer, &Tensor::<4>::zeros([1, 8, 4, 4], &device)).is_some());
        assert!(conv_shape(&layer, &Tensor::<4>::zeros([1, 8, 2, 5], &device)).is_none(), "2 rows, 3x3, no padding");
        assert!(conv_shape(&layer, &Tensor::<4>::zeros([1, 8, 5, 2], &device)).is_none(), "2 columns");
        assert!(conv_shape(&layer, &Tensor::<4>::zeros([0, 8, 4, 4], &device)).is_none(), "an empty batch");
        assert!(conv_shape(&layer, &Tensor::<4>::zeros([1, 4, 4, 4], &device)).is_none(), "4 channels into 8");
    }
}
