//! The original LDM single-file layout (the `.safetensors` checkpoints A1111 and model sites
//! use): one conversion table between its keys and diffusers', the architecture read from tensor
//! shapes, and what shapes cannot tell (attention heads, text width) from the LDM `.yaml` beside
//! the checkpoint, with SD 1.5's values when there is none, as A1111 does.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use burn::module::Module;
use burn::store::ModuleSnapshot;
use burn::tensor::Device;
use safetensors::SafeTensors;

use crate::components::autoencoder::{Vae, VaeConfig};
use crate::components::clip::ClipTextConfig;
use crate::components::controlnet::ControlNetConfig;
use crate::components::tokenizer::ClipTokenizer;
use crate::components::unet_2d_condition::UNet2DConditionConfig;
use crate::components::vae::AutoencoderKlConfig;
use crate::pipeline::Origin;
use crate::pipeline::{PipelineError, StableDiffusion};
use crate::weights::{self, WeightsError};

pub const UNET_PREFIX: &str = "model.diffusion_model.";
pub const VAE_PREFIX: &str = "first_stage_model.";
pub const TEXT_PREFIX: &str = "cond_stage_model.transformer.";

/// SD 1.5's CLIP BPE vocabulary (OpenAI's file, MIT licence): single-file checkpoints carry no
/// tokenizer, and A1111 uses this one for every SD 1.x model.
const OPENAI_BPE_GZ: &[u8] = include_bytes!("../../assets/bpe_simple_vocab_16e6.txt.gz");

pub fn builtin_tokenizer() -> ClipTokenizer {
    let mut text = String::new();
    flate2::read::GzDecoder::new(OPENAI_BPE_GZ).read_to_string(&mut text).expect("the built-in vocabulary is valid gzip");
    ClipTokenizer::from_openai_bpe(&text).expect("the built-in vocabulary is valid")
}

const UNET_RESNET: [(&str, &str); 6] = [
    ("norm1", "in_layers.0"),
    ("conv1", "in_layers.2"),
    ("time_emb_proj", "emb_layers.1"),
    ("norm2", "out_layers.0"),
    ("conv2", "out_layers.3"),
    ("conv_shortcut", "skip_connection"),
];
const VAE_RESNET: [(&str, &str); 5] =
    [("norm1", "norm1"), ("conv1", "conv1"), ("norm2", "norm2"), ("conv2", "conv2"), ("conv_shortcut", "nin_shortcut")];
