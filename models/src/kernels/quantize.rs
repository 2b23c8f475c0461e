//! Int8 and int4 weights: symmetric, one scale per block of values (llama.cpp's q8_0 and q4_0
//! idea): int8 in blocks of 64 (values -127..=127), int4 in blocks of 32 (-7..=7).
//!
//! We do the arithmetic ourselves (it is a few lines and the booth file stores its result);
//! burn holds the values and dequantises a layer's weight when the layer runs, so a model keeps
//! one byte per weight in memory and only one layer's float weight exists at a time.
//!
//! Blocks run along burn's last axis for Linear and Embedding weights ([in, out] and
//! [tokens, dim]): that is the axis wgpu's packed int8 kernels pack along. Convolution weights
//! [out, in, kh, kw] are blocked along their input channels. The CPU backend holds them as they
//! are; wgpu packs four values along the last axis, which is 3 wide here, so there the values are
//! stored channels-last ([out, kh, kw, in], blocks along the packed axis) and the layer sees a
//! permuted view of them, which burn's wgpu dequantise kernel reads back in place (see
//! [`BlockQuantized::into_tensor`]). int8 keeps one byte per weight in memory; int4 half a byte
//! on wgpu (eight values to a 32-bit word) and one byte on the CPU, whose backend unpacks it.

use burn::tensor::quantization::{QuantScheme, QuantStore, QuantValue, ScaleDtype};
use burn::tensor::{Bytes, DType, Device, Tensor, TensorData};
use half::f16;

/// How many bits a weight value keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bits {
    Eight,
    Four,
}

impl Bits {
    /// Values per scale.
    pub fn block(self) -> usize {
        match self {
            Self::Eight => 64,
            Self::Four => 32,
        }
    }

    /// The largest value (symmetric: the smallest is its negative).
    pub fn max(self) -> f32 {
        match self {
            Self::Eight => 127.0,
            Self::Four => 7.0,
        }
    }

    fn value(self) -> QuantValue {
        match self {
            Self::Eight => QuantValue::Q8S,
            Self::Four => QuantValue::Q4S,
        }
    }

    /// The axis a weight of this shape is blocked along, or `None` where it stays float (biases,
    /// norms, and weights whose blocked axis is not a whole number of blocks, e.g. conv_in's 4
    /// input channels).
    pub fn block_axis(self, shape: &[usize]) -> Option<usize> {
        let block = self.block();
        match shape {
            [_, cols] if cols % block == 0 => Some(1),
            [_, cin, _, _] if cin % block == 0 => Some(1),
            _ => None,
        }
    }
}

/// One weight tensor as small integers and one scale per block.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockQuantized {
    pub shape: Vec<usize>,
    pub axis: usize,
    pub bits: Bits,
    /// One per weight value, within `±bits.max()`.
    pub values: Vec<i8>,
    /// One per block, laid out like the tensor with `shape[axis] / block` along `axis`. Each is
    /// exactly representable in f16, the precision the booth file stores.
    pub scales: Vec<f32>,
}

/// Position of element `index`'s block in the scale grid.
fn block_of(index: usize, shape: &[usize], axis: usize, block: usize) -> usize {
    let inner: usize = shape[axis + 1..].iter().product();
    let dim = shape[axis];
    let outer = index / (dim * inner);
    let along = (index / inner) % dim;
    (outer * (dim / block) + along / block) * inner + index % inner
}

