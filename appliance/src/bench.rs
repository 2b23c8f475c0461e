//! `keepsake bench`: the full-size SD 1.5 architecture (random weights, made by
//! tests/reference/bench_pytorch.py) timed piece by piece and end to end, each scenario in its own
//! process so its peak RSS is its own; with PyTorch's times from the same run, the ratio per line.
//!
//! Inputs are PyTorch's: the latents and text context come from the ported torch generator with
//! the seeds the script uses, and the img2img photo from the same formula, so the outputs can be
//! compared as well as the times.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;
use keepsake_models::pipeline::{Img2ImgParams, StableDiffusion};
use keepsake_models::schedulers::SchedulerKind;
use keepsake_models::torch_rng::{NormalKernel, TorchGenerator};
use serde::{Deserialize, Serialize};

use crate::generate::ComputeBackend;

/// What each scenario measures; the names are shared with bench_pytorch.py.
pub const SCENARIOS: &[(&str, &str)] = &[
    ("text-encode", "text encoder, prompt + negative (2 x 77 tokens), f32"),
    ("unet-step", "one UNet step, batch 2 (CFG), 512x512, f32"),
    ("unet-step-int8", "one UNet step, batch 2 (CFG), 512x512, int8"),
    ("unet-step-int8-512x768", "one UNet step, batch 2 (CFG), 512x768, int8"),
    ("vae-decode", "KL VAE decode to 512x512, f32"),
    ("taesd-decode", "TAESD decode to 512x512, f32"),
    ("img2img-lcm-int8", "img2img 512x512, LCM 4 of 7 steps (strength 0.6), cfg 1.5, int8 + TAESD (the booth file)"),
    ("img2img-lcm-int4", "img2img 512x512, LCM 4 of 7 steps (strength 0.6), cfg 1.5, int4 + TAESD (booth file)"),
    ("img2img-lcm", "img2img 512x512, LCM 4 of 7 steps (strength 0.6), cfg 1.5, f32 + TAESD"),
    ("img2img-euler-a", "img2img 512x512, Euler a 12 of 20 steps (strength 0.6), cfg 7, f32 + KL VAE"),
];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measured {
    pub name: String,
    pub seconds: f64,
    pub peak_rss_mb: f64,
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// The folder bench_pytorch.py wrote (sd15-random.safetensors, taesd/, pytorch.json).
    #[arg(long)]
    pub dir: PathBuf,
    #[arg(long, value_enum, default_value_t = ComputeBackend::Cpu)]
    pub backend: ComputeBackend,
    /// Only these scenarios (repeatable); all by default.
    #[arg(long)]
    pub only: Vec<String>,
    /// Internal: run one scenario in this process and print its measurement as JSON.
    #[arg(long, hide = true)]
    pub scenario: Option<String>,
}

/// Peak resident memory of this process so far (VmHWM), in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

pub const PROMPT: &str = "portrait of an elderly woman, warm hand-painted animation style";
pub const NEGATIVE: &str = "blurry, lowres";

/// The 512x512 photo bench_pytorch.py wrote (both sides start from the same bytes).
fn photo(dir: &Path) -> Result<RgbImage, String> {
    let path = dir.join("photo.png");
    Ok(image::open(&path).map_err(|e| format!("{}: {e} (fix: run bench_pytorch.py first)", path.display()))?.to_rgb8())
}

fn randn<const D: usize>(generator: &mut TorchGenerator, shape: [usize; D], device: &Device) -> Tensor<D> {
    let n = shape.iter().product();
    Tensor::from_data(TensorData::new(generator.randn(n, NormalKernel::Scalar), shape), device)
}

/// Reads a result back: GPU work is only finished when its values are.
fn sync<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec().expect("f32")
}

