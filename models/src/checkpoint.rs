//! Named float tensors from a PyTorch checkpoint (`.pth`/`.pt`, read by burn's pickle-free
//! reader) or a safetensors file: the public ControlNet annotator weights are `.pth` files.
//!
//! Tensors are read one at a time, by name, as f32, with the shape checked by the caller's
//! model, so a file for another network is named with what does not fit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::store::pytorch_reader::{DType as PtDType, PytorchReader, Tensor as PtTensor};
use half::{bf16, f16};
use safetensors::tensor::{Dtype as StDtype, Metadata};
use safetensors::SafeTensors;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: cannot read the weights: {reason} (fix: {fix})")]
    Unreadable { path: PathBuf, reason: String, fix: &'static str },
    #[error("{path}: not the weights of {what}: {problem} (fix: {fix})")]
    Unfit { path: PathBuf, what: &'static str, problem: String, fix: &'static str },
}

enum Source {
    Pytorch(BTreeMap<String, PtTensor>),
    /// The mapping, where its data starts (after the header) and the header, parsed once.
    Safetensors {
        map: memmap2::Mmap,
        data_start: usize,
        header: Metadata,
    },
}

pub struct Checkpoint {
    path: PathBuf,
    source: Source,
}

fn floats(bytes: &[u8], width: usize, f: impl Fn(&[u8]) -> f32) -> Vec<f32> {
    bytes.chunks_exact(width).map(f).collect()
}

impl Checkpoint {
    /// Opens `path` (`.safetensors` by its header, anything else as a PyTorch checkpoint).
    pub fn open(path: &Path) -> Result<Self, CheckpointError> {
        let unreadable = |reason: String| CheckpointError::Unreadable {
            path: path.to_path_buf(),
            reason,
            fix: "check the file is a complete PyTorch checkpoint (.pth/.pt) or .safetensors file",
        };
        let file = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
        // SAFETY: read-only mapping of a file nothing here writes.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| unreadable(e.to_string()))?;
        let parsed = SafeTensors::read_metadata(&map).ok();
        let source = if let Some((header_len, header)) = parsed {
            Source::Safetensors { data_start: 8 + header_len, header, map }
        } else {
            drop(map);
            let reader = PytorchReader::new(path).map_err(|e| unreadable(e.to_string()))?;
            // Some checkpoints wrap the weights in {"state_dict": ...} or {"model": ...}.
            let tensors: BTreeMap<String, PtTensor> = reader.into_tensors().into_iter().collect();
            let strip = ["state_dict.", "model."].into_iter().find(|p| !tensors.is_empty() && tensors.keys().all(|k| k.starts_with(p)));
            let tensors = match strip {
                Some(prefix) => tensors.into_iter().map(|(k, v)| (k[prefix.len()..].to_string(), v)).collect(),
                None => tensors,
            };
            Source::Pytorch(tensors)
        };
        Ok(Self { path: path.to_path_buf(), source })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn names(&self) -> Vec<String> {
        match &self.source {
            Source::Pytorch(t) => t.keys().cloned().collect(),
            Source::Safetensors { header, .. } => header.tensors().into_keys().collect(),
        }
    }

    /// The shape of tensor `name`, read from the file's index (no tensor data is read).
    pub fn shape(&self, name: &str) -> Option<Vec<usize>> {
        match &self.source {
            Source::Pytorch(tensors) => tensors.get(name).map(|t| t.shape().to_vec()),
            Source::Safetensors { header, .. } => header.info(name).map(|i| i.shape.clone()),
        }
    }

    /// The tensor `name` as f32 with its shape, or `None` if the file has no such tensor.
    pub fn get(&self, name: &str) -> Result<Option<(Vec<usize>, Vec<f32>)>, CheckpointError> {
        let bad = |reason: String| CheckpointError::Unreadable {
            path: self.path.clone(),
            reason,
            fix: "download the file again; it is damaged or not a checkpoint",
        };
        match &self.source {
            Source::Pytorch(tensors) => {
                let Some(t) = tensors.get(name) else { return Ok(None) };
                let bytes = t.read().map_err(|e| bad(e.to_string()))?;
                let values = match t.dtype() {
                    PtDType::F32 => floats(&bytes, 4, |c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]])),
                    PtDType::F16 => floats(&bytes, 2, |c| f16::from_ne_bytes([c[0], c[1]]).to_f32()),
                    PtDType::BF16 => floats(&bytes, 2, |c| bf16::from_ne_bytes([c[0], c[1]]).to_f32()),
                    PtDType::F64 => floats(&bytes, 8, |c| f64::from_ne_bytes(c.try_into().expect("8 bytes")) as f32),
                    other => return Err(bad(format!("{name} is {other:?}, not a float tensor"))),
                };
                Ok(Some((t.shape().to_vec(), values)))
            }
            Source::Safetensors { map, data_start, header } => {
                let Some(info) = header.info(name) else { return Ok(None) };
                let (start, end) = info.data_offsets;
                let b =
                    map.get(data_start + start..data_start + end).ok_or_else(|| bad(format!("{name} lies beyond the end of the file")))?;
                let values = match info.dtype {
                    StDtype::F32 => floats(b, 4, |c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                    StDtype::F16 => floats(b, 2, |c| f16::from_le_bytes([c[0], c[1]]).to_f32()),
                    StDtype::BF16 => floats(b, 2, |c| bf16::from_le_bytes([c[0], c[1]]).to_f32()),
                    other => return Err(bad(format!("{name} is {other:?}, not a float tensor"))),
                };
                Ok(Some((info.shape.clone(), values)))
            }
        }
    }
}