const VAE_ATTENTION: [(&str, &str); 5] = [("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("to_out.0", "proj_out")];

/// (diffusers prefix, LDM prefix) for every module of a UNet of this shape.
pub fn unet_table(c: &UNet2DConditionConfig) -> Vec<(String, String)> {
    let lpb = c.layers_per_block;
    let levels = c.block_out_channels.len();
    let mut t: Vec<(String, String)> = vec![
        ("time_embedding.linear_1".into(), "time_embed.0".into()),
        ("time_embedding.linear_2".into(), "time_embed.2".into()),
        ("conv_in".into(), "input_blocks.0.0".into()),
        ("conv_norm_out".into(), "out.0".into()),
        ("conv_out".into(), "out.2".into()),
    ];
    let resnet = |t: &mut Vec<(String, String)>, d: String, l: String| {
        for (a, b) in UNET_RESNET {
            t.push((format!("{d}.{a}"), format!("{l}.{b}")));
        }
    };
    for i in 0..levels {
        for j in 0..lpb {
            let k = 1 + i * (lpb + 1) + j;
            resnet(&mut t, format!("down_blocks.{i}.resnets.{j}"), format!("input_blocks.{k}.0"));
            t.push((format!("down_blocks.{i}.attentions.{j}"), format!("input_blocks.{k}.1")));
        }
        t.push((format!("down_blocks.{i}.downsamplers.0.conv"), format!("input_blocks.{}.0.op", 1 + i * (lpb + 1) + lpb)));
    }
    resnet(&mut t, "mid_block.resnets.0".into(), "middle_block.0".into());
    t.push(("mid_block.attentions.0".into(), "middle_block.1".into()));
    resnet(&mut t, "mid_block.resnets.1".into(), "middle_block.2".into());
    for i in 0..levels {
        let cross = c.up_block_types[i].starts_with("CrossAttn");
        for j in 0..=lpb {
            let k = i * (lpb + 1) + j;
            resnet(&mut t, format!("up_blocks.{i}.resnets.{j}"), format!("output_blocks.{k}.0"));
            t.push((format!("up_blocks.{i}.attentions.{j}"), format!("output_blocks.{k}.1")));
        }
        t.push((
            format!("up_blocks.{i}.upsamplers.0.conv"),
            format!("output_blocks.{}.{}.conv", i * (lpb + 1) + lpb, if cross { 2 } else { 1 }),
        ));
    }
    t
}

/// (diffusers prefix, LDM prefix) for every module of a VAE with `levels` levels.
pub fn vae_table(levels: usize, layers: usize) -> Vec<(String, String)> {
    let mut t: Vec<(String, String)> =
        ["encoder.conv_in", "encoder.conv_out", "decoder.conv_in", "decoder.conv_out", "quant_conv", "post_quant_conv"]
            .iter()
            .map(|s| (s.to_string(), s.to_string()))
            .collect();
    for side in ["encoder", "decoder"] {
        t.push((format!("{side}.conv_norm_out"), format!("{side}.norm_out")));
        for j in 0..2 {
            for (a, b) in VAE_RESNET {
                t.push((format!("{side}.mid_block.resnets.{j}.{a}"), format!("{side}.mid.block_{}.{b}", j + 1)));
            }
        }
        for (a, b) in VAE_ATTENTION {
            t.push((format!("{side}.mid_block.attentions.0.{a}"), format!("{side}.mid.attn_1.{b}")));
        }
    }
    for i in 0..levels {
        for j in 0..layers {
            for (a, b) in VAE_RESNET {
                t.push((format!("encoder.down_blocks.{i}.resnets.{j}.{a}"), format!("encoder.down.{i}.block.{j}.{b}")));
            }
        }
        t.push((format!("encoder.down_blocks.{i}.downsamplers.0.conv"), format!("encoder.down.{i}.downsample.conv")));
        // The decoder's levels are numbered from the bottom in LDM, from the top in diffusers.
        let level = levels - 1 - i;
        for j in 0..=layers {
            for (a, b) in VAE_RESNET {
                t.push((format!("decoder.up_blocks.{i}.resnets.{j}.{a}"), format!("decoder.up.{level}.block.{j}.{b}")));
            }
        }
        t.push((format!("decoder.up_blocks.{i}.upsamplers.0.conv"), format!("decoder.up.{level}.upsample.conv")));
    }
    t
}

/// Renames `key` by the longest matching prefix of `table` (from column `from` to the other).
pub fn rename(key: &str, table: &[(String, String)], ldm_to_diffusers: bool) -> Option<String> {
    table
        .iter()
        .filter_map(|(d, l)| {
            let (src, dst) = if ldm_to_diffusers { (l, d) } else { (d, l) };
            key.strip_prefix(src.as_str()).filter(|rest| rest.starts_with('.')).map(|rest| (src.len(), format!("{dst}{rest}")))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, k)| k)
}

/// What the LDM `.yaml` beside a checkpoint says that shapes cannot.
#[derive(Debug, Clone, PartialEq)]
pub struct LdmYaml {
    pub num_heads: usize,
    pub context_dim: Option<usize>,
    pub scale_factor: f32,
}

impl Default for LdmYaml {
    fn default() -> Self {
        Self { num_heads: 8, context_dim: Some(768), scale_factor: 0.18215 }
    }
}

fn single_file_error(path: &Path, problem: impl Into<String>, fix: &'static str) -> PipelineError {
    PipelineError::Model { path: path.to_path_buf(), problem: problem.into(), fix }
}

/// Reads `<checkpoint>.yaml` when it exists (A1111's convention).
pub fn read_yaml(checkpoint: &Path) -> Result<LdmYaml, PipelineError> {
    let path = checkpoint.with_extension("yaml");
    let Some(doc) = yaml_beside(&path)? else { return Ok(LdmYaml::default()) };
    let params = &doc["model"]["params"];
    let (num_heads, context_dim) = attention(&params["unet_config"]["params"], &path)?;
    Ok(LdmYaml { num_heads, context_dim, scale_factor: params["scale_factor"].as_f64().unwrap_or(0.18215) as f32 })
}

/// The `.yaml` at `path` when there is one.
fn yaml_beside(path: &Path) -> Result<Option<serde_yaml_ng::Value>, PipelineError> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(None) };
    serde_yaml_ng::from_str(&text)
        .map(Some)
        .map_err(|e| single_file_error(path, format!("not valid YAML: {e}"), "fix the LDM config or remove it to use SD 1.5's"))
}

