//! The print button: the kinds the booth reads, their `[devices.button]` settings, how each is
//! opened, and what `keepsake doctor` checks.

use std::path::PathBuf;
use std::time::Duration;

use keepsake_drivers::button_box::SerialButtonBox;
use keepsake_drivers::gpio_button::GpioButton;
use keepsake_drivers::input::Input;
use keepsake_drivers::DeviceError;

use crate::config_reader::{config_kinds, Reader};

config_kinds! {
    enum ButtonKind { None = "none", Serial = "serial", Gpio = "gpio" }
}

/// The physical print button.
#[derive(Debug, Clone, PartialEq)]
pub enum ButtonConfig {
    None,
    /// A print-button box on a serial port (one `PRINT` line per press).
    Serial {
        path: PathBuf,
        baud: u32,
    },
    /// A button on a GPIO line.
    Gpio {
        chip: PathBuf,
        line: u32,
        active_low: bool,
        debounce: Duration,
    },
}

impl ButtonConfig {
    /// `[devices.button]`.
    pub(crate) fn read(r: &mut Reader) -> ButtonConfig {
        match r.choice("devices.button.kind", ButtonKind::None, "print button") {
            ButtonKind::None => ButtonConfig::None,
            ButtonKind::Serial => ButtonConfig::Serial {
                path: r.path("devices.button.path", None, "\"/dev/serial/by-id/usb-keepsake-buttons\""),
                baud: r.number("devices.button.baud", 9600.0, 300.0, 4_000_000.0, "baud") as u32,
            },
            ButtonKind::Gpio => ButtonConfig::Gpio {
                chip: r.path("devices.button.chip", Some("/dev/gpiochip0"), "\"/dev/gpiochip0\""),
                line: r.number("devices.button.line", 0.0, 0.0, 1023.0, "(the line offset gpioinfo shows)") as u32,
                active_low: r.boolean("devices.button.active_low", true),
                debounce: r.seconds("devices.button.debounce", 0.2, 0.0, 2.0),
            },
        }
    }

    /// `None` when the booth has no button. An absent button does not keep the booth from
    /// starting; it is picked up when plugged in.
    pub fn open(&self) -> Option<Box<dyn Input>> {
        match self {
            ButtonConfig::None => None,
            ButtonConfig::Serial { path, baud } => Some(Box::new(SerialButtonBox::open_or_wait(path, *baud))),
            ButtonConfig::Gpio { chip, line, active_low, debounce } => {
                Some(Box::new(GpioButton::open_or_wait(chip, *line, *active_low, *debounce)))
            }
        }
    }

    /// For `keepsake doctor`: the button opened for real (the booth would wait for it).
    pub fn probe(&self) -> Option<Result<String, DeviceError>> {
        match self {
            ButtonConfig::None => None,
            ButtonConfig::Serial { path, baud } => Some(SerialButtonBox::open(path, *baud).map(|b| b.name())),
            ButtonConfig::Gpio { chip, line, active_low, debounce } => {
                Some(GpioButton::open(chip, *line, *active_low, *debounce).map(|b| b.name()))
            }
        }
    }
}
