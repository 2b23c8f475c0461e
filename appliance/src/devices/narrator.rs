//! The narrator: the voice that reads the memorial message, its `[devices.narrator]` settings and
//! how it is opened. (`keepsake doctor` checks the voices per language, not per config.)

use std::path::PathBuf;
use std::sync::Arc;

use keepsake_drivers::narrator::{Clips, EspeakNarrator, Narrator};
use keepsake_drivers::DeviceError;

use crate::config_reader::{config_kinds, Reader};

config_kinds! {
    enum NarratorKind { Espeak = "espeak" }
}

#[derive(Debug, Clone, PartialEq)]
pub enum NarratorConfig {
    /// espeak-ng, or a recorded clip where `clips` has one for the text.
    Espeak { clips: Option<PathBuf> },
}

impl NarratorConfig {
    /// `[devices.narrator]`.
    pub(crate) fn read(r: &mut Reader) -> NarratorConfig {
        match r.choice("devices.narrator.kind", NarratorKind::Espeak, "narrator") {
            NarratorKind::Espeak => NarratorConfig::Espeak { clips: r.opt_path("devices.narrator.clips", "\"/var/lib/keepsake/clips\"") },
        }
    }

    pub fn open(&self) -> Result<Arc<dyn Narrator>, DeviceError> {
        Ok(match self {
            NarratorConfig::Espeak { clips } => {
                let clips = match clips {
                    Some(dir) => Clips::load(dir)?,
                    None => Clips::default(),
                };
                Arc::new(EspeakNarrator::new(clips))
            }
        })
    }
}
