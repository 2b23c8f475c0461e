//! LoRA files merged into the model's weights: W += weight · ΔW.
//!
//! Layouts read: kohya-ss (`lora_unet_*` / `lora_te_*` with `lora_down`, `lora_up` and `alpha`:
//! ΔW = up · down · alpha / rank; Linear and conv layers incl. 3x3 "LoCon"; diffusers or
//! original-LDM (SGM) module names), diffusers/PEFT (`unet.*.lora_A` / `lora_B`, `text_encoder.*`,
//! scale 1), and LyCORIS as A1111 reads it under the same names: LoHa (`hada_w1_a` ... `hada_w2_b`:
//! ΔW = (w1a · w1b) ⊙ (w2a · w2b) · alpha / rank) and LoKr (`lokr_w1` or `lokr_w1_a`·`lokr_w1_b`,
//! `lokr_w2` or `lokr_w2_a`·`lokr_w2_b`: ΔW = w1 ⊗ w2 · alpha / rank of the factored one, 1 if
//! neither is). Tucker-decomposed (CP) convolutions are refused by name.
//! Names are resolved against the model's own layers, so a file for another base model is
//! refused with the names that fit nothing (or the shapes that disagree).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{DType, Tensor, TensorData};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

use crate::formats::ldm::{rename, unet_table};
use crate::module_path::ModulePath;
use crate::pipeline::StableDiffusion;

#[derive(Debug, thiserror::Error)]
pub enum LoraError {
    #[error("{path}: cannot read the LoRA: {reason} (fix: use a .safetensors LoRA from kohya-ss, A1111 or diffusers)")]
    Unreadable { path: PathBuf, reason: String },
    #[error("{path}: not a LoRA for this model: {problem} (fix: use a LoRA trained for SD 1.5)")]
    Mismatch { path: PathBuf, problem: String },
    /// The text encoder could not be read back from its booth file.
    #[error(transparent)]
    Model(#[from] crate::pipeline::PipelineError),
}

/// Which model a layer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Part {
    TextEncoder,
    Unet,
}

/// A matrix from the file, row-major.
struct Matrix {
    values: Vec<f32>,
    rows: usize,
    cols: usize,
}

impl Matrix {
    fn tensor(&self, device: &burn::tensor::Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(self.values.clone(), [self.rows, self.cols]), device)
    }
}

/// A factor stored whole or as a low-rank product.
enum Factor {
    Full(Matrix),
    Product(Matrix, Matrix),
}

impl Factor {
    fn tensor(&self, device: &burn::tensor::Device) -> Tensor<2> {
        match self {
            Self::Full(m) => m.tensor(device),
            Self::Product(a, b) => a.tensor(device).matmul(b.tensor(device)),
        }
    }

    fn shape(&self) -> (usize, usize) {
        match self {
            Self::Full(m) => (m.rows, m.cols),
            Self::Product(a, b) => (a.rows, b.cols),
        }
    }

    fn consistent(&self) -> bool {
        match self {
            Self::Full(_) => true,
            Self::Product(a, b) => a.cols == b.rows,
        }
    }
}

/// One layer's change, ΔW as [out, in·kh·kw] (PyTorch's layout, flattened) times `scale`.
enum Update {
    LowRank { up: Matrix, down: Matrix, scale: f32 },
    Hadamard { w1: Factor, w2: Factor, scale: f32 },
    Kronecker { w1: Factor, w2: Factor, scale: f32 },
}

impl Update {
    /// Whether the factors' inner sizes agree (a damaged file could say otherwise).
    fn consistent(&self) -> bool {
        match self {
            Self::LowRank { up, down, .. } => up.cols == down.rows,
            Self::Hadamard { w1, w2, .. } => w1.consistent() && w2.consistent() && w1.shape() == w2.shape(),
            Self::Kronecker { w1, w2, .. } => w1.consistent() && w2.consistent(),
        }
    }

