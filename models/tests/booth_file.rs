//! The booth file (`keepsake models bake`): f32 round trip is exact; int8 stays within a stated
//! tolerance of diffusers on the tiny model, on the CPU and on wgpu; damaged files are named.

use crate::common;

use std::collections::HashMap;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{DType, Device, Tensor};
use common::{fixtures, max_abs_diff, pipeline_image, pipeline_input as input, pipeline_params as params, pipeline_reference as reference};
use keepsake_models::edits::lora::Lora;
use keepsake_models::formats;
use keepsake_models::formats::booth_file::{self, BoothFile, Precision};
use keepsake_models::kernels::cpu_layers::CpuForward;
use keepsake_models::kernels::quantize::{Bits, BlockQuantized};
use keepsake_models::pipeline::{to_unit_floats, StableDiffusion};
use keepsake_models::schedulers::SchedulerConfig;

/// int8 (blocks of 64, f16 scales) against diffusers' f32 image in [0, 1], as max abs diff and
/// PSNR, on wgpu (int8 weights, f32 activations). Measured on the tiny model: max 0.020-0.029 and
/// PSNR 47-49 dB over the five schedulers.
const INT8_MAX_ABS: f32 = 0.05;
const INT8_MIN_PSNR: f64 = 40.0;
/// The same on the CPU, whose integer kernels also round each activation to 8 bits (per pixel or
/// token and 64 channels): measured max 0.024-0.080, PSNR 37.5-39.3 dB for the 9-step samplers
/// and 45.9 dB for the booth's own recipe (LCM, 4 steps), which keeps wgpu's 40 dB. The tiny
/// random model passes every rounding through 9 steps with few channels to average it; the
/// full-size int8 picture is within PSNR 40 dB of the f32 one by a wide margin (`keepsake
/// bench`, docs/BENCHMARKS.md).
const INT8_CPU_MAX_ABS: f32 = 0.1;
const INT8_CPU_MIN_PSNR: f64 = 36.0;
const BOOTH_RECIPE_SCHEDULER: &str = "lcm";

/// int4 (blocks of 32, f16 scales), measured the same way: max 0.35-0.49, PSNR 20.5-22.9 dB, CPU
/// and wgpu alike. Sixteen times coarser steps than int8 (24 dB) on a random model whose few
/// channels average little of that noise away; the full-size model is measured in BENCHMARKS.md.
const INT4_MAX_ABS: f32 = 0.6;
const INT4_MIN_PSNR: f64 = 19.0;

fn psnr(a: &[f32], b: &[f32]) -> f64 {
    let mse = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum::<f64>() / a.len() as f64;
    10.0 * (1.0 / mse).log10()
}

fn bake(precision: Precision, dir: &std::path::Path) -> std::path::PathBuf {
    let sd = formats::diffusers::load(&fixtures().join("sd-tiny"), &Device::flex()).unwrap();
    let out = dir.join(format!("booth-{precision}.safetensors"));
    booth_file::write(&sd, precision, &out).unwrap();
    out
}

fn diffs(sd: &StableDiffusion) -> Vec<(String, f32, f64)> {
    let r = reference();
    r["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| {
            let p = params(&r, run);
            let ours = to_unit_floats(sd.img2img_decoded(&input(&r), &p, &mut |_| true).unwrap());
            let reference = pipeline_image(run);
            (format!("{} {} steps", p.scheduler, p.steps), max_abs_diff(&ours, &reference), psnr(&ours, &reference))
        })
        .collect()
}

