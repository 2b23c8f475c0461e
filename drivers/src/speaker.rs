//! Speakers: where narration is played.

use std::path::{Path, PathBuf};

use crate::audio::Audio;
use crate::error::{DeviceError, DeviceResult};

pub trait Speaker: Send {
    fn name(&self) -> String;
    /// Starts playing `audio` and returns at once; playback goes on in the background for
    /// `audio.duration_secs()`. `label` names the sound (e.g. `session-001/narration`).
    fn play(&mut self, audio: &Audio, label: &str) -> DeviceResult<()>;
}

/// A speaker that writes what it would play as WAV files: `<dir>/<label>.wav`.
pub struct WavSpeaker {
    dir: PathBuf,
}

impl WavSpeaker {
    pub fn new(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf() }
    }
}

impl Speaker for WavSpeaker {
    fn name(&self) -> String {
        format!("WAV speaker writing to {}", self.dir.display())
    }

    fn play(&mut self, audio: &Audio, label: &str) -> DeviceResult<()> {
        let path = self.dir.join(format!("{label}.wav"));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                DeviceError::new(self.name(), format!("cannot create {}: {e}", parent.display()), "check the output folder is writable")
            })?;
        }
        audio.write_wav(&path)
    }
}
