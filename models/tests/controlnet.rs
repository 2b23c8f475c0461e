//! ControlNet img2img against diffusers' StableDiffusionControlNetImg2ImgPipeline
//! (tests/reference/make_controlnet_fixtures.py): one unit, and three units with their own weights
//! and guidance windows (MultiControlNet); final image within 2e-3. Foreign ControlNets are refused.

use crate::common;

use burn::tensor::Device;
use common::{fixtures, max_abs_diff, pipeline_input as input, pipeline_params as params, pipeline_reference};
use keepsake_models::components::controlnet::{ControlMode, ControlNetModel, ControlSettings};
use keepsake_models::formats;
use keepsake_models::pipeline::{to_unit_floats, ControlUnit};

#[test]
fn controlnet_units_match_diffusers() {
    let device = Device::flex();
    let sd = formats::diffusers::load(&fixtures().join("sd-tiny"), &device).unwrap();
    let base = pipeline_reference();
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join("controlnet_outputs.json")).unwrap()).unwrap();
    let dir = fixtures().join("controlnet");
    let nets: Vec<ControlNetModel> = (1..=3).map(|k| formats::load_controlnet(&dir.join(format!("cn{k}")), 64, &device).unwrap()).collect();
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
                    settings: ControlSettings {
                        weight: u["weight"].as_f64().unwrap() as f32,
                        start: u["start"].as_f64().unwrap(),
                        end: u["end"].as_f64().unwrap(),
                        mode: ControlMode::Balanced,
                    },
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
    let net = formats::load_controlnet(&fixtures().join("controlnet/cn1"), 64, &device).unwrap();
    let unit = ControlUnit {
        model: &net,
        image: image::RgbImage::new(8, 8),
        settings: ControlSettings { weight: 1.0, start: 0.2, end: 0.8, mode: ControlMode::Balanced },
    };
    // 6 steps: i/6 < 0.2 drops steps 0 and 1; (i+1)/6 > 0.8 drops steps 4 and 5.
    let active: Vec<bool> = (0..6).map(|i| unit.settings.active(i, 6)).collect();
    assert_eq!(active, [false, false, true, true, false, false]);
    // 5 steps: the edges themselves are inside (1/5 is not below 0.2, 4/5 not above 0.8).
    let active: Vec<bool> = (0..5).map(|i| unit.settings.active(i, 5)).collect();
    assert_eq!(active, [false, true, true, true, false]);
}

#[test]
fn a_controlnet_for_another_model_is_refused() {
    let err = formats::load_controlnet(&fixtures().join("controlnet/cn1"), 2048, &Device::flex()).err().unwrap().to_string();
    assert!(err.contains("64-wide text context") && err.contains("SD 1.5"), "{err}");
}