#[test]
fn an_f32_booth_file_gives_the_same_image() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let original = formats::diffusers::load(&fixtures().join("sd-tiny"), &device).unwrap();
    let baked = BoothFile::open(&bake(Precision::F32, dir.path())).unwrap().load(&device).unwrap();
    let r = reference();
    let p = params(&r, &r["runs"][0]);
    let a = to_unit_floats(original.img2img_decoded(&input(&r), &p, &mut |_| true).unwrap());
    // The booth file's text encoder stays in the file; its encodings are remembered.
    assert!(!baked.text_encoder.is_resident());
    let b = to_unit_floats(baked.img2img_decoded(&input(&r), &p, &mut |_| true).unwrap());
    assert_eq!(a, b);
    assert_eq!(baked.scheduler_config.to_json(), original.scheduler_config.to_json(), "the file records the model's scheduler config");
    assert!(baked.scheduler_config.source.starts_with(&original.scheduler_config.source), "{}", baked.scheduler_config.source);
    // A v-prediction model's config travels in the file.
    let mut vpred = original;
    vpred.scheduler_config =
        SchedulerConfig::from_json(r#"{"prediction_type": "v_prediction", "beta_schedule": "scaled_linear"}"#, "v.json").unwrap();
    let out = dir.path().join("vpred.safetensors");
    booth_file::write(&vpred, Precision::F32, &out).unwrap();
    let read = BoothFile::open(&out).unwrap().contents().unwrap().scheduler_config;
    assert_eq!((read.to_json(), read.source.starts_with("v.json")), (vpred.scheduler_config.to_json(), true));
    assert!(!baked.text_encoder.is_resident());
    assert_eq!(baked.text_encoder.remembered_count(), 2, "prompt and negative prompt");
    let again = to_unit_floats(baked.img2img_decoded(&input(&r), &p, &mut |_| true).unwrap());
    assert_eq!(a, again);
    assert_eq!(baked.text_encoder.remembered_count(), 2);
}

/// The booth reads its text encoder from the file it loaded, even after a new bake is renamed over
/// the path while it runs.
#[test]
fn a_new_bake_over_the_path_does_not_reach_a_running_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let path = bake(Precision::F32, dir.path());
    let original = formats::diffusers::load(&fixtures().join("sd-tiny"), &device).unwrap();
    let baked = BoothFile::open(&path).unwrap().load(&device).unwrap();
    let int8 = bake(Precision::Int8, dir.path());
    std::fs::rename(&int8, &path).unwrap();
    let floats = |t: Tensor<3>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    assert_eq!(floats(baked.encode_prompt("a portrait", 1, 1).unwrap()), floats(original.encode_prompt("a portrait", 1, 1).unwrap()));
}

/// A LoRA merged into a booth-file pipeline reaches the text encoder kept in the file: it is read,
/// changed and kept in memory from then on (the file no longer describes it).
#[test]
fn a_lora_merged_after_loading_a_booth_file_reaches_its_text_encoder() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let lora = fixtures().join("lora/kohya.safetensors");
    let mut original = formats::diffusers::load(&fixtures().join("sd-tiny"), &device).unwrap();
    let mut baked = BoothFile::open(&bake(Precision::F32, dir.path())).unwrap().load(&device).unwrap();
    let before = baked.encode_prompt("a portrait", 1, 1).unwrap();
    for sd in [&mut original, &mut baked] {
        Lora::read(&lora, sd).unwrap().merge_into(sd, 0.8).unwrap();
    }
    assert!(baked.text_encoder.is_resident() && baked.text_encoder.file().is_none());
    assert_eq!(baked.text_encoder.remembered_count(), 0, "encodings made before the merge are forgotten");
    let floats = |t: Tensor<3>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    let after = floats(baked.encode_prompt("a portrait", 1, 1).unwrap());
    assert_eq!(after, floats(original.encode_prompt("a portrait", 1, 1).unwrap()));
    assert!(max_abs_diff(&after, &floats(before)) > 1e-3, "the LoRA changed the text encoder");
}

