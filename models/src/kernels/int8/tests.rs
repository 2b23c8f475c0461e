//! The int8 kernels against burn's own f32 ops: exact on the rounded operands (up to f32 sums),
//! and within the activation rounding's proven bound of the unrounded product; on both kernels
//! this CPU can run.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{LinearConfig, PaddingConfig2d};
use burn::tensor::{DType, Device, Distribution, Tensor, TensorData};

use super::kernel::Kernel;
use super::kernel::BLOCK;
use super::pack::{quantize_row_blocks, PackedWeights};
use super::{blocked_along_inputs, conv2d, linear_rows};
use crate::edits::quantize::quantize_module;
use crate::kernels::conv_cpu::ConvShape;
use crate::kernels::cpu_layers::CpuForward;
use crate::kernels::quantize::{Bits, BlockQuantized};

fn kernels() -> Vec<Kernel> {
    [Kernel::Vnni, Kernel::Dotprod, Kernel::Portable].into_iter().filter(|k| k.available()).collect()
}

fn random(shape: &[usize], seed: u64) -> Vec<f32> {
    // Normal values with a few outliers, as activations have.
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..shape.iter().product::<usize>())
        .map(|i| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let u = (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0;
            if i % 61 == 0 {
                u * 12.0
            } else {
                u
            }
        })
        .collect()
}

/// Each row's blocks of 64 rounded as the kernels round activations, and each value's half step.
fn rounded_rows(x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let mut q = vec![0u8; x.len()];
    let (mut scales, mut zeros) = (vec![0f32; x.len() / BLOCK], vec![0i32; x.len() / BLOCK]);
    quantize_row_blocks(x, &mut q, &mut scales, &mut zeros);
    let values = q.iter().enumerate().map(|(i, v)| (*v as i32 - zeros[i / BLOCK]) as f32 * scales[i / BLOCK]).collect();
    let half_steps = (0..x.len()).map(|i| scales[i / BLOCK] / 2.0).collect();
    (values, half_steps)
}

fn assert_within(ours: &[f32], reference: &[f32], tolerance: &[f32], what: &str) {
    assert_eq!(ours.len(), reference.len(), "{what}: lengths");
    for (i, ((a, b), t)) in ours.iter().zip(reference).zip(tolerance).enumerate() {
        assert!((a - b).abs() <= *t, "{what}[{i}]: {a} against {b} (allowed {t})");
    }
}

use crate::test_support::floats;

#[test]
fn a_linear_product_is_exact_on_the_rounded_operands() {
    let device = Device::flex();
    // Rows that do not fill a tile or a task, columns that do not fill a panel, and a reduction
    // longer than one pass over the panel (8 blocks).
    for (m, k, n) in [(1, 64, 1), (13, 192, 45), (100, 640, 70), (7, 1280, 96)] {
        let x = random(&[m, k], 1);
        let w = BlockQuantized::quantize(&random(&[k, n], 2), &[k, n], 0, Bits::Eight);
        let packed = PackedWeights::linear(&w.values, &w.scales, k, n);
        let bias = random(&[n], 3);
        let (rounded, _) = rounded_rows(&x);
        let wf = w.dequantize();
        let reference = Tensor::<2>::from_data(TensorData::new(rounded.clone(), [m, k]), &device)
            .matmul(Tensor::from_data(TensorData::new(wf.clone(), [k, n]), &device))
            .add(Tensor::<1>::from_data(TensorData::new(bias.clone(), [n]), &device).unsqueeze());
        // f32 sums in another order: 1e-5 of the sum of the terms' magnitudes.
        let magnitude = Tensor::<2>::from_data(TensorData::new(rounded.iter().map(|v| v.abs()).collect::<Vec<_>>(), [m, k]), &device)
            .matmul(Tensor::from_data(TensorData::new(wf.iter().map(|v| v.abs()).collect::<Vec<_>>(), [k, n]), &device));
        let tolerance: Vec<f32> = floats(magnitude).iter().map(|s| 1e-5 * s + 1e-6).collect();
        let reference = floats(reference);
        for kernel in kernels() {
            let ours = linear_rows(kernel, &x, k, &packed, Some(&bias));
            assert_within(&ours, &reference, &tolerance, &format!("{kernel:?} {m}x{k}x{n}"));
        }
    }
}

