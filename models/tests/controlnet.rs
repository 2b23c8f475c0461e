//! ControlNet img2img against diffusers' StableDiffusionControlNetImg2ImgPipeline
//! (tests/reference/make_controlnet_fixtures.py): one unit, and three units with their own weights
//! and guidance windows (MultiControlNet); final image within 2e-3. Foreign ControlNets are refused.

mod common;

use burn::tensor::Device;
use common::{fixtures, max_abs_diff, pipeline_input as input, pipeline_params as params, pipeline_reference};
use keepsake_models::controlnet::ControlNetModel;
use keepsake_models::pipeline::{to_unit_floats, ControlUnit, StableDiffusion};

#[test]
fn controlnet_units_match_diffusers() {
    let device = Device::flex();
    let sd = StableDiffusion::from_diffusers_dir(&fixtures().join("sd-tiny"), &device).unwrap();
    let base = pipeline_reference();
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join("controlnet_outputs.json")).unwrap()).unwrap();
    let dir = fixtures().join("controlnet");
    let nets: Vec<ControlNetModel> = (1..=3).map(|k| ControlNetModel::load(&dir.join(format!("cn{k}")), 64, &device).unwrap()).collect();
    for run in r["runs"].as_array().unwrap() {
        let units: Vec<ControlUnit> = run["units"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                let k: usize = u["net"].as_str().unwrap()[2..].parse().unwrap();
                ControlUnit {
                    model: &nets[k - 1],
                    image: image::open(dir.join(u["image"].as_str().unwrap())).unwrap().to_rgb8(),
                    weight: u["weight"].as_f64().unwrap() as f32,
                    start: u["start"].as_f64().unwrap(),
                    end: u["end"].as_f64().unwrap(),
                }
            })
            .collect();
        let p = params(&base, run);
        let ours = to_unit_floats(sd.img2img_controlled(&input(&base), &p, &units, &mut |_| true).unwrap());
        let theirs: Vec<f32> = run["image"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        let d = max_abs_diff(&ours, &theirs);
        eprintln!("{} unit(s): max abs diff {d:.2e}", units.len());
        assert!(d <= 2e-3, "{} unit(s): differs from diffusers by {d}", units.len());
        // And the control mattered: without it the picture is another.
        let plain = to_unit_floats(sd.img2img_decoded(&input(&base), &p, &mut |_| true).unwrap());
        assert!(max_abs_diff(&plain, &theirs) > 1e-2);
    }
}

#[test]
fn guidance_windows_follow_diffusers() {
    let device = Device::flex();
    let net = ControlNetModel::load(&fixtures().join("controlnet/cn1"), 64, &device).unwrap();
    let unit = ControlUnit { model: &net, image: image::RgbImage::new(8, 8), weight: 1.0, start: 0.2, end: 0.8 };
    // 6 steps: i/6 < 0.2 drops steps 0 and 1; (i+1)/6 > 0.8 drops steps 4 and 5.
    let active: Vec<bool> = (0..6).map(|i| unit.active(i, 6)).collect();
    assert_eq!(active, [false, false, true, true, false, false]);
    // 5 steps: the edges themselves are inside (1/5 is not below 0.2, 4/5 not above 0.8).
    let active: Vec<bool> = (0..5).map(|i| unit.active(i, 5)).collect();
    assert_eq!(active, [false, true, true, true, false]);
}

#[test]
fn a_controlnet_for_another_model_is_refused() {
    let err = ControlNetModel::load(&fixtures().join("controlnet/cn1"), 2048, &Device::flex()).err().unwrap().to_string();
    assert!(err.contains("64-wide text context") && err.contains("SD 1.5"), "{err}");
}
