//! Loading safetensors weights into modules whose field names are the file's keys.
//!
//! Weights are cast to the float type of the module's device on load (f32 on the CPU); Linear weights are transposed from PyTorch's
//! [out, in]; norm weight/bias map to burn's gamma/beta. Anything that does not fit is an error
//! naming the tensor: missing, extra, or mis-shaped (with both shapes).

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::{ChainAdapter, FloatCastAdapter, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use burn::tensor::DType;

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
    apply(module, SafetensorsStore::from_file(path), path, what, allow_extra)
}

/// Loads safetensors bytes (e.g. one component cut out of a single-file checkpoint).
pub fn load_bytes<M: Module + ModuleSnapshot>(module: M, bytes: Vec<u8>, source: &Path, what: &'static str) -> Result<M, WeightsError> {
    apply(module, SafetensorsStore::from_bytes(Some(bytes)), source, what, &[])
}

fn apply<M: Module + ModuleSnapshot>(
    mut module: M,
    store: SafetensorsStore,
    path: &Path,
    what: &'static str,
    allow_extra: &[&str],
) -> Result<M, WeightsError> {
    // Weights in the float type the module's device computes in (f16 files become f32 on the
    // CPU; f32 files f16 on a GPU running in f16).
    let dtype = module.devices().first().map(crate::compute::float_dtype).unwrap_or(DType::F32);
    let mut store = store
        .with_from_adapter(ChainAdapter::new(PyTorchToBurnAdapter, FloatCastAdapter::to(dtype)))
        .allow_partial(true)
        .skip_enum_variants(true)
        .validate(true);
    let result =
        module.load_from(&mut store).map_err(|e| WeightsError::NotSafetensors { path: path.to_path_buf(), reason: e.to_string() })?;
    let mut problems = Vec::new();
    for (missing, _) in &result.missing {
        problems.push(format!("  missing tensor {missing}"));
    }
    for extra in result.unused.iter().filter(|k| !allow_extra.iter().any(|p| k.starts_with(p))) {
        problems.push(format!("  unexpected tensor {extra}"));
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