    fn shape(&self) -> (usize, usize) {
        match self {
            Self::LowRank { up, down, .. } => (up.rows, down.cols),
            Self::Hadamard { w1, .. } => w1.shape(),
            Self::Kronecker { w1, w2, .. } => {
                let ((a, b), (c, d)) = (w1.shape(), w2.shape());
                (a * c, b * d)
            }
        }
    }

    fn delta(&self, device: &burn::tensor::Device) -> Tensor<2> {
        match self {
            Self::LowRank { up, down, scale } => up.tensor(device).matmul(down.tensor(device)).mul_scalar(*scale),
            Self::Hadamard { w1, w2, scale } => (w1.tensor(device) * w2.tensor(device)).mul_scalar(*scale),
            Self::Kronecker { w1, w2, scale } => {
                let ((o1, i1), (o2, i2)) = (w1.shape(), w2.shape());
                let a = w1.tensor(device).reshape([o1, 1, i1, 1]);
                let b = w2.tensor(device).reshape([1, o2, 1, i2]);
                (a * b).reshape([o1 * o2, i1 * i2]).mul_scalar(*scale)
            }
        }
    }
}

/// A LoRA file resolved against a model: module weight path -> update.
pub struct Lora {
    path: PathBuf,
    updates: HashMap<(Part, String), Update>,
}

fn floats(view: &TensorView) -> Option<Vec<f32>> {
    let b = view.data();
    Some(match view.dtype() {
        Dtype::F32 => b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        Dtype::F16 => b.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        Dtype::BF16 => b.chunks_exact(2).map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        _ => return None,
    })
}

/// The weight paths (`…​.weight` of Linear and conv layers) of a module.
struct WeightPaths {
    path: ModulePath,
    found: Vec<(String, Vec<usize>)>,
}

impl ModuleVisitor for WeightPaths {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }
    fn exit_module(&mut self, _name: &str, container_type: &str) {
        self.path.exit(container_type);
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if (D == 2 || D == 4) && self.path.leaf() == Some("weight") {
            self.found.push((self.path.module(), param.lazy_shape().to_vec()));
        }
    }
}

fn weight_paths<M: Module>(module: &M) -> Vec<(String, Vec<usize>)> {
    let mut v = WeightPaths { path: ModulePath::default(), found: Vec::new() };
    module.visit(&mut v);
    v.found
}

/// Each name a file may give a layer, with the layer it means and its weight shape (burn layout).
fn names_for(sd: &StableDiffusion) -> HashMap<String, (Part, String, Vec<usize>)> {
    let mut names = HashMap::new();
    let ldm = unet_table(&sd.unet_config);
    for (module, shape) in weight_paths(&sd.unet) {
        let entry = (Part::Unet, module.clone(), shape);
        names.insert(format!("lora_unet_{}", module.replace('.', "_")), entry.clone());
        if let Some(sgm) = rename(&format!("{module}.weight"), &ldm, false) {
            let sgm = sgm.trim_end_matches(".weight").replace('.', "_");
            names.insert(format!("lora_unet_{sgm}"), entry.clone());
        }
        names.insert(format!("unet.{module}"), entry);
    }
    for (module, shape) in weight_paths(sd.text_encoder.layout(&sd.text_encoder_config, &sd.device).as_ref()) {
        let entry = (Part::TextEncoder, module.clone(), shape);
        names.insert(format!("lora_te_{}", module.replace('.', "_")), entry.clone());
        names.insert(format!("text_encoder.{module}"), entry);
    }
    names
}

/// PyTorch's [out, in, …] for a weight burn holds as `shape` (Linear is [in, out]).
fn torch_shape(shape: &[usize]) -> Vec<usize> {
    match shape {
        [i, o] => vec![*o, *i],
        other => other.to_vec(),
    }
}

