//! f16 compute: the tiny pipeline, from the diffusers folder and from an int8 booth file, stays
//! near diffusers' f32 image with every weight and activation in f16 — on the wgpu adapter where
//! it has shader-f16 (a real GPU), else on burn's CPU backend in f16 (CI's software rasterizer runs
//! the GPU code through OpenGL, which has no f16; the model's f16 path is the same code). A test
//! binary of its own: burn fixes a device's float type once per process.

mod common;

use burn::tensor::{DType, Device, FloatDType};
use common::{fixtures, max_abs_diff, pipeline_image, pipeline_input as input, pipeline_params as params, pipeline_reference as reference};
use keepsake_models::compute::Compute;
use keepsake_models::formats;
use keepsake_models::formats::booth_file::{self, BoothFile, Precision};
use keepsake_models::pipeline::{to_unit_floats, StableDiffusion};

/// f16 (10-bit mantissa) through 9 Euler a / 4 LCM steps and the VAE, against f32, as max abs
/// diff and PSNR. Measured on lavapipe: Euler a 0.067 / 40.1 dB (39.6 dB from the int8 file), LCM
/// 0.014 / 51.1 dB (the other schedulers in between). A weight left in f32 fails outright: burn
/// refuses mixed float types.
const F16_MAX_ABS: f32 = 0.1;
const F16_MIN_PSNR: f64 = 35.0;

fn psnr(a: &[f32], b: &[f32]) -> f64 {
    let mse = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum::<f64>() / a.len() as f64;
    10.0 * (1.0 / mse).log10()
}

/// The worst run: (run, max abs diff, PSNR).
fn worst(sd: &StableDiffusion) -> (String, f32, f64) {
    let r = reference();
    r["runs"]
        .as_array()
        .unwrap()
        .iter()
        // Euler a (the noisiest) and LCM (the booth's): lavapipe is slow.
        .filter(|run| run["scheduler"] == "euler-a" || run["scheduler"] == "lcm")
        .map(|run| {
            let p = params(&r, run);
            let ours = to_unit_floats(sd.img2img_decoded(&input(&r), &p, &mut |_| true).unwrap());
            let reference = pipeline_image(run);
            let (d, q) = (max_abs_diff(&ours, &reference), psnr(&ours, &reference));
            eprintln!("  {} {} steps: max abs diff {d:.2e}, PSNR {q:.1} dB", p.scheduler, p.steps);
            (format!("{} {} steps", p.scheduler, p.steps), d, q)
        })
        .fold((String::new(), 0.0, f64::INFINITY), |a, b| (if b.1 > a.1 { b.0 } else { a.0 }, a.1.max(b.1), a.2.min(b.2)))
}

/// The wgpu device in f16 where the adapter has it, else burn's CPU backend in f16.
fn f16_device() -> Device {
    let gpu = Compute::wgpu(true);
    if gpu.float == DType::F16 {
        eprintln!("f16 on {}", gpu.describe());
        return gpu.device;
    }
    eprintln!("no shader-f16 on {}: f16 on the CPU backend", gpu.describe());
    let mut cpu = Device::flex();
    assert!(cpu.supports_dtype(DType::F16), "burn's CPU backend computes in f16");
    cpu.configure(FloatDType::F16).unwrap();
    cpu
}

#[test]
fn f16_stays_near_diffusers() {
    let device = f16_device();
    let compute = Compute { float: DType::F16, gpu: None, device };
    let sd = formats::diffusers::load(&fixtures().join("sd-tiny"), &compute.device).unwrap();
    assert_eq!(sd.unet.conv_in.weight.val().dtype(), DType::F16);
    let (run, d, q) = worst(&sd);
    eprintln!("f16, diffusers folder: worst {run}: {d:.2e}, lowest PSNR {q:.1} dB");
    assert!(d <= F16_MAX_ABS && q >= F16_MIN_PSNR, "{run}: f16 differs from diffusers by {d} (PSNR {q:.1} dB)");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("booth.safetensors");
    let cpu = formats::diffusers::load(&fixtures().join("sd-tiny"), &Device::flex()).unwrap();
    booth_file::write(&cpu, Precision::Int8, &path).unwrap();
    let baked = BoothFile::open(&path).unwrap().load(&compute.device).unwrap();
    let (run, d, q) = worst(&baked);
    eprintln!("f16 + int8 booth file: worst {run}: {d:.2e}, lowest PSNR {q:.1} dB");
    assert!(d <= F16_MAX_ABS && q >= F16_MIN_PSNR, "{run}: f16 + int8 differs from diffusers by {d} (PSNR {q:.1} dB)");
}
