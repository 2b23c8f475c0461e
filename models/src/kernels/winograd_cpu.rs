//! 3x3 stride-1 convolutions in f32 for the CPU by Winograd's minimal filtering, F(2x2, 3x3)
//! (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): each 2x2 block of
//! output pixels comes from the 4x4 input window around it, and in the transformed domain the
//! 3x3 kernel's 36 multiply-adds per block and channel pair become 16, one per transform point.
//! Those 16 products over all channel pairs are 16 GEMMs, `[tiles, c] x [c, n]`; the transforms
//! are additions and halvings only (no large constants, so the rounding stays near direct
//! summation's: within 1e-5 of the largest output in the tests).
//!
//! Every 3x3 convolution of SD's UNet, VAE, TAESD and ControlNet is stride 1 except the
//! downsamplers. A direct convolution already runs near this CPU's f32 peak (and so does
//! PyTorch's), so the 2.25x fewer multiply-adds are what makes a VAE decode faster than PyTorch's
//! (see docs/BENCHMARKS.md).
//!
//! The work goes in chunks of whole tile rows (2 output rows each) per picture, one chunk per
//! rayon task with its own single-threaded GEMMs, sized so a chunk's transformed inputs stay near
//! 1 MB (one core's L2): transform a chunk's input, 16 GEMMs, transform back into the NCHW
//! output's rows, which no other chunk writes.

use gemm::{gemm, Parallelism};
use rayon::prelude::*;

use crate::kernels::conv_cpu::ConvShape;
use crate::kernels::disjoint_out::DisjointOut;

/// Transform points per tile (a 4x4 window).
const POINTS: usize = 16;

/// About this many `c * tiles` values of transformed input per chunk (4 bytes each, 16 points:
/// 512 KiB, half a core's L2; twice that measured the same or slower, as did chunks sized to
/// the weights).
const CHUNK_VALUES: usize = 8 * 1024;

/// At least this many tiles in a GEMM: fewer leave most of the kernel's 64-row panels empty.
const MIN_TILES: usize = 64;

/// At least this many input channels: with fewer (a UNet's or VAE decoder's 4 latent channels,
/// a picture's 3) the GEMMs are too thin to pay for the transforms, and the direct convolution
/// measured faster.
const MIN_CHANNELS: usize = 8;

/// Whether [`conv2d`] takes a convolution of this shape: 3x3, stride 1, at least
/// [`MIN_CHANNELS`] in and at least [`MIN_TILES`] 2x2 output blocks per picture (from 16x16 on;
/// smaller ones stay burn's).
pub fn covers(shape: &ConvShape) -> bool {
    let [oh, ow] = shape.output();
    shape.kernel == [3, 3] && shape.stride == [1, 1] && shape.input[1] >= MIN_CHANNELS && oh.div_ceil(2) * ow.div_ceil(2) >= MIN_TILES
}

/// `x` (NCHW, `shape.input`) convolved with `w` (`[n, c, 3, 3]`, as burn holds it) plus `bias`:
/// NCHW `[batch, n, oh, ow]`. Right for every 3x3 stride-1 shape; [`covers`] says where it is
/// also the fastest.
pub fn conv2d(x: &[f32], shape: ConvShape, w: &[f32], n: usize, bias: Option<&[f32]>) -> Vec<f32> {
    assert!(shape.kernel == [3, 3] && shape.stride == [1, 1], "winograd_cpu::conv2d does not take {shape:?}");
    let [batch, c, h, width] = shape.input;
    assert_eq!(w.len(), 9 * c * n, "a {shape:?} input against {} weights for {n} outputs", w.len());
    assert_eq!(x.len(), batch * c * h * width, "{shape:?} against {} values", x.len());
    let [oh, ow] = shape.output();
    let tiles = Tiles { rows: oh.div_ceil(2), columns: ow.div_ceil(2) };
    let u = transformed_weights(w, n, c);
    let rows_per_chunk = (CHUNK_VALUES / c.max(1)).max(MIN_TILES).div_ceil(tiles.columns).min(tiles.rows);
    let chunks = tiles.rows.div_ceil(rows_per_chunk);

    let mut out = vec![0f32; batch * n * oh * ow];
    let target = DisjointOut::new(&mut out);
    (0..batch * chunks).into_par_iter().for_each(|job| {
        SCRATCH.with_borrow_mut(|scratch| {
            let (b, chunk) = (job / chunks, job % chunks);
            let first_row = chunk * rows_per_chunk;
            let rows = rows_per_chunk.min(tiles.rows - first_row);
            let count = rows * tiles.columns;
            let picture = &x[b * c * h * width..][..c * h * width];
            scratch.v.resize(POINTS * c * count, 0.0);
            scratch.m.resize(POINTS * n * count, 0.0);
            transform_input(picture, shape, tiles, first_row..first_row + rows, &mut scratch.v, &mut scratch.rows);
            for point in 0..POINTS {
                // SAFETY: M_point is `count x n` column-major in `m`, V_point `count x c` column-major
                // in `v`, U_point `c x n` with each column's c values consecutive in `u`.
                unsafe {
                    gemm(
                        count,
                        n,
                        c,
                        scratch.m[point * n * count..].as_mut_ptr(),
                        count as isize,
                        1,
                        false,
                        scratch.v[point * c * count..].as_ptr(),
                        count as isize,
                        1,
                        u[point * n * c..].as_ptr(),
                        c as isize,
                        1,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        Parallelism::None,
                    )
                }
            }
            let output = Output { target: &target, picture: b, n, oh, ow };
            transform_output(&scratch.m, output, tiles, first_row..first_row + rows, bias);
        })
    });
    out
}

