//! The booth's devices, built from the config.

use std::sync::Arc;

use keepsake_drivers::camera::{Camera, FolderCamera, SyntheticCamera};
use keepsake_drivers::display::{Display, PngDisplay};
use keepsake_drivers::fbdev::FbDisplay;
use keepsake_drivers::input::{Input, ScriptedInput};
use keepsake_drivers::narrator::{Clips, EspeakNarrator, Narrator};
use keepsake_drivers::printer::{ImagePrinter, Printer};
use keepsake_drivers::speaker::{Speaker, WavSpeaker};
use keepsake_drivers::DeviceError;

use crate::config::{CameraConfig, Config, DisplayConfig, InputConfig, NarratorConfig, PrinterConfig, SpeakerConfig};

pub struct Devices {
    pub camera: Box<dyn Camera>,
    pub display: Box<dyn Display>,
    pub input: Box<dyn Input>,
    pub speaker: Box<dyn Speaker>,
    pub narrator: Arc<dyn Narrator>,
    pub printer: Box<dyn Printer>,
}

/// Input that never produces events (a booth with no touch device configured).
pub struct NoInput;

impl Input for NoInput {
    fn name(&self) -> String {
        "no input".into()
    }

    fn poll(&mut self, _screen: &str) -> Result<Option<keepsake_drivers::input::InputEvent>, DeviceError> {
        Ok(None)
    }
}

impl Devices {
    /// Opens every configured device; the first that cannot be opened is the error.
    pub fn open(config: &Config) -> Result<Devices, DeviceError> {
        let d = &config.devices;
        let camera: Box<dyn Camera> = match &d.camera {
            CameraConfig::Synthetic { width, height } => Box::new(SyntheticCamera::new(*width, *height)),
            CameraConfig::Folder { path, width, height } => Box::new(FolderCamera::open(path, *width, *height)?),
        };
        let (w, h) = config.screen;
        let display: Box<dyn Display> = match &d.display {
            DisplayConfig::Png { record } => Box::new(PngDisplay::new(w, h, record.as_deref())),
            DisplayConfig::Framebuffer { path, rotation, stand_in } => Box::new(FbDisplay::open(path, *rotation, *stand_in)?),
        };
        let input: Box<dyn Input> = match &d.input {
            InputConfig::None => Box::new(NoInput),
            InputConfig::Scripted { script } => Box::new(ScriptedInput::from_file(script)?),
            // An absent box does not keep the booth from starting; it is picked up when plugged in.
            InputConfig::SerialButtons { path, baud } => Box::new(keepsake_drivers::button_box::SerialButtonBox::open_or_wait(path, *baud)),
        };
        let speaker: Box<dyn Speaker> = match &d.speaker {
            SpeakerConfig::Wav { dir } => Box::new(WavSpeaker::new(dir)),
        };
        let narrator: Arc<dyn Narrator> = match &d.narrator {
            NarratorConfig::Espeak { clips } => {
                let clips = match clips {
                    Some(dir) => Clips::load(dir)?,
                    None => Clips::default(),
                };
                Arc::new(EspeakNarrator::new(clips))
            }
        };
        let printer: Box<dyn Printer> = match &d.printer {
            PrinterConfig::Image { dir } => Box::new(ImagePrinter::new(dir)),
        };
        Ok(Devices { camera, display, input, speaker, narrator, printer })
    }
}
