//! Full-size SD 1.5 against diffusers: see tests/reference/compare_full_size.py, which writes the
//! checkpoint and the reference this example reads.
//!
//!     cargo run --release -p keepsake-models --example compare_full_size -- OUT_DIR [cpu|wgpu]

use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use keepsake_models::formats::ldm::load_single_file;

fn tensor<const D: usize>(st: &safetensors::SafeTensors, name: &str, device: &Device) -> (Tensor<D>, Vec<f32>) {
    let view = st.tensor(name).unwrap();
    let values: Vec<f32> = view.data().chunks(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let shape: [usize; D] = view.shape().to_vec().try_into().unwrap();
    (Tensor::from_data(TensorData::new(values.clone(), shape), device), values)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).expect("usage: compare_full_size OUT_DIR [cpu|wgpu]"));
    let device = match std::env::args().nth(2).as_deref() {
        Some("wgpu") => Device::wgpu(Default::default()),
        _ => Device::flex(),
    };
    let reference: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap()).unwrap();
    let bytes = std::fs::read(dir.join("reference.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();

    let started = Instant::now();
    let sd = load_single_file(&dir.join("sd15-random.safetensors"), &device).unwrap();
    println!("loaded the single-file checkpoint in {:.1} s", started.elapsed().as_secs_f32());

    let (latents, _) = tensor::<4>(&st, "latents", &device);
    let (context, _) = tensor::<3>(&st, "context", &device);
    let (_, expected_noise) = tensor::<4>(&st, "noise_pred", &device);
    let (_, expected_image) = tensor::<4>(&st, "image", &device);

    let t0 = Instant::now();
    let noise: Vec<f32> = sd.unet.forward(latents.clone(), 500.0, context, None).into_data().try_to_vec::<f32>().unwrap();
    let unet_s = t0.elapsed().as_secs_f32();
    let first = latents.slice([0..1, 0..4, 0..64, 0..64]).div_scalar(sd.vae_config.scaling_factor());
    let t0 = Instant::now();
    let image: Vec<f32> = sd.vae.decode_latents(first, 1.0, None).into_data().try_to_vec::<f32>().unwrap();
    let vae_s = t0.elapsed().as_secs_f32();

    let torch_unet = reference["unet_step_batch2_512_s"].as_f64().unwrap() as f32;
    let torch_vae = reference["vae_decode_512_s"].as_f64().unwrap() as f32;
    println!(
        "UNet step (batch 2, 512 px): max abs diff {:.2e}, ours {unet_s:.2} s, PyTorch {torch_unet:.2} s, ratio {:.2}",
        max_abs_diff(&noise, &expected_noise),
        unet_s / torch_unet
    );
    println!(
        "VAE decode (512 px): max abs diff {:.2e}, ours {vae_s:.2} s, PyTorch {torch_vae:.2} s, ratio {:.2}",
        max_abs_diff(&image, &expected_image),
        vae_s / torch_vae
    );
}