/// The 2x2 output blocks of one picture: `rows x columns`, the last row or column cut short
/// when the output's side is odd.
#[derive(Clone, Copy)]
struct Tiles {
    rows: usize,
    columns: usize,
}

thread_local! {
    /// Each thread's buffers, kept from chunk to chunk and call to call (a few MB; allocating
    /// them per chunk mapped and faulted them in afresh each time).
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// One thread's buffers for a chunk.
#[derive(Default)]
struct Scratch {
    /// Transformed input, `[point][c][tile]`.
    v: Vec<f32>,
    /// The GEMMs' products, `[point][n][tile]`.
    m: Vec<f32>,
    /// Input rows transformed along their width, `[row][4][column]`.
    rows: Vec<f32>,
}

/// The output picture a chunk writes its rows of.
struct Output<'a> {
    target: &'a DisjointOut,
    picture: usize,
    n: usize,
    oh: usize,
    ow: usize,
}

/// `U = G g Gᵀ` of every 3x3 kernel `g`, as `[point][n][c]`; G's rows are (1, 0, 0),
/// (½, ½, ½), (½, -½, ½), (0, 0, 1). Per call, in parallel over the outputs: kept beside the
/// weights it would take 16/9 of their memory again (2.4 GB for an f32 UNet), and it costs a few
/// percent of the GEMMs at most (the 1280-channel ones at 32x32).
fn transformed_weights(w: &[f32], n: usize, c: usize) -> Vec<f32> {
    let mut u = vec![0f32; POINTS * n * c];
    let target = DisjointOut::new(&mut u);
    let g_times = |a: f32, b: f32, c: f32| [a, 0.5 * (a + b + c), 0.5 * (a - b + c), c];
    (0..n).into_par_iter().for_each(|co| {
        // SAFETY: output co's c values of each point are written by this task only.
        let rows: [&mut [f32]; POINTS] = std::array::from_fn(|point| unsafe { target.slice((point * n + co) * c, c) });
        for ci in 0..c {
            let g = &w[(co * c + ci) * 9..][..9];
            // G g: 4 rows of 3, one column at a time.
            let columns: [[f32; 4]; 3] = std::array::from_fn(|s| g_times(g[s], g[3 + s], g[6 + s]));
            for i in 0..4 {
                // (G g) Gᵀ: row i of G g through G.
                let row = g_times(columns[0][i], columns[1][i], columns[2][i]);
                for (j, value) in row.into_iter().enumerate() {
                    rows[i * 4 + j][ci] = value;
                }
            }
        }
    });
    u
}

/// `V = Bᵀ d B` of every 4x4 window `d` of the chunk's tile rows, as `[point][c][tile]`
/// (tiles row by row); Bᵀ's rows are (1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1).
fn transform_input(picture: &[f32], shape: ConvShape, tiles: Tiles, tile_rows: std::ops::Range<usize>, v: &mut [f32], rows: &mut Vec<f32>) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: AVX-512F is present.
        return unsafe { transform_input_avx512(picture, shape, tiles, tile_rows, v, rows) };
    }
    transform_input_body(picture, shape, tiles, tile_rows, v, rows)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn transform_input_avx512(
    picture: &[f32],
    shape: ConvShape,
    tiles: Tiles,
    tile_rows: std::ops::Range<usize>,
    v: &mut [f32],
    rows: &mut Vec<f32>,
) {
    transform_input_body(picture, shape, tiles, tile_rows, v, rows)
}