/// The weights a scenario runs on: the f32 checkpoint, or a booth file of this precision.
fn load(dir: &Path, booth: Option<&str>, taesd: bool, device: &Device) -> Result<StableDiffusion, String> {
    if let Some(precision) = booth {
        return StableDiffusion::load(&dir.join(format!("booth-{precision}.safetensors")), device).map_err(|e| e.to_string());
    }
    let sd = StableDiffusion::load(&dir.join("sd15-random.safetensors"), device).map_err(|e| e.to_string())?;
    if taesd {
        sd.with_tiny_vae(&dir.join("taesd")).map_err(|e| e.to_string())
    } else {
        Ok(sd)
    }
}

fn img2img(sd: &StableDiffusion, photo: &RgbImage, scheduler: SchedulerKind, steps: usize, cfg: f32, out: &Path) -> Result<f64, String> {
    let p = Img2ImgParams {
        prompt: PROMPT.into(),
        negative_prompt: NEGATIVE.into(),
        strength: 0.6,
        steps,
        scheduler,
        cfg,
        seed: 4242,
        width: 512,
        height: 512,
        clip_skip: 1,
        noise_kernel: NormalKernel::Scalar,
    };
    let t0 = Instant::now();
    let image = sd.img2img(photo, &p, &mut |_| true).map_err(|e| e.to_string())?;
    let seconds = t0.elapsed().as_secs_f64();
    image.save(out).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(seconds)
}

/// Runs one scenario here; returns the seconds of the measured part.
fn run_scenario(name: &str, dir: &Path, device: &Device) -> Result<f64, String> {
    let time = |f: &mut dyn FnMut()| {
        let t0 = Instant::now();
        f();
        t0.elapsed().as_secs_f64()
    };
    match name {
        "text-encode" => {
            let sd = load(dir, None, false, device)?;
            Ok(time(&mut || {
                sync(Tensor::cat(sd.encode_prompts(&[NEGATIVE, PROMPT], 1, 1).expect("resident text encoder"), 0));
            }))
        }
        "unet-step" | "unet-step-int8" | "unet-step-int8-512x768" => {
            let sd = load(dir, (name != "unet-step").then_some("int8"), false, device)?;
            let (h, w) = if name.ends_with("512x768") { (96, 64) } else { (64, 64) };
            let mut g = TorchGenerator::manual_seed(0);
            let latents = randn(&mut g, [2, 4, h, w], device);
            let context = randn(&mut g, [2, 77, 768], device);
            Ok(time(&mut || {
                sync(sd.unet.forward(latents.clone(), 500.0, context.clone(), None));
            }))
        }
        "vae-decode" | "taesd-decode" => {
            let sd = load(dir, None, name == "taesd-decode", device)?;
            let mut g = TorchGenerator::manual_seed(0);
            let latents = randn(&mut g, [1, 4, 64, 64], device);
            Ok(time(&mut || {
                sync(sd.vae.decode_latents(latents.clone(), 1.0, None));
            }))
        }
        "img2img-lcm-int8" | "img2img-lcm-int4" | "img2img-lcm" => {
            let sd = load(dir, name.strip_prefix("img2img-lcm-"), true, device)?;
            img2img(&sd, &photo(dir)?, SchedulerKind::Lcm, 7, 1.5, &dir.join(format!("ours-{name}.png")))
        }
        "img2img-euler-a" => {
            let sd = load(dir, None, false, device)?;
            img2img(&sd, &photo(dir)?, SchedulerKind::EulerAncestral, 20, 7.0, &dir.join(format!("ours-{name}.png")))
        }
        other => {
            Err(format!("unknown scenario {other:?}; the scenarios are {}", SCENARIOS.iter().map(|s| s.0).collect::<Vec<_>>().join(", ")))
        }
    }
}

/// PSNR of two 8-bit images, in dB.
pub fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    let mse = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum::<f64>() / a.as_raw().len() as f64;
    10.0 * (255.0f64.powi(2) / mse).log10()
}

