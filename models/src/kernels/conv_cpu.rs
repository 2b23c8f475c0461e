//! A stride-1 2-D convolution in f32 for the CPU without an unfolded input: the picture is laid
//! out channels-last with its padding (`[batch, h + pads, w + pads, c]`), and then, for a kernel row
//! `ky`, the taps of output pixel `q` (counted over the padded width) are the `kw * c` consecutive
//! values from pixel `q + ky * padded_width` on. So each kernel row is one GEMM whose left matrix
//! is the padded picture itself read with a row stride of `c` (rows overlap), and the convolution
//! is `kh` GEMMs summed into one output, with no im2col matrix. (Large weights skip turning
//! themselves into rows of taps: one GEMM per tap, reading them as burn holds them.)
//!
//! burn-flex's own conv builds an im2col tile per 4096 pixels and turns the picture channels-last
//! and the weights around on one thread per call; at SD's sizes that costs more than its GEMM
//! (see docs/BENCHMARKS.md). The columns between the last output pixel of a row and the first of
//! the next are computed too and dropped: 2 of 66 at 64 wide. Each picture of a batch is its own
//! set of GEMMs, written where its output goes and compacted there (no second output buffer).
//!
//! 3x3 convolutions from 8 channels in (nearly all of SD's) go to [`crate::kernels::winograd_cpu`]
//! instead, which needs 2.25x fewer multiply-adds; this one takes the rest (other kernel sizes,
//! and the thin 3- and 4-channel inputs at a model's ends).

use gemm::{gemm, Parallelism};
use rayon::prelude::*;

/// A convolution's geometry as the CPU kernels take it (groups 1, dilation 1: every convolution
/// of SD's models).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    /// `[batch, channels, height, width]` of the input.
    pub input: [usize; 4],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// Top, bottom, left, right.
    pub padding: [usize; 4],
}

impl ConvShape {
    pub fn output(&self) -> [usize; 2] {
        let [_, _, h, w] = self.input;
        let [t, b, l, r] = self.padding;
        [(h + t + b - self.kernel[0]) / self.stride[0] + 1, (w + l + r - self.kernel[1]) / self.stride[1] + 1]
    }
}

/// Whether [`conv2d`] takes a convolution of this shape: stride 1 (the three strided
/// downsamplers stay burn's), wider than 1x1 (burn multiplies those in place, NCHW), and a padded
/// picture at most a fifth larger than the output (from 32x32 on at 3x3), since the padding's
/// pixels are computed too.
pub fn covers(shape: &ConvShape) -> bool {
    let [_, _, h, w] = shape.input;
    let [top, bottom, left, right] = shape.padding;
    let [oh, ow] = shape.output();
    shape.stride == [1, 1] && shape.kernel != [1, 1] && 5 * (h + top + bottom) * (w + left + right) <= 6 * oh * ow
}

/// Weights at most this many per tap are turned into rows of taps (`[kh][kw][c][n]`) first, so
/// the convolution is `kh` GEMMs over `kw * c` values; larger ones (from 362x362 channels) are read
/// as burn holds them, one GEMM per tap. Turning a weight around costs about what its GEMM saves
/// by writing the output 3 times instead of 9, and that saving shrinks as the picture does.
const ROWS_OF_TAPS_UP_TO: usize = 1 << 17;

