//! The display: the kinds of screen the booth draws on, their `[devices.display]` settings, how
//! each is opened, and what `keepsake doctor` checks.

use std::path::PathBuf;

use keepsake_drivers::display::{Display, PngDisplay};
use keepsake_drivers::fbdev::{FbDisplay, Rotation};
use keepsake_drivers::input::Input;
use keepsake_drivers::kms::KmsDisplay;
use keepsake_drivers::x11_window::X11Window;
use keepsake_drivers::DeviceError;

use crate::config_reader::{config_kinds, Reader};

config_kinds! {
    enum DisplayKind { Png = "png", Framebuffer = "framebuffer", Kms = "kms", Window = "window" }
}

#[derive(Debug, Clone, PartialEq)]
pub enum DisplayConfig {
    /// Headless framebuffer; `record` saves one PNG per screen.
    Png { record: Option<PathBuf> },
    /// A window on the X11/Wayland desktop (development): clicks touch, P or space print.
    Window,
    /// A DRM/KMS device driven with a dumb buffer at the panel's preferred mode.
    Kms { path: PathBuf, rotation: Rotation },
    /// A Linux framebuffer device; `stand_in` (width, height, bpp) describes a plain file in its place.
    Framebuffer { path: PathBuf, rotation: Rotation, stand_in: Option<(u32, u32, u32)> },
}

impl DisplayConfig {
    /// `[devices.display]`.
    pub(crate) fn read(r: &mut Reader) -> DisplayConfig {
        match r.choice("devices.display.kind", DisplayKind::Png, "display") {
            DisplayKind::Png => DisplayConfig::Png { record: r.opt_path("devices.display.record", "\"/var/lib/keepsake/screens\"") },
            DisplayKind::Framebuffer => read_framebuffer(r, "devices.display"),
            DisplayKind::Kms => DisplayConfig::Kms {
                path: r.path("devices.display.path", Some("/dev/dri/card0"), "\"/dev/dri/card0\""),
                rotation: r.rotation("devices.display.rotation"),
            },
            DisplayKind::Window => DisplayConfig::Window,
        }
    }

    /// How the panel is mounted (a touchscreen on it turns with it).
    pub fn rotation(&self) -> Rotation {
        match self {
            DisplayConfig::Framebuffer { rotation, .. } | DisplayConfig::Kms { rotation, .. } => *rotation,
            DisplayConfig::Png { .. } | DisplayConfig::Window => Rotation::R0,
        }
    }

    /// Opens it at the `screen` size the booth lays out; a desktop window also brings its own
    /// input (clicks touch, keys press the print button).
    pub fn open(&self, screen: (u32, u32)) -> Result<(Box<dyn Display>, Option<Box<dyn Input>>), DeviceError> {
        let (w, h) = screen;
        Ok(match self {
            DisplayConfig::Png { record } => (Box::new(PngDisplay::new(w, h, record.as_deref())), None),
            DisplayConfig::Window => {
                let (window, keys_and_clicks) = X11Window::open(None, w, h, "Keepsake")?;
                (Box::new(window), Some(Box::new(keys_and_clicks)))
            }
            DisplayConfig::Framebuffer { path, rotation, stand_in } => (Box::new(FbDisplay::open(path, *rotation, *stand_in)?), None),
            DisplayConfig::Kms { path, rotation } => (Box::new(KmsDisplay::open(path, *rotation)?), None),
        })
    }

    /// For `keepsake doctor`: a panel device opened for real; the PNG recorder and a desktop
    /// window have nothing to find.
    pub fn probe(&self) -> Option<Result<String, DeviceError>> {
        match self {
            DisplayConfig::Framebuffer { path, rotation, stand_in } => Some(FbDisplay::open(path, *rotation, *stand_in).map(|f| f.name())),
            DisplayConfig::Kms { path, rotation } => Some(KmsDisplay::open(path, *rotation).map(|k| k.name())),
            DisplayConfig::Png { .. } | DisplayConfig::Window => None,
        }
    }
}

/// A framebuffer: the device, its rotation, and the layout of a stand-in file (all of width,
/// height and bpp, or none).
fn read_framebuffer(r: &mut Reader, table: &str) -> DisplayConfig {
    let path = r.path(&format!("{table}.path"), Some("/dev/fb0"), "\"/dev/fb0\"");
    let rotation = r.rotation(&format!("{table}.rotation"));
    let keys = ["width", "height", "bpp"].map(|k| format!("{table}.{k}"));
    let given: Vec<bool> = keys.iter().map(|k| r.get(k).is_some()).collect();
    let stand_in = if given.iter().all(|g| *g) {
        let w = r.number(&keys[0], 720.0, 16.0, 7680.0, "pixels") as u32;
        let h = r.number(&keys[1], 1280.0, 16.0, 7680.0, "pixels") as u32;
        let bpp = r.number(&keys[2], 32.0, 16.0, 32.0, "bits") as u32;
        if !matches!(bpp, 16 | 24 | 32) {
            r.problem(&keys[2], format!("{bpp} bits per pixel is not supported"), "use 16, 24 or 32");
        }
        Some((w, h, bpp))
    } else {
        if given.iter().any(|g| *g) {
            r.problem(table, "has some of width, height and bpp", "give all three (for a stand-in file) or none (a real /dev/fbN)");
        }
        None
    };
    DisplayConfig::Framebuffer { path, rotation, stand_in }
}