pub fn run(args: &BenchArgs) -> Result<String, String> {
    let device = args.backend.device();
    if let Some(name) = &args.scenario {
        let seconds = run_scenario(name, &args.dir, &device)?;
        let m = Measured { name: name.clone(), seconds, peak_rss_mb: peak_rss_mb() };
        return serde_json::to_string(&m).map_err(|e| e.to_string());
    }
    let model = args.dir.join("sd15-random.safetensors");
    if !model.is_file() {
        return Err(format!(
            "{} is missing (fix: make it with `.venv-reference/bin/python tests/reference/bench_pytorch.py {}`)",
            model.display(),
            args.dir.display()
        ));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    for precision in ["int8", "int4"] {
        let booth = args.dir.join(format!("booth-{precision}.safetensors"));
        if booth.is_file() {
            continue;
        }
        eprintln!("baking {} ({precision}, TAESD)", booth.display());
        let status = Command::new(&exe)
            .args(["models", "bake", "--quantize", precision, "--model"])
            .arg(&model)
            .arg("--taesd")
            .arg(args.dir.join("taesd"))
            .arg("--out")
            .arg(&booth)
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("baking the {precision} booth file failed"));
        }
    }
    let pytorch: serde_json::Value = std::fs::read_to_string(args.dir.join("pytorch.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(serde_json::Value::Null);
    let backend = match args.backend {
        ComputeBackend::Cpu => "cpu",
        ComputeBackend::Wgpu => "wgpu",
    };
    let mut lines = vec![
        format!("| scenario ({backend}) | Keepsake s | PyTorch s | ratio | Keepsake peak RSS MB | PyTorch peak RSS MB |"),
        "| --- | --- | --- | --- | --- | --- |".to_string(),
    ];
    for (name, what) in SCENARIOS.iter().filter(|(n, _)| args.only.is_empty() || args.only.iter().any(|o| o == n)) {
        eprintln!("running {name}: {what}");
        let out = Command::new(&exe)
            .args(["bench", "--backend", backend, "--dir"])
            .arg(&args.dir)
            .args(["--scenario", name])
            .env("KEEPSAKE_LOG", "warn")
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("{name} failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let m: Measured = serde_json::from_slice(out.stdout.trim_ascii()).map_err(|e| format!("{name}: {e}"))?;
        let theirs = &pytorch[name];
        let (t_s, t_rss) = (theirs["seconds"].as_f64(), theirs["peak_rss_mb"].as_f64());
        let fmt = |v: Option<f64>, digits: usize| v.map(|v| format!("{v:.digits$}")).unwrap_or_else(|| "-".into());
        lines.push(format!(
            "| {name}: {what} | {:.2} | {} | {} | {:.0} | {} |",
            m.seconds,
            fmt(t_s, 2),
            fmt(t_s.map(|t| m.seconds / t), 2),
            m.peak_rss_mb,
            fmt(t_rss, 0)
        ));
        eprintln!("{}", lines.last().unwrap());
    }
    // int8 against f32, and ours against PyTorch, where both pictures exist.
    let open = |n: &str| image::open(args.dir.join(n)).ok().map(|i| i.to_rgb8());
    for (a, b, what) in [
        ("ours-img2img-lcm-int8.png", "ours-img2img-lcm.png", "int8 vs f32 (LCM + TAESD)"),
        ("ours-img2img-lcm-int4.png", "ours-img2img-lcm.png", "int4 vs f32 (LCM + TAESD)"),
        ("ours-img2img-lcm.png", "pytorch-img2img-lcm.png", "Keepsake f32 vs diffusers (LCM + TAESD)"),
        ("ours-img2img-euler-a.png", "pytorch-img2img-euler-a.png", "Keepsake f32 vs diffusers (Euler a + KL VAE)"),
    ] {
        if let (Some(x), Some(y)) = (open(a), open(b)) {
            lines.push(format!("PSNR {what}: {:.1} dB", psnr(&x, &y)));
        }
    }
    Ok(lines.join("\n"))
}
