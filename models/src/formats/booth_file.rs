//! The booth file: one safetensors file with everything the booth runs (text encoder, UNet, VAE),
//! LoRAs already merged, weights int8 (or f16/f32), memory-mapped at load.
//!
//! Tensors are named by their path in our modules (diffusers' names, with burn's `gamma`/`beta`
//! for norms) under `text_encoder.`, `unet.` and `vae.`, and stored in burn's layout (Linear
//! weights [in, out]), so loading is a lookup with no renaming or transposing. An int8 weight `K`
//! is `K` (I8, the weight's shape) plus `K.__scales` (F16, one per block; see [`crate::kernels::quantize`]).
//! The metadata holds the format, the component configs as JSON, and where the file came from.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use atomic_write_file::AtomicWriteFile;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{DType, Device, Tensor, TensorData};
use half::f16;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

use crate::components::autoencoder::VaeConfig;
use crate::components::clip::{ClipTextConfig, ClipTextModel};
use crate::components::unet_2d_condition::UNet2DConditionConfig;
use crate::formats::ldm::builtin_tokenizer;
use crate::kernels::quantize::{Bits, BlockQuantized};
use crate::module_path::ModulePath;
use crate::pipeline::text_encoder_slot::{TextEncoderFile, TextEncoderSlot};
use crate::pipeline::{Origin, PipelineError, StableDiffusion};
use crate::schedulers::SchedulerConfig;
use crate::weights::WeightsError;

pub const FORMAT: &str = "keepsake-booth/1";
const SCALES: &str = ".__scales";

/// How the booth file stores the large weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// int8 in blocks of 64 with f16 scales; biases, norms and small layers f32.
    Int8,
    /// int4 in blocks of 32 with f16 scales, two values to a byte; biases, norms and small
    /// layers f32.
    Int4,
    F16,
    F32,
}

impl FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "int8" => Ok(Self::Int8),
            "int4" => Ok(Self::Int4),
            "f16" => Ok(Self::F16),
            "f32" | "none" => Ok(Self::F32),
            other => Err(format!("unknown quantization {other:?} (use int8, int4, f16 or f32)")),
        }
    }
}

impl Precision {
    /// The bits of a blocked weight, for the quantised precisions.
    pub fn bits(self) -> Option<Bits> {
        match self {
            Self::Int8 => Some(Bits::Eight),
            Self::Int4 => Some(Bits::Four),
            Self::F16 | Self::F32 => None,
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Self::Int8 => "int8",
            Self::Int4 => "int4",
            Self::F16 => "f16",
            Self::F32 => "f32",
        })
    }
}

struct Stored {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

/// Collects a module's float parameters as the booth file stores them.
struct Collect<'a> {
    prefix: &'static str,
    path: ModulePath,
    precision: Precision,
    out: &'a mut Vec<Stored>,
}

impl ModuleVisitor for Collect<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }
    fn exit_module(&mut self, _name: &str, container_type: &str) {
        self.path.exit(container_type);
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let name = format!("{}{}", self.prefix, self.path.name());
        let mut tensor = param.val();
        if matches!(tensor.dtype(), DType::QFloat(_)) {
            tensor = tensor.dequantize();
        }
        let shape = tensor.dims().to_vec();
        let values: Vec<f32> = tensor.cast(DType::F32).into_data().try_to_vec().expect("f32 after cast");
        let blocked = self.precision.bits().and_then(|bits| Some((bits, bits.block_axis(&shape)?)));
        match (self.precision, blocked) {
            (_, Some((bits, axis))) => {
                let q = BlockQuantized::quantize(&values, &shape, axis, bits);
                self.out.push(Stored {
                    name: format!("{name}{SCALES}"),
                    dtype: Dtype::F16,
                    shape: BlockQuantized::scale_shape(&shape, axis, bits),
                    bytes: q.scales.iter().flat_map(|s| f16::from_f32(*s).to_le_bytes()).collect(),
                });
                match bits {
                    Bits::Eight => {
                        self.out.push(Stored { name, dtype: Dtype::I8, shape, bytes: q.values.iter().map(|v| *v as u8).collect() })
                    }
                    Bits::Four => {
                        let bytes = q.values.chunks(2).map(|pair| (pair[0] as u8 & 0xF) | (pair[1] as u8) << 4).collect::<Vec<u8>>();
                        self.out.push(Stored { name, dtype: Dtype::U8, shape: vec![bytes.len()], bytes });
                    }
                }
            }
            (Precision::F16, _) => {
                let bytes = values.iter().flat_map(|v| f16::from_f32(*v).to_le_bytes()).collect();
                self.out.push(Stored { name, dtype: Dtype::F16, shape, bytes });
            }
            _ => self.out.push(Stored { name, dtype: Dtype::F32, shape, bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect() }),
        }
    }
}