impl BlockQuantized {
    /// Quantises `values` (row-major, `shape`) in blocks along `axis`.
    pub fn quantize(values: &[f32], shape: &[usize], axis: usize, bits: Bits) -> Self {
        let block = bits.block();
        assert_eq!(values.len(), shape.iter().product::<usize>(), "values do not fill {shape:?}");
        assert_eq!(shape[axis] % block, 0, "axis {axis} of {shape:?} is not a whole number of blocks");
        let mut peaks = vec![0f32; values.len() / block];
        for (i, v) in values.iter().enumerate() {
            let peak = &mut peaks[block_of(i, shape, axis, block)];
            *peak = peak.max(v.abs());
        }
        // Round the scale to f16 first, so memory and file hold the scale the values were made with.
        let max = bits.max();
        let scales: Vec<f32> = peaks.iter().map(|p| f16::from_f32(p / max).to_f32()).collect();
        let values = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let s = scales[block_of(i, shape, axis, block)];
                if s == 0.0 {
                    0
                } else {
                    (v / s).round().clamp(-max, max) as i8
                }
            })
            .collect();
        Self { shape: shape.to_vec(), axis, bits, values, scales }
    }

    /// The scale grid's shape: the weight's, with `shape[axis] / block` along `axis`.
    pub fn scale_shape(shape: &[usize], axis: usize, bits: Bits) -> Vec<usize> {
        let mut grid = shape.to_vec();
        grid[axis] /= bits.block();
        grid
    }

    pub fn dequantize(&self) -> Vec<f32> {
        let block = self.bits.block();
        self.values.iter().enumerate().map(|(i, q)| *q as f32 * self.scales[block_of(i, &self.shape, self.axis, block)]).collect()
    }

    /// burn's description of this layout.
    pub fn scheme(&self) -> QuantScheme {
        Self::scheme_for(&self.shape, self.axis, self.bits)
    }

    /// Whether `scheme` is this layout: `bits`, blocks along `axis` of `shape`, whatever the
    /// packing (flex stores one value a byte whatever the scheme's store says).
    pub fn is_layout(scheme: &QuantScheme, shape: &[usize], axis: usize, bits: Bits) -> bool {
        shape[axis] % bits.block() == 0 && *scheme == Self::scheme_for(shape, axis, bits).with_store(scheme.store)
    }

    /// burn's description of a `shape` weight blocked along `axis`.
    pub fn scheme_for(shape: &[usize], axis: usize, bits: Bits) -> QuantScheme {
        let mut block = vec![1u8; shape.len()];
        block[axis] = bits.block() as u8;
        QuantScheme::default().with_value(bits.value()).with_store(QuantStore::PackedU32(0)).per_block(block, ScaleDtype::F32)
    }

    /// The tensor burn holds, in this layout (how the CPU backend keeps every weight).
    pub fn into_tensor_data(self) -> TensorData {
        let scheme = self.scheme();
        match self.bits {
            Bits::Eight => TensorData::quantized(self.values, self.shape, scheme, &self.scales, None),
            Bits::Four => {
                // burn's packed layout: eight values to a little-endian u32, the first in the low
                // bits, then the f32 scales (words, so both stay 4-byte aligned).
                let mut words: Vec<u32> = self
                    .values
                    .chunks(8)
                    .map(|eight| eight.iter().enumerate().fold(0u32, |word, (i, v)| word | ((*v as u32) & 0xF) << (4 * i)))
                    .collect();
                words.extend(self.scales.iter().map(|s| s.to_bits()));
                TensorData::from_bytes(Bytes::from_elems(words), self.shape, DType::QFloat(scheme))
            }
        }
    }

    /// The same weight stored with its blocked axis last; `None` where it is last already.
    fn blocked_axis_last(&self) -> Option<Self> {
        let rank = self.shape.len();
        if self.axis + 1 == rank {
            return None;
        }
        let mut order: Vec<usize> = (0..rank).filter(|a| *a != self.axis).collect();
        order.push(self.axis);
        let (shape, values) = axes_permuted(&self.values, &self.shape, &order);
        let grid = Self::scale_shape(&self.shape, self.axis, self.bits);
        let (_, scales) = axes_permuted(&self.scales, &grid, &order);
        Some(Self { shape, axis: rank - 1, bits: self.bits, values, scales })
    }

    /// The weight as a tensor on `device`, one byte per value. On wgpu a weight blocked along an
    /// inner axis (convolutions) is stored with that axis last and handed out as a permuted view.
    pub fn into_tensor<const D: usize>(self, device: &Device) -> Tensor<D> {
        assert_eq!(self.shape.len(), D, "a {:?} weight is not rank {D}", self.shape);
        let moved = if *device == Device::flex() { None } else { self.blocked_axis_last() };
        match moved {
            None => {
                let data = self.into_tensor_data();
                let dtype = data.dtype();
                Tensor::from_data(data, (device, dtype))
            }
            Some(last) => {
                // Axis `a` of the weight sits at `back[a]` of the channels-last storage.
                let back: [usize; D] = std::array::from_fn(|a| match a {
                    a if a < self.axis => a,
                    a if a == self.axis => D - 1,
                    a => a - 1,
                });
                let data = last.into_tensor_data();
                let dtype = data.dtype();
                Tensor::<D>::from_data(data, (device, dtype)).permute(back)
            }
        }
    }
}

/// A float weight quantised again the way `like` (a weight's scheme) was: int8 or int4 blocks
/// along the same axis, new scales. A LoRA merged into a quantised model keeps it quantised.
pub fn requantize<const D: usize>(weight: Tensor<D>, like: &QuantScheme) -> Tensor<D> {
    let bits = if like.value == QuantValue::Q4S { Bits::Four } else { Bits::Eight };
    let shape = weight.dims();
    // A Linear weight the CPU kernels re-blocked along its inputs stays so.
    if D == 2 && BlockQuantized::is_layout(like, &shape, 0, bits) {
        let device = weight.device();
        let values: Vec<f32> = weight.cast(DType::F32).into_data().try_to_vec().expect("f32 after cast");
        return BlockQuantized::quantize(&values, &shape, 0, bits).into_tensor(&device);
    }
    quantized(weight, bits)
}

