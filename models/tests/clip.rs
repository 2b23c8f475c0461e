//! The CLIP text encoder against transformers' CLIPTextModel on the tiny fixture
//! (tests/reference/make_text_encoder_fixtures.py): ids from our tokenizer, hidden states of the
//! last layer and of clip skip 2, on the CPU and (where an adapter exists) on wgpu.

use crate::common;
use std::io::Read;

use common::fixtures;

use burn::tensor::{Device, Int, Tensor, TensorData};
use keepsake_models::components::clip::{ClipTextConfig, ClipTextModel};
use keepsake_models::components::tokenizer::ClipTokenizer;
use keepsake_models::weights::{self, WeightsError};

fn tokenizer() -> ClipTokenizer {
    let gz = std::fs::read(fixtures().join("clip/bpe_simple_vocab_16e6.txt.gz")).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut text).unwrap();
    ClipTokenizer::from_openai_bpe(&text).unwrap()
}

fn config() -> ClipTextConfig {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("sd-tiny/text_encoder/config.json")).unwrap()).unwrap()
}

fn load(device: &Device) -> ClipTextModel {
    weights::load(config().init(device), &fixtures().join("sd-tiny/text_encoder/model.safetensors"), "text encoder", &[]).unwrap()
}

fn check(device: &Device) {
    let model = load(device);
    let tok = tokenizer();
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("text_encoder_outputs.json")).unwrap()).unwrap();
    for case in reference["cases"].as_array().unwrap() {
        let prompt = case["prompt"].as_str().unwrap();
        let ids = tok.encode_padded(prompt);
        let expected_ids: Vec<u32> = case["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        assert_eq!(ids, expected_ids, "{prompt:?}");
        let input = Tensor::<2, Int>::from_data(TensorData::new(ids.iter().map(|i| *i as i64).collect::<Vec<_>>(), [1, 77]), device);
        for (key, skip) in [("last_hidden_state", 1), ("clip_skip_2", 2)] {
            let out: Vec<f32> = model.forward(input.clone(), skip).into_data().try_to_vec::<f32>().unwrap();
            let expected: Vec<f32> = case[key].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
            assert_eq!(out.len(), expected.len());
            let diff = out.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(diff <= 1e-4, "{prompt:?} {key}: max abs diff {diff}");
        }
    }
}

#[test]
fn matches_transformers_on_the_cpu() {
    check(&Device::flex());
}

#[test]
fn matches_transformers_on_wgpu() {
    if let Some(device) = common::wgpu_device() {
        check(&device);
    }
}

#[test]
fn weight_file_errors_name_the_tensor_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let good = std::fs::read(fixtures().join("sd-tiny/text_encoder/model.safetensors")).unwrap();

    let truncated = dir.path().join("truncated.safetensors");
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    let err = weights::load(config().init(&device), &truncated, "text encoder", &[]).err().unwrap();
    assert!(matches!(err, WeightsError::NotSafetensors { .. }), "{err}");

    let pickle = dir.path().join("model.ckpt");
    std::fs::write(&pickle, b"\x80\x02}q\x00(X\x05\x00\x00\x00state").unwrap();
    let err = weights::load(config().init(&device), &pickle, "text encoder", &[]).err().unwrap();
    assert!(err.to_string().contains("not a readable safetensors file"), "{err}");

    // A model of another shape: every mis-shaped tensor is named with both shapes.
    let mut wrong = config();
    wrong.intermediate_size += 3;
    let err =
        weights::load(wrong.init(&device), &fixtures().join("sd-tiny/text_encoder/model.safetensors"), "text encoder", &[]).err().unwrap();
    let text = err.to_string();
    assert!(text.contains("mlp.fc1.weight") && text.contains("40") && text.contains("37"), "{text}");

    // A deeper model than the file: the missing layer's tensors are named.
    let mut deeper = config();
    deeper.num_hidden_layers += 1;
    let err =
        weights::load(deeper.init(&device), &fixtures().join("sd-tiny/text_encoder/model.safetensors"), "text encoder", &[]).err().unwrap();
    assert!(err.to_string().contains("missing tensor text_model.encoder.layers.3.self_attn.q_proj.weight"), "{err}");
}

/// bf16 checkpoints (common on model sites) load too: the same weights, rounded to bf16.
#[test]
fn bf16_weights_load_and_give_nearly_the_same_embeddings() {
    use safetensors::tensor::{Dtype, TensorView};
    let device = Device::flex();
    let bytes = std::fs::read(fixtures().join("sd-tiny/text_encoder/model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let converted: Vec<(String, Vec<u8>, Vec<usize>)> = st
        .tensors()
        .into_iter()
        .map(|(name, v)| {
            assert_eq!(v.dtype(), Dtype::F16);
            let data: Vec<u8> = v
                .data()
                .chunks(2)
                .flat_map(|b| half::bf16::from_f32(half::f16::from_le_bytes([b[0], b[1]]).to_f32()).to_le_bytes())
                .collect();
            (name, data, v.shape().to_vec())
        })
        .collect();
    let views: Vec<(String, TensorView)> =
        converted.iter().map(|(n, d, s)| (n.clone(), TensorView::new(Dtype::BF16, s.clone(), d).unwrap())).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bf16.safetensors");
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
    let bf16_model = weights::load(config().init(&device), &path, "text encoder", &[]).unwrap();
    let f16_model = load(&device);
    let ids = Tensor::<2, Int>::from_data(
        TensorData::new(tokenizer().encode_padded("a photo of a cat").iter().map(|i| *i as i64).collect::<Vec<_>>(), [1, 77]),
        &device,
    );
    let a: Vec<f32> = bf16_model.forward(ids.clone(), 1).into_data().try_to_vec::<f32>().unwrap();
    let b: Vec<f32> = f16_model.forward(ids, 1).into_data().try_to_vec::<f32>().unwrap();
    let diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
    assert!(diff > 0.0 && diff < 0.1, "bf16 rounding changes the output a little: {diff}");
}