fn collect<M: Module>(module: &M, prefix: &'static str, precision: Precision, out: &mut Vec<Stored>) {
    module.visit(&mut Collect { prefix, path: ModulePath::default(), precision, out });
}

fn io_error(path: &Path, what: &str, e: impl fmt::Display) -> PipelineError {
    PipelineError::Model { path: path.to_path_buf(), problem: format!("{what}: {e}"), fix: "check the folder is writable and has space" }
}

/// The metadata's `block`: values per scale ("" where nothing is blocked).
fn block_metadata(precision: Precision) -> String {
    precision.bits().map(|b| b.block().to_string()).unwrap_or_default()
}

/// Writes `sd` as a booth file at `out`, atomically and durably (a crash leaves the old file);
/// returns the file's size in bytes.
pub fn write(sd: &StableDiffusion, precision: Precision, out: &Path) -> Result<u64, PipelineError> {
    let mut tensors = Vec::new();
    collect(sd.text_encoder.get(&sd.text_encoder_config, &sd.device)?.as_ref(), "text_encoder.", precision, &mut tensors);
    collect(&sd.unet, "unet.", precision, &mut tensors);
    collect(&sd.vae, "vae.", precision, &mut tensors);
    let json = |v: serde_json::Result<String>| v.expect("configs serialise");
    let metadata: HashMap<String, String> = [
        ("format", FORMAT.to_string()),
        ("precision", precision.to_string()),
        ("block", block_metadata(precision)),
        ("source", sd.origin.source.clone()),
        ("loras", sd.origin.loras.join(",")),
        ("lcm", sd.origin.lcm.to_string()),
        ("embeddings", sd.origin.embeddings.iter().map(|(w, n)| format!("{w}:{n}")).collect::<Vec<_>>().join(",")),
        ("text_encoder_config", json(serde_json::to_string(&sd.text_encoder_config))),
        ("unet_config", json(serde_json::to_string(&sd.unet_config))),
        ("vae_config", json(serde_json::to_string(&sd.vae_config))),
        ("scheduler_config", sd.scheduler_config.to_json()),
        ("scheduler_config_source", sd.scheduler_config.source.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|t| (t.name.clone(), TensorView::new(t.dtype, t.shape.clone(), &t.bytes).expect("sizes computed from the shape")))
        .collect();
    let bytes = safetensors::serialize(views, Some(metadata)).map_err(|e| io_error(out, "cannot serialise", e))?;
    let mut file = AtomicWriteFile::open(out).map_err(|e| io_error(out, "cannot create", e))?;
    file.write_all(&bytes).map_err(|e| io_error(out, "cannot write", e))?;
    file.commit().map_err(|e| io_error(out, "cannot write", e))?;
    Ok(bytes.len() as u64)
}

/// Whether `path` is a booth file (by its metadata; reads only the header).
pub fn is_booth_file(path: &Path) -> bool {
    BoothFile::open(path).is_ok()
}

/// An open booth file, memory-mapped. Clones share one mapping, which keeps the file that was opened readable
/// even after a new bake is renamed over its path.
#[derive(Clone)]
pub struct BoothFile {
    path: PathBuf,
    map: std::sync::Arc<memmap2::Mmap>,
}

/// What a booth file holds.
#[derive(Debug, Clone)]
pub struct Contents {
    /// The booth file's format and version (`FORMAT`).
    pub format: String,
    /// "f16", "int8" or "int4", as baked.
    pub precision: String,
    /// Values per quantisation scale ("" where nothing is blocked).
    pub block: String,
    /// Where the weights came from and what was merged into them.
    pub origin: Origin,
    /// The VAE is TAESD (the tiny one), not SD's own KL VAE.
    pub tiny_vae: bool,
    /// The scheduler config the samplers follow.
    pub scheduler_config: SchedulerConfig,
    /// Per component: (tensors, parameters, bytes).
    pub components: BTreeMap<String, (usize, usize, u64)>,
    /// Parameters stored as int8 or int4, and all parameters.
    pub quantized_parameters: usize,
    pub parameters: usize,
    pub file_bytes: u64,
}

fn not_booth(path: &Path, problem: impl Into<String>) -> PipelineError {
    PipelineError::Model {
        path: path.to_path_buf(),
        problem: problem.into(),
        fix: "make one with `keepsake models bake --model CKPT --quantize int8 --out FILE`",
    }
}

impl BoothFile {
    pub fn open(path: &Path) -> Result<Self, PipelineError> {
        let file = std::fs::File::open(path).map_err(|e| not_booth(path, format!("cannot open: {e}")))?;
        // SAFETY: opened read-only; booth files are replaced by rename, never rewritten in place.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| not_booth(path, format!("cannot map: {e}")))?;
        let this = Self { path: path.to_path_buf(), map: std::sync::Arc::new(map) };
        let format = this.metadata()?.get("format").cloned();
        if format.as_deref() != Some(FORMAT) {
            return Err(not_booth(
                path,
                format!("not a Keepsake booth file (format {:?}, expected {FORMAT:?})", format.unwrap_or_default()),
            ));
        }
        Ok(this)
    }

    fn tensors(&self) -> Result<SafeTensors<'_>, PipelineError> {
        SafeTensors::deserialize(&self.map)
            .map_err(|e| PipelineError::Weights(WeightsError::NotSafetensors { path: self.path.clone(), reason: e.to_string() }))
    }

    pub fn metadata(&self) -> Result<BTreeMap<String, String>, PipelineError> {
        let (_, header) = SafeTensors::read_metadata(&self.map)
            .map_err(|e| PipelineError::Weights(WeightsError::NotSafetensors { path: self.path.clone(), reason: e.to_string() }))?;
        Ok(header.metadata().clone().unwrap_or_default().into_iter().collect())
    }

    fn config<T: serde::de::DeserializeOwned>(&self, metadata: &BTreeMap<String, String>, key: &str) -> Result<T, PipelineError> {
        let text = metadata.get(key).ok_or_else(|| not_booth(&self.path, format!("metadata has no {key}")))?;
        serde_json::from_str(text).map_err(|e| not_booth(&self.path, format!("metadata {key} is not valid: {e}")))
    }

    /// The scheduler config the file was baked with; SD 1.5's for files baked before it was
    /// recorded (they were made with it).
    fn scheduler_config(&self, metadata: &BTreeMap<String, String>) -> Result<SchedulerConfig, PipelineError> {
        let Some(text) = metadata.get("scheduler_config") else { return Ok(SchedulerConfig::sd15()) };
        let source = metadata.get("scheduler_config_source").map(String::as_str).unwrap_or("the booth file");
        SchedulerConfig::from_json(text, &format!("{source} (recorded in the booth file)"))
            .map_err(|e| not_booth(&self.path, format!("metadata scheduler_config is not valid: {e}")))
    }

    /// The metadata's record of where the weights came from (written by [`write`]).
    fn origin(&self, metadata: &BTreeMap<String, String>) -> Result<Origin, PipelineError> {
        let get = |key: &str| metadata.get(key).map(String::as_str).unwrap_or("");
        let listed = |key: &str| get(key).split(',').filter(|e| !e.is_empty()).map(String::from).collect::<Vec<_>>();
        let embeddings = listed("embeddings")
            .into_iter()
            .map(|entry| {
                let parsed = entry.rsplit_once(':').and_then(|(w, n)| Some((w.to_string(), n.parse::<usize>().ok()?)));
                parsed.ok_or_else(|| not_booth(&self.path, format!("metadata embeddings entry {entry:?} is not word:count")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Origin { source: get("source").to_string(), loras: listed("loras"), lcm: get("lcm") == "true", embeddings })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn contents(&self) -> Result<Contents, PipelineError> {
        let st = self.tensors()?;
        let mut components: BTreeMap<String, (usize, usize, u64)> = BTreeMap::new();
        let (mut quantized, mut all) = (0, 0);
        for (name, view) in st.tensors() {
            let component = name.split('.').next().unwrap_or("").to_string();
            let entry = components.entry(component).or_default();
            entry.0 += 1;
            entry.2 += view.data().len() as u64;
            if !name.ends_with(SCALES) {
                // int4 values are two to a stored byte.
                let per_element = if view.dtype() == Dtype::U8 { 2 } else { 1 };
                let n: usize = view.shape().iter().product::<usize>() * per_element;
                entry.1 += n;
                all += n;
                if matches!(view.dtype(), Dtype::I8 | Dtype::U8) {
                    quantized += n;
                }
            }
        }
        let metadata = self.metadata()?;
        let vae_config: VaeConfig = self.config(&metadata, "vae_config")?;
        Ok(Contents {
            format: metadata.get("format").cloned().unwrap_or_default(),
            precision: metadata.get("precision").cloned().unwrap_or_default(),
            block: metadata.get("block").cloned().unwrap_or_default(),
            origin: self.origin(&metadata)?,
            tiny_vae: matches!(vae_config, VaeConfig::Tiny(_)),
            scheduler_config: self.scheduler_config(&metadata)?,
            components,
            quantized_parameters: quantized,
            parameters: all,
            file_bytes: self.map.len() as u64,
        })
    }

    /// The pipeline on `device`: int8 weights stay int8 where the device keeps them. The text
    /// encoder is read and checked, then left in the file until a prompt needs it (see
    /// [`TextEncoderSlot`]).
    pub fn load(&self, device: &Device) -> Result<StableDiffusion, PipelineError> {
        let metadata = self.metadata()?;
        let text_encoder_config: ClipTextConfig = self.config(&metadata, "text_encoder_config")?;
        let unet_config: UNet2DConditionConfig = self.config(&metadata, "unet_config")?;
        let vae_config: VaeConfig = self.config(&metadata, "vae_config")?;
        let st = self.tensors()?;
        let mut assign =
            Assign { st: &st, map: &self.map, device, prefix: "", path: ModulePath::default(), used: HashSet::new(), problems: Vec::new() };
        assign.prefix = "text_encoder.";
        drop(text_encoder_config.init(device).map(&mut assign));
        assign.prefix = "unet.";
        // On the CPU, Linear weights re-blocked for the int8 kernels as each component is read.
        let unet = crate::kernels::int8::cpu_layout(unet_config.init(device).map(&mut assign));
        assign.prefix = "vae.";
        let vae = crate::kernels::int8::cpu_layout(vae_config.init(device).map(&mut assign));
        let mut problems = assign.problems;
        for name in st.names() {
            if !assign.used.contains(name) {
                problems.push(format!("  unexpected tensor {name}"));
            }
        }
        self.mismatch(problems, "booth pipeline")?;
        // Textual-inversion words get their ids back in the order they were added.
        let origin = self.origin(&metadata)?;
        let mut tokenizer = builtin_tokenizer();
        for (word, count) in &origin.embeddings {
            tokenizer.add_word(word, *count);
        }
        Ok(StableDiffusion {
            tokenizer,
            text_encoder: TextEncoderSlot::in_file(self.clone()),
            unet,
            vae,
            text_encoder_config,
            unet_config,
            vae_config,
            origin,
            scheduler_config: self.scheduler_config(&metadata)?,
            vae_tiling: false,
            device: device.clone(),
        })
    }
}

impl TextEncoderFile for BoothFile {
    fn path(&self) -> &Path {
        BoothFile::path(self)
    }

    /// The text encoder alone (the pipeline reads it when a new prompt arrives).
    fn load_text_encoder(&self, config: &ClipTextConfig, device: &Device) -> Result<ClipTextModel, PipelineError> {
        let st = self.tensors()?;
        let mut assign = Assign {
            st: &st,
            map: &self.map,
            device,
            prefix: "text_encoder.",
            path: ModulePath::default(),
            used: HashSet::new(),
            problems: Vec::new(),
        };
        let model = config.init(device).map(&mut assign);
        self.mismatch(assign.problems, "text encoder")?;
        Ok(crate::kernels::int8::cpu_layout(model))
    }
}

impl BoothFile {
    fn mismatch(&self, mut problems: Vec<String>, what: &'static str) -> Result<(), PipelineError> {
        if problems.is_empty() {
            return Ok(());
        }
        problems.sort();
        Err(PipelineError::Weights(WeightsError::Mismatch { path: self.path.clone(), what, problems: problems.join("\n") }))
    }
}

/// One weight as read from the file.
enum Read {
    Float(TensorData),
    Quantized(BlockQuantized),
}

/// Replaces each (still uninitialised) parameter by the file's tensor of the same path.
struct Assign<'a> {
    st: &'a SafeTensors<'a>,
    map: &'a memmap2::Mmap,
    device: &'a Device,
    prefix: &'static str,
    path: ModulePath,
    used: HashSet<String>,
    problems: Vec<String>,
}

impl Assign<'_> {
    /// Drops the file's pages of `bytes` from this process once copied: without it the mapped
    /// file would count in the booth's memory next to the weights made from it (2x at peak).
    fn release(&self, bytes: &[u8]) {
        let offset = bytes.as_ptr() as usize - self.map.as_ptr() as usize;
        // SAFETY: a read-only file mapping; dropped pages are read from the file again if touched.
        let _ = unsafe { self.map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, bytes.len()) };
    }

    fn read(&mut self, name: &str, expected: &[usize]) -> Result<Read, String> {
        let view = self.st.tensor(name).map_err(|_| format!("  missing tensor {name}"))?;
        // int8 values are stored in the weight's shape; int4 two to a byte, in one row.
        let numel: usize = expected.iter().product();
        let (bits, stored_shape) = match view.dtype() {
            Dtype::I8 => (Some(Bits::Eight), expected.to_vec()),
            Dtype::U8 => (Some(Bits::Four), vec![numel.div_ceil(2)]),
            _ => (None, expected.to_vec()),
        };
        if view.shape() != stored_shape {
            return Err(format!("  {name}: shape {:?} in the file, the model needs {stored_shape:?}", view.shape()));
        }
        self.used.insert(name.to_string());
        let floats = |view: &TensorView| -> Result<Vec<f32>, String> {
            let b = view.data();
            match view.dtype() {
                Dtype::F32 => Ok(b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()),
                Dtype::F16 => Ok(b.chunks_exact(2).map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32()).collect()),
                other => Err(format!("  {name}: stored as {other:?}, expected f32, f16, int8 (I8) or int4 (U8)")),
            }
        };
        let Some(bits) = bits else {
            let data = TensorData::new(floats(&view)?, expected.to_vec());
            self.release(view.data());
            return Ok(Read::Float(data));
        };
        let scales_name = format!("{name}{SCALES}");
        let axis = bits
            .block_axis(expected)
            .ok_or_else(|| format!("  {name}: quantised ({bits:?} bits), but a {expected:?} weight is never blocked"))?;
        let scales_view = self.st.tensor(&scales_name).map_err(|_| format!("  missing tensor {scales_name}"))?;
        let grid = BlockQuantized::scale_shape(expected, axis, bits);
        if scales_view.shape() != grid.as_slice() {
            return Err(format!("  {scales_name}: shape {:?}, expected {grid:?}", scales_view.shape()));
        }
        self.used.insert(scales_name);
        let values = match bits {
            Bits::Eight => view.data().iter().map(|b| *b as i8).collect(),
            // Low nibble first; shifting back down from the top extends the sign.
            Bits::Four => view.data().iter().flat_map(|b| [((b << 4) as i8) >> 4, (*b as i8) >> 4]).take(numel).collect(),
        };
        let q = BlockQuantized { shape: expected.to_vec(), axis, bits, values, scales: floats(&scales_view)? };
        self.release(view.data());
        Ok(Read::Quantized(q))
    }
}

impl ModuleMapper for Assign<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }
    fn exit_module(&mut self, _name: &str, container_type: &str) {
        self.path.exit(container_type);
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let name = format!("{}{}", self.prefix, self.path.name());
        let expected = param.lazy_shape().to_vec();
        match self.read(&name, &expected) {
            // Floats become the device's float type; int8 stays int8.
            Ok(Read::Float(data)) => Param::initialized(param.id, Tensor::from_data(data, self.device)),
            Ok(Read::Quantized(q)) => Param::initialized(param.id, q.into_tensor(self.device)),
            Err(problem) => {
                self.problems.push(problem);
                param
            }
        }
    }
}