#[test]
fn the_fast_and_portable_kernels_agree() {
    let fast = Kernel::fastest();
    if fast == Kernel::Portable {
        eprintln!("this CPU has neither AVX-512 VNNI nor Arm's dot product: only the portable kernel runs here");
        return;
    }
    let (m, k, n) = (50, 1024, 64);
    let x = random(&[m, k], 4);
    let w = BlockQuantized::quantize(&random(&[k, n], 5), &[k, n], 0, Bits::Eight);
    let packed = PackedWeights::linear(&w.values, &w.scales, k, n);
    let ours = linear_rows(fast, &x, k, &packed, None);
    let portable = linear_rows(Kernel::Portable, &x, k, &packed, None);
    for (a, b) in ours.iter().zip(&portable) {
        assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "{fast:?}: {a} against {b}");
    }
}

/// A burn conv layer with random weights, quantised to int8 as the booth file holds it.
fn int8_conv(cin: usize, cout: usize, kernel: usize, stride: usize, padding: PaddingConfig2d, seed: u64) -> Conv2d {
    let device = Device::flex();
    let layer = Conv2dConfig::new([cin, cout], [kernel, kernel]).with_stride([stride, stride]).with_padding(padding).init(&device);
    let weight = Tensor::<4>::from_data(TensorData::new(random(&[cout, cin, kernel, kernel], seed), [cout, cin, kernel, kernel]), &device)
        .mul_scalar(0.05);
    let bias = Tensor::<1>::from_data(TensorData::new(random(&[cout], seed + 1), [cout]), &device);
    let layer = Conv2d { weight: burn::module::Param::from_tensor(weight), bias: Some(burn::module::Param::from_tensor(bias)), ..layer };
    quantize_module(layer, Bits::Eight)
}

/// The input rounded per pixel and 64 channels as the convolution rounds it (NCHW), and each
/// value's half step.
fn rounded_pixels(x: &[f32], [b, c, h, w]: [usize; 4]) -> (Vec<f32>, Vec<f32>) {
    let (mut rounded, mut half) = (vec![0f32; x.len()], vec![0f32; x.len()]);
    for bi in 0..b {
        for p in 0..h * w {
            let at = |ch: usize| ((bi * c + ch) * h * w) + p;
            let pixel: Vec<f32> = (0..c).map(|ch| x[at(ch)]).collect();
            let (r, s) = rounded_rows(&pixel);
            for ch in 0..c {
                rounded[at(ch)] = r[ch];
                half[at(ch)] = s[ch];
            }
        }
    }
    (rounded, half)
}