/// [`transform_input`]'s arithmetic, compiled once per instruction set.
#[inline(always)]
fn transform_input_body(
    picture: &[f32],
    shape: ConvShape,
    tiles: Tiles,
    tile_rows: std::ops::Range<usize>,
    v: &mut [f32],
    rows: &mut Vec<f32>,
) {
    let [_, c, h, width] = shape.input;
    let [top, _, left, _] = shape.padding;
    let tx = tiles.columns;
    let count = tile_rows.len() * tx;
    // Padded input rows 2 * first .. 2 * last + 4 of the windows.
    let row_count = 2 * tile_rows.len() + 2;
    rows.resize(row_count * 4 * tx, 0.0);
    let (mut even, mut odd) = (vec![0f32; tx + 1], vec![0f32; tx + 1]);
    for ci in 0..c {
        let plane = &picture[ci * h * width..][..h * width];
        for r in 0..row_count {
            // Padded row 2 * first + r is input row 2 * first + r - top (zeros outside).
            even.fill(0.0);
            odd.fill(0.0);
            if let Some(y) = (2 * tile_rows.start + r).checked_sub(top).filter(|y| *y < h) {
                // Padded column p is input column p - left: even p to `even[p / 2]`, odd to
                // `odd[p / 2]`, each a stride-2 copy (which vectorises; a branch per value did not).
                let row = &plane[y * width..][..width];
                for (half, parity) in [(&mut even, 0), (&mut odd, 1)] {
                    // The first input column whose padded column has this parity.
                    let x0 = (parity + 2 - left % 2) % 2;
                    if x0 < width {
                        let to = &mut half[(x0 + left) / 2..];
                        for (o, value) in to.iter_mut().zip(row[x0..].iter().step_by(2)) {
                            *o = *value;
                        }
                    }
                }
            }
            // d B along the row: window tx holds padded columns 2 tx .. 2 tx + 4.
            let out = &mut rows[r * 4 * tx..][..4 * tx];
            let (h0, rest) = out.split_at_mut(tx);
            let (h1, rest) = rest.split_at_mut(tx);
            let (h2, h3) = rest.split_at_mut(tx);
            let (e0, e1, o0, o1) = (&even[..tx], &even[1..], &odd[..tx], &odd[1..]);
            for t in 0..tx {
                h0[t] = e0[t] - e1[t];
                h1[t] = o0[t] + e1[t];
                h2[t] = e1[t] - o0[t];
                h3[t] = o0[t] - o1[t];
            }
        }
        // Bᵀ (d B) down the columns: tile row k's window starts at row 2 k of the chunk.
        for k in 0..tile_rows.len() {
            for j in 0..4 {
                let d = |i: usize| &rows[((2 * k + i) * 4 + j) * tx..][..tx];
                let (d0, d1, d2, d3) = (d(0), d(1), d(2), d(3));
                for (i, (a, b, sign)) in [(d0, d2, -1.0), (d1, d2, 1.0), (d2, d1, -1.0), (d1, d3, -1.0)].into_iter().enumerate() {
                    let out = &mut v[((i * 4 + j) * c + ci) * count + k * tx..][..tx];
                    for ((o, a), b) in out.iter_mut().zip(a).zip(b) {
                        *o = a + sign * b;
                    }
                }
            }
        }
    }
}

/// `Y = Aᵀ M A` of every tile's 4x4 products plus the bias, into the output rows of the
/// chunk's tile rows; Aᵀ's rows are (1, 1, 1, 0) and (0, 1, -1, -1).
fn transform_output(m: &[f32], output: Output, tiles: Tiles, tile_rows: std::ops::Range<usize>, bias: Option<&[f32]>) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: AVX-512F is present.
        return unsafe { transform_output_avx512(m, output, tiles, tile_rows, bias) };
    }
    transform_output_body(m, output, tiles, tile_rows, bias)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn transform_output_avx512(m: &[f32], output: Output, tiles: Tiles, tile_rows: std::ops::Range<usize>, bias: Option<&[f32]>) {
    transform_output_body(m, output, tiles, tile_rows, bias)
}

