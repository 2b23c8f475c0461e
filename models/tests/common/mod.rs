//! What the end-to-end model tests share: the fixture folder and the img2img reference runs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use image::RgbImage;
use keepsake_models::noise::NoiseSource;
use keepsake_models::pipeline::Img2ImgParams;
use keepsake_models::schedulers::Schedule;
use keepsake_models::torch_rng::NormalKernel;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// tests/fixtures/pipeline_outputs.json (tests/reference/make_pipeline_fixtures.py).
pub fn pipeline_reference() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("pipeline_outputs.json")).unwrap()).unwrap()
}

/// The 8-bit photo every reference run starts from.
pub fn pipeline_input(r: &serde_json::Value) -> RgbImage {
    let shape: Vec<u32> = r["input_shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
    let bytes: Vec<u8> = r["input_u8"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
    RgbImage::from_raw(shape[3], shape[2], bytes).unwrap()
}

/// The parameters of one reference run (noise from PyTorch's scalar kernel, as recorded).
pub fn pipeline_params(r: &serde_json::Value, run: &serde_json::Value) -> Img2ImgParams {
    let shape: Vec<u32> = r["input_shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
    Img2ImgParams {
        prompt: r["prompt"].as_str().unwrap().into(),
        negative_prompt: r["negative_prompt"].as_str().unwrap().into(),
        strength: run["strength"].as_f64().unwrap(),
        steps: run["steps"].as_u64().unwrap() as usize,
        scheduler: run["scheduler"].as_str().unwrap().parse().unwrap(),
        schedule: run["schedule"].as_str().map_or(Schedule::Automatic, |s| Schedule::parse(s).unwrap()),
        cfg: run["cfg"].as_f64().unwrap() as f32,
        seed: run["seed"].as_u64().unwrap(),
        width: shape[3],
        height: shape[2],
        clip_skip: 1,
        noise: NoiseSource::Cpu(NormalKernel::Scalar),
    }
}

/// The run's reference image in [0, 1], HWC.
pub fn pipeline_image(run: &serde_json::Value) -> Vec<f32> {
    run["image"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect()
}

/// The wgpu device for the GPU-path tests (`--backend wgpu`'s, in f32: on CI mesa's software
/// rasterizer, WGSL), or `None` (said on stderr) where there is none. With KEEPSAKE_STRICT_TESTS=1
/// (CI, which installs mesa) a missing adapter fails instead.
pub fn wgpu_device() -> Option<burn::tensor::Device> {
    match keepsake_models::compute::Compute::gpu(false) {
        Ok(compute) => {
            eprintln!("on {}", compute.describe());
            Some(compute.device)
        }
        Err(e) => {
            assert!(
                std::env::var("KEEPSAKE_STRICT_TESTS").as_deref() != Ok("1"),
                "KEEPSAKE_STRICT_TESTS=1 but there is no wgpu adapter: {e}"
            );
            eprintln!("skipping: {e}");
            None
        }
    }
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}