/// `x` (NCHW, `shape.input`, covered by [`covers`]) convolved with `w` (`[n, c, kh, kw]`, as
/// burn holds it) plus `bias`: NCHW `[batch, n, oh, ow]`.
pub fn conv2d(x: &[f32], shape: ConvShape, w: &[f32], n: usize, bias: Option<&[f32]>) -> Vec<f32> {
    assert!(covers(&shape), "conv_cpu::conv2d does not take {shape:?}");
    let [batch, c, h, width] = shape.input;
    let [kh, kw] = shape.kernel;
    let [top, bottom, left, right] = shape.padding;
    let taps = kh * kw;
    assert_eq!(w.len(), taps * c * n, "a {shape:?} input against {} weights for {n} outputs", w.len());
    let (ph, pw) = (h + top + bottom, width + left + right);
    let [oh, ow] = shape.output();

    let padded = channels_last_padded(x, shape);
    // Output pixel q of a picture = oy * pw + ox, counted over the padded width; the last one
    // needed is (oh - 1, ow - 1).
    let m = (oh - 1) * pw + ow;
    let plane = oh * ow;
    // Picture b's sums, column-major (each output channel's pixels consecutive: the layout gemm's
    // kernel writes), go where its output will be, running into the next picture's place; they
    // are compacted to `[n, oh, ow]` before the next picture is computed over the rest.
    let mut out = vec![0f32; (batch - 1) * n * plane + n * m];
    let rows = (c * n <= ROWS_OF_TAPS_UP_TO).then(|| rows_of_taps(w, [n, c, kh, kw]));
    for b in 0..batch {
        let sums = &mut out[b * n * plane..][..n * m];
        let picture = &padded[b * ph * pw * c..(b + 1) * ph * pw * c];
        // One GEMM: rows of `k` taps from pixel offset `shift`, weights `[k, n]` at `rhs` with
        // the given strides, added to `sums` after the first.
        let mut product = |first: bool, shift: usize, k: usize, rhs: *const f32, rhs_rs: usize, rhs_cs: usize| {
            // SAFETY: row q of the left matrix reads values (q + shift) * c .. + k, within the
            // padded picture for every shift below (the last row's last tap is its last value);
            // the right matrix lies in `w` or its rows of taps; `sums` holds n columns of m.
            unsafe {
                gemm(
                    m,
                    n,
                    k,
                    sums.as_mut_ptr(),
                    m as isize,
                    1,
                    !first,
                    picture.as_ptr().add(shift * c),
                    1,
                    c as isize,
                    rhs,
                    rhs_cs as isize,
                    rhs_rs as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    Parallelism::Rayon(0),
                )
            }
        };
        match &rows {
            // Kernel row ky: the kw taps of pixel q are the kw * c values from pixel q + ky * pw on.
            Some(rows) => {
                for ky in 0..kh {
                    product(ky == 0, ky * pw, kw * c, rows[ky * kw * c * n..].as_ptr(), n, 1);
                }
            }
            None => {
                for tap in 0..taps {
                    let (ky, kx) = (tap / kw, tap % kw);
                    // Weight (co, ci) of this tap: w[(co * c + ci) * taps + tap].
                    product(tap == 0, ky * pw + kx, c, w[tap..].as_ptr(), taps, c * taps);
                }
            }
        }
        compact_in_place(sums, [n, m], [oh, ow, pw], bias);
    }
    out.truncate(batch * n * plane);
    out
}

/// One picture's sums (`n` columns of `m` pixels counted over the padded width `pw`) become its
/// NCHW output `[n, oh, ow]` plus the bias, at the front of the same buffer: each value moves to
/// an index no larger than its own, so one forward pass never overwrites a value it has yet to
/// read. That saves a second output-sized buffer, mapped and faulted in afresh per convolution
/// (134 MB for the VAE's last layers at 512x512), and its copy.
fn compact_in_place(sums: &mut [f32], [n, m]: [usize; 2], [oh, ow, pw]: [usize; 3], bias: Option<&[f32]>) {
    for co in 0..n {
        let add = bias.map_or(0.0, |bias| bias[co]);
        for oy in 0..oh {
            let (from, to) = (co * m + oy * pw, (co * oh + oy) * ow);
            debug_assert!(to <= from);
            sums.copy_within(from..from + ow, to);
            sums[to..to + ow].iter_mut().for_each(|v| *v += add);
        }
    }
}

/// The weights `[n, c, kh, kw]` as rows of taps, `[kh][kw][c][n]`, in blocks of 64 outputs so
/// the reads of a block stay in a few pages.
fn rows_of_taps(w: &[f32], [n, c, kh, kw]: [usize; 4]) -> Vec<f32> {
    let taps = kh * kw;
    let mut out = vec![0f32; w.len()];
    out.par_chunks_mut(c * n).enumerate().for_each(|(tap, out)| {
        for co0 in (0..n).step_by(64) {
            for (ci, out) in out.chunks_exact_mut(n).enumerate() {
                for (co, o) in out.iter_mut().enumerate().skip(co0).take(64) {
                    *o = w[(co * c + ci) * taps + tap];
                }
            }
        }
    });
    out
}