impl Lora {
    /// Reads `path` and resolves every layer in it against `sd`.
    pub fn read(path: &Path, sd: &StableDiffusion) -> Result<Self, LoraError> {
        let unreadable = |reason: String| LoraError::Unreadable { path: path.to_path_buf(), reason };
        let bytes = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| unreadable(e.to_string()))?;
        let names = names_for(sd);
        let tensor = |name: &str| -> Result<(Vec<f32>, Vec<usize>), LoraError> {
            let view = st.tensor(name).map_err(|_| unreadable(format!("{name} is missing")))?;
            let values = floats(&view).ok_or_else(|| unreadable(format!("{name} is {:?}, not a float type", view.dtype())))?;
            Ok((values, view.shape().to_vec()))
        };

        let mut updates = HashMap::new();
        let mut unknown = Vec::new();
        let mut problems = Vec::new();
        // A matrix, its first dimension rows and the rest flattened (conv factors are 4-D).
        let matrix = |name: &str| -> Result<Matrix, LoraError> {
            let (values, shape) = tensor(name)?;
            let rows = *shape.first().ok_or_else(|| unreadable(format!("{name} is a scalar")))?;
            Ok(Matrix { cols: shape[1..].iter().product(), rows, values })
        };
        let has = |name: &str| st.tensor(name).is_ok();
        let factor = |layer: &str, w: &str| -> Result<Option<Factor>, LoraError> {
            if has(&format!("{layer}.{w}")) {
                Ok(Some(Factor::Full(matrix(&format!("{layer}.{w}"))?)))
            } else if has(&format!("{layer}.{w}_a")) {
                Ok(Some(Factor::Product(matrix(&format!("{layer}.{w}_a"))?, matrix(&format!("{layer}.{w}_b"))?)))
            } else {
                Ok(None)
            }
        };
        let alpha = |layer: &str| st.tensor(&format!("{layer}.alpha")).ok().and_then(|v| floats(&v)).and_then(|v| v.first().copied());
        const CONSUMED: [&str; 10] = [
            ".lora_up.weight",
            ".lora_B.weight",
            ".alpha",
            ".hada_w1_b",
            ".hada_w2_a",
            ".hada_w2_b",
            ".lokr_w1_b",
            ".lokr_w2",
            ".lokr_w2_a",
            ".lokr_w2_b",
        ];
        for name in st.names() {
            // One entry per layer, named by its first tensor.
            let (layer, update) = if let Some(l) = name.strip_suffix(".lora_down.weight") {
                let (down, up) = (matrix(name)?, matrix(&format!("{l}.lora_up.weight"))?);
                let rank = down.rows;
                (l, Update::LowRank { scale: alpha(l).unwrap_or(rank as f32) / rank as f32, down, up })
            } else if let Some(l) = name.strip_suffix(".lora_A.weight") {
                (l, Update::LowRank { down: matrix(name)?, up: matrix(&format!("{l}.lora_B.weight"))?, scale: 1.0 })
            } else if let Some(l) = name.strip_suffix(".hada_w1_a") {
                let (w1, w2) = (factor(l, "hada_w1")?.expect("w1_a is there"), factor(l, "hada_w2")?);
                let Some(w2) = w2 else {
                    problems.push(format!("{l}: LoHa without hada_w2_a/hada_w2_b"));
                    continue;
                };
                let rank = match &w1 {
                    Factor::Product(_, b) => b.rows,
                    Factor::Full(_) => 1,
                };
                (l, Update::Hadamard { scale: alpha(l).unwrap_or(rank as f32) / rank as f32, w1, w2 })
            } else if let Some(l) = name.strip_suffix(".lokr_w1").or_else(|| name.strip_suffix(".lokr_w1_a")) {
                let (w1, w2) = (factor(l, "lokr_w1")?.expect("w1 is there"), factor(l, "lokr_w2")?);
                let Some(w2) = w2 else {
                    problems.push(format!("{l}: LoKr without lokr_w2 (or lokr_w2_a/lokr_w2_b)"));
                    continue;
                };
                // A1111: alpha over the rank of the factored one; 1 when neither is factored.
                let dim = [&w1, &w2].iter().find_map(|f| if let Factor::Product(_, b) = f { Some(b.rows) } else { None });
                let scale = match (dim, alpha(l)) {
                    (Some(d), Some(a)) => a / d as f32,
                    _ => 1.0,
                };
                (l, Update::Kronecker { w1, w2, scale })
            } else {
                if name.ends_with(".hada_t1") || name.ends_with(".hada_t2") || name.ends_with(".lokr_t2") {
                    problems.push(format!(
                        "{name}: Tucker-decomposed (CP) convolution layers are not supported; train without use_tucker/use_cp"
                    ));
                } else if !CONSUMED.iter().any(|suffix| name.ends_with(suffix)) {
                    unknown.push(name.to_string());
                }
                continue;
            };
            let Some((part, module, shape)) = names.get(layer) else {
                unknown.push(layer.to_string());
                continue;
            };
            let expected = torch_shape(shape);
            let flat = (expected[0], expected[1..].iter().product::<usize>());
            if !update.consistent() || update.shape() != flat {
                problems.push(format!("{layer}: the file's change is {:?}, the layer's weight {expected:?}", update.shape()));
                continue;
            }
            updates.insert((*part, module.clone()), update);
        }
        if !unknown.is_empty() {
            unknown.sort();
            let n = unknown.len();
            unknown.truncate(5);
            problems.push(format!("{n} layers this model does not have, e.g. {}", unknown.join(", ")));
        }
        if !problems.is_empty() {
            return Err(LoraError::Mismatch { path: path.to_path_buf(), problem: problems.join("; ") });
        }
        if updates.is_empty() {
            return Err(LoraError::Mismatch { path: path.to_path_buf(), problem: "no LoRA layers in the file".into() });
        }
        Ok(Self { path: path.to_path_buf(), updates })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many layers the file changes.
    pub fn layers(&self) -> usize {
        self.updates.len()
    }