#[test]
fn convolutions_match_burn_on_the_rounded_input_and_stay_within_the_rounding_bound() {
    let device = Device::flex();
    let cases = [
        // SD's 3x3, an odd-sized picture, batch 2, a column count that does not fill a panel.
        (2, 64, 40, 7, 5, 3, 1, PaddingConfig2d::Explicit(1, 1, 1, 1)),
        // The downsampler: stride 2, VAE's asymmetric padding (bottom and right only).
        (1, 128, 64, 9, 8, 3, 2, PaddingConfig2d::Explicit(0, 0, 1, 1)),
        (1, 128, 64, 8, 8, 3, 2, PaddingConfig2d::Explicit(1, 1, 1, 1)),
        // 1x1: attention's projections and the resnets' shortcuts.
        (2, 192, 96, 6, 6, 1, 1, PaddingConfig2d::Valid),
    ];
    for (i, (b, cin, cout, h, w, kernel, stride, padding)) in cases.into_iter().enumerate() {
        let layer = int8_conv(cin, cout, kernel, stride, padding.clone(), 10 + i as u64);
        assert!(CpuForward::<4>::uses_int8_kernels(&layer), "case {i}: the layer is not on the int8 path");
        let x = random(&[b, cin, h, w], 20 + i as u64);
        let input = Tensor::<4>::from_data(TensorData::new(x.clone(), [b, cin, h, w]), &device);
        let (rounded, half_steps) = rounded_pixels(&x, [b, cin, h, w]);
        let weight = layer.weight.val().dequantize();
        let float_layer = |weight: Tensor<4>, bias: bool| Conv2d {
            weight: burn::module::Param::from_tensor(weight),
            bias: if bias { layer.bias.clone() } else { None },
            padding: padding.clone(),
            ..Conv2dConfig::new([cin, cout], [kernel, kernel]).with_stride([stride, stride]).init(&device)
        };
        let on = |values: Vec<f32>, weight: Tensor<4>, bias: bool| {
            floats(float_layer(weight, bias).forward(Tensor::from_data(TensorData::new(values, [b, cin, h, w]), &device)))
        };
        let ours = floats(layer.forward_cpu(input.clone()));
        let exact = on(rounded.clone(), weight.clone(), true);
        let magnitude = on(rounded.iter().map(|v| v.abs()).collect(), weight.clone().abs(), false);
        let tolerance: Vec<f32> = magnitude.iter().map(|s| 1e-5 * s + 1e-6).collect();
        assert_within(&ours, &exact, &tolerance, &format!("case {i} against burn on the rounded input"));
        // |sum w (x - rounded x)| <= sum |w| * half step: burn's conv of the half steps by |w|.
        let unrounded = on(x.clone(), weight.clone(), true);
        let bound: Vec<f32> = on(half_steps, weight.abs(), false).iter().zip(&magnitude).map(|(e, s)| e + 1e-5 * s + 1e-6).collect();
        assert_within(&ours, &unrounded, &bound, &format!("case {i} against burn on the exact input"));
    }
}

#[test]
fn both_kernels_convolve_alike() {
    let (b, cin, cout, h, w) = (1, 64, 33, 5, 6);
    let values = BlockQuantized::quantize(&random(&[cout, cin, 3, 3], 30), &[cout, cin, 3, 3], 1, Bits::Eight);
    let packed = PackedWeights::conv(&values.values, &values.scales, [cout, cin, 3, 3]);
    let x = random(&[b, cin, h, w], 31);
    let shape = ConvShape { input: [b, cin, h, w], kernel: [3, 3], stride: [1, 1], padding: [1, 1, 1, 1] };
    let results: Vec<Vec<f32>> = kernels().into_iter().map(|k| conv2d(k, &x, shape, &packed, None)).collect();
    for other in &results[1..] {
        for (a, b) in results[0].iter().zip(other) {
            assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "{a} against {b}");
        }
    }
}

#[test]
fn a_linear_layer_runs_int8_after_re_blocking_and_stays_within_the_rounding_bound() {
    let device = Device::flex();
    let (m, k, n) = (2 * 77, 256, 192);
    let weight = Tensor::<2>::from_data(TensorData::new(random(&[k, n], 40), [k, n]), &device).mul_scalar(0.05);
    let layer = LinearConfig::new(k, n).init(&device);
    let layer = burn::nn::Linear { weight: burn::module::Param::from_tensor(weight.clone()), ..layer };
    let quantised = quantize_module(layer.clone(), Bits::Eight);
    assert!(CpuForward::<3>::uses_int8_kernels(&quantised), "Linear weights are blocked along their inputs on the CPU");
    let DType::QFloat(scheme) = quantised.weight.val().dtype() else { panic!("not quantised") };
    assert_eq!(scheme, BlockQuantized::scheme_for(&[k, n], 0, Bits::Eight).with_store(scheme.store));
    let x = Tensor::<3>::from_data(TensorData::new(random(&[2, 77, k], 41), [2, 77, k]), &device);
    let ours = floats(quantised.forward_cpu(x.clone()));
    let dequantised = burn::nn::Linear { weight: burn::module::Param::from_tensor(quantised.weight.val().dequantize()), ..layer };
    let exact = floats(dequantised.forward(x.clone()));
    let (_, half_steps) = rounded_rows(&floats(x.clone()));
    let bound = floats(
        Tensor::<2>::from_data(TensorData::new(half_steps, [m, k]), &device).matmul(dequantised.weight.val().abs()).reshape([2, 77, n]),
    );
    let magnitude = floats(x.abs().matmul(dequantised.weight.val().abs().unsqueeze()));
    let tolerance: Vec<f32> = bound.iter().zip(&magnitude).map(|(e, s)| e + 1e-5 * s + 1e-6).collect();
    assert_within(&ours, &exact, &tolerance, "int8 Linear against burn's f32 Linear");
    assert_eq!(quantised.devices(), vec![device]);
}