/// The heads and text width an LDM UNet's (or ControlNet's) `params` set: (num_heads, context_dim).
fn attention(node: &serde_yaml_ng::Value, path: &Path) -> Result<(usize, Option<usize>), PipelineError> {
    let num_heads = match (node["num_heads"].as_u64(), node["num_head_channels"].as_i64()) {
        (Some(h), _) if h > 0 => h as usize,
        (_, Some(c)) if c > 0 => {
            return Err(single_file_error(
                path,
                "num_head_channels (SD 2.x attention) is not supported",
                "use an SD 1.x checkpoint and config",
            ));
        }
        _ => 8,
    };
    Ok((num_heads, node["context_dim"].as_u64().map(|c| c as usize)))
}

/// Where a single-file ControlNet's attention settings came from.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlNetYaml {
    /// `<file>.yaml` (lllyasviel ships `control_v11p_sd15_*.yaml`): its control_stage_config.
    Read { path: std::path::PathBuf, num_heads: usize, context_dim: Option<usize> },
    /// None beside it: SD 1.5's (8 heads, the text width from the tensors).
    Sd15,
}

impl ControlNetYaml {
    /// Reads `<file>.yaml` beside a single-file ControlNet: `model.params.control_stage_config.params`
    /// (the ControlNet's own), else the `unet_config` it was made for.
    pub fn beside(file: &Path) -> Result<Self, PipelineError> {
        let path = file.with_extension("yaml");
        let Some(doc) = yaml_beside(&path)? else { return Ok(Self::Sd15) };
        let params = &doc["model"]["params"];
        let node = match &params["control_stage_config"]["params"] {
            serde_yaml_ng::Value::Null => &params["unet_config"]["params"],
            control => control,
        };
        let (num_heads, context_dim) = attention(node, &path)?;
        Ok(Self::Read { path, num_heads, context_dim })
    }

    pub fn num_heads(&self) -> usize {
        match self {
            Self::Read { num_heads, .. } => *num_heads,
            Self::Sd15 => 8,
        }
    }

    pub fn context_dim(&self) -> Option<usize> {
        match self {
            Self::Read { context_dim, .. } => *context_dim,
            Self::Sd15 => None,
        }
    }
}

impl std::fmt::Display for ControlNetYaml {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Self::Read { path, num_heads, .. } => write!(f, "{} ({num_heads} heads)", path.display()),
            Self::Sd15 => f.write_str("no .yaml beside it: SD 1.5's (8 heads)"),
        }
    }
}

type Shapes = BTreeMap<String, Vec<usize>>;

fn dim(shapes: &Shapes, key: &str, axis: usize, path: &Path) -> Result<usize, PipelineError> {
    shapes.get(key).and_then(|s| s.get(axis).copied()).ok_or_else(|| {
        single_file_error(path, format!("missing tensor {key}"), "use an SD 1.x checkpoint (UNet, VAE and CLIP text encoder in one file)")
    })
}

fn count(shapes: &Shapes, pattern: impl Fn(usize) -> String) -> usize {
    (0..).take_while(|i| shapes.keys().any(|k| k.starts_with(&pattern(*i)))).count()
}

