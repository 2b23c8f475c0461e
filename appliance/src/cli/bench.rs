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
use keepsake_models::components::controlnet::{ControlNetModel, ControlSettings};
use keepsake_models::formats;
use keepsake_models::pipeline::{to_image, ControlUnit, Img2ImgParams, StableDiffusion};
use keepsake_models::schedulers::SchedulerKind;
use keepsake_models::torch_rng::{NormalKernel, TorchGenerator};
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::Error;

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
    ("img2img-lcm-int8-3cn", "img2img 512x512, LCM 4 of 7 steps, cfg 1.5, int8 + TAESD + 3 ControlNet units (the thesis' recipe)"),
];

/// The PyTorch scenario each of ours is timed against: the same work in PyTorch's own precision
/// (diffusers has no int8 path; fp16 on a GPU, f32 on the CPU).
pub fn pytorch_counterpart(name: &str) -> &str {
    match name {
        "unet-step-int8" => "unet-step",
        "img2img-lcm-int8" | "img2img-lcm-int4" => "img2img-lcm",
        other => other,
    }
}

/// The three ControlNet units of the thesis (openpose, depth, M-LSD) as bench_pytorch.py makes
/// them: random full-size ControlNets, each given the photo itself as its control image.
const CONTROLNETS: [&str; 3] = ["controlnet-openpose", "controlnet-depth", "controlnet-mlsd"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measured {
    pub name: String,
    /// The median of the timed runs.
    pub seconds: f64,
    /// Every timed run, in order (after the untimed warm-up run on a GPU).
    pub runs: Vec<f64>,
    pub peak_rss_mb: f64,
    /// GPU memory the runtime's pools held after the runs (their high-water mark: pages are kept
    /// for reuse); None on the CPU.
    pub gpu_reserved_mb: Option<f64>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// The folder bench_pytorch.py wrote (sd15-random.safetensors, taesd/, pytorch.json).
    #[arg(long)]
    pub dir: PathBuf,
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
    /// Timed runs per scenario, the median reported; on a GPU after one untimed warm-up run
    /// (shader compilation, autotuning). Default: 5 on a GPU, 1 on the CPU (nothing to warm).
    #[arg(long)]
    pub runs: Option<usize>,
    /// Only these scenarios (repeatable); all by default.
    #[arg(long)]
    pub only: Vec<String>,
    /// Only the picture comparisons (PSNR) of the pictures already in --dir; nothing is run.
    #[arg(long)]
    pub psnr_only: bool,
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
fn photo(dir: &Path) -> Result<RgbImage, Error> {
    let path = dir.join("photo.png");
    Ok(image::open(&path).map_err(|e| Error::file(&path, format!("cannot read: {e}"), "run bench_pytorch.py first"))?.to_rgb8())
}

fn randn<const D: usize>(generator: &mut TorchGenerator, shape: [usize; D], device: &Device) -> Tensor<D> {
    let n = shape.iter().product();
    Tensor::from_data(TensorData::new(generator.randn(n, NormalKernel::Scalar), shape), device)
}

/// Reads a result back: GPU work is only finished when its values are.
fn sync<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec().expect("f32")
}

/// The median of `runs` (the mean of the middle two for an even count).
pub fn median(runs: &[f64]) -> f64 {
    let mut v = runs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The weights a scenario runs on: the f32 checkpoint, or a booth file of this precision.
fn load(dir: &Path, booth: Option<&str>, taesd: bool, device: &Device) -> Result<StableDiffusion, Error> {
    if let Some(precision) = booth {
        return Ok(formats::load(&dir.join(format!("booth-{precision}.safetensors")), device)?);
    }
    let sd = formats::load(&dir.join("sd15-random.safetensors"), device)?;
    if taesd {
        Ok(formats::diffusers::with_tiny_vae(sd, &dir.join("taesd"))?)
    } else {
        Ok(sd)
    }
}

fn params(scheduler: SchedulerKind, steps: usize, cfg: f32) -> Img2ImgParams {
    Img2ImgParams {
        prompt: PROMPT.into(),
        negative_prompt: NEGATIVE.into(),
        strength: 0.6,
        steps,
        scheduler,
        schedule: keepsake_models::schedulers::Schedule::Automatic,
        cfg,
        seed: 4242,
        width: 512,
        height: 512,
        clip_skip: 1,
        noise: keepsake_models::noise::NoiseSource::Cpu(NormalKernel::Scalar),
    }
}

/// A scenario's measured part, run `warm + runs` times: the seconds of each run after the first
/// `warm`. Every run ends by reading its result back (GPU work is only finished when its values
/// are).
fn timed(warm: usize, runs: usize, mut once: impl FnMut() -> Result<(), Error>) -> Result<Vec<f64>, Error> {
    for _ in 0..warm {
        once()?;
    }
    (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            once()?;
            Ok(t0.elapsed().as_secs_f64())
        })
        .collect()
}

/// Runs one scenario here; the seconds of each timed run of its measured part.
fn run_scenario(name: &str, dir: &Path, device: &Device, warm: usize, runs: usize, out: &Path) -> Result<Vec<f64>, Error> {
    match name {
        "text-encode" => {
            let sd = load(dir, None, false, device)?;
            timed(warm, runs, || {
                // Each run encodes afresh: the pipeline would otherwise answer from what it remembers.
                sd.text_encoder.forget();
                sync(Tensor::cat(sd.encode_prompts(&[NEGATIVE, PROMPT], 1, 1)?, 0));
                Ok(())
            })
        }
        "unet-step" | "unet-step-int8" | "unet-step-int8-512x768" => {
            let sd = load(dir, (name != "unet-step").then_some("int8"), false, device)?;
            let (h, w) = if name.ends_with("512x768") { (96, 64) } else { (64, 64) };
            let mut g = TorchGenerator::manual_seed(0);
            let latents = randn(&mut g, [2, 4, h, w], device);
            let context = randn(&mut g, [2, 77, 768], device);
            timed(warm, runs, || {
                sync(sd.unet.forward(latents.clone(), 500.0, context.clone(), None));
                Ok(())
            })
        }
        "vae-decode" | "taesd-decode" => {
            let sd = load(dir, None, name == "taesd-decode", device)?;
            let mut g = TorchGenerator::manual_seed(0);
            let latents = randn(&mut g, [1, 4, 64, 64], device);
            timed(warm, runs, || {
                sync(sd.vae.decode_latents(latents.clone(), 1.0, None));
                Ok(())
            })
        }
        "img2img-lcm-int8" | "img2img-lcm-int4" | "img2img-lcm" | "img2img-euler-a" | "img2img-lcm-int8-3cn" => {
            let (booth, taesd, scheduler, steps, cfg) = match name {
                "img2img-euler-a" => (None, false, SchedulerKind::EulerAncestral, 20, 7.0),
                "img2img-lcm" => (None, true, SchedulerKind::Lcm, 7, 1.5),
                "img2img-lcm-int4" => (Some("int4"), true, SchedulerKind::Lcm, 7, 1.5),
                _ => (Some("int8"), true, SchedulerKind::Lcm, 7, 1.5),
            };
            let sd = load(dir, booth, taesd, device)?;
            let photo = photo(dir)?;
            let controls = if name.ends_with("-3cn") { controlnets(dir, &sd, device)? } else { Vec::new() };
            let units: Vec<ControlUnit> =
                controls.iter().map(|model| ControlUnit { model, image: photo.clone(), settings: ControlSettings::default() }).collect();
            let p = params(scheduler, steps, cfg);
            let mut picture = None;
            let seconds = timed(warm, runs, || {
                let decoded = sd.img2img_controlled(&photo, &p, &units, &mut |_| true)?;
                picture = Some(to_image(decoded));
                Ok(())
            })?;
            let picture = picture.ok_or_else(|| Error::new(format!("scenario {name}"), "no run made a picture", "use --runs 1 or more"))?;
            picture.save(out).map_err(|e| Error::file(out, format!("cannot write: {e}"), "check --dir is writable"))?;
            Ok(seconds)
        }
        other => Err(Error::new(
            format!("--scenario {other:?}"),
            "unknown",
            format!("use one of {}", SCENARIOS.iter().map(|s| s.0).collect::<Vec<_>>().join(", ")),
        )),
    }
}

/// The three random ControlNets, int8 in memory as the booth holds its units.
fn controlnets(dir: &Path, sd: &StableDiffusion, device: &Device) -> Result<Vec<ControlNetModel>, Error> {
    CONTROLNETS
        .iter()
        .map(|n| {
            let path = dir.join(n);
            formats::load_controlnet(&path, sd.unet_config.cross_attention_dim, device)
                .map(|m| keepsake_models::edits::quantize::quantize_module(m, keepsake_models::kernels::quantize::Bits::Eight))
                .map_err(|e| Error::file(&path, e, "run bench_pytorch.py first, it makes the ControlNets"))
        })
        .collect()
}

/// Where a scenario's picture goes: one per backend, so the GPU's can be held against the CPU's.
fn picture_path(dir: &Path, name: &str, backend: Backend) -> PathBuf {
    if backend == Backend::Cpu {
        dir.join(format!("ours-{name}.png"))
    } else {
        dir.join(format!("ours-{name}-{}.png", backend.name()))
    }
}

/// PSNR of two 8-bit images, in dB.
pub fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    let mse = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum::<f64>() / a.as_raw().len() as f64;
    10.0 * (255.0f64.powi(2) / mse).log10()
}

