//! `keepsake generate`: one img2img from the command line, reproducible by seed, with A1111's
//! "parameters" text written into the PNG so the settings travel with the picture.

use std::path::PathBuf;
use std::time::Instant;

use keepsake_models::edits::extra_networks::LoraFolder;
use keepsake_models::formats;
use keepsake_models::pipeline::{to_image, ControlUnit, Img2ImgParams};
use keepsake_models::schedulers::{Schedule, SchedulerKind};
use keepsake_models::torch_rng::NormalKernel;

use crate::api::options::RandnSource;
use crate::backend::Backend;
use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NoiseKernelArg {
    Auto,
    Scalar,
    Avx2,
}

impl NoiseKernelArg {
    pub fn kernel(self) -> NormalKernel {
        match self {
            NoiseKernelArg::Auto => NormalKernel::native(),
            NoiseKernelArg::Scalar => NormalKernel::Scalar,
            NoiseKernelArg::Avx2 => NormalKernel::Avx2,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// A single-file SD 1.x checkpoint (.safetensors, with its LDM .yaml beside it if any) or a diffusers folder.
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long)]
    pub input: PathBuf,
    #[arg(long)]
    pub output: PathBuf,
    #[arg(long)]
    pub prompt: String,
    #[arg(long, default_value = "")]
    pub negative_prompt: String,
    #[arg(long, default_value_t = 0.6)]
    pub strength: f64,
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// The sampler: euler-a | euler | lms | heun | dpm2 | dpm2-a | dpmpp-2s-a | dpmpp-sde |
    /// dpmpp-2m | dpmpp-2m-sde | ddim | plms | unipc | lcm (A1111's names work too: "DPM++ 2M
    /// Karras"). Euler, Euler a, DPM++ 2M, DDIM, PLMS, UniPC and LCM run as diffusers' classes on
    /// the model's scheduler config; the rest, and any sampler given a --schedule, as A1111 runs
    /// them with k-diffusion.
    #[arg(long, default_value = "euler-a")]
    pub scheduler: String,
    /// The noise schedule, as A1111's "Schedule type": automatic | uniform | karras |
    /// exponential | sgm_uniform ("automatic": the sampler's own).
    #[arg(long, default_value = "automatic")]
    pub schedule: String,
    #[arg(long, default_value_t = 7.0)]
    pub cfg: f32,
    /// The same seed gives the same picture as diffusers with torch.Generator("cpu").manual_seed(seed).
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long)]
    pub width: Option<u32>,
    #[arg(long)]
    pub height: Option<u32>,
    /// A1111's clip skip (1 = last layer).
    #[arg(long, default_value_t = 1)]
    pub clip_skip: usize,
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
    /// Which of PyTorch's CPU noise kernels to reproduce: the one PyTorch uses on this machine
    /// (auto), the scalar one (ARM, AVX-512) or the AVX2 one.
    #[arg(long, value_enum, default_value_t = NoiseKernelArg::Auto)]
    pub noise_kernel: NoiseKernelArg,
    /// Where the noise comes from: cpu (torch's CPU generator, as diffusers and A1111's "CPU"
    /// draw it) or gpu (what a CUDA GPU draws, A1111's "NV" port: a GPU A1111's seed gives its noise).
    #[arg(long, value_enum, default_value_t = RandnSource::Cpu)]
    pub rng: RandnSource,
    /// A LoRA to merge, as FILE or FILE:WEIGHT; repeatable.
    #[arg(long = "lora", value_name = "FILE[:WEIGHT]", value_parser = crate::extras::parse_lora)]
    pub loras: Vec<(PathBuf, f32)>,
    /// Where `<lora:NAME:WEIGHT>` tags in the prompt find NAME.safetensors (A1111's LoRA folder).
    #[arg(long, value_name = "DIR")]
    pub lora_dir: Option<PathBuf>,
    /// A textual-inversion embedding (.safetensors or A1111 .pt); its file name is the word to use in the prompt. Repeatable.
    #[arg(long = "embedding", value_name = "FILE")]
    pub embeddings: Vec<PathBuf>,
    /// A ControlNet unit: model=DIR[,module=canny|openpose|mlsd|depth|none][,image=FILE][,weight=1][,start=0][,end=1]
    /// [,resize=crop|just|fill][,mode=balanced|prompt|controlnet][,res=512][,low=100,high=200]; a module makes the
    /// control image from the photo (or image).
    /// Repeatable (MultiControlNet).
    #[arg(long = "controlnet", value_name = "SPEC", value_parser = crate::cli::control_args::parse_controlnet)]
    pub controlnets: Vec<crate::cli::control_args::ControlSpec>,
    /// The annotator weights folder the ControlNet preprocessors read (body_pose_model.pth, ...);
    /// default $KEEPSAKE_ANNOTATORS or /var/lib/keepsake/annotators.
    #[arg(long, value_name = "DIR")]
    pub annotators: Option<PathBuf>,
    /// Decode pictures larger than the VAE's training size (512 px) in tiles: bounded memory.
    #[arg(long)]
    pub vae_tiling: bool,
    /// A diffusers scheduler_config.json for the samplers instead of the model's own (a single
    /// file brings none: SD 1.5's is used), e.g. a v-prediction model's.
    #[arg(long, value_name = "FILE")]
    pub scheduler_config: Option<PathBuf>,
}

