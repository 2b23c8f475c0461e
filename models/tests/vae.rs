//! The VAE against diffusers' AutoencoderKL on the tiny fixture (tests/reference/make_vae_fixtures.py):
//! posterior mean and std, the posterior sample with the ported torch generator, the decoded image.

use crate::common;

use common::{fixtures, max_abs_diff};

use burn::tensor::{Device, Tensor, TensorData};
use keepsake_models::components::vae::AutoencoderKlConfig;
use keepsake_models::torch_rng::{NormalKernel, TorchGenerator};
use keepsake_models::weights;

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn check(device: &Device) {
    let config: AutoencoderKlConfig =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("sd-tiny/vae/config.json")).unwrap()).unwrap();
    let vae = weights::load(config.init(device), &fixtures().join("sd-tiny/vae/diffusion_pytorch_model.safetensors"), "VAE", &[]).unwrap();
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("vae_outputs.json")).unwrap()).unwrap();
    let shape: Vec<usize> = reference["image_shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    let image = Tensor::<4>::from_data(TensorData::new(floats(&reference["image"]), [shape[0], shape[1], shape[2], shape[3]]), device);

    let posterior = vae.encode(image);
    let mean: Vec<f32> = posterior.mean.clone().into_data().try_to_vec::<f32>().unwrap();
    let std: Vec<f32> = posterior.std.clone().into_data().try_to_vec::<f32>().unwrap();
    assert!(max_abs_diff(&mean, &floats(&reference["mean"])) <= 1e-4, "mean {}", max_abs_diff(&mean, &floats(&reference["mean"])));
    assert!(max_abs_diff(&std, &floats(&reference["std"])) <= 1e-4, "std {}", max_abs_diff(&std, &floats(&reference["std"])));

    let dims = posterior.mean.dims();
    let noise = TorchGenerator::manual_seed(reference["sample_seed"].as_u64().unwrap()).randn(dims.iter().product(), NormalKernel::Scalar);
    let sample = posterior.sample(Tensor::<4>::from_data(TensorData::new(noise, dims), device));
    let sample_v: Vec<f32> = sample.clone().into_data().try_to_vec::<f32>().unwrap();
    assert!(max_abs_diff(&sample_v, &floats(&reference["sample"])) <= 1e-4);

    let decoded: Vec<f32> = vae.decode(sample).into_data().try_to_vec::<f32>().unwrap();
    let d = max_abs_diff(&decoded, &floats(&reference["decoded"]));
    assert!(d <= 1e-3, "decoded image max abs diff {d}");
}

#[test]
fn matches_diffusers_on_the_cpu() {
    check(&Device::flex());
}

#[test]
fn matches_diffusers_on_wgpu() {
    if let Some(device) = common::wgpu_device() {
        check(&device);
    }
}

/// Tiled decode against diffusers' `enable_tiling()` (tests/reference/make_vae_tiling_fixtures.py):
/// 2x2 tiles, and 4x3 tiles with thin edge tiles.
#[test]
fn tiled_decode_matches_diffusers() {
    let device = Device::flex();
    let config: AutoencoderKlConfig =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("sd-tiny/vae/config.json")).unwrap()).unwrap();
    assert_eq!(config.sample_size, 32);
    let vae = weights::load(config.init(&device), &fixtures().join("sd-tiny/vae/diffusion_pytorch_model.safetensors"), "VAE", &[]).unwrap();
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("vae_tiling_outputs.json")).unwrap()).unwrap();
    for case in reference["cases"].as_array().unwrap() {
        let s: Vec<usize> = case["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        let latents = Tensor::<4>::from_data(TensorData::new(floats(&case["latents"]), [s[0], s[1], s[2], s[3]]), &device);
        let whole: Vec<f32> = vae.decode(latents.clone()).into_data().try_to_vec::<f32>().unwrap();
        let tiled: Vec<f32> = vae.tiled_decode(latents, 16).into_data().try_to_vec::<f32>().unwrap();
        let d = max_abs_diff(&tiled, &floats(&case["image"]));
        assert!(d <= 1e-3, "{s:?}: tiled decode differs from diffusers by {d}");
        // Tiling really happened: the seams differ from an untiled decode.
        assert!(max_abs_diff(&whole, &tiled) > 1e-2, "{s:?}");
    }
}
