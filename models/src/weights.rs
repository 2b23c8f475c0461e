//! Loading safetensors weights into modules whose field names are the file's keys.
//!
//! Weights are cast to the float type of the module's device on load (f32 on the CPU); Linear weights are transposed from PyTorch's
//! [out, in]; norm weight/bias map to burn's gamma/beta. Anything that does not fit is an error
//! naming the tensor: missing, extra, or mis-shaped (with both shapes).

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::burn_pack::Tensor as PackTensor;
use burn::store::{
    bridge, ChainAdapter, FloatCastAdapter, KeyRemapper, ModuleAdapter, ModuleContext, ModuleSnapshot, PyTorchToBurnAdapter,
    SafetensorsStore,
};
use burn::tensor::{DType, Shape, TensorData};

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("{path}: not a readable safetensors file: {reason} (fix: use a .safetensors file from diffusers, A1111 or a model site; .ckpt/.bin pickles are not loaded)")]
    NotSafetensors { path: PathBuf, reason: String },
    #[error(
        "{path}: the weights do not fit the {what}:\n{problems}\n(fix: check the file is an SD 1.5 {what} and not another architecture)"
    )]
    Mismatch { path: PathBuf, what: &'static str, problems: String },
}

/// Loads `path` into `module`; `allow_extra` lists key prefixes the file may carry without being
/// used (e.g. `text_model.embeddings.position_ids` in older exports).
pub fn load<M: Module + ModuleSnapshot>(module: M, path: &Path, what: &'static str, allow_extra: &[&str]) -> Result<M, WeightsError> {
    let check = std::fs::File::open(path).and_then(|mut f| {
        use std::io::Read;
        let mut len = [0u8; 8];
        f.read_exact(&mut len)?;
        let header = u64::from_le_bytes(len);
        let size = f.metadata()?.len();
        if header == 0 || header > 100_000_000 || 8 + header > size {
            return Err(std::io::Error::other(format!(
                "header length {header} does not fit a {size}-byte file (truncated or not safetensors)"
            )));
        }
        Ok(())
    });
    if let Err(e) = check {
        return Err(WeightsError::NotSafetensors { path: path.to_path_buf(), reason: e.to_string() });
    }
    apply(module, SafetensorsStore::from_file(path), path, what, &|key| allow_extra.iter().any(|p| key.starts_with(p)))
}

/// Loads one component of a single-file checkpoint (LDM layout) straight from the file's
/// memory mapping: each key under `prefix` is renamed by `table` (the file's key prefix after
/// `prefix` -> the module's path prefix; the longest match wins; an empty file prefix renames
/// the whole of `prefix`), keys ending in one of `skip` are not weights, and the file's other
/// keys (the other components) are left alone. Nothing is copied first: tensors are read from
/// the mapping into the module one by one, so only the module itself is resident afterwards
/// (a memory-bound Jetson cannot hold a second copy of the UNet).
pub fn load_component<M: Module + ModuleSnapshot>(
    module: M,
    path: &Path,
    what: &'static str,
    prefix: &str,
    table: &[(String, String)],
    skip: &[&str],
) -> Result<M, WeightsError> {
    let mut rules: Vec<&(String, String)> = table.iter().collect();
    // Longest first: the first rule that matches renames the key out of `prefix`, so no other
    // rule (all anchored at `prefix`) can match it again.
    rules.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    let patterns = rules.iter().map(|(from, to)| {
        let from = if from.is_empty() { regex::escape(prefix) } else { format!("{}{}\\.", regex::escape(prefix), regex::escape(from)) };
        (format!("^{from}"), format!("{to}."))
    });
    let remapper = KeyRemapper::from_pattern_iter(patterns)
        .map_err(|e| WeightsError::NotSafetensors { path: path.to_path_buf(), reason: format!("key table: {e}") })?;
    let store = SafetensorsStore::from_file(path).remap(remapper);
    let renamed_to: Vec<String> = table.iter().map(|(_, to)| format!("{to}.")).collect();
    // Keys of this component that fit nowhere are errors; keys of the others are not ours.
    let not_ours = |key: &str| {
        let ours = key.starts_with(prefix) || renamed_to.iter().any(|to| key.starts_with(to.as_str()));
        !ours || skip.iter().any(|s| key.ends_with(s))
    };
    // Problems name the tensor as the file does.
    let in_file = |key: &str| {
        table
            .iter()
            .filter_map(|(from, to)| key.strip_prefix(to.as_str()).filter(|rest| rest.starts_with('.')).map(|rest| (to.len(), from, rest)))
            .max_by_key(|(len, _, _)| *len)
            .map(|(_, from, rest)| if from.is_empty() { format!("{prefix}{}", &rest[1..]) } else { format!("{prefix}{from}{rest}") })
            .unwrap_or_else(|| key.to_string())
    };
    apply_with(module, store, path, what, &not_ours, &in_file, ChainAdapter::new(OneByOneConvAsLinear, PyTorchToBurnAdapter))
}

