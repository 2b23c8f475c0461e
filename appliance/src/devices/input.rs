//! Touch input: the kinds of visitor input the booth reads, their `[devices.input]` settings, how
//! each is opened, and what `keepsake doctor` checks. (The print button is `button`.)

use std::path::PathBuf;

use keepsake_drivers::fbdev::Rotation;
use keepsake_drivers::input::{Input, ScriptedInput};
use keepsake_drivers::touch::{self, Calibration, TouchInput, TouchSettings};
use keepsake_drivers::DeviceError;

use crate::config_reader::{config_kinds, Reader};

config_kinds! {
    enum InputKind { None = "none", Scripted = "scripted", Touch = "touch" }
}

#[derive(Debug, Clone, PartialEq)]
pub enum InputConfig {
    None,
    Scripted {
        script: PathBuf,
    },
    /// An evdev touchscreen.
    Touch(TouchSettings),
}

impl InputConfig {
    /// `[devices.input]`; a touchscreen turns with the panel unless it says otherwise.
    pub(crate) fn read(r: &mut Reader, panel_rotation: Rotation) -> InputConfig {
        match r.choice("devices.input.kind", InputKind::None, "input") {
            InputKind::None => InputConfig::None,
            InputKind::Scripted => InputConfig::Scripted { script: r.path("devices.input.script", None, "\"visitor.toml\"") },
            InputKind::Touch => InputConfig::Touch(read_touch(r, "devices.input", panel_rotation)),
        }
    }

    /// Opens it for a display of `display_size`; `None` when the booth has no such input.
    pub fn open(&self, display_size: (u32, u32)) -> Result<Option<Box<dyn Input>>, DeviceError> {
        Ok(match self {
            InputConfig::None => None,
            InputConfig::Scripted { script } => Some(Box::new(ScriptedInput::from_file(script)?)),
            // An absent touch panel does not keep the booth from starting; it is picked up when
            // plugged in.
            InputConfig::Touch(settings) => Some(Box::new(touch::open_or_wait(settings.clone(), display_size))),
        })
    }

    /// For `keepsake doctor`: the touchscreen opened for real (the booth would wait for it).
    pub fn probe(&self, screen: (u32, u32)) -> Option<Result<String, DeviceError>> {
        match self {
            InputConfig::Touch(s) => Some(TouchInput::open(s.clone(), screen).map(|t| t.name())),
            InputConfig::None | InputConfig::Scripted { .. } => None,
        }
    }
}

/// An evdev touchscreen: the device, the calibration measured on the panel (or the kernel's
/// ranges), and the rotation (the panel's unless given).
fn read_touch(r: &mut Reader, table: &str, panel_rotation: Rotation) -> TouchSettings {
    let path = r.path(&format!("{table}.path"), None, "\"/dev/input/by-id/usb-ILITEK-event-if00\"");
    let key = format!("{table}.calibration");
    let calibration = match r.get(&key) {
        None => None,
        Some(toml::Value::Array(a)) if a.len() == 4 && a.iter().all(|v| v.as_integer().is_some_and(|i| i32::try_from(i).is_ok())) => {
            let v: Vec<i32> = a.iter().map(|v| v.as_integer().unwrap_or(0) as i32).collect();
            if v[0] == v[1] || v[2] == v[3] {
                r.problem(&key, "an axis has the same value at both edges", "measure the raw values at opposite edges (evtest)");
            }
            Some(Calibration { x: (v[0], v[1]), y: (v[2], v[3]) })
        }
        Some(_) => {
            r.problem(
                &key,
                "must be four whole numbers",
                format!("write {key} = [x_left, x_right, y_top, y_bottom] with the raw values evtest shows at the edges"),
            );
            None
        }
    };
    let swap_xy = r.boolean(&format!("{table}.swap_xy"), false);
    let rotation_key = format!("{table}.rotation");
    let rotation = if r.get(&rotation_key).is_some() { r.rotation(&rotation_key) } else { panel_rotation };
    let debounce = r.seconds(&format!("{table}.debounce"), 0.15, 0.0, 2.0);
    TouchSettings { path, calibration, swap_xy, rotation, debounce }
}