/// What the encoder half (input blocks, middle block) of a UNet or ControlNet under `prefix` says.
struct EncoderShape {
    in_channels: usize,
    block_out_channels: Vec<usize>,
    down_block_types: Vec<String>,
    layers_per_block: usize,
    cross_attention_dim: Option<usize>,
}

fn encoder_shape(shapes: &Shapes, prefix: &str, path: &Path) -> Result<EncoderShape, PipelineError> {
    let p = |k: &str| format!("{prefix}{k}");
    let in_channels = dim(shapes, &p("input_blocks.0.0.weight"), 1, path)?;
    let blocks = count(shapes, |i| p(&format!("input_blocks.{i}.")));
    // Level 0 holds layers_per_block resnets then the downsampler ("op").
    let lpb = (1..blocks).take_while(|k| !shapes.contains_key(&p(&format!("input_blocks.{k}.0.op.weight")))).count();
    // input_blocks.0 (conv_in), then per level lpb resnets and a downsampler, but none after the last.
    let levels = blocks / (lpb + 1);
    let mut block_out_channels = Vec::new();
    let mut down_block_types = Vec::new();
    for i in 0..levels {
        let k = 1 + i * (lpb + 1);
        block_out_channels.push(dim(shapes, &p(&format!("input_blocks.{k}.0.out_layers.3.weight")), 0, path)?);
        let cross = shapes.contains_key(&p(&format!("input_blocks.{k}.1.proj_in.weight")));
        down_block_types.push(if cross { "CrossAttnDownBlock2D" } else { "DownBlock2D" }.to_string());
    }
    let context_key = shapes.keys().find(|k| k.starts_with(prefix) && k.ends_with("attn2.to_k.weight")).cloned();
    let cross_attention_dim = context_key.map(|k| dim(shapes, &k, 1, path)).transpose()?;
    Ok(EncoderShape { in_channels, block_out_channels, down_block_types, layers_per_block: lpb, cross_attention_dim })
}

/// The UNet's config from its tensors.
pub fn unet_config(shapes: &Shapes, yaml: &LdmYaml, path: &Path) -> Result<UNet2DConditionConfig, PipelineError> {
    let e = encoder_shape(shapes, UNET_PREFIX, path)?;
    let out_channels = dim(shapes, &format!("{UNET_PREFIX}out.2.weight"), 0, path)?;
    let up_block_types = e.down_block_types.iter().rev().map(|t| t.replace("Down", "Up")).collect();
    let cross_attention_dim = e.cross_attention_dim.unwrap_or(yaml.context_dim.unwrap_or(768));
    if let Some(c) = yaml.context_dim {
        if c != cross_attention_dim {
            return Err(single_file_error(
                path,
                format!("the .yaml says context_dim {c} but the UNet's cross-attention takes {cross_attention_dim}"),
                "use the .yaml that came with this checkpoint",
            ));
        }
    }
    Ok(UNet2DConditionConfig {
        in_channels: e.in_channels,
        out_channels,
        block_out_channels: e.block_out_channels,
        down_block_types: e.down_block_types,
        up_block_types,
        layers_per_block: e.layers_per_block,
        cross_attention_dim,
        attention_head_dim: Some(yaml.num_heads),
        num_attention_heads: None,
        norm_num_groups: 32,
        norm_eps: 1e-5,
    })
}

/// A single-file ControlNet's tensors live under this prefix (lllyasviel's `control_v11*` files).
pub const CONTROL_PREFIX: &str = "control_model.";