pub fn run(args: &BenchArgs) -> Result<String, Error> {
    // The pictures and PyTorch's side are named by where they are made: `auto` is decided first.
    let args = &BenchArgs { backend: args.backend.resolved(), ..args.clone() };
    if let Some(name) = &args.scenario {
        let compute = args.backend.compute(None);
        let gpu = compute.gpu.is_some();
        let runs = args.runs.unwrap_or(if gpu { 5 } else { 1 }).max(1);
        let out = picture_path(&args.dir, name, args.backend);
        let seconds = run_scenario(name, &args.dir, &compute.device, usize::from(gpu), runs, &out)?;
        let gpu_reserved_mb = gpu.then(|| compute.device.memory_pool_usage().map(|u| u.bytes_reserved as f64 / (1 << 20) as f64)).flatten();
        let m = Measured { name: name.clone(), seconds: median(&seconds), runs: seconds, peak_rss_mb: peak_rss_mb(), gpu_reserved_mb };
        return Ok(serde_json::to_string(&m).expect("measurements serialise"));
    }
    if args.psnr_only {
        let (pytorch, theirs_tag) = pytorch_side(args);
        return Ok(picture_comparisons(args, &pytorch, theirs_tag).join("\n"));
    }
    let model = args.dir.join("sd15-random.safetensors");
    if !model.is_file() {
        return Err(Error::file(
            &model,
            "missing",
            format!("make it with `.venv-reference/bin/python tests/reference/bench_pytorch.py {}`", args.dir.display()),
        ));
    }
    let exe = std::env::current_exe()
        .map_err(|e| Error::new("keepsake bench", format!("cannot find its own binary: {e}"), "run it by its path"))?;
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
            .map_err(|e| Error::file(&exe, format!("cannot run: {e}"), "run it by its path"))?;
        if !status.success() {
            return Err(Error::file(&booth, format!("baking the {precision} booth file failed"), "see the error above"));
        }
    }
    let backend = args.backend.name();
    let (pytorch, theirs_tag) = pytorch_side(args);
    let compute = args.backend.compute(None);
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build (overflow checks and debug assertions in every loop): its times are not the booth's; build with `cargo build --release -p keepsake`");
    }
    let build = if cfg!(debug_assertions) { "debug build" } else { "release build" };
    let mut lines = vec![
        format!(
            "Keepsake ({build}; CPU: {}) on {}; PyTorch {} on {}",
            keepsake_models::kernels::int8::Kernel::detect().describe(),
            compute.describe(),
            pytorch["torch"].as_str().unwrap_or("-"),
            pytorch["device"].as_str().unwrap_or("-")
        ),
        String::new(),
        format!("| scenario ({backend}) | Keepsake s (median) | PyTorch s (median) | ratio | Keepsake peak RSS MB | PyTorch peak RSS MB | Keepsake GPU MB | PyTorch GPU MB |"),
        "| --- | --- | --- | --- | --- | --- | --- | --- |".to_string(),
    ];
    drop(compute);
    let mut runs = Vec::new();
    for (name, what) in SCENARIOS.iter().filter(|(n, _)| args.only.is_empty() || args.only.iter().any(|o| o == n)) {
        eprintln!("running {name}: {what}");
        let mut cmd = Command::new(&exe);
        cmd.args(["bench", "--backend", backend, "--dir"]).arg(&args.dir).args(["--scenario", name]).env("KEEPSAKE_LOG", "warn");
        if let Some(r) = args.runs {
            cmd.args(["--runs", &r.to_string()]);
        }
        let out = cmd.output().map_err(|e| Error::file(&exe, format!("cannot run: {e}"), "run it by its path"))?;
        if !out.status.success() {
            return Err(Error::new(
                format!("scenario {name}"),
                format!("failed: {}", String::from_utf8_lossy(&out.stderr)),
                "see its error",
            ));
        }
        let m: Measured = serde_json::from_slice(out.stdout.trim_ascii())
            .map_err(|e| Error::new(format!("scenario {name}"), format!("printed no measurement: {e}"), "run it alone with --scenario"))?;
        let theirs = &pytorch[pytorch_counterpart(name)];
        let (t_s, t_rss, t_gpu) = (theirs["seconds"].as_f64(), theirs["peak_rss_mb"].as_f64(), theirs["gpu_peak_mb"].as_f64());
        let fmt = |v: Option<f64>, digits: usize| v.map(|v| format!("{v:.digits$}")).unwrap_or_else(|| "-".into());
        lines.push(format!(
            "| {name}: {what} | {:.3} | {} | {} | {:.0} | {} | {} | {} |",
            m.seconds,
            fmt(t_s, 3),
            fmt(t_s.map(|t| m.seconds / t), 2),
            m.peak_rss_mb,
            fmt(t_rss, 0),
            fmt(m.gpu_reserved_mb, 0),
            fmt(t_gpu, 0)
        ));
        eprintln!("{}", lines.last().unwrap());
        runs.push(format!("{name}: {}", m.runs.iter().map(|s| format!("{s:.3}")).collect::<Vec<_>>().join(" ")));
    }
    lines.push(String::new());
    lines.push(format!("Timed runs (s), each after one untimed warm-up run on a GPU: {}", runs.join("; ")));
    lines.extend(picture_comparisons(args, &pytorch, theirs_tag));
    Ok(lines.join("\n"))
}