    /// Adds `weight` times this LoRA to `sd`'s weights (quantised weights are quantised again).
    pub fn merge_into(&self, sd: &mut StableDiffusion, weight: f32) -> Result<(), LoraError> {
        let device = sd.device.clone();
        let mut merge = Merge { lora: self, part: Part::TextEncoder, weight, device: &device, path: ModulePath::default() };
        let text_encoder = sd.text_encoder.get_mut(&sd.text_encoder_config, &device)?;
        *text_encoder = text_encoder.clone().map(&mut merge);
        merge.part = Part::Unet;
        sd.unet = sd.unet.clone().map(&mut merge);
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        sd.origin.loras.push(format!("{name}:{weight}"));
        Ok(())
    }
}

struct Merge<'a> {
    lora: &'a Lora,
    part: Part,
    weight: f32,
    device: &'a burn::tensor::Device,
    path: ModulePath,
}

impl ModuleMapper for Merge<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }
    fn exit_module(&mut self, _name: &str, container_type: &str) {
        self.path.exit(container_type);
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self.path.leaf() != Some("weight") {
            return param;
        }
        let module = self.path.module();
        let Some(update) = self.lora.updates.get(&(self.part, module)) else {
            return param;
        };
        let delta = update.delta(self.device).mul_scalar(self.weight); // [out, in·kh·kw]
        let weight = param.val();
        // A quantised layer is merged in floats and quantised again, so the model stays small.
        let scheme = match weight.dtype() {
            DType::QFloat(scheme) => Some(scheme),
            _ => None,
        };
        let weight = if scheme.is_some() { weight.dequantize() } else { weight };
        let shape = weight.dims();
        let delta: Tensor<D> = if D == 2 { delta.transpose().reshape(shape) } else { delta.reshape(shape) };
        let merged = weight.clone() + delta.cast(weight.dtype());
        let merged = match scheme {
            Some(scheme) => crate::kernels::quantize::requantize(merged, &scheme),
            None => merged,
        };
        Param::initialized(param.id, merged)
    }
}
