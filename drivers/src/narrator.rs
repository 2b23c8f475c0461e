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
    phrase.split_whitespace().collect::<Vec<_>>().join(" ").trim_end_matches(['.', '!', '?', '。', '…']).to_lowercase()
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
            DeviceError::new(
                &device,
                format!("cannot read: {e}"),
                "create clips.toml listing [[clip]] text/file pairs, or remove narration.clips from the config",
            )
        })?;
        let parsed: ClipIndex = toml::from_str(&text).map_err(|e| {
            DeviceError::new(&device, format!("not valid: {e}"), "each [[clip]] needs text = \"...\" and file = \"name.wav\"")
        })?;
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

/// espeak-ng's voice for a booth language ("ko" or "en").
pub fn espeak_voice(language: &str) -> Option<&'static str> {
    match language {
        "ko" => Some("ko"),
        "en" => Some("en-us"),
        _ => None,
    }
}

pub const ESPEAK_INSTALL_FIX: &str = "install espeak-ng: `sudo apt-get install espeak-ng`";

impl EspeakNarrator {
    pub fn new(clips: Clips) -> Self {
        Self { program: PathBuf::from("espeak-ng"), clips, words_per_minute: 140 }
    }

    /// Whether espeak-ng runs and has a voice for the booth language `language` ("ko", "en").
    pub fn has_voice(language: &str) -> DeviceResult<bool> {
        let Some(voice) = espeak_voice(language) else { return Ok(false) };
        let out = Command::new("espeak-ng")
            .args(["--voices", voice])
            .output()
            .map_err(|e| DeviceError::new("espeak-ng", format!("cannot run: {e}"), ESPEAK_INSTALL_FIX))?;
        let listing = String::from_utf8_lossy(&out.stdout);
        Ok(listing.lines().skip(1).any(|l| l.split_whitespace().nth(1) == Some(voice)))
    }

    fn synthesize(&self, text: &str, language: &str) -> DeviceResult<Audio> {
        let voice = espeak_voice(language).ok_or_else(|| {
            DeviceError::new("espeak-ng", format!("no voice for language {language:?}"), "set memorial.language to \"ko\" or \"en\"")
        })?;
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

    fn tone(seconds: f32, rate: u32) -> Audio {
        let n = (seconds * rate as f32) as usize;
        Audio { sample_rate: rate, samples: (0..n).map(|i| ((i as f32 * 0.05).sin() * 8000.0) as i16).collect() }
    }

    /// espeak-ng is a real program here (the test script installs it); with
    /// KEEPSAKE_STRICT_TESTS unset and no espeak-ng, the speech tests say so and pass.
    fn espeak_available() -> bool {
        let ok = EspeakNarrator::has_voice("ko").unwrap_or(false) && EspeakNarrator::has_voice("en").unwrap_or(false);
        assert!(ok || std::env::var("KEEPSAKE_STRICT_TESTS").as_deref() != Ok("1"), "espeak-ng with ko and en voices is required");
        if !ok {
            eprintln!("skipping: espeak-ng with ko/en voices is not installed");
        }
        ok
    }

    #[test]
    fn espeak_speaks_korean_and_english_at_a_length_that_fits() {
        if !espeak_available() {
            return;
        }
        let n = EspeakNarrator::new(Clips::default());
        let short = n.narrate("기억합니다.", "ko").unwrap();
        let long = n.narrate("함께한 모든 순간을 기억합니다. 늘 따뜻했던 당신을 그리워합니다.", "ko").unwrap();
        assert!(short.rms() > 0.02 && long.rms() > 0.02);
        assert!(long.duration_secs() > 2.5 * short.duration_secs(), "{} vs {}", long.duration_secs(), short.duration_secs());
        let en = n.narrate("We remember you.", "en").unwrap();
        assert!(en.rms() > 0.02 && (0.6..4.0).contains(&en.duration_secs()), "{}", en.duration_secs());
        assert!(n.narrate("hi", "fr").is_err());
    }

    #[test]
    fn recorded_clips_take_precedence_per_phrase() {
        if !espeak_available() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        // A 3-second 48 kHz recording of the second sentence.
        tone(3.0, 48_000).write_wav(&dir.path().join("remember.wav")).unwrap();
        std::fs::write(dir.path().join("clips.toml"), "[[clip]]\ntext = \"We will always remember you\"\nfile = \"remember.wav\"\n")
            .unwrap();
        let with_clip = EspeakNarrator::new(Clips::load(dir.path()).unwrap());
        let plain = EspeakNarrator::new(Clips::default());
        let text = "Thank you. We will always remember you.";
        let a = with_clip.narrate(text, "en").unwrap();
        let b = plain.narrate(text, "en").unwrap();
        assert_eq!(a.sample_rate, 22_050);
        // The clip (3 s, resampled) is in the narration: it is a pure tone, speech is not.
        let clip = tone(3.0, 48_000).resampled(22_050);
        let found = a.samples.windows(64).any(|w| w == &clip.samples[1000..1064]);
        assert!(found, "the recorded clip is played");
        assert!(a.duration_secs() > 3.0 && a.duration_secs() != b.duration_secs());
        // A clip for the whole text replaces synthesis entirely.
        std::fs::write(dir.path().join("clips.toml"), format!("[[clip]]\ntext = \"{text}\"\nfile = \"remember.wav\"\n")).unwrap();
        let whole = EspeakNarrator::new(Clips::load(dir.path()).unwrap()).narrate(text, "en").unwrap();
        assert!((whole.duration_secs() - 3.0).abs() < 0.01);
    }

    #[test]
    fn clips_index_errors_name_the_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("clips.toml"), "[[clip]]\ntext = \"hi\"\nfile = \"nope.wav\"\n").unwrap();
        let err = Clips::load(dir.path()).unwrap_err();
        assert!(err.problem.contains("nope.wav"), "{err}");
    }
}
