//! LoRA merging against diffusers' load_lora_weights/set_adapters (tests/reference/make_lora_fixtures.py):
//! a kohya-ss file (UNet incl. 3x3 convs, text encoder, alpha), a diffusers/PEFT file, and both at
//! once with their own weights; final image within 2e-3. Files for another model are refused.

use crate::common;

use std::collections::HashMap;

use burn::tensor::Device;
use common::{fixtures, max_abs_diff, pipeline_input as input, pipeline_params as params, pipeline_reference};
use keepsake_models::edits::lora::Lora;
use keepsake_models::formats;
use keepsake_models::pipeline::{to_unit_floats, StableDiffusion};

fn tiny() -> StableDiffusion {
    formats::diffusers::load(&fixtures().join("sd-tiny"), &Device::flex()).unwrap()
}

fn lora_file(name: &str) -> std::path::PathBuf {
    fixtures().join("lora").join(format!("{name}.safetensors"))
}

#[test]
fn merged_loras_match_diffusers() {
    let base = pipeline_reference();
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join("lora_outputs.json")).unwrap()).unwrap();
    for run in r["runs"].as_array().unwrap() {
        let mut sd = tiny();
        let mut names = Vec::new();
        for pair in run["loras"].as_array().unwrap() {
            let (name, weight) = (pair[0].as_str().unwrap(), pair[1].as_f64().unwrap() as f32);
            let lora = Lora::read(&lora_file(name), &sd).unwrap();
            lora.merge_into(&mut sd, weight).unwrap();
            names.push(format!("{name}:{weight} ({} layers)", lora.layers()));
        }
        let p = params(&base, run);
        let ours = to_unit_floats(sd.img2img_decoded(&input(&base), &p, &mut |_| true).unwrap());
        let theirs: Vec<f32> = run["image"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        let d = max_abs_diff(&ours, &theirs);
        eprintln!("{}: max abs diff {d:.2e}", names.join(" + "));
        assert!(d <= 2e-3, "{}: differs from diffusers by {d}", names.join(" + "));
    }
}

#[test]
fn the_kohya_file_reaches_every_kind_of_layer() {
    let sd = tiny();
    // 14 layer kinds in the UNet's attention blocks and resnets, 6 in each text encoder layer.
    let lora = Lora::read(&lora_file("kohya"), &sd).unwrap();
    let bytes = std::fs::read(lora_file("kohya")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(lora.layers(), st.names().iter().filter(|n| n.ends_with(".alpha")).count());
}

/// Rewrites a LoRA file with `edit` applied to each (name, shape).
fn rewrite(name: &str, edit: impl Fn(&str, &[usize]) -> (String, Vec<usize>)) -> tempfile::NamedTempFile {
    let bytes = std::fs::read(lora_file(name)).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut owned: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (n, v) in st.tensors() {
        let (new_name, shape) = edit(&n, v.shape());
        let elem = v.data().len() / v.shape().iter().product::<usize>().max(1);
        let mut data = v.data().to_vec();
        data.resize(shape.iter().product::<usize>().max(1) * elem, 0);
        owned.push((new_name, v.dtype(), shape, data));
    }
    let views: HashMap<String, safetensors::tensor::TensorView> =
        owned.iter().map(|(n, d, s, b)| (n.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap())).collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), safetensors::serialize(views, None).unwrap()).unwrap();
    file
}

#[test]
fn loras_for_another_model_are_refused_by_name() {
    let sd = tiny();
    // Layers the model does not have (an SDXL-style name).
    let renamed =
        rewrite("kohya", |n, s| (n.replace("lora_unet_down_blocks_0_attentions_0", "lora_unet_down_blocks_7_attentions_0"), s.to_vec()));
    let err = Lora::read(renamed.path(), &sd).err().unwrap().to_string();
    assert!(err.contains("not a LoRA for this model") && err.contains("lora_unet_down_blocks_7_attentions_0"), "{err}");
    // The right names with the wrong widths.
    let widened = rewrite("peft", |n, s| {
        let mut s = s.to_vec();
        if n.ends_with("lora_A.weight") {
            s[1] *= 2;
        }
        (n.to_string(), s)
    });
    let err = Lora::read(widened.path(), &sd).err().unwrap().to_string();
    assert!(err.contains("the layer's weight"), "{err}");
    // Not a safetensors file at all.
    let junk = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(junk.path(), b"PK\x03\x04 a zip, not a LoRA").unwrap();
    let err = Lora::read(junk.path(), &sd).err().unwrap().to_string();
    assert!(err.contains("cannot read the LoRA"), "{err}");
}

/// LyCORIS LoHa and LoKr files (kohya names, as A1111 reads them) merge into the same picture as
/// PEFT's LoHa/LoKr layers merged into diffusers' UNet (tests/reference/make_lycoris_fixtures.py).
#[test]
fn lycoris_loha_and_lokr_match_peft() {
    let base = pipeline_reference();
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join("lycoris_outputs.json")).unwrap()).unwrap();
    let plain = to_unit_floats(tiny().img2img_decoded(&input(&base), &params(&base, &r["runs"][0]), &mut |_| true).unwrap());
    for run in r["runs"].as_array().unwrap() {
        let mut sd = tiny();
        let file = run["file"].as_str().unwrap();
        let lora = Lora::read(&fixtures().join("lora").join(file), &sd).unwrap();
        assert_eq!(lora.layers(), 60, "{file}");
        lora.merge_into(&mut sd, run["weight"].as_f64().unwrap() as f32).unwrap();
        let ours = to_unit_floats(sd.img2img_decoded(&input(&base), &params(&base, run), &mut |_| true).unwrap());
        let theirs: Vec<f32> = run["image"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        let d = max_abs_diff(&ours, &theirs);
        eprintln!("{file}: max abs diff {d:.2e}, {:.2e} from the picture without it", max_abs_diff(&plain, &theirs));
        assert!(d <= 2e-3, "{file}: differs from PEFT's merge by {d}");
        assert!(max_abs_diff(&plain, &theirs) > 1e-2, "{file} changes the picture");
    }
}

#[test]
fn tucker_decomposed_lycoris_layers_are_refused_by_name() {
    let t = rewrite("kohya", |n, s| (n.replace(".lora_down.weight", ".hada_t1"), s.to_vec()));
    let err = Lora::read(t.path(), &tiny()).err().unwrap().to_string();
    assert!(err.contains("Tucker") && err.contains("hada_t1"), "{err}");
}
