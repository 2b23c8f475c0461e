//! The single-file LDM layout: the tiny model as one checkpoint (verified against diffusers'
//! from_single_file by tests/reference/make_single_file_fixtures.py) gives the same images as the
//! diffusers folder; what is not an SD 1.x checkpoint is refused by name.

mod common;

use burn::tensor::Device;
use common::{fixtures, max_abs_diff, pipeline_image, pipeline_input, pipeline_params, pipeline_reference};
use keepsake_models::ldm::{load_single_file, read_yaml};
use keepsake_models::pipeline::to_unit_floats;

#[test]
fn single_file_gives_the_same_images_as_the_folder() {
    let checkpoint = fixtures().join("sd-tiny-single/sd-tiny.safetensors");
    let yaml = read_yaml(&checkpoint).unwrap();
    assert_eq!((yaml.num_heads, yaml.context_dim), (8, Some(64)));
    let sd = load_single_file(&checkpoint, &Device::flex()).unwrap();
    assert_eq!(sd.vae_config.scale_factor(), 2);
    let r = pipeline_reference();
    let image = pipeline_input(&r);
    for run in r["runs"].as_array().unwrap().iter().take(2) {
        let p = pipeline_params(&r, run);
        let ours = to_unit_floats(sd.img2img_decoded(&image, &p, &mut |_| true).unwrap());
        let diff = max_abs_diff(&ours, &pipeline_image(run));
        assert!(diff <= 2e-3, "{}: max abs diff {diff}", p.scheduler);
    }
}

#[test]
fn other_files_are_refused_by_name() {
    // A text encoder alone is not a checkpoint.
    let err = load_single_file(&fixtures().join("sd-tiny/text_encoder/model.safetensors"), &Device::flex()).err().unwrap();
    assert!(err.to_string().contains("missing tensor model.diffusion_model.input_blocks.0.0.weight"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("model.safetensors");
    std::fs::write(&junk, b"PK\x03\x04 this is a zip").unwrap();
    let err = load_single_file(&junk, &Device::flex()).err().unwrap();
    assert!(err.to_string().contains("not a readable safetensors file"), "{err}");
    // A .yaml beside it that contradicts the weights.
    let ckpt = dir.path().join("sd.safetensors");
    std::fs::copy(fixtures().join("sd-tiny-single/sd-tiny.safetensors"), &ckpt).unwrap();
    std::fs::write(
        dir.path().join("sd.yaml"),
        "model:\n  params:\n    unet_config:\n      params:\n        num_heads: 8\n        context_dim: 768\n",
    )
    .unwrap();
    let err = load_single_file(&ckpt, &Device::flex()).err().unwrap();
    assert!(err.to_string().contains("context_dim 768") && err.to_string().contains("64"), "{err}");
}
