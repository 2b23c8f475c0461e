//! Narrators turn the memorial message into speech.
//!
//! Operator-recorded clips come first: a family may record the message in a loved one's voice, or
//! an operator may record the phrases the booth says. Whatever has no clip is spoken by espeak-ng.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use crate::audio::Audio;
use crate::error::{DeviceError, DeviceResult};

pub trait Narrator: Send + Sync {
    fn name(&self) -> String;
    /// Speech for `text` in `language` ("ko" or "en").
    fn narrate(&self, text: &str, language: &str) -> DeviceResult<Audio>;
}

/// Compares phrases the way a person would: case, spacing and final punctuation do not matter.
fn normalize(phrase: &str) -> String {
    phrase
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end_matches(['.', '!', '?', '。', '…'])
        .to_lowercase()
}

/// Splits narration into sentences, keeping their end punctuation.
pub fn phrases(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        if ch == '\n' {
            out.push(std::mem::take(&mut cur));
            continue;
        }
        cur.push(ch);
        if matches!(ch, '.' | '!' | '?' | '。' | '…') {
            out.push(std::mem::take(&mut cur));
        }
    }
    out.push(cur);
    out.into_iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClipIndex {
    #[serde(default)]
    clip: Vec<ClipEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClipEntry {
    text: String,
    file: PathBuf,
}

/// Recorded clips, listed in `<dir>/clips.toml` as `[[clip]] text = "..." file = "x.wav"`.
#[derive(Debug, Default)]
pub struct Clips {
    by_phrase: HashMap<String, PathBuf>,
}

impl Clips {
    pub fn load(dir: &Path) -> DeviceResult<Self> {
        let index = dir.join("clips.toml");
        let device = format!("narration clips {}", index.display());
        let text = std::fs::read_to_string(&index).map_err(|e| {
            DeviceError::new(&device, format!("cannot read: {e}"), "create clips.toml listing [[clip]] text/file pairs, or remove narration.clips from the config")
        })?;
        let parsed: ClipIndex = toml::from_str(&text)
            .map_err(|e| DeviceError::new(&device, format!("not valid: {e}"), "each [[clip]] needs text = \"...\" and file = \"name.wav\""))?;
        let mut by_phrase = HashMap::new();
        for entry in parsed.clip {
            let file = dir.join(&entry.file);
            if !file.is_file() {
                return Err(DeviceError::new(
                    &device,
                    format!("clip file {} for {:?} does not exist", file.display(), entry.text),
                    "record the clip or remove its [[clip]] entry",
                ));
            }
            by_phrase.insert(normalize(&entry.text), file);
        }
        Ok(Self { by_phrase })
    }

    pub fn get(&self, phrase: &str) -> Option<&Path> {
        self.by_phrase.get(&normalize(phrase)).map(PathBuf::as_path)
    }

    pub fn len(&self) -> usize {
        self.by_phrase.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_phrase.is_empty()
    }
}

/// espeak-ng (the `espeak-ng` program) with recorded clips taking precedence.
pub struct EspeakNarrator {
    program: PathBuf,
    clips: Clips,
    /// Words per minute; memorial narration is read slowly.
    pub words_per_minute: u32,
}

pub const ESPEAK_INSTALL_FIX: &str = "install espeak-ng: `sudo apt-get install espeak-ng`";

impl EspeakNarrator {
    pub fn new(clips: Clips) -> Self {
        Self { program: PathBuf::from("espeak-ng"), clips, words_per_minute: 140 }
    }

    /// Whether espeak-ng runs and has a voice for `language`.
    pub fn has_voice(language: &str) -> DeviceResult<bool> {
        let out = Command::new("espeak-ng")
            .args(["--voices", language])
            .output()
            .map_err(|e| DeviceError::new("espeak-ng", format!("cannot run: {e}"), ESPEAK_INSTALL_FIX))?;
        let listing = String::from_utf8_lossy(&out.stdout);
        Ok(listing.lines().skip(1).any(|l| l.split_whitespace().nth(1) == Some(language)))
    }

    fn synthesize(&self, text: &str, language: &str) -> DeviceResult<Audio> {
        let voice = match language {
            "ko" => "ko",
            "en" => "en-us",
            other => {
                return Err(DeviceError::new("espeak-ng", format!("no voice for language {other:?}"), "set memorial.language to \"ko\" or \"en\""))
            }
        };
        let tmp = std::env::temp_dir().join(format!("keepsake-espeak-{}-{}.wav", std::process::id(), unique()));
        let out = Command::new(&self.program)
            .args(["-v", voice, "-s", &self.words_per_minute.to_string(), "-w"])
            .arg(&tmp)
            .arg("--")
            .arg(text)
            .output()
            .map_err(|e| DeviceError::new("espeak-ng", format!("cannot run: {e}"), ESPEAK_INSTALL_FIX))?;
        if !out.status.success() {
            let _ = std::fs::remove_file(&tmp);
            return Err(DeviceError::new(
                "espeak-ng",
                format!("failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()),
                "check `espeak-ng --voices` lists the voice; reinstall espeak-ng-data",
            ));
        }
        let audio = Audio::read_wav(&tmp);
        let _ = std::fs::remove_file(&tmp);
        audio
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// espeak-ng's output rate; clips are resampled to it so one narration has one rate.
const NARRATION_RATE: u32 = 22_050;

impl Narrator for EspeakNarrator {
    fn name(&self) -> String {
        format!("espeak-ng narrator ({} recorded clips)", self.clips.len())
    }

    fn narrate(&self, text: &str, language: &str) -> DeviceResult<Audio> {
        if let Some(clip) = self.clips.get(text) {
            return Ok(Audio::read_wav(clip)?.resampled(NARRATION_RATE));
        }
        let mut speech = Audio { sample_rate: NARRATION_RATE, samples: Vec::new() };
        let mut pending = String::new();
        let pause = Audio::silence(NARRATION_RATE, 0.35);
        for phrase in phrases(text) {
            if let Some(clip) = self.clips.get(&phrase) {
                if !pending.is_empty() {
                    speech.append(&self.synthesize(&std::mem::take(&mut pending), language)?);
                    speech.append(&pause);
                }
                speech.append(&Audio::read_wav(clip)?);
                speech.append(&pause);
            } else {
                if !pending.is_empty() {
                    pending.push(' ');
                }
                pending.push_str(&phrase);
            }
        }
        if !pending.is_empty() {
            speech.append(&self.synthesize(&pending, language)?);
        }
        Ok(speech)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_split_on_sentence_ends() {
        assert_eq!(phrases("Hello there. We remember you!\n감사합니다"), ["Hello there.", "We remember you!", "감사합니다"]);
        assert_eq!(normalize("  We  Remember you! "), "we remember you");
    }

    #[test]
    fn clips_index_errors_name_the_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("clips.toml"), "[[clip]]\ntext = \"hi\"\nfile = \"nope.wav\"\n").unwrap();
        let err = Clips::load(dir.path()).unwrap_err();
        assert!(err.problem.contains("nope.wav"), "{err}");
    }
}
