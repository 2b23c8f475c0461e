//! `keepsake generate` on the tiny diffusers folder reproduces diffusers' img2img for the same
//! seed (tests/reference/make_pipeline_fixtures.py), and writes A1111's parameters into the PNG.

use std::path::Path;
use std::process::Command;

use keepsake::api::infotext::read_png_parameters;

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures"))
}

/// `keepsake generate` with the first reference run's settings (Euler a, 9 steps, seed 4242).
fn reference_run(r: &serde_json::Value, model: &Path, input: &Path, output: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keepsake"));
    cmd.args(["generate", "--model"])
        .arg(model)
        .arg("--input")
        .arg(input)
        .args(["--prompt", r["prompt"].as_str().unwrap(), "--negative-prompt", r["negative_prompt"].as_str().unwrap()])
        .args(["--strength", "0.6", "--steps", "9", "--scheduler", "euler-a", "--cfg", "7", "--seed", "4242", "--noise-kernel", "scalar"])
        .arg("--output")
        .arg(output)
        .env("KEEPSAKE_LOG", "warn");
    cmd
}

#[test]
fn generate_reproduces_diffusers_for_the_same_seed() {
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join("pipeline_outputs.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = r["input_u8"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
    let input = dir.path().join("photo.png");
    image::RgbImage::from_raw(64, 48, bytes).unwrap().save(&input).unwrap();
    let run = &r["runs"][0];
    assert_eq!(run["scheduler"], "euler-a");
    let output = dir.path().join("out.png");
    let status = reference_run(&r, &fixtures().join("sd-tiny"), &input, &output).status().unwrap();
    assert!(status.success());
    let ours = image::open(&output).unwrap().to_rgb8();
    assert_eq!(ours.dimensions(), (64, 48));
    let theirs: Vec<f32> = run["image"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    let max = ours.as_raw().iter().zip(&theirs).map(|(a, b)| (*a as f32 - (b * 255.0).round()).abs()).fold(0.0, f32::max);
    assert!(max <= 1.0, "max difference {max} levels");
    let params = read_png_parameters(&output).unwrap().unwrap();
    assert!(params.starts_with(r["prompt"].as_str().unwrap()), "{params}");
    assert!(params.contains("Negative prompt: blurry, lowres"), "{params}");
    assert!(
        params.contains("Steps: 9, Sampler: Euler a, CFG scale: 7, Seed: 4242, Size: 64x48, Model: sd-tiny, Denoising strength: 0.6"),
        "{params}"
    );

    // The same model as one LDM-layout checkpoint gives the same picture.
    let single = dir.path().join("single.png");
    let status = reference_run(&r, &fixtures().join("sd-tiny-single/sd-tiny.safetensors"), &input, &single).status().unwrap();
    assert!(status.success());
    let single = image::open(&single).unwrap().to_rgb8();
    let max = single.as_raw().iter().zip(ours.as_raw()).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
    assert!(max <= 1, "single file vs folder: {max} levels");

    // Bad input: a size that is not a multiple of 8, an unknown scheduler.
    let out = Command::new(env!("CARGO_BIN_EXE_keepsake"))
        .args(["generate", "--model"])
        .arg(fixtures().join("sd-tiny"))
        .arg("--input")
        .arg(&input)
        .args(["--prompt", "x", "--width", "60", "--output"])
        .arg(&output)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("width 60 is not a multiple of 8"), "{}", String::from_utf8_lossy(&out.stderr));
    let refused = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_keepsake"))
            .args(["generate", "--model", "m", "--input", "i", "--prompt", "x", "--output", "o.png"])
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    assert!(refused(&["--scheduler", "restart"]).contains("unknown sampler \"restart\""));
    assert!(refused(&["--schedule", "beta"]).contains("--schedule beta"));
    assert!(refused(&["--scheduler", "ddim", "--schedule", "karras"]).contains("use \"automatic\""));

    // --rng gpu: the noise a CUDA GPU draws for the seed (another picture), said in the PNG.
    let gpu = dir.path().join("gpu.png");
    let status = reference_run(&r, &fixtures().join("sd-tiny"), &input, &gpu).args(["--rng", "gpu"]).status().unwrap();
    assert!(status.success());
    assert_ne!(image::open(&gpu).unwrap().to_rgb8(), ours);
    assert!(read_png_parameters(&gpu).unwrap().unwrap().ends_with("RNG: NV"));
    // --scheduler-config: a v-prediction config changes the picture; one no sampler can follow is refused at start.
    let config = dir.path().join("scheduler_config.json");
    std::fs::write(
        &config,
        r#"{"prediction_type": "v_prediction", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}"#,
    )
    .unwrap();
    let vpred = dir.path().join("vpred.png");
    let status = reference_run(&r, &fixtures().join("sd-tiny"), &input, &vpred).arg("--scheduler-config").arg(&config).status().unwrap();
    assert!(status.success());
    assert_ne!(image::open(&vpred).unwrap().to_rgb8(), ours);
    std::fs::write(&config, r#"{"prediction_type": "sample"}"#).unwrap();
    let out = reference_run(&r, &fixtures().join("sd-tiny"), &input, &vpred).arg("--scheduler-config").arg(&config).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && text.contains("--scheduler-config") && text.contains("prediction_type"), "{text}");
}

/// `--backend wgpu` (on CI mesa's software rasterizer, WGSL) makes diffusers' picture too, and a
/// GPU cache that a cut write or a disk fault left unreadable is set aside with a warning, never
/// a crash; the run goes on with a fresh cache.
#[test]
fn generate_on_the_gpu_matches_diffusers_and_sets_a_damaged_gpu_cache_aside() {
    if keepsake_models::compute::gpu_adapter::adapter_reports().is_empty() {
        assert!(std::env::var("KEEPSAKE_STRICT_TESTS").as_deref() != Ok("1"), "KEEPSAKE_STRICT_TESTS=1 but there is no wgpu adapter");
        eprintln!("skipping: no wgpu adapter");
        return;
    }
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join("pipeline_outputs.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = r["input_u8"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
    let input = dir.path().join("photo.png");
    image::RgbImage::from_raw(64, 48, bytes).unwrap().save(&input).unwrap();
    let cache = dir.path().join("gpu-cache");
    std::fs::create_dir(&cache).unwrap();
    std::fs::write(cache.join("default.db"), b"\0\0\0 half a page from a cut write").unwrap();

    let run = &r["runs"][0];
    let output = dir.path().join("gpu.png");
    let out = reference_run(&r, &fixtures().join("sd-tiny"), &input, &output)
        .args(["--backend", "wgpu"])
        .env("KEEPSAKE_GPU_CACHE", &cache)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("the GPU autotune cache was damaged: it is set aside"), "{stderr}");
    let aside: Vec<_> =
        std::fs::read_dir(&cache).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().contains("corrupt")).collect();
    assert_eq!(aside.len(), 1, "the damaged file is kept aside for the technician");

    let ours = image::open(&output).unwrap().to_rgb8();
    let theirs: Vec<f32> = run["image"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    let max = ours.as_raw().iter().zip(&theirs).map(|(a, b)| (*a as f32 - (b * 255.0).round()).abs()).fold(0.0, f32::max);
    assert!(max <= 2.0, "GPU picture differs from diffusers by {max} levels");
}
