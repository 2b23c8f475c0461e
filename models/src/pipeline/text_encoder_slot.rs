//! Where the pipeline keeps its text encoder, and the text encodings it already made.
//!
//! The text encoder runs once per new prompt, the UNet at every step, and a booth repeats the
//! same few prompts all day. So encodings are remembered, and a pipeline loaded from a booth file
//! does not keep the encoder in memory at all: it reads it from the (memory-mapped) file when a
//! prompt it has not seen arrives and drops it again before the UNet runs, which keeps ~130 MB
//! of int8 weights out of the generation's peak. Changing the encoder (a LoRA, an embedding)
//! makes it resident for good: the file no longer describes it.

use parking_lot::Mutex;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::path::Path;

use burn::tensor::{Device, Tensor};

use crate::components::clip::{ClipTextConfig, ClipTextModel};
use crate::pipeline::PipelineError;

/// Encodings kept: a booth's presets (prompt and negative each) fit many times over.
const REMEMBERED: usize = 16;

/// What one encoding depends on besides the encoder's weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PromptKey {
    pub prompt: String,
    pub min_chunks: usize,
    pub clip_skip: usize,
}

/// A file the text encoder can be read from again whenever a prompt needs it (the booth file).
pub trait TextEncoderFile: Send + Sync {
    fn path(&self) -> &Path;
    fn load_text_encoder(&self, config: &ClipTextConfig, device: &Device) -> Result<ClipTextModel, PipelineError>;
}

pub struct TextEncoderSlot {
    resident: Option<ClipTextModel>,
    /// The booth file that holds this very encoder (set while it is unchanged since loading); the
    /// mapping opened at load, so a new bake renamed over the path cannot slip in.
    file: Option<Box<dyn TextEncoderFile>>,
    remembered: Mutex<VecDeque<(PromptKey, Tensor<3>)>>,
}

impl TextEncoderSlot {
    pub fn resident(model: ClipTextModel) -> Self {
        Self { resident: Some(model), file: None, remembered: Mutex::default() }
    }

    /// An encoder that stays in `file` until a prompt needs it.
    pub fn in_file(file: impl TextEncoderFile + 'static) -> Self {
        Self { resident: None, file: Some(Box::new(file)), remembered: Mutex::default() }
    }

    pub fn is_resident(&self) -> bool {
        self.resident.is_some()
    }

    /// The booth file the encoder is read from while it is not resident.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_ref().map(|file| file.path())
    }

    /// Drops the resident encoder if a file holds it; returns whether it is now out of memory.
    pub fn release(&mut self) -> bool {
        if self.file.is_some() {
            self.resident = None;
        }
        self.resident.is_none()
    }

    fn read(&self, config: &ClipTextConfig, device: &Device) -> Result<ClipTextModel, PipelineError> {
        let file = self.file.as_ref().expect("a text encoder that is not resident has a file");
        file.load_text_encoder(config, device)
    }

    /// The encoder, read from its file for the caller if it is not resident.
    pub fn get(&self, config: &ClipTextConfig, device: &Device) -> Result<Cow<'_, ClipTextModel>, PipelineError> {
        match &self.resident {
            Some(model) => Ok(Cow::Borrowed(model)),
            None => Ok(Cow::Owned(self.read(config, device)?)),
        }
    }

    /// The encoder to change: resident from now on, no longer tied to its file, and every
    /// remembered encoding forgotten.
    pub fn get_mut(&mut self, config: &ClipTextConfig, device: &Device) -> Result<&mut ClipTextModel, PipelineError> {
        if self.resident.is_none() {
            self.resident = Some(self.read(config, device)?);
        }
        self.file = None;
        self.forget();
        Ok(self.resident.as_mut().expect("made resident above"))
    }

    /// The weights' shapes without reading them (for matching names against the model).
    pub fn layout(&self, config: &ClipTextConfig, device: &Device) -> Cow<'_, ClipTextModel> {
        match &self.resident {
            Some(model) => Cow::Borrowed(model),
            // burn's parameters stay uninitialised (no memory) until a value is asked for.
            None => Cow::Owned(config.init(device)),
        }
    }

    pub(crate) fn remembered(&self, key: &PromptKey) -> Option<Tensor<3>> {
        let list = self.remembered.lock();
        list.iter().find(|(k, _)| k == key).map(|(_, t)| t.clone())
    }

    pub(crate) fn remember(&self, key: PromptKey, encoding: Tensor<3>) {
        let mut list = self.remembered.lock();
        list.retain(|(k, _)| *k != key);
        if list.len() == REMEMBERED {
            list.pop_front();
        }
        list.push_back((key, encoding));
    }

    /// Forgets every encoding (the tokenizer or the encoder changed).
    pub fn forget(&self) {
        self.remembered.lock().clear();
    }

    pub fn remembered_count(&self) -> usize {
        self.remembered.lock().len()
    }
}