/// (diffusers prefix, LDM prefix) for every module of a ControlNet: the UNet's encoder half, the
/// hint block (the control image's embedding: convs at even indices, SiLUs between), one zero
/// convolution per skip connection, and the middle block's.
pub fn controlnet_table(c: &ControlNetConfig) -> Vec<(String, String)> {
    let unet = c.unet();
    let mut t: Vec<(String, String)> =
        unet_table(&unet).into_iter().filter(|(d, _)| !d.starts_with("up_blocks") && d != "conv_norm_out" && d != "conv_out").collect();
    let blocks = 2 * (c.conditioning_embedding_out_channels.len() - 1);
    t.push(("controlnet_cond_embedding.conv_in".into(), "input_hint_block.0".into()));
    for k in 0..blocks {
        t.push((format!("controlnet_cond_embedding.blocks.{k}"), format!("input_hint_block.{}", 2 * (k + 1))));
    }
    t.push(("controlnet_cond_embedding.conv_out".into(), format!("input_hint_block.{}", 2 * (blocks + 1))));
    let levels = c.block_out_channels.len();
    for k in 0..1 + levels * c.layers_per_block + levels - 1 {
        t.push((format!("controlnet_down_blocks.{k}"), format!("zero_convs.{k}.0")));
    }
    t.push(("controlnet_mid_block".into(), "middle_block_out.0".into()));
    t
}

/// A single-file ControlNet's config, from its tensors' shapes.
pub fn read_single_file_controlnet(path: &Path) -> Result<ControlNetConfig, PipelineError> {
    let file = std::fs::File::open(path)
        .map_err(|e| single_file_error(path, format!("cannot open: {e}"), "check the path to the ControlNet .safetensors file"))?;
    // SAFETY: opened read-only; model files are not rewritten in place.
    let map = unsafe { memmap2::Mmap::map(&file) }
        .map_err(|e| single_file_error(path, format!("cannot map: {e}"), "check the file is readable"))?;
    let st =
        SafeTensors::deserialize(&map).map_err(|e| WeightsError::NotSafetensors { path: path.to_path_buf(), reason: e.to_string() })?;
    let shapes: Shapes = st.tensors().into_iter().map(|(k, v)| (k, v.shape().to_vec())).collect();
    if !shapes.keys().any(|k| k.starts_with(&format!("{CONTROL_PREFIX}input_hint_block."))) {
        return Err(single_file_error(
            path,
            "no control_model.input_hint_block tensors: not a single-file ControlNet",
            "use a ControlNet file (control_v11p_sd15_*.safetensors) or a diffusers ControlNet folder",
        ));
    }
    let e = encoder_shape(&shapes, CONTROL_PREFIX, path)?;
    let hint = |i: usize| format!("{CONTROL_PREFIX}input_hint_block.{i}.weight");
    let convs = (0..).take_while(|i| shapes.contains_key(&hint(2 * i))).count();
    // conv_in, then pairs (same width, then a stride-2 conv to the next width), then conv_out.
    let mut conditioning_embedding_out_channels = vec![dim(&shapes, &hint(0), 0, path)?];
    for j in 1..convs.saturating_sub(1) / 2 + 1 {
        conditioning_embedding_out_channels.push(dim(&shapes, &hint(4 * j), 0, path)?);
    }
    let yaml = ControlNetYaml::beside(path)?;
    let cross_attention_dim = e.cross_attention_dim.or(yaml.context_dim()).unwrap_or(768);
    if let Some(c) = yaml.context_dim().filter(|c| *c != cross_attention_dim) {
        return Err(single_file_error(
            path,
            format!("its .yaml says context_dim {c} but the ControlNet's cross-attention takes {cross_attention_dim}"),
            "use the .yaml that came with this ControlNet, or remove it",
        ));
    }
    tracing::info!(controlnet = %path.display(), config = %yaml, "single-file ControlNet config");
    let config = ControlNetConfig {
        in_channels: e.in_channels,
        block_out_channels: e.block_out_channels,
        down_block_types: e.down_block_types,
        layers_per_block: e.layers_per_block,
        cross_attention_dim,
        attention_head_dim: Some(yaml.num_heads()),
        num_attention_heads: None,
        norm_num_groups: 32,
        norm_eps: 1e-5,
        conditioning_embedding_out_channels,
        conditioning_channels: dim(&shapes, &hint(0), 1, path)?,
    };
    Ok(config)
}