#[test]
fn re_blocking_equals_quantising_the_same_floats_along_the_inputs() {
    let (k, n) = (128, 192);
    let file = BlockQuantized::quantize(&random(&[k, n], 50), &[k, n], 1, Bits::Eight);
    let ours = blocked_along_inputs(&file.values, &file.scales, k, n);
    let direct = BlockQuantized::quantize(&file.dequantize(), &[k, n], 0, Bits::Eight);
    assert_eq!(ours, direct);
    // burn reads the re-blocked layout back exactly (its fallback ops see the same weight).
    let device = Device::flex();
    let burns: Vec<f32> = floats(ours.clone().into_tensor::<2>(&device).dequantize());
    assert_eq!(burns, ours.dequantize());
}

#[test]
fn layers_off_the_int8_path_run_burns_own_op() {
    let device = Device::flex();
    // f32 weights, and a convolution whose input channels are not whole blocks.
    let float = Conv2dConfig::new([64, 8], [3, 3]).init(&device);
    let ragged = quantize_module(Conv2dConfig::new([48, 8], [3, 3]).init(&device), Bits::Eight);
    for layer in [float, ragged] {
        assert!(!CpuForward::<4>::uses_int8_kernels(&layer));
        let cin = layer.weight.dims()[1];
        let x = Tensor::<4>::random([1, cin, 5, 5], Distribution::Normal(0.0, 1.0), &device);
        assert_eq!(floats(layer.forward_cpu(x.clone())), floats(layer.forward(x)));
    }
}

#[test]
fn activations_quantise_alike_on_every_cpu() {
    use super::pack::quantize_row_blocks_portable;
    // Random values; a block from -1 to 254 (scale 1, zero point 1: exact halves, ties go to
    // even); a zero block; a block with a NaN; one of positive values only (zero point 0).
    let mut x = random(&[5 * BLOCK], 60);
    x[..BLOCK].iter_mut().enumerate().for_each(|(i, v)| *v = [-1.0, 254.0, 2.5, 3.5, -0.5][i.min(4)]);
    x[BLOCK..2 * BLOCK].fill(0.0);
    x[3 * BLOCK + 5] = f32::NAN;
    x[4 * BLOCK..].iter_mut().for_each(|v| *v = v.abs() + 1.0);
    let (mut fast, mut plain) = (vec![0u8; x.len()], vec![0u8; x.len()]);
    let (mut fast_scales, mut plain_scales) = (vec![0f32; 5], vec![0f32; 5]);
    let (mut fast_zeros, mut plain_zeros) = (vec![0i32; 5], vec![0i32; 5]);
    quantize_row_blocks(&x, &mut fast, &mut fast_scales, &mut fast_zeros);
    quantize_row_blocks_portable(&x, &mut plain, &mut plain_scales, &mut plain_zeros);
    assert_eq!(fast, plain);
    assert_eq!(fast_zeros, plain_zeros);
    assert_eq!(fast_scales[..3], plain_scales[..3]);
    assert_eq!(fast_scales[4], plain_scales[4]);
    assert_eq!((fast_scales[0], fast_zeros[0]), (1.0, 1));
    assert_eq!(fast[..6], [0, 255, 3, 5, 1, 1], "scale 1, zero point 1: ties to even");
    assert_eq!((fast_scales[1], fast_zeros[1]), (0.0, 0));
    assert!(fast_scales[3].is_nan() && plain_scales[3].is_nan(), "a NaN activation stays visible");
    assert_eq!(fast_zeros[4], 0, "a block of positive values has its zero at byte 0");
    assert_eq!(*fast[4 * BLOCK..].iter().max().unwrap(), 255, "the block's largest value is the top byte");
}

