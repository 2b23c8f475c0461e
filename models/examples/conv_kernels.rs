//! The two f32 convolution kernels side by side at SD's shapes (3x3, stride 1, padding 1, one
//! picture): the direct one (`conv_cpu`) and Winograd's F(2x2, 3x3) (`winograd_cpu`), seconds
//! (mean of 3 after one warm-up), the direct convolution's multiply-adds per second for both (so
//! Winograd's figure is "as if"), and their largest difference relative to the largest output.
//!
//!     cargo run --release -p keepsake-models --example conv_kernels [-- C-N-SIDE]
//!
//! e.g. `-- 128-128-512` for only the VAE decoder's last convolutions.

use std::time::Instant;

use keepsake_models::kernels::{conv_cpu, winograd_cpu};

/// (input channels, output channels, side): the VAE decoder's, the UNet's, TAESD's, ControlNet's
/// hint blocks', and the thin ones at either end of a model.
const SHAPES: [(usize, usize, usize); 18] = [
    (128, 128, 512),
    (256, 256, 256),
    (512, 512, 128),
    (512, 512, 64),
    (320, 320, 64),
    (640, 640, 32),
    (1280, 1280, 32),
    (64, 64, 512),
    (64, 64, 256),
    (16, 16, 512),
    (32, 32, 256),
    (96, 96, 128),
    (128, 3, 512),
    (64, 3, 512),
    (320, 4, 64),
    (4, 512, 64),
    (4, 320, 64),
    (3, 16, 512),
];

fn timed(run: impl Fn() -> Vec<f32>) -> f64 {
    std::hint::black_box(run());
    let start = Instant::now();
    for _ in 0..3 {
        std::hint::black_box(run());
    }
    start.elapsed().as_secs_f64() / 3.0
}

fn main() {
    let only = std::env::args().nth(1);
    println!("| c | n | side | direct s | direct GFLOP/s | Winograd s | as-if GFLOP/s | speed-up | max difference / max |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (c, n, side) in SHAPES {
        if only.as_ref().is_some_and(|only| *only != format!("{c}-{n}-{side}")) {
            continue;
        }
        let shape = conv_cpu::ConvShape { input: [1, c, side, side], kernel: [3, 3], stride: [1, 1], padding: [1; 4] };
        // Deterministic values in [-0.5, 0.5): no RNG crate needed for a timing.
        let x: Vec<f32> = (0..c * side * side).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
        let w: Vec<f32> = (0..n * c * 9).map(|i| ((i * 104729) % 1000) as f32 / 1000.0 - 0.5).collect();
        let bias: Vec<f32> = (0..n).map(|i| i as f32 / n as f32).collect();
        let direct = || conv_cpu::conv2d(&x, shape, &w, n, Some(&bias));
        let winograd = || winograd_cpu::conv2d(&x, shape, &w, n, Some(&bias));
        let (a, b) = (direct(), winograd());
        let scale = a.iter().fold(0f32, |m, v| m.max(v.abs()));
        let worst = a.iter().zip(&b).fold(0f32, |m, (p, q)| m.max((p - q).abs()));
        let (t_direct, t_winograd) = (timed(direct), timed(winograd));
        let gflop = 2.0 * (c * n * 9 * side * side) as f64 / 1e9;
        println!(
            "| {c} | {n} | {side} | {t_direct:.3} | {:.0} | {t_winograd:.3} | {:.0} | {:.2}x | {:.1e} |",
            gflop / t_direct,
            gflop / t_winograd,
            t_direct / t_winograd,
            worst / scale
        );
    }
}
