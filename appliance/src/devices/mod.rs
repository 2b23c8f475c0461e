//! The booth's devices, one module per family (camera, display, input, button, speaker, narrator,
//! printer): each owns its kinds, its `[devices.*]` config section, how it is opened and what
//! `keepsake doctor` checks. Adding a kind is one driver plus one arm in its family's module; the
//! exhaustive matches there list what is missing.

pub mod button;
pub mod camera;
pub mod display;
pub mod input;
pub mod narrator;
pub mod printer;
pub mod speaker;

use std::sync::Arc;

use keepsake_drivers::camera::Camera;
use keepsake_drivers::display::Display;
use keepsake_drivers::input::{Input, Inputs};
use keepsake_drivers::narrator::Narrator;
use keepsake_drivers::printer::Printer;
use keepsake_drivers::speaker::Speaker;
use keepsake_drivers::DeviceError;

pub use button::ButtonConfig;
pub use camera::CameraConfig;
pub use display::DisplayConfig;
pub use input::InputConfig;
pub use narrator::NarratorConfig;
pub use printer::PrinterConfig;
pub use speaker::SpeakerConfig;

use crate::config_reader::Reader;

/// The `[devices.*]` sections of the booth's config.
#[derive(Debug, Clone, PartialEq)]
pub struct DevicesConfig {
    pub camera: CameraConfig,
    pub display: DisplayConfig,
    pub input: InputConfig,
    pub button: ButtonConfig,
    pub speaker: SpeakerConfig,
    pub narrator: NarratorConfig,
    pub printer: PrinterConfig,
}

impl DevicesConfig {
    /// Reads every family's section; `screen` is the layout size (a webcam's preview).
    pub(crate) fn read(r: &mut Reader, screen: (u32, u32)) -> DevicesConfig {
        let camera = CameraConfig::read(r, screen);
        let display = DisplayConfig::read(r);
        let input = InputConfig::read(r, display.rotation());
        let button = ButtonConfig::read(r);
        let speaker = SpeakerConfig::read(r);
        let narrator = NarratorConfig::read(r);
        let printer = PrinterConfig::read(r);
        DevicesConfig { camera, display, input, button, speaker, narrator, printer }
    }

    /// What `keepsake doctor` reports for the configured devices, each opened for real: a camera,
    /// panel, touchscreen or button the booth would wait for is missing here, and a printer that
    /// cannot print says why. The kinds built into the booth have nothing to find.
    pub fn probes(&self, screen: (u32, u32)) -> Vec<(&'static str, Result<String, DeviceError>)> {
        // Destructured so that a new family is a compile error until it is checked (or said not to be).
        let DevicesConfig { camera, display, input, button, speaker, narrator: _, printer } = self;
        // The narrator's voices are checked per language by the doctor itself.
        let optional = [
            ("camera", camera.probe()),
            ("display", display.probe()),
            ("touchscreen", input.probe(screen)),
            ("print button", button.probe()),
            ("speaker", speaker.probe()),
        ];
        let mut out: Vec<_> = optional.into_iter().filter_map(|(what, probe)| Some((what, probe?))).collect();
        out.push(("printer", printer.probe()));
        out
    }
}

/// The booth's devices, opened.
pub struct Devices {
    pub camera: Box<dyn Camera>,
    pub display: Box<dyn Display>,
    pub input: Box<dyn Input>,
    pub speaker: Box<dyn Speaker>,
    pub narrator: Arc<dyn Narrator>,
    pub printer: Box<dyn Printer>,
}

impl Devices {
    /// Opens every configured device at the booth's `screen` size; the first that cannot be
    /// opened is the error (absent cameras, touchscreens and buttons are waited for instead).
    pub fn open(devices: &DevicesConfig, screen: (u32, u32)) -> Result<Devices, DeviceError> {
        let DevicesConfig { camera, display, input, button, speaker, narrator, printer } = devices;
        let camera = camera.open()?;
        let (display, window_input) = display.open(screen)?;
        let touch = input.open(display.size())?;
        let inputs: Vec<Box<dyn Input>> = [window_input, touch, button.open()].into_iter().flatten().collect();
        Ok(Devices {
            camera,
            display,
            input: Box::new(Inputs::new(inputs)),
            speaker: speaker.open()?,
            narrator: narrator.open()?,
            printer: printer.open()?,
        })
    }
}