fn check_quantized(precision: Precision, device: &Device) {
    let dir = tempfile::tempdir().unwrap();
    let path = bake(precision, dir.path());
    let file = BoothFile::open(&path).unwrap();
    let contents = file.contents().unwrap();
    // Every weight whose blocked axis is a whole number of blocks (most of the tiny model's).
    assert!(contents.quantized_parameters * 10 > contents.parameters * 8, "{contents:?}");
    assert_eq!(contents.precision, precision.to_string());
    assert!(contents.origin.source.ends_with("sd-tiny"), "{:?}", contents.origin);
    let f32_size = std::fs::metadata(bake(Precision::F32, dir.path())).unwrap().len();
    let on_cpu = *device == Device::flex();
    let (shrink, max_abs, min_psnr) = match precision {
        Precision::Int8 if on_cpu => (3, INT8_CPU_MAX_ABS, INT8_CPU_MIN_PSNR),
        Precision::Int8 => (3, INT8_MAX_ABS, INT8_MIN_PSNR),
        _ => (5, INT4_MAX_ABS, INT4_MIN_PSNR),
    };
    assert!(contents.file_bytes * shrink < f32_size, "{precision} file {} bytes, f32 {f32_size}", contents.file_bytes);

    let sd = file.load(device).unwrap();
    // Convolutions stay int8 in the device's memory too (channels-last storage on wgpu).
    let mut count = Quantized::default();
    sd.unet.visit(&mut count);
    assert!(count.convolutions > 0, "no convolution weight is int8 on {device:?}");
    if *device == Device::flex() {
        // On the CPU int8 layers run Keepsake's integer kernels (Linear weights re-blocked at
        // load); int4 ones burn's own ops.
        let block = &sd.unet.mid_block.attentions[0].transformer_blocks[0];
        let int8 = precision == Precision::Int8;
        assert_eq!(CpuForward::<3>::uses_int8_kernels(&block.attn1.to_q), int8, "{precision}: a Linear layer");
        assert_eq!(CpuForward::<4>::uses_int8_kernels(&sd.unet.mid_block.resnets[0].conv1), int8, "{precision}: a convolution");
    }
    let report = diffs(&sd);
    eprintln!("{report:?}");
    for (run, diff, psnr) in &report {
        assert!(*diff <= max_abs && *psnr >= min_psnr, "{run}: {precision} differs from diffusers by {diff} (PSNR {psnr:.1} dB)");
        if precision == Precision::Int8 && run.starts_with(BOOTH_RECIPE_SCHEDULER) {
            assert!(*diff <= INT8_MAX_ABS && *psnr >= INT8_MIN_PSNR, "{run}, the booth's recipe: int8 differs from diffusers by {diff} (PSNR {psnr:.1} dB)");
        }
    }
    assert!(report.iter().any(|(run, ..)| run.starts_with(BOOTH_RECIPE_SCHEDULER)), "the booth's recipe is among the runs: {report:?}");
    // Quantisation really happened: the image is not the f32 one (which is within 2e-3).
    assert!(report.iter().any(|(_, d, _)| *d > 1e-2), "{report:?}");
}

/// Counts weights held quantised (int8 or int4), and the convolutions (rank 4) among them.
#[derive(Default)]
struct Quantized {
    all: usize,
    convolutions: usize,
}

impl ModuleVisitor for Quantized {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if matches!(param.val().dtype(), DType::QFloat(_)) {
            self.all += 1;
            self.convolutions += usize::from(D == 4);
        }
    }
}

/// A conv weight [out, in, kh, kw] blocked along `in`, as the device holds it, dequantises to our
/// own arithmetic exactly.
fn check_conv_weight(device: &Device) {
    let shape = [8, 128, 3, 3];
    let values: Vec<f32> = (0..shape.iter().product::<usize>()).map(|i| (i * 7919 % 1013) as f32 / 500.0 - 1.0).collect();
    for bits in [Bits::Eight, Bits::Four] {
        let q = BlockQuantized::quantize(&values, &shape, 1, bits);
        let ours = q.dequantize();
        let tensor = q.into_tensor::<4>(device);
        assert!(matches!(tensor.dtype(), DType::QFloat(_)));
        assert_eq!(tensor.dims(), shape);
        let theirs: Vec<f32> = tensor.dequantize().cast(DType::F32).into_data().convert::<f32>().try_to_vec().unwrap();
        assert_eq!(ours, theirs, "{bits:?}");
    }
}

#[test]
fn conv_weights_dequantise_exactly_on_the_cpu() {
    check_conv_weight(&Device::flex());
}

#[test]
fn conv_weights_dequantise_exactly_on_wgpu() {
    if let Some(device) = common::wgpu_device() {
        check_conv_weight(&device);
    }
}

