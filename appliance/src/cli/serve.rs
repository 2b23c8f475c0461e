//! `keepsake serve`: the A1111-compatible API alone, on one model (no booth devices).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use keepsake_models::formats;
use keepsake_models::preprocessors::Annotators;
use keepsake_models::stylize::shared_pipeline::SharedPipeline;

use crate::api::options::RandnSource;
use crate::api::{Engine, EngineSettings, Limits};
use crate::backend::Backend;
use crate::cli::generate::NoiseKernelArg;
use crate::error::Error;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The model: a booth file, a single-file SD 1.x checkpoint or a diffusers folder.
    #[arg(long)]
    pub model: PathBuf,
    /// More checkpoints (single files or diffusers folders) that `sd_model_checkpoint` in
    /// /sdapi/v1/options can switch to.
    #[arg(long, value_name = "DIR")]
    pub models_dir: Option<PathBuf>,
    /// Where `<lora:NAME:WEIGHT>` finds NAME.safetensors.
    #[arg(long, value_name = "DIR")]
    pub lora_dir: Option<PathBuf>,
    /// ControlNet models (diffusers folders or .safetensors files), named by folder or file name.
    #[arg(long, value_name = "DIR")]
    pub controlnet_dir: Option<PathBuf>,
    /// The annotator weights the preprocessors read (body_pose_model.pth, ...); default
    /// $KEEPSAKE_ANNOTATORS or /var/lib/keepsake/annotators.
    #[arg(long, value_name = "DIR")]
    pub annotators: Option<PathBuf>,
    /// A textual-inversion embedding to add (its file name is the word); repeatable.
    #[arg(long = "embedding", value_name = "FILE")]
    pub embeddings: Vec<PathBuf>,
    /// A diffusers scheduler_config.json for the samplers instead of the model's own (a single
    /// file brings none: SD 1.5's is used), e.g. a v-prediction model's.
    #[arg(long, value_name = "FILE")]
    pub scheduler_config: Option<PathBuf>,
    /// Where to listen; 127.0.0.1 keeps it on this machine.
    #[arg(long, default_value = "127.0.0.1:7860")]
    pub listen: SocketAddr,
    /// Clients must send this token (Bearer, or as the Basic-auth password).
    #[arg(long, env = "KEEPSAKE_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
    #[arg(long, value_enum, default_value_t = NoiseKernelArg::Auto)]
    pub noise_kernel: NoiseKernelArg,
    /// Where the noise comes from unless a request says (override_settings.randn_source): cpu
    /// (torch's CPU generator, as diffusers and A1111's "CPU" draw it), gpu (what a CUDA GPU
    /// draws: a seed from a GPU A1111 gives its noise) or nv (A1111's name for the same).
    #[arg(long, value_enum, default_value_t = RandnSource::Cpu)]
    pub rng: RandnSource,
    /// The longest picture side a request may ask for.
    #[arg(long, default_value_t = Limits::default().max_side)]
    pub max_side: u32,
    #[arg(long, default_value_t = Limits::default().max_steps)]
    pub max_steps: u32,
    /// Pictures per request (batch_size × n_iter).
    #[arg(long, default_value_t = Limits::default().max_images)]
    pub max_images: u32,
}

pub fn run(args: ServeArgs) -> Result<(), Error> {
    if args.token.as_deref().is_some_and(|t| t.len() < 16) {
        return Err(Error::new("--token", "shorter than 16 characters", "use a longer one, e.g. from `openssl rand -hex 16`"));
    }
    // The booth's config refuses this too: the model (and the GPU) would be anyone's on the network.
    if !args.listen.ip().is_loopback() && args.token.is_none() {
        return Err(Error::new(
            format!("--listen {}", args.listen),
            "reaches beyond this machine, and no token guards it",
            "set --token (or KEEPSAKE_API_TOKEN) to a long random secret that clients send, or listen on 127.0.0.1",
        ));
    }
    if args.max_side < 64 || args.max_steps == 0 || args.max_images == 0 {
        return Err(Error::new(
            "--max-side, --max-steps or --max-images",
            "too small to serve a request",
            "use --max-side 64 or more, --max-steps and --max-images 1 or more",
        ));
    }
    let device = args.backend.compute(None).device;
    let started = std::time::Instant::now();
    let mut sd = formats::load(&args.model, &device)?;
    crate::extras::apply_extras(&mut sd, &[], &args.embeddings)?;
    crate::extras::use_scheduler_config(&mut sd, args.scheduler_config.as_deref())?;
    tracing::info!(model = %args.model.display(), seconds = started.elapsed().as_secs_f32(), "model loaded");
    let mut annotators = Annotators::from_env();
    if let Some(dir) = args.annotators {
        annotators.dir = dir;
    }
    annotators.device = device;
    let settings = EngineSettings {
        model_path: args.model,
        models_dir: args.models_dir,
        switchable: true,
        lora_dir: args.lora_dir,
        controlnet_dir: args.controlnet_dir,
        annotators,
        limits: Limits { max_side: args.max_side, max_steps: args.max_steps, max_images: args.max_images, ..Limits::default() },
        noise_kernel: args.noise_kernel.kernel(),
        randn_source: args.rng,
    };
    let engine = Arc::new(Engine::new(Arc::new(SharedPipeline::new(sd)), settings));
    let runtime = crate::runtime()?;
    let result = runtime.block_on(async {
        tokio::select! {
            r = crate::api::serve(engine, args.token, args.listen) => r,
            _ = crate::shutdown_signal() => {
                tracing::info!("stopping on signal");
                Ok(())
            }
        }
    });
    // A generation under way runs on a blocking thread, which dropping the runtime would wait
    // for (minutes at a large size): a stop does not wait, nothing of a remote request is kept.
    runtime.shutdown_background();
    result
}