/// A single-file ControlNet's weights (its config from [`read_single_file_controlnet`]), read
/// from the file into `model` under diffusers' names.
pub fn load_single_file_controlnet<M: Module + ModuleSnapshot>(
    model: M,
    config: &ControlNetConfig,
    path: &Path,
) -> Result<M, PipelineError> {
    Ok(weights::load_component(model, path, "ControlNet", CONTROL_PREFIX, &from_ldm(controlnet_table(config)), &[])?)
}

/// A (diffusers, LDM) table turned into the loader's (file prefix, module prefix).
fn from_ldm(table: Vec<(String, String)>) -> Vec<(String, String)> {
    table.into_iter().map(|(diffusers, ldm)| (ldm, diffusers)).collect()
}

/// The VAE's config from its tensors.
pub fn vae_config(shapes: &Shapes, yaml: &LdmYaml, path: &Path) -> Result<AutoencoderKlConfig, PipelineError> {
    let p = |k: &str| format!("{VAE_PREFIX}{k}");
    let levels = count(shapes, |i| p(&format!("encoder.down.{i}.")));
    let layers = count(shapes, |j| p(&format!("encoder.down.0.block.{j}.")));
    let block_out_channels =
        (0..levels).map(|i| dim(shapes, &p(&format!("encoder.down.{i}.block.0.conv1.weight")), 0, path)).collect::<Result<_, _>>()?;
    Ok(AutoencoderKlConfig {
        in_channels: dim(shapes, &p("encoder.conv_in.weight"), 1, path)?,
        out_channels: dim(shapes, &p("decoder.conv_out.weight"), 0, path)?,
        block_out_channels,
        layers_per_block: layers,
        latent_channels: dim(shapes, &p("post_quant_conv.weight"), 0, path)?,
        norm_num_groups: 32,
        scaling_factor: yaml.scale_factor,
        sample_size: 512,
    })
}

/// The text encoder's config from its tensors; heads are 64 wide, as in CLIP ViT-L.
pub fn text_config(shapes: &Shapes, text_prefix: &str, path: &Path) -> Result<ClipTextConfig, PipelineError> {
    let p = |k: &str| format!("{text_prefix}{k}");
    let emb = p("embeddings.token_embedding.weight");
    let hidden = dim(shapes, &emb, 1, path)?;
    Ok(ClipTextConfig {
        vocab_size: dim(shapes, &emb, 0, path)?,
        hidden_size: hidden,
        intermediate_size: dim(shapes, &p("encoder.layers.0.mlp.fc1.weight"), 0, path)?,
        num_hidden_layers: count(shapes, |i| p(&format!("encoder.layers.{i}."))),
        num_attention_heads: (hidden / 64).max(1),
        max_position_embeddings: dim(shapes, &p("embeddings.position_embedding.weight"), 0, path)?,
        layer_norm_eps: 1e-5,
    })
}