/// `x` NCHW as `[batch, h + top + bottom, w + left + right, c]` with zeros around.
fn channels_last_padded(x: &[f32], shape: ConvShape) -> Vec<f32> {
    let [batch, c, h, w] = shape.input;
    let [top, bottom, left, right] = shape.padding;
    let (ph, pw) = (h + top + bottom, w + left + right);
    let mut out = vec![0f32; batch * ph * pw * c];
    out.par_chunks_mut(pw * c).enumerate().for_each(|(row, out)| {
        let (b, py) = (row / ph, row % ph);
        let Some(y) = py.checked_sub(top).filter(|y| *y < h) else {
            return;
        };
        // Eight channels at a time: each source row is read once, the stores stay in a few lines.
        for ch0 in (0..c).step_by(8) {
            let chans = (c - ch0).min(8);
            for px in 0..w {
                let dst = &mut out[(left + px) * c + ch0..][..chans];
                for (i, d) in dst.iter_mut().enumerate() {
                    *d = x[((b * c + ch0 + i) * h + y) * w + px];
                }
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use burn::nn::conv::{Conv2d, Conv2dConfig};
    use burn::nn::PaddingConfig2d;
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;
    use crate::kernels::cpu_layers::CpuForward;
    use crate::kernels::flex_tensor::f32_storage;
    use crate::kernels::winograd_cpu;

    use crate::test_support::{assert_within_1e5, floats};

    fn layer(c: usize, n: usize, kernel: usize, padding: [usize; 4], device: &Device) -> Conv2d {
        let [top, left, bottom, right] = padding;
        Conv2dConfig::new([c, n], [kernel, kernel]).with_padding(PaddingConfig2d::Explicit(top, left, bottom, right)).init(device)
    }

    /// Ours against burn's op, within 1e-5 of the output's largest value.
    fn check(case: &str, layer: &Conv2d, input: [usize; 4], padding: [usize; 4]) {
        let device = Device::flex();
        let x = Tensor::<4>::random(input, Distribution::Normal(0.0, 1.0), &device);
        let [top, left, bottom, right] = padding;
        let [n, _, kh, kw] = layer.weight.dims();
        let shape = ConvShape { input, kernel: [kh, kw], stride: [1, 1], padding: [top, bottom, left, right] };
        assert!(covers(&shape), "{case}: not a covered shape");
        let (w, b) = (f32_storage(&layer.weight.val()).unwrap(), f32_storage(&layer.bias.as_ref().unwrap().val()).unwrap());
        let ours = conv2d(f32_storage(&x).unwrap().as_slice().unwrap(), shape, w.as_slice().unwrap(), n, Some(b.as_slice().unwrap()));
        let burns = floats(layer.forward(x.clone()));
        assert_within_1e5(case, &ours, &burns);
        // The layer's CPU forward takes this path where Winograd's (3x3) does not.
        if !winograd_cpu::covers(&shape) {
            assert_eq!(floats(layer.forward_cpu(x)), ours, "{case}: forward_cpu did not run conv_cpu");
        }
    }

    #[test]
    fn matches_burns_convolution_with_rows_of_taps() {
        let device = Device::flex();
        for (case, c, n, input, padding) in [
            ("a resnet conv, batch 2", 16, 24, [2, 16, 24, 24], [1, 1, 1, 1]),
            ("3 channels in, like conv_in", 3, 32, [1, 3, 32, 32], [1, 1, 1, 1]),
            ("uneven padding, not square", 8, 8, [1, 8, 30, 40], [1, 0, 2, 1]),
            ("no padding", 8, 16, [1, 8, 40, 40], [0, 0, 0, 0]),
        ] {
            check(case, &layer(c, n, 3, padding, &device), input, padding);
        }
        check("5x5", &layer(8, 8, 5, [2; 4], &device), [1, 8, 48, 48], [2; 4]);
    }

    #[test]
    fn matches_burns_convolution_with_one_product_per_tap() {
        let device = Device::flex();
        assert!(384 * 352 > ROWS_OF_TAPS_UP_TO);
        check("weights read as burn holds them", &layer(384, 352, 3, [1; 4], &device), [1, 384, 32, 32], [1; 4]);
    }

    #[test]
    fn leaves_strided_tiny_and_pointwise_convolutions_to_burn() {
        let shape = |input: usize, kernel: usize, stride: usize| ConvShape {
            input: [1, 8, input, input],
            kernel: [kernel, kernel],
            stride: [stride, stride],
            padding: [kernel / 2; 4],
        };
        assert!(covers(&shape(32, 3, 1)));
        assert!(!covers(&shape(32, 3, 2)), "a downsampler");
        assert!(!covers(&shape(16, 3, 1)), "16x16: a quarter of the products would be padding");
        assert!(!covers(&shape(64, 1, 1)), "1x1");
    }
}
