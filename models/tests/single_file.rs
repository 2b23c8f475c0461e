//! The single-file LDM layout: the tiny model as one checkpoint (verified against diffusers'
//! from_single_file by tests/reference/make_single_file_fixtures.py) gives the same images as the
//! diffusers folder; what is not an SD 1.x checkpoint is refused by name.

use crate::common;

use burn::tensor::Device;
use common::{fixtures, max_abs_diff, pipeline_image, pipeline_input, pipeline_params, pipeline_reference};
use keepsake_models::formats::ldm::{load_single_file, read_yaml};
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

/// The components are read from the file under their prefixes: a tensor of the UNet's that fits
/// nowhere, or one it lacks, is named as the file names it; one outside every component (an
/// EMA's bookkeeping) is left alone. (`-KEY` leaves KEY out of the copy.)
#[test]
fn a_stray_tensor_of_a_component_is_named_and_others_are_left_alone() {
    use safetensors::tensor::{Dtype, TensorView};
    let bytes = std::fs::read(fixtures().join("sd-tiny-single/sd-tiny.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let four = [0u8; 16];
    let with = |extra: &str| {
        let mut views: Vec<(String, TensorView)> = st.tensors().into_iter().filter(|(k, _)| k != extra.trim_start_matches('-')).collect();
        if !extra.starts_with('-') {
            views.push((extra.to_string(), TensorView::new(Dtype::F32, vec![4], &four).unwrap()));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sd.safetensors");
        std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
        std::fs::copy(fixtures().join("sd-tiny-single/sd-tiny.yaml"), dir.path().join("sd.yaml")).unwrap();
        (dir, path)
    };
    let (_dir, stray) = with("model.diffusion_model.input_blocks.0.0.extra");
    let err = load_single_file(&stray, &Device::flex()).err().expect("a stray UNet tensor is refused");
    assert!(err.to_string().contains("unexpected tensor model.diffusion_model.input_blocks.0.0.extra"), "{err}");
    // Named as the file names it, not as the module does (conv_out.bias).
    let (_dir, short) = with("-model.diffusion_model.out.2.bias");
    let err = load_single_file(&short, &Device::flex()).err().expect("a missing UNet tensor is refused");
    assert!(err.to_string().contains("missing tensor model.diffusion_model.out.2.bias"), "{err}");
    let (_dir, ema) = with("model_ema.decay");
    load_single_file(&ema, &Device::flex()).expect("tensors outside the components are not the loader's business");
}
