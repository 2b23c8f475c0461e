//! TAESD against diffusers' AutoencoderTiny (tests/reference/make_taesd_fixtures.py): encoder and
//! decoder alone, and img2img with the tiny SD using it as its VAE (LCM 4 steps, Euler a).

use crate::common;

use burn::tensor::{Device, Tensor, TensorData};
use common::{fixtures, max_abs_diff, pipeline_input as input, pipeline_params as params, pipeline_reference};
use keepsake_models::components::autoencoder_tiny::AutoencoderTinyConfig;
use keepsake_models::formats;
use keepsake_models::formats::booth_file::{self, BoothFile, Precision};
use keepsake_models::pipeline::{to_unit_floats, StableDiffusion};
use keepsake_models::weights;

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn reference() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("taesd_outputs.json")).unwrap()).unwrap()
}

fn tiny_dir() -> std::path::PathBuf {
    fixtures().join("sd-tiny/vae_tiny")
}

fn check_alone(device: &Device) {
    let config: AutoencoderTinyConfig = serde_json::from_str(&std::fs::read_to_string(tiny_dir().join("config.json")).unwrap()).unwrap();
    assert_eq!(config.problem(), None);
    let vae = weights::load(config.init(device), &tiny_dir().join("diffusion_pytorch_model.safetensors"), "TAESD", &[]).unwrap();
    let r = reference();
    let shape: Vec<usize> = r["image_shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    let image = Tensor::<4>::from_data(TensorData::new(floats(&r["image"]), [shape[0], shape[1], shape[2], shape[3]]), device);
    let latents = vae.encode(image);
    let got: Vec<f32> = latents.clone().into_data().try_to_vec().unwrap();
    let d = max_abs_diff(&got, &floats(&r["latents"]));
    assert!(d <= 1e-4, "latents differ by {d}");
    let decoded: Vec<f32> = vae.decode(latents).into_data().try_to_vec().unwrap();
    let d = max_abs_diff(&decoded, &floats(&r["decoded"]));
    assert!(d <= 1e-4, "decoded image differs by {d}");
}

#[test]
fn encoder_and_decoder_match_diffusers_on_the_cpu() {
    check_alone(&Device::flex());
}

#[test]
fn encoder_and_decoder_match_diffusers_on_wgpu() {
    if let Some(device) = common::wgpu_device() {
        check_alone(&device);
    }
}

fn img2img_diffs(sd: &StableDiffusion) -> Vec<(String, f32)> {
    let base = pipeline_reference();
    let r = reference();
    r["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| {
            let p = params(&base, run);
            let ours = to_unit_floats(sd.img2img_decoded(&input(&base), &p, &mut |_| true).unwrap());
            (format!("{} {} steps", p.scheduler, p.steps), max_abs_diff(&ours, &floats(&run["image"])))
        })
        .collect()
}

#[test]
fn img2img_with_taesd_matches_diffusers() {
    let device = Device::flex();
    let sd =
        formats::diffusers::with_tiny_vae(formats::diffusers::load(&fixtures().join("sd-tiny"), &device).unwrap(), &tiny_dir()).unwrap();
    for (run, d) in img2img_diffs(&sd) {
        assert!(d <= 2e-3, "{run}: differs from diffusers by {d}");
    }

    // The same through a booth file (f32 keeps it exact).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("booth.safetensors");
    booth_file::write(&sd, Precision::F32, &path).unwrap();
    let baked = BoothFile::open(&path).unwrap().load(&device).unwrap();
    assert_eq!(img2img_diffs(&baked), img2img_diffs(&sd));
}

#[test]
fn a_vae_that_is_not_taesd_is_refused_by_name() {
    let device = Device::flex();
    let sd = formats::diffusers::load(&fixtures().join("sd-tiny"), &device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = std::fs::read_to_string(tiny_dir().join("config.json")).unwrap();
    std::fs::write(dir.path().join("config.json"), config.replace("\"relu\"", "\"silu\"")).unwrap();
    let err = formats::diffusers::with_tiny_vae(sd, dir.path()).err().unwrap().to_string();
    assert!(err.contains("not a TAESD config") && err.contains("silu"), "{err}");

    let sd = formats::diffusers::load(&fixtures().join("sd-tiny"), &device).unwrap();
    std::fs::write(dir.path().join("config.json"), config.replace("\"latent_channels\": 4", "\"latent_channels\": 16")).unwrap();
    let err = formats::diffusers::with_tiny_vae(sd, dir.path()).err().unwrap().to_string();
    assert!(err.contains("16 latent channels, the UNet takes 4"), "{err}");
}
