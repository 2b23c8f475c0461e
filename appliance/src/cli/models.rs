//! `keepsake models bake|inspect`: the booth file the booth loads in seconds — one checkpoint with
//! its LoRAs merged, TAESD as its VAE, int8 weights — and what such a file holds.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::Device;
use keepsake_models::edits::lora::Lora;
use keepsake_models::formats;
use keepsake_models::formats::booth_file::{self, BoothFile, Precision};

use crate::error::Error;

#[derive(clap::Subcommand)]
pub enum ModelsAction {
    /// Make a booth file: a checkpoint with LoRAs merged, optionally TAESD as its VAE, quantized.
    Bake(BakeArgs),
    /// Show what a booth file holds: where it came from, its components, sizes and precision.
    Inspect { file: PathBuf },
}

#[derive(clap::Args)]
pub struct BakeArgs {
    /// SD 1.5 checkpoint: a single .safetensors file (LDM layout) or a diffusers folder.
    #[arg(long)]
    pub model: PathBuf,
    /// A LoRA to merge, as FILE or FILE:WEIGHT (weight 1 when left out); repeatable, merged in order.
    #[arg(long = "lora", value_name = "FILE[:WEIGHT]", value_parser = crate::extras::parse_lora)]
    pub loras: Vec<(PathBuf, f32)>,
    /// An LCM-LoRA (e.g. lcm-lora-sdv1-5), merged at weight 1; the booth then paints in 4 LCM steps.
    #[arg(long, value_name = "FILE")]
    pub lcm_lora: Option<PathBuf>,
    /// A textual-inversion embedding (.safetensors or A1111 .pt); its file name is the prompt word. Repeatable.
    #[arg(long = "embedding", value_name = "FILE")]
    pub embeddings: Vec<PathBuf>,
    /// TAESD in diffusers layout (madebyollin/taesd) to use as the VAE: much faster, a little softer.
    #[arg(long, value_name = "DIR")]
    pub taesd: Option<PathBuf>,
    /// A diffusers scheduler_config.json for the samplers instead of the model's own (a single
    /// file brings none: SD 1.5's is used), e.g. a v-prediction model's.
    #[arg(long, value_name = "FILE")]
    pub scheduler_config: Option<PathBuf>,
    /// How the weights are stored: int8 (blocks of 64), int4 (blocks of 32: half the size, a
    /// little less faithful), f16 or f32.
    #[arg(long, default_value = "int8")]
    pub quantize: Precision,
    #[arg(long)]
    pub out: PathBuf,
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

pub fn bake(args: &BakeArgs) -> Result<String, Error> {
    let started = Instant::now();
    let device = Device::flex();
    eprintln!("loading {}", args.model.display());
    let mut sd = formats::load(&args.model, &device)?;
    crate::extras::apply_extras(&mut sd, &args.loras, &args.embeddings)?;
    crate::extras::use_scheduler_config(&mut sd, args.scheduler_config.as_deref())?;
    if let Some(file) = &args.lcm_lora {
        let lora = Lora::read(file, &sd)?;
        eprintln!("merging LCM-LoRA {} ({} layers)", file.display(), lora.layers());
        lora.merge_into(&mut sd, 1.0)?;
        sd.origin.lcm = true;
    }
    if let Some(dir) = &args.taesd {
        eprintln!("using TAESD from {}", dir.display());
        sd = formats::diffusers::with_tiny_vae(sd, dir)?;
    }
    eprintln!("writing {} ({})", args.out.display(), args.quantize);
    let bytes = booth_file::write(&sd, args.quantize, &args.out)?;
    Ok(format!("{}: {} booth file, {} ({:.0} s)", args.out.display(), args.quantize, megabytes(bytes), started.elapsed().as_secs_f32()))
}

pub fn inspect(file: &Path) -> Result<String, Error> {
    let contents = BoothFile::open(file).and_then(|f| f.contents())?;
    let origin = &contents.origin;
    let listed = |items: Vec<String>| if items.is_empty() { "none".to_string() } else { items.join(",") };
    let mut out = vec![
        format!("{}", file.display()),
        format!("  format      {}", contents.format),
        format!("  weights     {} (blocks of {})", contents.precision, contents.block),
        format!("  source      {}", origin.source),
        format!("  LoRAs       {}", listed(origin.loras.clone())),
        format!("  embeddings  {}", listed(origin.embeddings.iter().map(|(w, n)| format!("{w}:{n}")).collect())),
        format!("  sampling    {}", if origin.lcm { "LCM (LCM-LoRA merged): 4 steps, cfg 1-2" } else { "any scheduler" }),
        format!("  VAE         {}", if contents.tiny_vae { "TAESD" } else { "KL (SD's own)" }),
        format!("  schedulers  {} {}", contents.scheduler_config.source, contents.scheduler_config.to_json()),
    ];
    for (component, (tensors, parameters, bytes)) in &contents.components {
        out.push(format!("  {component:<13}{:>6.1} M parameters  {tensors:>5} tensors  {}", *parameters as f64 / 1e6, megabytes(*bytes)));
    }
    out.push(format!(
        "  total       {:.1} M parameters, {:.0}% {}, file {}",
        contents.parameters as f64 / 1e6,
        100.0 * contents.quantized_parameters as f64 / contents.parameters.max(1) as f64,
        contents.precision,
        megabytes(contents.file_bytes)
    ));
    Ok(out.join("\n"))
}