/// PyTorch's side of the same run, and the tag of its pictures: CPU f32 beside the CPU, CUDA fp16
/// beside a GPU (CPU f32 where PyTorch had no GPU: the rehearsal on lavapipe).
fn pytorch_side(args: &BenchArgs) -> (serde_json::Value, &'static str) {
    let read =
        |file: &str| std::fs::read_to_string(args.dir.join(file)).ok().and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok());
    let (pytorch, tag) = match (args.backend, read("pytorch-cuda.json")) {
        (Backend::Cpu, _) | (_, None) => (read("pytorch.json"), ""),
        (Backend::Auto | Backend::Gpu, Some(cuda)) => (Some(cuda), "-cuda"),
    };
    (pytorch.unwrap_or(serde_json::Value::Null), tag)
}

/// PSNR lines for the pictures in --dir: int8 against f32, GPU against CPU, and ours against
/// PyTorch, where both pictures exist.
fn picture_comparisons(args: &BenchArgs, pytorch: &serde_json::Value, theirs_tag: &str) -> Vec<String> {
    let backend = args.backend.name();
    let mut lines = Vec::new();
    let open = |n: &str| image::open(args.dir.join(n)).ok().map(|i| i.to_rgb8());
    let mut comparisons: Vec<(String, String, String)> = vec![
        ("ours-img2img-lcm-int8.png".into(), "ours-img2img-lcm.png".into(), "int8 vs f32 (LCM + TAESD, CPU)".into()),
        ("ours-img2img-lcm-int4.png".into(), "ours-img2img-lcm.png".into(), "int4 vs f32 (LCM + TAESD, CPU)".into()),
        ("ours-img2img-lcm.png".into(), "pytorch-img2img-lcm.png".into(), "Keepsake f32 vs diffusers (LCM + TAESD, CPU)".into()),
        (
            "ours-img2img-euler-a.png".into(),
            "pytorch-img2img-euler-a.png".into(),
            "Keepsake f32 vs diffusers (Euler a + KL VAE, CPU)".into(),
        ),
    ];
    if args.backend != Backend::Cpu {
        let theirs = pytorch["device"].as_str().unwrap_or("PyTorch").to_string();
        comparisons.push((
            format!("ours-img2img-lcm-int8-{backend}.png"),
            "ours-img2img-lcm.png".into(),
            format!("GPU ({backend}) booth recipe (int8 weights, GPU activations) vs the CPU f32 picture, same seed"),
        ));
        for (name, _) in SCENARIOS.iter().filter(|(n, _)| n.starts_with("img2img")) {
            let ours = format!("ours-{name}-{backend}.png");
            comparisons.push((
                ours.clone(),
                format!("ours-{name}.png"),
                format!("GPU ({backend}) {name} vs the same scenario on the CPU (f32)"),
            ));
            comparisons.push((
                ours,
                format!("pytorch-{}{theirs_tag}.png", pytorch_counterpart(name)),
                format!("GPU ({backend}) {name} vs diffusers on {theirs}"),
            ));
        }
    }
    for (a, b, what) in comparisons {
        if let (Some(x), Some(y)) = (open(&a), open(&b)) {
            lines.push(format!("PSNR {what}: {:.1} dB", psnr(&x, &y)));
        }
    }
    lines
}