#[test]
fn int8_stays_near_diffusers_on_the_cpu() {
    check_quantized(Precision::Int8, &Device::flex());
}

#[test]
fn int4_stays_near_diffusers_on_the_cpu() {
    check_quantized(Precision::Int4, &Device::flex());
}

#[test]
fn int4_stays_near_diffusers_on_wgpu() {
    if let Some(device) = common::wgpu_device() {
        check_quantized(Precision::Int4, &device);
    }
}

#[test]
fn int8_stays_near_diffusers_on_wgpu() {
    if let Some(device) = common::wgpu_device() {
        check_quantized(Precision::Int8, &device);
    }
}

#[test]
fn damaged_and_foreign_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    // A diffusers weights file is safetensors but not a booth file.
    let unet = fixtures().join("sd-tiny/unet/diffusion_pytorch_model.safetensors");
    let err = BoothFile::open(&unet).err().unwrap().to_string();
    assert!(err.contains("not a Keepsake booth file") && err.contains("keepsake models bake"), "{err}");

    // A booth file missing one tensor and with another mis-shaped.
    let good = std::fs::read(bake(Precision::Int8, dir.path())).unwrap();
    let st = safetensors::SafeTensors::deserialize(&good).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&good).unwrap();
    let metadata: HashMap<String, String> = header.metadata().clone().unwrap();
    let bias = "unet.conv_out.bias";
    let reshaped = vec![0u8; 4 * 8];
    let views: Vec<(String, safetensors::tensor::TensorView)> = st
        .tensors()
        .into_iter()
        .filter(|(name, _)| name != "unet.conv_in.bias")
        .map(|(name, view)| {
            if name == bias {
                (name, safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![8], &reshaped).unwrap())
            } else {
                (name, view)
            }
        })
        .collect();
    let damaged = dir.path().join("damaged.safetensors");
    std::fs::write(&damaged, safetensors::serialize(views, Some(metadata)).unwrap()).unwrap();
    let err = BoothFile::open(&damaged).unwrap().load(&Device::flex()).err().unwrap().to_string();
    assert!(err.contains("missing tensor unet.conv_in.bias"), "{err}");
    assert!(err.contains("unet.conv_out.bias: shape [8] in the file, the model needs [4]"), "{err}");

    // A truncated file.
    let truncated = dir.path().join("truncated.safetensors");
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    assert!(BoothFile::open(&truncated).err().is_some() || BoothFile::open(&truncated).unwrap().load(&Device::flex()).is_err());
}

/// A LoRA merged into a loaded int8 booth file keeps its layers int8 (merged, then quantised
/// again) and paints diffusers' LoRA picture within the CPU's int8 tolerance.
#[test]
fn a_lora_merged_into_an_int8_booth_file_stays_int8() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let mut sd = BoothFile::open(&bake(Precision::Int8, dir.path())).unwrap().load(&device).unwrap();
    let count = |sd: &StableDiffusion| {
        let mut q = Quantized::default();
        sd.unet.visit(&mut q);
        sd.text_encoder.get(&sd.text_encoder_config, &sd.device).unwrap().visit(&mut q);
        q.all
    };
    let before = count(&sd);
    Lora::read(&fixtures().join("lora/kohya.safetensors"), &sd).unwrap().merge_into(&mut sd, 0.8).unwrap();
    assert_eq!(count(&sd), before, "merged layers left int8");
    let r = reference();
    let lora_runs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("lora_outputs.json")).unwrap()).unwrap();
    let run = &lora_runs["runs"][0];
    assert_eq!(run["loras"][0][0], "kohya");
    let ours = to_unit_floats(sd.img2img_decoded(&input(&r), &params(&r, run), &mut |_| true).unwrap());
    let theirs: Vec<f32> = run["image"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    let (d, p) = (max_abs_diff(&ours, &theirs), psnr(&ours, &theirs));
    // On the CPU: the integer kernels' tolerance (the run is Euler a, 9 steps).
    assert!(d <= INT8_CPU_MAX_ABS && p >= INT8_CPU_MIN_PSNR, "int8 + LoRA differs from diffusers by {d} (PSNR {p:.1} dB)");
}