/// A float tensor quantised to `bits` on its device, or as it is where its shape is not a whole
/// number of blocks.
pub(crate) fn quantized<const D: usize>(weight: Tensor<D>, bits: Bits) -> Tensor<D> {
    let shape = weight.dims().to_vec();
    let Some(axis) = bits.block_axis(&shape) else {
        return weight;
    };
    let device = weight.device();
    let values: Vec<f32> = weight.cast(DType::F32).into_data().try_to_vec().expect("f32 after cast");
    BlockQuantized::quantize(&values, &shape, axis, bits).into_tensor(&device)
}

/// `values` of row-major `shape` rearranged so that axis `order[j]` becomes axis `j`.
fn axes_permuted<T: Copy>(values: &[T], shape: &[usize], order: &[usize]) -> (Vec<usize>, Vec<T>) {
    let rank = shape.len();
    let new_shape: Vec<usize> = order.iter().map(|a| shape[*a]).collect();
    let strides: Vec<usize> = (0..rank).map(|a| shape[a + 1..].iter().product()).collect();
    let mut out = Vec::with_capacity(values.len());
    let mut index = vec![0usize; rank];
    for _ in 0..values.len() {
        out.push(values[order.iter().zip(&index).map(|(a, i)| strides[*a] * i).sum::<usize>()]);
        for d in (0..rank).rev() {
            index[d] += 1;
            if index[d] < new_shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    (new_shape, out)
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Distribution, Tensor};

    use super::*;

    fn pseudo_random(n: usize) -> Vec<f32> {
        (0..n).map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * if i % 97 == 0 { 8.0 } else { 1.0 }).collect()
    }

    #[test]
    fn error_is_at_most_half_a_step_of_each_block() {
        for ((shape, axis), bits) in
            [(vec![3, 128], 1), (vec![2, 64, 3, 3], 1)].into_iter().flat_map(|s| [(s.clone(), Bits::Eight), (s, Bits::Four)])
        {
            let x = pseudo_random(shape.iter().product());
            let q = BlockQuantized::quantize(&x, &shape, axis, bits);
            assert_eq!(q.scales.len(), x.len() / bits.block());
            assert!(q.values.iter().all(|v| (*v as f32).abs() <= bits.max()));
            for (i, (a, b)) in x.iter().zip(q.dequantize()).enumerate() {
                let step = q.scales[block_of(i, &shape, axis, bits.block())];
                assert!((a - b).abs() <= step * 0.5 + 1e-6, "{shape:?}[{i}]: {a} became {b} (step {step})");
            }
        }
    }

    #[test]
    fn conv_blocks_run_along_input_channels() {
        // [out 1, in 128, 1, 2]: channel c at position p belongs to block c / 64 at p.
        let shape = [1, 128, 1, 2];
        assert_eq!(block_of(0, &shape, 1, 64), 0);
        assert_eq!(block_of(1, &shape, 1, 64), 1);
        assert_eq!(block_of(2 * 63, &shape, 1, 64), 0);
        assert_eq!(block_of(2 * 64, &shape, 1, 64), 2);
        assert_eq!(block_of(2 * 64 + 1, &shape, 1, 64), 3);
        assert_eq!(block_of(2 * 32, &shape, 1, 32), 2);
        assert_eq!(Bits::Eight.block_axis(&[320, 4, 3, 3]), None);
        assert_eq!(Bits::Eight.block_axis(&[320]), None);
        assert_eq!(Bits::Eight.block_axis(&[768, 320]), Some(1));
        assert_eq!(Bits::Eight.block_axis(&[768, 32, 3, 3]), None);
        assert_eq!(Bits::Four.block_axis(&[768, 32, 3, 3]), Some(1));
    }

    #[test]
    fn burn_dequantises_our_layout_exactly() {
        let device = Device::flex();
        let x = Tensor::<2>::random([128, 192], Distribution::Normal(0.0, 1.0), &device);
        let values: Vec<f32> = x.into_data().try_to_vec().unwrap();
        for bits in [Bits::Eight, Bits::Four] {
            let q = BlockQuantized::quantize(&values, &[128, 192], 1, bits);
            let ours = q.dequantize();
            let theirs: Vec<f32> = q.into_tensor::<2>(&device).dequantize().into_data().try_to_vec().unwrap();
            assert_eq!(ours, theirs, "{bits:?}");
        }
    }
}