/// [`transform_output`]'s arithmetic, compiled once per instruction set.
#[inline(always)]
fn transform_output_body(m: &[f32], output: Output, tiles: Tiles, tile_rows: std::ops::Range<usize>, bias: Option<&[f32]>) {
    let Output { target, picture, n, oh, ow } = output;
    let tx = tiles.columns;
    let count = tile_rows.len() * tx;
    // Aᵀ M: the two output rows' sums for each of the 4 columns of points, then (Aᵀ M) A.
    let mut sums = vec![0f32; 8 * tx];
    let mut pair = vec![0f32; 2 * tx];
    for co in 0..n {
        let add = bias.map_or(0.0, |bias| bias[co]);
        for k in 0..tile_rows.len() {
            let point = |i: usize, j: usize| &m[((i * 4 + j) * n + co) * count + k * tx..][..tx];
            for j in 0..4 {
                let (m0, m1, m2, m3) = (point(0, j), point(1, j), point(2, j), point(3, j));
                let (s0, s1) = sums[j * 2 * tx..][..2 * tx].split_at_mut(tx);
                for t in 0..tx {
                    s0[t] = m0[t] + m1[t] + m2[t];
                    s1[t] = m1[t] - m2[t] - m3[t];
                }
            }
            for a in 0..2 {
                let oy = 2 * (tile_rows.start + k) + a;
                if oy >= oh {
                    break;
                }
                let s = |j: usize| &sums[(j * 2 + a) * tx..][..tx];
                let (s0, s1, s2, s3) = (s(0), s(1), s(2), s(3));
                let (left, right) = pair.split_at_mut(tx);
                for t in 0..tx {
                    left[t] = s0[t] + s1[t] + s2[t] + add;
                    right[t] = s1[t] - s2[t] - s3[t] + add;
                }
                // SAFETY: row oy of output channel co of this picture belongs to this chunk's
                // tile rows, which no other task writes.
                let row = unsafe { target.slice(((picture * n + co) * oh + oy) * ow, ow) };
                let mut pairs = row.chunks_exact_mut(2);
                for ((pair, l), r) in pairs.by_ref().zip(left.iter()).zip(right.iter()) {
                    pair[0] = *l;
                    pair[1] = *r;
                }
                // An odd width: the last block's left column only.
                if let [last] = pairs.into_remainder() {
                    *last = left[tx - 1];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::PaddingConfig2d;
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;
    use crate::kernels::cpu_layers::CpuForward;
    use crate::kernels::flex_tensor::f32_storage;
    use crate::test_support::{assert_within_1e5, floats};

    /// Ours against burn's op, within 1e-5 of the output's largest value.
    fn check(case: &str, c: usize, n: usize, input: [usize; 4], padding: [usize; 4], with_bias: bool) {
        let device = Device::flex();
        let [top, left, bottom, right] = padding;
        let layer = Conv2dConfig::new([c, n], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(top, left, bottom, right))
            .with_bias(with_bias)
            .init(&device);
        let x = Tensor::<4>::random(input, Distribution::Normal(0.0, 1.0), &device);
        let shape = ConvShape { input, kernel: [3, 3], stride: [1, 1], padding: [top, bottom, left, right] };
        assert!(covers(&shape), "{case}: not a covered shape");
        let w = f32_storage(&layer.weight.val()).unwrap();
        let b = layer.bias.as_ref().map(|b| f32_storage(&b.val()).unwrap());
        let ours = conv2d(
            f32_storage(&x).unwrap().as_slice().unwrap(),
            shape,
            w.as_slice().unwrap(),
            n,
            b.as_ref().map(|b| b.as_slice().unwrap()),
        );
        assert_within_1e5(case, &ours, &floats(layer.forward(x.clone())));
        // The layer's CPU forward takes this path.
        assert_eq!(floats(layer.forward_cpu(x)), ours, "{case}: forward_cpu did not run winograd_cpu");
    }

    #[test]
    fn matches_burns_convolution() {
        check("a resnet conv, batch 2", 16, 32, [2, 16, 24, 24], [1; 4], true);
        check("8 channels in, the fewest taken", 8, 32, [1, 8, 32, 32], [1; 4], true);
        check("3 channels out, like conv_out", 64, 3, [1, 64, 32, 32], [1; 4], true);
        check("no bias", 8, 16, [1, 8, 20, 20], [1; 4], false);
        check("many channels: chunks of one tile row", 384, 64, [1, 384, 20, 36], [1; 4], true);
    }

    #[test]
    fn matches_burns_convolution_at_odd_sizes_and_uneven_padding() {
        check("odd output: the last tile row and column cut short", 8, 16, [1, 8, 17, 23], [1; 4], true);
        check("uneven padding, not square", 8, 16, [1, 8, 30, 40], [1, 0, 2, 1], true);
        check("no padding", 8, 16, [2, 8, 21, 19], [0; 4], true);
        check("more padding than the kernel needs", 8, 16, [1, 8, 16, 16], [2, 3, 2, 1], true);
    }

    #[test]
    fn leaves_other_kernels_strides_and_tiny_pictures_to_others() {
        let shape = |input: usize, kernel: usize, stride: usize| ConvShape {
            input: [1, MIN_CHANNELS, input, input],
            kernel: [kernel, kernel],
            stride: [stride, stride],
            padding: [kernel / 2; 4],
        };
        assert!(covers(&shape(16, 3, 1)));
        assert!(!covers(&shape(14, 3, 1)), "7x7 blocks: too few for a GEMM");
        assert!(!covers(&shape(32, 3, 2)), "a downsampler");
        assert!(!covers(&shape(32, 5, 1)), "5x5");
        assert!(!covers(&shape(32, 1, 1)), "1x1");
        let latents = ConvShape { input: [1, 4, 64, 64], ..shape(64, 3, 1) };
        assert!(!covers(&latents), "4 channels in");
    }
}
