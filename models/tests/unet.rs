//! The UNet against diffusers' UNet2DConditionModel on the tiny fixture
//! (tests/reference/make_unet_fixtures.py): one noise prediction, batch 2, odd latent sizes.

use crate::common;

use common::fixtures;

use burn::tensor::{Device, Tensor, TensorData};
use keepsake_models::components::unet_2d_condition::UNet2DConditionConfig;
use keepsake_models::weights;

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn shape<const D: usize>(v: &serde_json::Value) -> [usize; D] {
    let s: Vec<usize> = v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect();
    s.try_into().unwrap()
}

fn check(device: &Device) {
    let config: UNet2DConditionConfig =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("sd-tiny/unet/config.json")).unwrap()).unwrap();
    let unet =
        weights::load(config.init(device), &fixtures().join("sd-tiny/unet/diffusion_pytorch_model.safetensors"), "UNet", &[]).unwrap();
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join("unet_outputs.json")).unwrap()).unwrap();
    let latents = Tensor::<4>::from_data(TensorData::new(floats(&r["latents"]), shape::<4>(&r["latents_shape"])), device);
    let context = Tensor::<3>::from_data(TensorData::new(floats(&r["context"]), shape::<3>(&r["context_shape"])), device);
    let out: Vec<f32> =
        unet.forward(latents, r["timestep"].as_f64().unwrap() as f32, context, None).into_data().try_to_vec::<f32>().unwrap();
    let expected = floats(&r["noise_pred"]);
    let diff = out.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(diff <= 2e-4, "noise prediction max abs diff {diff}");
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
