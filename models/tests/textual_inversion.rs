//! Textual inversion against diffusers' load_textual_inversion (tests/reference/make_textual_inversion_fixtures.py):
//! the prompt's token ids, the final image within 2e-3, the same through a booth file; files that
//! do not fit are named.

use crate::common;

use burn::tensor::Device;
use common::{fixtures, max_abs_diff, pipeline_input as input, pipeline_params as params, pipeline_reference};
use keepsake_models::edits::textual_inversion::TextualInversion;
use keepsake_models::formats;
use keepsake_models::formats::booth_file::{self, BoothFile, Precision};
use keepsake_models::pipeline::{to_unit_floats, StableDiffusion};

fn reference() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("textual_inversion_outputs.json")).unwrap()).unwrap()
}

fn embedding() -> std::path::PathBuf {
    fixtures().join("embeddings/keepsake-style.safetensors")
}

fn image(sd: &StableDiffusion) -> Vec<f32> {
    let base = pipeline_reference();
    let r = reference();
    let mut p = params(&base, &r);
    p.prompt = r["prompt"].as_str().unwrap().to_string();
    to_unit_floats(sd.img2img_decoded(&input(&base), &p, &mut |_| true).unwrap())
}

#[test]
fn an_embedding_word_paints_what_diffusers_paints() {
    let device = Device::flex();
    let mut sd = formats::diffusers::load(&fixtures().join("sd-tiny"), &device).unwrap();
    let ti = TextualInversion::read(&embedding(), None).unwrap();
    assert_eq!((ti.word.as_str(), ti.count, ti.dim), ("keepsake-style", 2, 64));
    ti.add_to(&mut sd).unwrap();

    let r = reference();
    let expected: Vec<u32> = r["token_ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
    let ids = sd.tokenizer.encode(r["prompt"].as_str().unwrap());
    assert_eq!(ids, expected[1..expected.len() - 1], "token ids differ from transformers'");

    let theirs: Vec<f32> = r["image"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    let ours = image(&sd);
    let d = max_abs_diff(&ours, &theirs);
    assert!(d <= 2e-3, "differs from diffusers by {d}");

    // Baked into a booth file, the word keeps its ids and vectors.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("booth.safetensors");
    booth_file::write(&sd, Precision::F32, &path).unwrap();
    let baked = BoothFile::open(&path).unwrap().load(&device).unwrap();
    assert_eq!(baked.tokenizer.encode(r["prompt"].as_str().unwrap()), ids);
    assert_eq!(image(&baked), ours);
}

fn write_embedding(dir: &std::path::Path, name: &str, tensors: &[(&str, Vec<usize>)]) -> std::path::PathBuf {
    let owned: Vec<(String, Vec<usize>, Vec<u8>)> =
        tensors.iter().map(|(n, s)| (n.to_string(), s.clone(), vec![0u8; 4 * s.iter().product::<usize>()])).collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = owned
        .iter()
        .map(|(n, s, b)| (n.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap()))
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
    path
}

#[test]
fn embeddings_that_do_not_fit_are_named() {
    let device = Device::flex();
    let mut sd = formats::diffusers::load(&fixtures().join("sd-tiny"), &device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // SD 2.x width.
    let wide = write_embedding(dir.path(), "wide.safetensors", &[("emb_params", vec![1, 1024])]);
    let err = TextualInversion::read(&wide, None).unwrap().add_to(&mut sd).err().unwrap().to_string();
    assert!(err.contains("1024 values") && err.contains("takes 64"), "{err}");
    // A word the tokenizer already has.
    let known = write_embedding(dir.path(), "woman.safetensors", &[("emb_params", vec![1, 64])]);
    let err = TextualInversion::read(&known, None).unwrap().add_to(&mut sd).err().unwrap().to_string();
    assert!(err.contains("already a word"), "{err}");
    // A LoRA given as an embedding.
    let lora = fixtures().join("lora/peft.safetensors");
    let err = TextualInversion::read(&lora, None).err().unwrap().to_string();
    assert!(err.contains("not an embedding file"), "{err}");
    // Nothing was added by the refused files.
    assert_eq!(sd.tokenizer.vocab_size(), 49408);
}

#[test]
fn an_a1111_pt_embedding_is_read_like_its_safetensors_twin() {
    let pt = TextualInversion::read(&fixtures().join("embeddings/a1111-pt/keepsake-style.pt"), None).unwrap();
    let st = TextualInversion::read(&embedding(), None).unwrap();
    assert_eq!((pt.word.as_str(), pt.count, pt.dim), ("keepsake-style", 2, 64));
    assert_eq!(pt.vectors, st.vectors);
    // Something that is neither: named as unreadable, with the formats that are.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pt");
    std::fs::write(&junk, b"PK\x03\x04 not really a zip").unwrap();
    let err = TextualInversion::read(&junk, None).err().unwrap().to_string();
    assert!(err.contains("cannot read the embedding") && err.contains(".pt"), "{err}");
}