/// Both packers give the panels the kernel's layout defines: value `(p, s, j, e)` is column
/// `32 p + j`'s reduction value `4 s + e` (a convolution's reduction runs tap, then input
/// channel), zero past the last column; scales likewise, and each block's sums are its values'.
/// Partial panels, 1x1 and 3x3 kernels.
#[test]
fn both_packers_lay_weights_out_as_the_kernel_reads_them() {
    use super::kernel::{NR, PANEL_STEP, QUAD};
    use super::pack::Packer;
    let packers: Vec<Packer> =
        [Packer::Avx512, Packer::Portable].into_iter().filter(|p| *p == Packer::Portable || Packer::detect() == *p).collect();
    let bytes =
        |len: usize, seed: u64| -> Vec<i8> { random(&[len], seed).iter().map(|v| (v * 127.0).clamp(-127.0, 127.0) as i8).collect() };
    let check = |what: &str, packed: &PackedWeights, value: &dyn Fn(usize, usize) -> i8, scale: &dyn Fn(usize, usize) -> f32| {
        let (k, n) = (packed.k, packed.n);
        for p in 0..packed.panels() {
            for s in 0..k / QUAD {
                for j in 0..NR {
                    let col = p * NR + j;
                    for e in 0..QUAD {
                        let want = if col < n { value(QUAD * s + e, col) } else { 0 };
                        let got = packed.values[p * k * NR + s * PANEL_STEP + j * QUAD + e];
                        assert_eq!(got, want, "{what}: panel {p}, step {s}, column {j}, value {e}");
                    }
                }
            }
            for b in 0..k / BLOCK {
                for j in 0..NR {
                    let col = p * NR + j;
                    let want = if col < n { scale(b, col) } else { 0.0 };
                    assert_eq!(packed.scales[(p * (k / BLOCK) + b) * NR + j], want, "{what}: scale of panel {p}, block {b}, column {j}");
                    let sum = if col < n { (b * BLOCK..(b + 1) * BLOCK).map(|r| value(r, col) as i32).sum() } else { 0 };
                    assert_eq!(packed.sums[(p * (k / BLOCK) + b) * NR + j], sum, "{what}: sum of panel {p}, block {b}, column {j}");
                }
            }
        }
    };
    for packer in packers {
        for (n, cin, kernel) in [(70, 128, 3), (40, 64, 1), (33, 192, 3), (64, 64, 3)] {
            let taps = kernel * kernel;
            let values = bytes(n * cin * taps, (n * cin + kernel) as u64);
            let scales: Vec<f32> = (0..n * cin / BLOCK * taps).map(|i| 0.5 + i as f32).collect();
            let packed = PackedWeights::conv_with(packer, &values, &scales, [n, cin, kernel, kernel]);
            let value = |r: usize, col: usize| values[(col * cin + r % cin) * taps + r / cin];
            let scale = |b: usize, col: usize| {
                let (tap, cb) = (b / (cin / BLOCK), b % (cin / BLOCK));
                scales[(col * (cin / BLOCK) + cb) * taps + tap]
            };
            check(&format!("{packer:?} conv [{n}, {cin}, {kernel}, {kernel}]"), &packed, &value, &scale);
        }
        for (k, n) in [(192, 70), (64, 33), (128, 32)] {
            let values = bytes(k * n, (k + n) as u64);
            let scales: Vec<f32> = (0..k / BLOCK * n).map(|i| 0.25 + i as f32).collect();
            let packed = PackedWeights::linear_with(packer, &values, &scales, k, n);
            check(&format!("{packer:?} linear [{k}, {n}]"), &packed, &|r, col| values[r * n + col], &|b, col| scales[b * n + col]);
        }
    }
}
