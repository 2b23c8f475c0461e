//! The speaker: the kinds the booth plays through, their `[devices.speaker]` settings, how each is
//! opened, and what `keepsake doctor` checks.

use std::path::PathBuf;

use keepsake_drivers::alsa_speaker::AlsaSpeaker;
use keepsake_drivers::speaker::{Speaker, WavSpeaker};
use keepsake_drivers::DeviceError;

use crate::config_reader::{config_kinds, Reader};

config_kinds! {
    enum SpeakerKind { Wav = "wav", Alsa = "alsa" }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SpeakerConfig {
    Wav {
        dir: PathBuf,
    },
    /// An ALSA device (`default`, or a PCM name aplay -L lists), at a volume of 0.0..=1.0.
    Alsa {
        device: String,
        volume: f32,
    },
}

impl SpeakerConfig {
    /// `[devices.speaker]`.
    pub(crate) fn read(r: &mut Reader) -> SpeakerConfig {
        match r.choice("devices.speaker.kind", SpeakerKind::Wav, "speaker") {
            SpeakerKind::Wav => SpeakerConfig::Wav { dir: r.path("devices.speaker.dir", Some("sound"), "\"/var/lib/keepsake/sound\"") },
            SpeakerKind::Alsa => SpeakerConfig::Alsa {
                device: r.string("devices.speaker.device", Some("default"), "\"default\""),
                volume: r.number("devices.speaker.volume", 0.8, 0.0, 1.0, "(0 silent, 1 full)") as f32,
            },
        }
    }

    pub fn open(&self) -> Result<Box<dyn Speaker>, DeviceError> {
        Ok(match self {
            SpeakerConfig::Wav { dir } => Box::new(WavSpeaker::new(dir)),
            SpeakerConfig::Alsa { device, volume } => Box::new(AlsaSpeaker::open(device, *volume)?),
        })
    }

    /// For `keepsake doctor`: the sound card opened for real; the WAV recorder has nothing to find.
    pub fn probe(&self) -> Option<Result<String, DeviceError>> {
        match self {
            SpeakerConfig::Wav { .. } => None,
            SpeakerConfig::Alsa { device, volume } => Some(AlsaSpeaker::open(device, *volume).map(|s| s.name())),
        }
    }
}
