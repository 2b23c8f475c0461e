//! LoRA files merged into the model's weights: W += weight · scale · up · down.
//!
//! Layouts read: kohya-ss (`lora_unet_*` / `lora_te_*` with `lora_down`, `lora_up` and `alpha`,
//! scale alpha / rank; Linear and conv layers incl. 3x3 "LoCon"; diffusers or original-LDM (SGM)
//! module names) and diffusers/PEFT (`unet.*.lora_A` / `lora_B`, `text_encoder.*`, scale 1).
//! Names are resolved against the model's own layers, so a file for another base model is
//! refused with the names that fit nothing (or the shapes that disagree).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{DType, Tensor, TensorData};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

use crate::ldm::{rename, unet_table};
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

/// One low-rank update: `up` [out, rank] · `down` [rank, in·kh·kw], times `scale`.
struct Update {
    down: (Vec<f32>, Vec<usize>),
    up: (Vec<f32>, Vec<usize>),
    scale: f32,
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
        for name in st.names() {
            // One entry per layer: its down (A) matrix names it.
            let (layer, up_name, alpha_name) = if let Some(l) = name.strip_suffix(".lora_down.weight") {
                (l, format!("{l}.lora_up.weight"), Some(format!("{l}.alpha")))
            } else if let Some(l) = name.strip_suffix(".lora_A.weight") {
                (l, format!("{l}.lora_B.weight"), None)
            } else {
                if !name.ends_with(".lora_up.weight") && !name.ends_with(".lora_B.weight") && !name.ends_with(".alpha") {
                    unknown.push(name.to_string());
                }
                continue;
            };
            let Some((part, module, shape)) = names.get(layer) else {
                unknown.push(layer.to_string());
                continue;
            };
            let down = tensor(name)?;
            let up = tensor(&up_name)?;
            let rank = down.1[0];
            let expected = torch_shape(shape);
            let fits = up.1.first() == expected.first()
                && up.1.get(1) == Some(&rank)
                && down.1[1..] == expected[1..]
                && (expected.len() == 2 || up.1[2..].iter().all(|d| *d == 1));
            if !fits {
                problems.push(format!("{layer}: down {:?} · up {:?} do not make the layer's {expected:?}", down.1, up.1));
                continue;
            }
            let alpha = match alpha_name.as_deref().map(|a| st.tensor(a)) {
                Some(Ok(view)) => floats(&view).and_then(|v| v.first().copied()).unwrap_or(rank as f32),
                _ => rank as f32,
            };
            updates.insert((*part, module.clone()), Update { down, up, scale: alpha / rank as f32 });
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

    /// Adds `weight` times this LoRA to `sd`'s weights (int8 weights become float where changed).
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
        let (down, down_shape) = &update.down;
        let (up, up_shape) = &update.up;
        let rank = down_shape[0];
        let inner: usize = down_shape[1..].iter().product();
        let out = up_shape[0];
        let down = Tensor::<2>::from_data(TensorData::new(down.clone(), [rank, inner]), self.device);
        let up = Tensor::<2>::from_data(TensorData::new(up.clone(), [out, rank]), self.device);
        let delta = up.matmul(down).mul_scalar(self.weight * update.scale); // [out, in·kh·kw]
        let weight = param.val();
        let weight = if matches!(weight.dtype(), DType::QFloat(_)) { weight.dequantize() } else { weight };
        let shape = weight.dims();
        let delta: Tensor<D> = if D == 2 { delta.transpose().reshape(shape) } else { delta.reshape(shape) };
        let merged = weight.clone() + delta.cast(weight.dtype());
        Param::initialized(param.id, merged)
    }
}
