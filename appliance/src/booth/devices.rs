//! The booth's devices, built from the config.

use std::sync::Arc;

use keepsake_drivers::alsa_speaker::AlsaSpeaker;
use keepsake_drivers::button_box::SerialButtonBox;
use keepsake_drivers::camera::{Camera, FolderCamera, SyntheticCamera};
use keepsake_drivers::cups::CupsPrinter;
use keepsake_drivers::display::{Display, PngDisplay};
use keepsake_drivers::fbdev::FbDisplay;
use keepsake_drivers::gpio_button::GpioButton;
use keepsake_drivers::input::{Input, Inputs, ScriptedInput};
use keepsake_drivers::kms::KmsDisplay;
use keepsake_drivers::narrator::{Clips, EspeakNarrator, Narrator};
use keepsake_drivers::printer::{ImagePrinter, Printer};
use keepsake_drivers::speaker::{Speaker, WavSpeaker};
use keepsake_drivers::thermal::EscPosPrinter;
use keepsake_drivers::touch;
use keepsake_drivers::v4l_camera::V4lCamera;
use keepsake_drivers::x11_window::X11Window;
use keepsake_drivers::DeviceError;

use crate::config::{ButtonConfig, CameraConfig, Config, DisplayConfig, InputConfig, NarratorConfig, PrinterConfig, SpeakerConfig};

pub struct Devices {
    pub camera: Box<dyn Camera>,
    pub display: Box<dyn Display>,
    pub input: Box<dyn Input>,
    pub speaker: Box<dyn Speaker>,
    pub narrator: Arc<dyn Narrator>,
    pub printer: Box<dyn Printer>,
}

impl Devices {
    /// Opens every configured device; the first that cannot be opened is the error.
    pub fn open(config: &Config) -> Result<Devices, DeviceError> {
        let d = &config.devices;
        let camera: Box<dyn Camera> = match &d.camera {
            CameraConfig::Synthetic { width, height } => Box::new(SyntheticCamera::new(*width, *height)),
            CameraConfig::Folder { path, width, height } => Box::new(FolderCamera::open(path, *width, *height)?),
            // A camera unplugged at start does not stop the booth; it is looked for at each visit.
            CameraConfig::V4l2(settings) => Box::new(V4lCamera::open_or_wait(settings.clone())),
        };
        let (w, h) = config.screen;
        let mut inputs: Vec<Box<dyn Input>> = Vec::new();
        let display: Box<dyn Display> = match &d.display {
            DisplayConfig::Png { record } => Box::new(PngDisplay::new(w, h, record.as_deref())),
            DisplayConfig::Window => {
                let (window, keys_and_clicks) = X11Window::open(None, w, h, "Keepsake")?;
                inputs.push(Box::new(keys_and_clicks));
                Box::new(window)
            }
            DisplayConfig::Framebuffer { path, rotation, stand_in } => Box::new(FbDisplay::open(path, *rotation, *stand_in)?),
            DisplayConfig::Kms { path, rotation } => Box::new(KmsDisplay::open(path, *rotation)?),
        };
        match &d.input {
            InputConfig::None => {}
            InputConfig::Scripted { script } => inputs.push(Box::new(ScriptedInput::from_file(script)?)),
            // Absent touch panels and buttons do not keep the booth from starting; they are
            // picked up when plugged in.
            InputConfig::Touch(settings) => inputs.push(Box::new(touch::open_or_wait(settings.clone(), display.size()))),
        }
        match &d.button {
            ButtonConfig::None => {}
            ButtonConfig::Serial { path, baud } => inputs.push(Box::new(SerialButtonBox::open_or_wait(path, *baud))),
            ButtonConfig::Gpio { chip, line, active_low, debounce } => {
                inputs.push(Box::new(GpioButton::open_or_wait(chip, *line, *active_low, *debounce)))
            }
        }
        let input: Box<dyn Input> = Box::new(Inputs::new(inputs));
        let speaker: Box<dyn Speaker> = match &d.speaker {
            SpeakerConfig::Wav { dir } => Box::new(WavSpeaker::new(dir)),
            SpeakerConfig::Alsa { device, volume } => Box::new(AlsaSpeaker::open(device, *volume)?),
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
        let printer = open_printer(&d.printer)?;
        Ok(Devices { camera, display, input, speaker, narrator, printer })
    }
}

/// The configured printer (opened lazily by the drivers that can be: a printer switched off at
/// start only makes "Print" unavailable).
pub fn open_printer(printer: &PrinterConfig) -> Result<Box<dyn Printer>, DeviceError> {
    Ok(match printer {
        PrinterConfig::Image { dir } => Box::new(ImagePrinter::new(dir)),
        // Opened on first use: a printer switched off at start only makes "Print" unavailable.
        PrinterConfig::EscPos { path, baud, status } => Box::new(EscPosPrinter::new(path, *baud, *status)),
        PrinterConfig::Cups { uri, max_queued } => Box::new(CupsPrinter::new(uri, *max_queued)?),
    })
}