pub fn run(args: GenerateArgs) -> Result<(), Error> {
    let (scheduler, named_schedule) = SchedulerKind::parse_with_schedule(&args.scheduler)
        .map_err(|e| Error::new("--scheduler", e, "see `keepsake generate --help` for the samplers"))?;
    let schedule = match Schedule::parse(&args.schedule) {
        Some(Schedule::Automatic) => named_schedule,
        Some(schedule) => schedule,
        None => {
            return Err(Error::new(
                format!("--schedule {}", args.schedule),
                "no such schedule",
                format!("use one of {}", Schedule::ALL.map(|s| s.name()).join(", ")),
            ))
        }
    };
    scheduler.implementation(schedule).map_err(|e| Error::new(format!("--schedule {}", schedule.name()), e, "leave --schedule out"))?;
    if !(0.0..=1.0).contains(&args.strength) {
        return Err(Error::new(format!("--strength {}", args.strength), "out of range", "use a value from 0 to 1"));
    }
    let photo =
        image::open(&args.input).map_err(|e| Error::file(&args.input, format!("cannot read: {e}"), "use a JPEG or PNG photo"))?.to_rgb8();
    let width = args.width.unwrap_or(photo.width() / 8 * 8);
    let height = args.height.unwrap_or(photo.height() / 8 * 8);
    let seed = args.seed.unwrap_or_else(|| uuid::Uuid::new_v4().as_u128() as u32 as u64);
    // A1111's <lora:name:weight> tags: merged from the LoRA folder, cut from the prompt.
    let (prompt, tags) = keepsake_models::edits::extra_networks::take_lora_tags(&args.prompt)
        .map_err(|e| Error::new("--prompt", e, "write LoRA tags as <lora:NAME:WEIGHT>"))?;
    let mut loras = args.loras.clone();
    for tag in tags {
        let dir = args.lora_dir.as_ref().ok_or_else(|| {
            Error::new(format!("<lora:{}> in the prompt", tag.name), "no LoRA folder given", "give the LoRA folder with --lora-dir")
        })?;
        let file = LoraFolder(dir).resolve(&tag.name).ok_or_else(|| {
            Error::new(
                format!("<lora:{}> in the prompt", tag.name),
                format!("there is no {}", dir.join(format!("{}.safetensors", tag.name)).display()),
                "put the LoRA there or correct the name",
            )
        })?;
        loras.push((file, tag.weight));
    }
    let params = Img2ImgParams {
        prompt,
        negative_prompt: args.negative_prompt,
        strength: args.strength,
        steps: args.steps,
        scheduler,
        schedule,
        cfg: args.cfg,
        seed,
        width,
        height,
        clip_skip: args.clip_skip,
        noise: args.rng.noise(args.noise_kernel.kernel()),
    };
    // Preprocessors see the photo as it came (A1111 runs them at their own resolution).
    let mut annotators = keepsake_models::preprocessors::Annotators::from_env();
    if let Some(dir) = &args.annotators {
        annotators.dir = dir.clone();
    }
    let controls =
        args.controlnets.iter().map(|spec| spec.control_image(&photo, width, height, &annotators)).collect::<Result<Vec<_>, _>>()?;
    let device = args.backend.compute(None).device;
    let started = Instant::now();
    let mut sd = formats::load(&args.model, &device)?;
    sd.vae_tiling = args.vae_tiling;
    crate::extras::use_scheduler_config(&mut sd, args.scheduler_config.as_deref())?;
    crate::extras::apply_extras(&mut sd, &loras, &args.embeddings)?;
    tracing::info!(model = %args.model.display(), seconds = started.elapsed().as_secs_f32(), "model loaded");
    let input = if photo.dimensions() == (width, height) {
        photo
    } else {
        image::imageops::resize(&photo, width, height, image::imageops::FilterType::Lanczos3)
    };
    let mut nets = Vec::new();
    for spec in &args.controlnets {
        nets.push(formats::load_controlnet(&spec.model, sd.unet_config.cross_attention_dim, &device)?);
    }
    let mut units = Vec::new();
    for ((spec, model), image) in args.controlnets.iter().zip(&nets).zip(controls) {
        units.push(ControlUnit { model, image, settings: spec.settings });
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(indicatif::ProgressStyle::with_template("{bar:40} step {pos}/{len} {msg}").expect("valid template"));
    let mut last = Instant::now();
    let out = sd
        .img2img_controlled(&input, &params, &units, &mut |s| {
            bar.set_length(s.total as u64);
            bar.set_position(s.step as u64);
            bar.set_message(format!("{:.2} s/step", last.elapsed().as_secs_f32()));
            last = Instant::now();
            true
        })
        .map(to_image)?;
    bar.finish_and_clear();
    let model_name = args.model.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    crate::api::infotext::write_png_with_parameters(&out, &crate::api::infotext::infotext(&params, &model_name, true), &args.output)
        .map_err(|e| Error::file(&args.output, format!("cannot write: {e}"), "check the folder exists and is writable"))?;
    println!("{} ({}x{}, seed {seed}, {:.1} s)", args.output.display(), width, height, started.elapsed().as_secs_f32());
    Ok(())
}
