//! img2img end to end against diffusers' StableDiffusionImg2ImgPipeline on the tiny model
//! (tests/reference/make_pipeline_fixtures.py): every scheduler, CFG with a negative prompt, a
//! non-square size, a fixed seed; the final image in [0, 1] within 2e-3.

use crate::common;

use burn::tensor::Device;
use common::{fixtures, max_abs_diff, pipeline_image, pipeline_input as input, pipeline_params as params, pipeline_reference as reference};
use keepsake_models::formats;
use keepsake_models::pipeline::{to_unit_floats, PipelineError};

fn check(device: &Device) {
    let sd = formats::diffusers::load(&fixtures().join("sd-tiny"), device).unwrap();
    let r = reference();
    let image = input(&r);
    let mut report = Vec::new();
    for run in r["runs"].as_array().unwrap() {
        let p = params(&r, run);
        let mut steps = 0;
        let decoded = sd.img2img_decoded(&image, &p, &mut |s| {
            steps = s.step;
            true
        });
        let ours = to_unit_floats(decoded.unwrap());
        let diff = max_abs_diff(&ours, &pipeline_image(run));
        report.push((
            format!("{} {} steps strength {}: {steps} steps run, max abs diff {diff:.2e}", p.scheduler, p.steps, p.strength),
            diff <= 2e-3,
        ));
    }
    let text: Vec<String> = report.iter().map(|(l, ok)| format!("{} {l}", if *ok { "ok  " } else { "FAIL" })).collect();
    eprintln!("{}", text.join("\n"));
    assert!(report.iter().all(|(_, ok)| *ok), "{}", text.join("\n"));
}

#[test]
fn img2img_matches_diffusers_on_the_cpu() {
    check(&Device::flex());
}

#[test]
fn sizes_must_be_multiples_of_8_and_cancel_works() {
    let device = Device::flex();
    let sd = formats::diffusers::load(&fixtures().join("sd-tiny"), &device).unwrap();
    let r = reference();
    let mut p = params(&r, &r["runs"][0]);
    p.width = 60;
    let err = sd.img2img(&input(&r), &p, &mut |_| true).unwrap_err();
    assert!(matches!(err, PipelineError::Size { what: "width", value: 60, .. }), "{err}");
    assert!(err.to_string().contains("56"), "{err}");
    p.width = 64;
    let err = sd.img2img(&input(&r), &p, &mut |s| s.step < 2).unwrap_err();
    assert!(matches!(err, PipelineError::Cancelled));
}

#[test]
fn missing_model_parts_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = formats::diffusers::load(dir.path(), &Device::flex()).err().unwrap();
    assert!(err.to_string().contains("vocab.json"), "{err}");
}

#[test]
fn img2img_matches_diffusers_on_wgpu() {
    if let Some(device) = common::wgpu_device() {
        check(&device);
    }
}

/// Long prompts are encoded in 77-token chunks and concatenated (A1111), emphasis scales token
/// embeddings and restores the chunk's mean, and the negative prompt is padded to as many chunks.
#[test]
fn long_and_weighted_prompts_are_encoded_the_a1111_way() {
    let device = Device::flex();
    let sd = formats::diffusers::load(&fixtures().join("sd-tiny"), &device).unwrap();
    let long = vec!["flowers"; 100].join(", ");
    let z = sd.encode_prompt(&long, 1, 1).unwrap();
    assert_eq!(z.dims(), [1, 77 * 3, 64]);
    let padded_negative = sd.encode_prompt("", 3, 1).unwrap();
    assert_eq!(padded_negative.dims(), [1, 77 * 3, 64]);

    let plain = sd.encode_prompt("a photo of a cat", 1, 1).unwrap();
    let weighted = sd.encode_prompt("a (photo:1.5) of a cat", 1, 1).unwrap();
    let mean = |t: &burn::tensor::Tensor<3>| t.clone().mean().into_scalar::<f32>();
    assert!((mean(&plain) - mean(&weighted)).abs() < 1e-5, "the mean is restored");
    let p: Vec<f32> = plain.into_data().try_to_vec::<f32>().unwrap();
    let w: Vec<f32> = weighted.into_data().try_to_vec::<f32>().unwrap();
    assert!(max_abs_diff(&p, &w) > 1e-3, "the weight changes the embedding");

    // A generation with a long prompt runs (the UNet attends to all 231 tokens).
    let r = reference();
    let mut p = params(&r, &r["runs"][4]);
    p.prompt = long;
    sd.img2img(&input(&r), &p, &mut |_| true).unwrap();
}