/// Loads an SD 1.x single-file checkpoint (memory-mapped) with the built-in tokenizer.
pub fn load_single_file(path: &Path, device: &Device) -> Result<StableDiffusion, PipelineError> {
    let file = std::fs::File::open(path)
        .map_err(|e| single_file_error(path, format!("cannot open: {e}"), "check the path to the .safetensors file"))?;
    // SAFETY: the file is opened read-only and not modified while mapped (model files are not
    // rewritten in place by anything Keepsake runs).
    let map = unsafe { memmap2::Mmap::map(&file) }
        .map_err(|e| single_file_error(path, format!("cannot map: {e}"), "check the file is readable"))?;
    let st =
        SafeTensors::deserialize(&map).map_err(|e| WeightsError::NotSafetensors { path: path.to_path_buf(), reason: e.to_string() })?;
    let shapes: Shapes = st.tensors().into_iter().map(|(k, v)| (k, v.shape().to_vec())).collect();
    let yaml = read_yaml(path)?;

    let text_prefix = if shapes.keys().any(|k| k.starts_with(&format!("{TEXT_PREFIX}text_model."))) {
        format!("{TEXT_PREFIX}text_model.")
    } else {
        TEXT_PREFIX.to_string()
    };
    let unet_cfg = unet_config(&shapes, &yaml, path)?;
    let vae_cfg = vae_config(&shapes, &yaml, path)?;
    let text_cfg = text_config(&shapes, &text_prefix, path)?;

    // Only the header was read to learn the shapes; each component is read from the file into
    // its module under diffusers' names, one at a time, with no copy of the file in between.
    drop(st);
    drop(map);
    let text_table = [(String::new(), "text_model".to_string())];
    let text_encoder = weights::load_component(text_cfg.init(device), path, "text encoder", &text_prefix, &text_table, &["position_ids"])?;
    let unet = weights::load_component(unet_cfg.init(device), path, "UNet", UNET_PREFIX, &from_ldm(unet_table(&unet_cfg)), &[])?;
    let vae_map = from_ldm(vae_table(vae_cfg.block_out_channels.len(), vae_cfg.layers_per_block));
    let vae = weights::load_component(vae_cfg.init(device), path, "VAE", VAE_PREFIX, &vae_map, &[])?;
    Ok(StableDiffusion {
        tokenizer: builtin_tokenizer(),
        text_encoder: crate::pipeline::text_encoder_slot::TextEncoderSlot::resident(text_encoder),
        unet,
        vae: Vae::Kl(vae),
        text_encoder_config: text_cfg,
        unet_config: unet_cfg,
        vae_config: VaeConfig::Kl(vae_cfg),
        origin: Origin { source: path.display().to_string(), ..Default::default() },
        // A single file carries no scheduler config: SD 1.5's, as A1111 and diffusers assume.
        scheduler_config: crate::schedulers::SchedulerConfig::sd15(),
        vae_tiling: false,
        device: device.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sd15_table_has_the_known_ldm_names() {
        let t = unet_table(&UNet2DConditionConfig::sd15());
        let r = |k: &str| rename(k, &t, false).unwrap();
        assert_eq!(r("down_blocks.0.resnets.1.conv1.weight"), "input_blocks.2.0.in_layers.2.weight");
        assert_eq!(r("down_blocks.3.resnets.1.conv2.bias"), "input_blocks.11.0.out_layers.3.bias");
        assert_eq!(r("down_blocks.2.downsamplers.0.conv.weight"), "input_blocks.9.0.op.weight");
        assert_eq!(r("up_blocks.0.upsamplers.0.conv.weight"), "output_blocks.2.1.conv.weight");
        assert_eq!(r("up_blocks.1.upsamplers.0.conv.weight"), "output_blocks.5.2.conv.weight");
        assert_eq!(
            r("up_blocks.3.attentions.2.transformer_blocks.0.attn2.to_k.weight"),
            "output_blocks.11.1.transformer_blocks.0.attn2.to_k.weight"
        );
        assert_eq!(r("mid_block.resnets.1.time_emb_proj.weight"), "middle_block.2.emb_layers.1.weight");
        // And back.
        assert_eq!(rename("input_blocks.11.0.out_layers.3.bias", &t, true).unwrap(), "down_blocks.3.resnets.1.conv2.bias");
        assert_eq!(rename("input_blocks.1.1.proj_in.weight", &t, true).unwrap(), "down_blocks.0.attentions.0.proj_in.weight");
        let v = vae_table(4, 2);
        assert_eq!(rename("decoder.up.3.block.0.conv1.weight", &v, true).unwrap(), "decoder.up_blocks.0.resnets.0.conv1.weight");
        assert_eq!(rename("decoder.up.0.block.1.nin_shortcut.bias", &v, true).unwrap(), "decoder.up_blocks.3.resnets.1.conv_shortcut.bias");
        assert_eq!(rename("unknown.thing.weight", &v, true), None);
        assert_eq!(rename("decoder.up_blocks.0.resnets.2.conv1.weight", &v, false).unwrap(), "decoder.up.3.block.2.conv1.weight");
        assert_eq!(rename("encoder.mid_block.attentions.0.to_out.0.weight", &v, false).unwrap(), "encoder.mid.attn_1.proj_out.weight");
    }
}
