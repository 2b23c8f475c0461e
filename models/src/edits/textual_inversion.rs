//! Textual-inversion embeddings: a word of the prompt that stands for n learned input vectors of
//! the text encoder (A1111's `embeddings/` folder, diffusers' `load_textual_inversion`).
//!
//! Files read: A1111's `.safetensors` (`emb_params` [n, dim]) and `.pt` (`string_to_param`, read
//! without Python by burn's pickle reader), and diffusers' (one tensor, [dim] or
//! [n, dim], named after its token). The word is the file name without extension, as A1111
//! addresses embeddings, unless given. Like diffusers, the word gets n new token ids after the
//! vocabulary and the text encoder's token table n new rows; the word is matched in the prompt as
//! written and never split.

use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::tensor::{DType, Tensor, TensorData};

use crate::checkpoint::Checkpoint;
use crate::pipeline::StableDiffusion;

#[derive(Debug, thiserror::Error)]
pub enum EmbeddingError {
    #[error("{path}: cannot read the embedding: {reason} (fix: use an A1111 or diffusers embedding, .safetensors or .pt)")]
    Unreadable { path: PathBuf, reason: String },
    #[error("{path}: {problem} (fix: {fix})")]
    Unfit { path: PathBuf, problem: String, fix: &'static str },
    /// The text encoder could not be read back from its booth file.
    #[error(transparent)]
    Model(#[from] crate::pipeline::PipelineError),
}

pub struct TextualInversion {
    pub path: PathBuf,
    pub word: String,
    /// `count` vectors of `dim` values, row-major.
    pub vectors: Vec<f32>,
    pub count: usize,
    pub dim: usize,
}

impl TextualInversion {
    /// Reads `path`; the prompt word is `word`, or the file name without its extension.
    pub fn read(path: &Path, word: Option<&str>) -> Result<Self, EmbeddingError> {
        let unreadable = |reason: String| EmbeddingError::Unreadable { path: path.to_path_buf(), reason };
        let file = Checkpoint::open(path).map_err(|e| unreadable(e.to_string()))?;
        let names = file.names();
        // A1111 .safetensors: emb_params; A1111 .pt: string_to_param.*; diffusers: one tensor.
        let name: String = if let Some(n) = names.iter().find(|n| *n == "emb_params" || n.starts_with("string_to_param.")) {
            n.clone()
        } else if names.len() == 1 {
            names[0].clone()
        } else {
            return Err(unreadable(format!(
                "{} tensors and none named emb_params or string_to_param: not an embedding file (a LoRA?)",
                names.len()
            )));
        };
        let (shape, vectors) = file.get(&name).map_err(|e| unreadable(e.to_string()))?.expect("listed above");
        let (count, dim) = match shape[..] {
            [dim] => (1, dim),
            [count, dim] => (count, dim),
            _ => return Err(unreadable(format!("{name} has shape {shape:?}, not [vectors, width]"))),
        };
        let word = match word {
            Some(w) => w.to_string(),
            None => path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
        };
        if word.trim().is_empty() || word.chars().any(char::is_whitespace) {
            return Err(EmbeddingError::Unfit {
                path: path.to_path_buf(),
                problem: format!("the prompt word {word:?} is empty or has spaces"),
                fix: "name the file (or the word) as one word, e.g. warm-style.safetensors",
            });
        }
        Ok(Self { path: path.to_path_buf(), word, vectors, count, dim })
    }

    /// Adds the word to `sd`'s tokenizer and its vectors to the text encoder's token table.
    pub fn add_to(&self, sd: &mut StableDiffusion) -> Result<(), EmbeddingError> {
        let unfit = |problem: String, fix: &'static str| EmbeddingError::Unfit { path: self.path.clone(), problem, fix };
        let width = sd.text_encoder_config.hidden_size;
        if self.dim != width {
            return Err(unfit(
                format!("vectors of {} values; this text encoder takes {width} (SD 1.x: 768, SD 2.x: 1024, SDXL: two files)", self.dim),
                "use an embedding trained for SD 1.5",
            ));
        }
        if sd.tokenizer.added_ids(&self.word).is_some() || sd.tokenizer.token_id(&format!("{}</w>", self.word.to_lowercase())).is_some() {
            return Err(unfit(
                format!("{:?} is already a word of the tokenizer", self.word),
                "rename the file to a word the model does not know",
            ));
        }
        let embeddings = &mut sd.text_encoder.get_mut(&sd.text_encoder_config, &sd.device)?.text_model.embeddings;
        let table = embeddings.token_embedding.weight.val();
        let table = if matches!(table.dtype(), DType::QFloat(_)) { table.dequantize() } else { table };
        let rows = table.dims()[0];
        if rows != sd.tokenizer.vocab_size() {
            return Err(unfit(
                format!("the token table has {rows} rows for {} token ids", sd.tokenizer.vocab_size()),
                "load the model again; its tokenizer does not match its text encoder",
            ));
        }
        let device = table.device();
        let new = Tensor::<2>::from_data(TensorData::new(self.vectors.clone(), [self.count, self.dim]), &device).cast(table.dtype());
        let id = embeddings.token_embedding.weight.id;
        embeddings.token_embedding.weight = Param::initialized(id, Tensor::cat(vec![table, new], 0));
        sd.tokenizer.add_word(&self.word, self.count);
        sd.text_encoder_config.vocab_size += self.count;
        sd.origin.embeddings.push((self.word.clone(), self.count));
        Ok(())
    }
}