/// The single-file layout (lllyasviel's `control_v11p_sd15_*.safetensors`): the diffusers fixture
/// renamed through the table into that layout loads back and paints the same picture.
#[test]
fn the_single_file_layout_loads_and_matches() {
    use keepsake_models::components::controlnet::ControlNetConfig;
    use keepsake_models::formats::ldm::{controlnet_table, rename, ControlNetYaml, CONTROL_PREFIX};

    // Known names of SD 1.5's ControlNet 1.1 files.
    let sd15: ControlNetConfig = serde_json::from_str(
        r#"{"block_out_channels":[320,640,1280,1280],"down_block_types":["CrossAttnDownBlock2D","CrossAttnDownBlock2D","CrossAttnDownBlock2D","DownBlock2D"],"layers_per_block":2,"cross_attention_dim":768}"#,
    )
    .unwrap();
    let t = controlnet_table(&sd15);
    let r = |k: &str| rename(k, &t, true).unwrap();
    assert_eq!(r("input_hint_block.0.weight"), "controlnet_cond_embedding.conv_in.weight");
    assert_eq!(r("input_hint_block.12.bias"), "controlnet_cond_embedding.blocks.5.bias");
    assert_eq!(r("input_hint_block.14.weight"), "controlnet_cond_embedding.conv_out.weight");
    assert_eq!(r("zero_convs.11.0.weight"), "controlnet_down_blocks.11.weight");
    assert_eq!(r("middle_block_out.0.bias"), "controlnet_mid_block.bias");
    assert_eq!(r("input_blocks.4.1.proj_in.weight"), "down_blocks.1.attentions.0.proj_in.weight");
    assert_eq!(r("time_embed.2.weight"), "time_embedding.linear_2.weight");
    assert!(rename("output_blocks.0.0.in_layers.0.weight", &t, true).is_none(), "a ControlNet has no decoder half");

    // The fixture in the single-file layout.
    let dir = fixtures().join("controlnet/cn1");
    let config: ControlNetConfig = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let table = controlnet_table(&config);
    let bytes = std::fs::read(dir.join("diffusion_pytorch_model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let renamed: Vec<(String, safetensors::tensor::TensorView)> = st
        .tensors()
        .into_iter()
        .map(|(k, v)| (format!("{CONTROL_PREFIX}{}", rename(&k, &table, false).unwrap_or_else(|| panic!("no LDM name for {k}"))), v))
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let single = tmp.path().join("control_v11p_sd15_tiny.safetensors");
    std::fs::write(&single, safetensors::serialize(renamed, None).unwrap()).unwrap();

    let device = Device::flex();
    let net = formats::load_controlnet(&single, 64, &device).unwrap();
    let sd = formats::diffusers::load(&fixtures().join("sd-tiny"), &device).unwrap();
    let base = pipeline_reference();
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join("controlnet_outputs.json")).unwrap()).unwrap();
    let run = &r["runs"][0];
    let unit = ControlUnit {
        model: &net,
        image: image::open(fixtures().join("controlnet/control1.png")).unwrap().to_rgb8(),
        settings: ControlSettings {
            weight: run["units"][0]["weight"].as_f64().unwrap() as f32,
            start: 0.0,
            end: 1.0,
            mode: ControlMode::Balanced,
        },
    };
    let (control_image, settings) = (unit.image.clone(), unit.settings);
    let ours = to_unit_floats(sd.img2img_controlled(&input(&base), &params(&base, run), &[unit], &mut |_| true).unwrap());
    let theirs: Vec<f32> = run["image"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    let d = max_abs_diff(&ours, &theirs);
    assert!(d <= 2e-3, "single-file ControlNet differs from diffusers by {d}");
    assert_eq!(ControlNetYaml::beside(&single).unwrap(), ControlNetYaml::Sd15);

    // Its .yaml, when there is one, sets the heads and the text width: the ControlNet's own
    // params (control_stage_config) before the UNet's, as lllyasviel's files have them.
    let with_yaml = |control: &str| {
        let text = format!(
            "model:\n  params:\n    control_stage_config:\n      params:\n{control}    unet_config:\n      params:\n        num_heads: 2\n"
        );
        std::fs::write(single.with_extension("yaml"), text).unwrap();
        formats::load_controlnet(&single, 64, &device)
    };
    let picture = |net: &ControlNetModel| {
        let unit = ControlUnit { model: net, image: control_image.clone(), settings };
        to_unit_floats(sd.img2img_controlled(&input(&base), &params(&base, run), &[unit], &mut |_| true).unwrap())
    };
    let eight = with_yaml("        num_heads: 8\n        context_dim: 64\n").unwrap();
    assert!(max_abs_diff(&picture(&eight), &theirs) <= 2e-3, "the yaml's 8 heads are cn1's");
    assert!(matches!(ControlNetYaml::beside(&single).unwrap(), ControlNetYaml::Read { num_heads: 8, context_dim: Some(64), .. }));
    let four = with_yaml("        num_heads: 4\n").unwrap();
    assert!(max_abs_diff(&picture(&four), &theirs) > 1e-3, "4 heads from the yaml change the picture");
    let err = with_yaml("        num_head_channels: 64\n").err().unwrap().to_string();
    assert!(err.contains("num_head_channels") && err.contains(".yaml"), "{err}");
    let err = with_yaml("        num_heads: 8\n        context_dim: 768\n").err().unwrap().to_string();
    assert!(err.contains("context_dim 768"), "{err}");
    std::fs::write(single.with_extension("yaml"), "model: [unclosed").unwrap();
    let err = formats::load_controlnet(&single, 64, &device).err().unwrap().to_string();
    assert!(err.contains("not valid YAML"), "{err}");

    // A UNet checkpoint is not a ControlNet.
    let err = formats::load_controlnet(&fixtures().join("sd-tiny-single/sd-tiny.safetensors"), 64, &device).err().unwrap().to_string();
    assert!(err.contains("not a single-file ControlNet"), "{err}");
}

/// The booth's stylizer runs its ControlNet units on every visit: the control image made from
/// the photo by the unit's preprocessor, fitted to the picture, as a hand-made run does.
#[test]
fn the_booth_stylizer_makes_its_control_images_from_the_photo() {
    use keepsake_models::pipeline::{to_image, Img2ImgParams};
    use keepsake_models::preprocessors::control_image::{fit, ResizeMode};
    use keepsake_models::preprocessors::{canny::canny, resize_for_detection, Preprocessor};
    use keepsake_models::schedulers::SchedulerKind;
    use keepsake_models::stylize::diffusion_stylizer::{BoothControl, DiffusionPreset, DiffusionStylizer, SeedPolicy};
    use keepsake_models::Stylizer;

    let device = Device::flex();
    let load = || formats::diffusers::load(&fixtures().join("sd-tiny"), &device).unwrap();
    let net = || formats::load_controlnet(&fixtures().join("controlnet/cn1"), 64, &device).unwrap();
    let photo = input(&pipeline_reference());
    let (w, h) = photo.dimensions();
    let preset = DiffusionPreset {
        steps: 6,
        strength: 0.7,
        scheduler: SchedulerKind::Euler,
        cfg: 5.0,
        seed: SeedPolicy::Fixed(7),
        ..DiffusionPreset::warm_animation()
    };
    let control = BoothControl {
        model: net(),
        preprocessor: Preprocessor::Canny { low: 50, high: 120 },
        resolution: 128,
        settings: ControlSettings { weight: 0.9, start: 0.0, end: 0.8, mode: ControlMode::Balanced },
    };
    let booth = DiffusionStylizer::new(load(), preset.clone()).with_controls(vec![control]);
    assert!(booth.name().contains("ControlNet canny 0.9"), "{}", booth.name());
    let ours = booth.stylize(&photo, &mut |_| {}).unwrap();

    let sd = load();
    let model = net();
    let edges = image::DynamicImage::ImageLuma8(canny(&resize_for_detection(&photo, 128), 50, 120)).to_rgb8();
    let unit = ControlUnit {
        model: &model,
        image: fit(&edges, w, h, ResizeMode::CropAndResize),
        settings: ControlSettings { weight: 0.9, start: 0.0, end: 0.8, mode: ControlMode::Balanced },
    };
    let p = Img2ImgParams {
        prompt: preset.prompt.clone(),
        negative_prompt: preset.negative_prompt.clone(),
        strength: preset.strength,
        steps: preset.steps,
        scheduler: preset.scheduler,
        schedule: keepsake_models::schedulers::Schedule::Automatic,
        cfg: preset.cfg,
        seed: 7,
        width: w,
        height: h,
        clip_skip: 1,
        noise: keepsake_models::noise::NoiseSource::cpu(),
    };
    let input = image::imageops::resize(&photo, w, h, image::imageops::FilterType::Lanczos3);
    let by_hand = to_image(sd.img2img_controlled(&input, &p, &[unit], &mut |_| true).unwrap());
    assert!(ours == by_hand, "the booth's picture is not the hand-made controlled one");
    let plain = to_image(sd.img2img_controlled(&input, &p, &[], &mut |_| true).unwrap());
    assert!(ours != plain, "the ControlNet unit changed nothing");
}

/// A1111's control modes: "my prompt is more important" scales the residual k levels below the
/// middle block by 0.825^k; "ControlNet is more important" does that too and leaves the negative
/// prompt's half of the CFG batch without control.
#[test]
fn control_modes_weigh_the_residuals_as_a1111_does() {
    use burn::tensor::{Distribution, Tensor};
    let device = Device::flex();
    let net = formats::load_controlnet(&fixtures().join("controlnet/cn1"), 64, &device).unwrap();
    let base = pipeline_reference();
    let photo = input(&base);
    let (w, h) = photo.dimensions();
    let latents = Tensor::<4>::random([2, 4, (h / 2) as usize, (w / 2) as usize], Distribution::Normal(0.0, 1.0), &device);
    let context = Tensor::<3>::random([2, 77, 64], Distribution::Normal(0.0, 1.0), &device);
    let hint = Tensor::<4>::random([2, 3, h as usize, w as usize], Distribution::Uniform(0.0, 1.0), &device);
    let r = || net.forward(latents.clone(), 500.0, context.clone(), hint.clone(), 0.7);
    let values = |t: Tensor<4>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    let (plain, soft) = (r(), r().soft());
    let n = plain.down.len();
    for (k, (a, b)) in plain.down.iter().zip(&soft.down).enumerate() {
        let expected: Vec<f32> = values(a.clone()).iter().map(|v| v * 0.825f64.powi((n - k) as i32) as f32).collect();
        assert!(max_abs_diff(&values(b.clone()), &expected) < 1e-6, "level {k} of {n}");
    }
    assert_eq!(values(plain.mid.clone()), values(soft.mid.clone()));
    let half = r().prompt_half_only();
    for (a, b) in plain.down.iter().chain([&plain.mid]).zip(half.down.iter().chain([&half.mid])) {
        let (a, b) = (values(a.clone()), values(b.clone()));
        let mid = a.len() / 2;
        assert!(b[..mid].iter().all(|v| *v == 0.0), "the negative prompt's half keeps control");
        assert_eq!(&b[mid..], &a[mid..]);
    }

    // Through the pipeline: each mode paints its own picture; without CFG the two soft modes agree.
    let sd = formats::diffusers::load(&fixtures().join("sd-tiny"), &device).unwrap();
    let control = image::open(fixtures().join("controlnet/control1.png")).unwrap().to_rgb8();
    let paint = |mode: ControlMode, cfg: f32| {
        let mut p = params(&base, &base["runs"][0]);
        p.cfg = cfg;
        let unit = ControlUnit { model: &net, image: control.clone(), settings: ControlSettings { mode, ..Default::default() } };
        to_unit_floats(sd.img2img_controlled(&photo, &p, &[unit], &mut |_| true).unwrap())
    };
    let (balanced, prompt, strong) = (paint(ControlMode::Balanced, 7.0), paint(ControlMode::Prompt, 7.0), paint(ControlMode::Control, 7.0));
    assert!(max_abs_diff(&balanced, &prompt) > 1e-3 && max_abs_diff(&prompt, &strong) > 1e-3);
    assert_eq!(paint(ControlMode::Prompt, 1.0), paint(ControlMode::Control, 1.0));
}

/// A ControlNet quantised to int8 in memory (as the booth keeps its units) guides the picture as
/// the f32 one does, within the int8 tolerance of the booth file's tests.
#[test]
fn an_int8_controlnet_paints_like_the_f32_one() {
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::tensor::{DType, Tensor};
    use keepsake_models::edits::quantize::quantize_module;
    use keepsake_models::kernels::quantize::Bits;

    /// Parameters (values) held int8, and all of them.
    struct Int8(usize, usize);
    impl ModuleVisitor for Int8 {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let n = param.val().dims().iter().product::<usize>();
            self.1 += n;
            if matches!(param.val().dtype(), DType::QFloat(_)) {
                self.0 += n;
            }
        }
    }
    let device = Device::flex();
    let sd = formats::diffusers::load(&fixtures().join("sd-tiny"), &device).unwrap();
    let f32_net = formats::load_controlnet(&fixtures().join("controlnet/cn1"), 64, &device).unwrap();
    let int8_net = quantize_module(formats::load_controlnet(&fixtures().join("controlnet/cn1"), 64, &device).unwrap(), Bits::Eight);
    let mut count = Int8(0, 0);
    int8_net.visit(&mut count);
    // The tiny net's 32-wide layers are not a whole number of blocks; its 64-wide ones are.
    assert!(count.0 * 4 > count.1, "{} of {} parameters int8", count.0, count.1);
    let base = pipeline_reference();
    let control = image::open(fixtures().join("controlnet/control1.png")).unwrap().to_rgb8();
    let paint = |net: &ControlNetModel| {
        let unit = ControlUnit {
            model: net,
            image: control.clone(),
            settings: ControlSettings { weight: 1.0, start: 0.0, end: 1.0, mode: ControlMode::Balanced },
        };
        to_unit_floats(sd.img2img_controlled(&input(&base), &params(&base, &base["runs"][0]), &[unit], &mut |_| true).unwrap())
    };
    let (a, b) = (paint(&f32_net), paint(&int8_net));
    let mse = a.iter().zip(&b).map(|(x, y)| ((x - y) as f64).powi(2)).sum::<f64>() / a.len() as f64;
    let psnr = 10.0 * (1.0 / mse.max(1e-12)).log10();
    assert!(max_abs_diff(&a, &b) <= 0.05 && psnr >= 40.0, "int8 ControlNet: max {} PSNR {psnr:.1} dB", max_abs_diff(&a, &b));
    assert!(a != b, "quantisation happened");
}