/// LDM's VAE attention projections are 1x1 convolutions ([out, in, 1, 1]); diffusers' (and
/// ours) are Linear layers: the same numbers as [out, in].
#[derive(Debug, Clone)]
struct OneByOneConvAsLinear;

impl ModuleAdapter for OneByOneConvAsLinear {
    fn adapt(&self, tensor: PackTensor, ctx: ModuleContext<'_>) -> PackTensor {
        let is_linear_weight = ctx.module_type() == Some("Struct:Linear") && tensor.name.ends_with("weight");
        if !(is_linear_weight && tensor.shape.len() == 4 && tensor.shape[2] == 1 && tensor.shape[3] == 1) {
            return tensor;
        }
        let (name, dtype) = (tensor.name.clone(), tensor.dtype);
        let shape = Shape::from([tensor.shape[0], tensor.shape[1]]);
        let reshaped = shape.clone();
        bridge::map_data(tensor, name, dtype, shape, move |data| TensorData::from_bytes(data.into_bytes(), reshaped.clone(), dtype))
    }

    fn clone_box(&self) -> Box<dyn ModuleAdapter> {
        Box::new(self.clone())
    }
}

/// Loads safetensors bytes (e.g. one component cut out of a single-file checkpoint).
pub fn load_bytes<M: Module + ModuleSnapshot>(module: M, bytes: Vec<u8>, source: &Path, what: &'static str) -> Result<M, WeightsError> {
    apply(module, SafetensorsStore::from_bytes(Some(bytes)), source, what, &|_| false)
}

fn apply<M: Module + ModuleSnapshot>(
    module: M,
    store: SafetensorsStore,
    path: &Path,
    what: &'static str,
    is_extra: &dyn Fn(&str) -> bool,
) -> Result<M, WeightsError> {
    apply_with(module, store, path, what, is_extra, &|key| key.to_string(), PyTorchToBurnAdapter)
}

/// [`apply`] with `layout` turning the file's layout into burn's (PyTorch's, and what else the
/// format needs).
fn apply_with<M: Module + ModuleSnapshot>(
    mut module: M,
    store: SafetensorsStore,
    path: &Path,
    what: &'static str,
    is_extra: &dyn Fn(&str) -> bool,
    in_file: &dyn Fn(&str) -> String,
    layout: impl ModuleAdapter + 'static,
) -> Result<M, WeightsError> {
    // Weights in the float type the module's device computes in (f16 files become f32 on the
    // CPU; f32 files f16 on a GPU running in f16).
    let dtype = module.devices().first().map(crate::compute::float_dtype).unwrap_or(DType::F32);
    let mut store = store
        .with_from_adapter(ChainAdapter::new(layout, FloatCastAdapter::to(dtype)))
        .allow_partial(true)
        .skip_enum_variants(true)
        .validate(true);
    let result =
        module.load_from(&mut store).map_err(|e| WeightsError::NotSafetensors { path: path.to_path_buf(), reason: e.to_string() })?;
    let mut problems = Vec::new();
    for (missing, _) in &result.missing {
        problems.push(format!("  missing tensor {}", in_file(missing)));
    }
    for extra in result.unused.iter().filter(|k| !is_extra(k)) {
        problems.push(format!("  unexpected tensor {}", in_file(extra)));
    }
    for e in &result.errors {
        problems.push(format!("  {e}"));
    }
    if problems.is_empty() {
        Ok(module)
    } else {
        problems.sort();
        Err(WeightsError::Mismatch { path: path.to_path_buf(), what, problems: problems.join("\n") })
    }
}
