//! img2img end to end against diffusers' StableDiffusionImg2ImgPipeline on the tiny model
//! (tests/reference/make_pipeline_fixtures.py): every scheduler, CFG with a negative prompt, a
//! non-square size, a fixed seed; the final image in [0, 1] within 2e-3.

use crate::common;

use burn::tensor::Device;
use common::{fixtures, max_abs_diff, pipeline_image, pipeline_input as input, pipeline_params as params, pipeline_reference as reference};
use keepsake_models::formats;
use keepsake_models::pipeline::{to_unit_floats, PipelineError};

fn check(device: &Device) {
    check_runs(device, "runs");
}

/// The runs under `key` of the reference: each picture within 2e-3 of the reference's.
fn check_runs(device: &Device, key: &str) {
    let sd = formats::diffusers::load(&fixtures().join("sd-tiny"), device).unwrap();
    let r = reference();
    let image = input(&r);
    let mut report = Vec::new();
    for run in r[key].as_array().unwrap() {
        let p = params(&r, run);
        let mut steps = 0;
        let decoded = sd.img2img_decoded(&image, &p, &mut |s| {
            steps = s.step;
            true
        });
        let ours = to_unit_floats(decoded.unwrap());
        let diff = max_abs_diff(&ours, &pipeline_image(run));
        report.push((
            format!("{} {:?} {} steps strength {}: {steps} calls, max abs diff {diff:.2e}", p.scheduler, p.schedule, p.steps, p.strength),
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

/// A1111's other samplers on the tiny model: PLMS and UniPC against diffusers' pipeline, the
/// k-diffusion ones (two model calls a step, noise drawn while sampling, A1111's img2img start)
/// against k-diffusion around the same UNet and VAE.
#[test]
fn the_other_samplers_match_their_reference_on_the_cpu() {
    check_runs(&Device::flex(), "sampler_runs");
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

/// A folder that brings its own scheduler config (a v-prediction, zero-terminal-SNR model with
/// trailing timesteps; one whose config says "leading", as save_pretrained writes for PNDM) gives
/// diffusers' picture for `Sampler.from_config(pipe.scheduler.config)`
/// (tests/reference/make_model_scheduler_fixtures.py), and a different one from SD 1.5's config.
#[test]
fn a_models_own_scheduler_config_is_followed_as_diffusers_follows_it() {
    let r = reference();
    let image = input(&r);
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("model_scheduler_outputs.json")).unwrap()).unwrap();
    let plain = formats::diffusers::load(&fixtures().join("sd-tiny"), &Device::flex()).unwrap();
    let mut report = Vec::new();
    for run in fixture["runs"].as_array().unwrap() {
        let dir = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(fixtures().join("sd-tiny")).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name() != "scheduler" {
                std::os::unix::fs::symlink(entry.path(), dir.path().join(entry.file_name())).unwrap();
            }
        }
        std::fs::create_dir(dir.path().join("scheduler")).unwrap();
        std::fs::write(dir.path().join("scheduler/scheduler_config.json"), run["config"].to_string()).unwrap();
        let sd = formats::load(dir.path(), &Device::flex()).unwrap();
        assert!(sd.scheduler_config.source.ends_with("scheduler/scheduler_config.json"), "{}", sd.scheduler_config.source);
        let p = params(&r, run);
        let ours = to_unit_floats(sd.img2img_decoded(&image, &p, &mut |_| true).unwrap());
        let sd15 = to_unit_floats(plain.img2img_decoded(&image, &p, &mut |_| true).unwrap());
        let theirs = pipeline_image(run);
        let (diff, from_sd15) = (max_abs_diff(&ours, &theirs), max_abs_diff(&sd15, &theirs));
        report.push((
            format!("{} / {}: max abs diff {diff:.2e} (SD 1.5's config: {from_sd15:.2e})", run["model"], p.scheduler),
            diff <= 2e-3 && from_sd15 > 1e-2,
        ));
    }
    let text: Vec<String> = report.iter().map(|(l, ok)| format!("{} {l}", if *ok { "ok  " } else { "FAIL" })).collect();
    eprintln!("{}", text.join("\n"));
    assert!(report.iter().all(|(_, ok)| *ok), "{}", text.join("\n"));
}

/// txt2img with A1111's "NV" noise (what a CUDA GPU draws for the seed): diffusers' picture when
/// its starting latents are that source's first draw (tests/reference/make_nv_rng_fixtures.py).
#[test]
fn txt2img_with_gpu_noise_starts_from_cudas_latents() {
    use keepsake_models::noise::NoiseSource;
    use keepsake_models::pipeline::{Flow, Img2ImgParams, Start};
    let r = reference();
    let fixture: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join("nv_rng.json")).unwrap()).unwrap();
    let run = &fixture["txt2img"];
    let sd = formats::diffusers::load(&fixtures().join("sd-tiny"), &Device::flex()).unwrap();
    let p = Img2ImgParams {
        prompt: r["prompt"].as_str().unwrap().into(),
        negative_prompt: r["negative_prompt"].as_str().unwrap().into(),
        strength: 1.0,
        steps: run["steps"].as_u64().unwrap() as usize,
        scheduler: run["scheduler"].as_str().unwrap().parse().unwrap(),
        schedule: keepsake_models::schedulers::Schedule::Automatic,
        cfg: run["cfg"].as_f64().unwrap() as f32,
        seed: run["seed"].as_u64().unwrap(),
        width: run["width"].as_u64().unwrap() as u32,
        height: run["height"].as_u64().unwrap() as u32,
        clip_skip: 1,
        noise: NoiseSource::Nv,
    };
    let picture = |p: &Img2ImgParams| to_unit_floats(sd.generate(Start::Noise, p, &[], &mut |_| Flow::Continue).unwrap());
    let theirs = pipeline_image(run);
    let diff = max_abs_diff(&picture(&p), &theirs);
    assert!(diff <= 2e-3, "NV noise: max abs diff {diff:.2e} from diffusers");
    let cpu = max_abs_diff(&picture(&Img2ImgParams { noise: NoiseSource::cpu(), ..p.clone() }), &theirs);
    assert!(cpu > 1e-2, "the CPU generator's noise gives another picture ({cpu:.2e})");
}
