//! The printer: the kinds the booth prints keepsake cards on, their `[devices.printer]` settings,
//! the paper each takes, how each is opened, and what `keepsake doctor` checks.

use std::path::PathBuf;

use keepsake_drivers::cups::CupsPrinter;
use keepsake_drivers::paper::PaperSize;
use keepsake_drivers::printer::{ImagePrinter, Printer, PrinterState};
use keepsake_drivers::thermal::EscPosPrinter;
use keepsake_drivers::DeviceError;

use crate::config_reader::{config_kinds, Reader};

config_kinds! {
    enum PrinterKind { Image = "image", EscPos = "escpos", Cups = "cups" }
}

#[derive(Debug, Clone, PartialEq)]
pub enum PrinterConfig {
    Image {
        dir: PathBuf,
    },
    /// An ESC/POS thermal printer on a serial port; `status` asks it for paper and cover state.
    EscPos {
        path: PathBuf,
        baud: u32,
        status: bool,
    },
    /// A CUPS queue (or IPP printer); no new card is offered while `max_queued` are waiting.
    Cups {
        uri: String,
        max_queued: usize,
    },
}

impl PrinterConfig {
    /// `[devices.printer]`.
    pub(crate) fn read(r: &mut Reader) -> PrinterConfig {
        match r.choice("devices.printer.kind", PrinterKind::Image, "printer") {
            PrinterKind::Image => {
                PrinterConfig::Image { dir: r.path("devices.printer.dir", Some("prints"), "\"/var/lib/keepsake/prints\"") }
            }
            PrinterKind::EscPos => PrinterConfig::EscPos {
                path: r.path("devices.printer.path", None, "\"/dev/serial/by-id/usb-thermal-printer\""),
                baud: r.number("devices.printer.baud", 9600.0, 300.0, 4_000_000.0, "baud") as u32,
                status: r.boolean("devices.printer.status", true),
            },
            PrinterKind::Cups => {
                let uri = r.string("devices.printer.uri", None, "\"ipp://127.0.0.1:631/printers/photo\"");
                if !uri.is_empty() && !["ipp://", "ipps://", "http://", "https://"].iter().any(|p| uri.starts_with(p)) {
                    r.problem(
                        "devices.printer.uri",
                        format!("{uri:?} is not an IPP address"),
                        "write ipp://127.0.0.1:631/printers/QUEUE (lpstat -v lists the queues)",
                    );
                }
                PrinterConfig::Cups { uri, max_queued: r.number("devices.printer.max_queued", 2.0, 1.0, 50.0, "cards") as usize }
            }
        }
    }

    /// Whether `paper` (`paper.size`) can go in this printer: the problem and its fix if not.
    pub(crate) fn paper_problem(&self, paper: PaperSize) -> Option<(String, &'static str)> {
        match self {
            // The PNG printer lays out any card.
            PrinterConfig::Image { .. } => None,
            PrinterConfig::EscPos { .. } if !paper.is_thermal() => {
                Some((format!("{paper} is photo paper but the printer is a thermal one"), "set paper.size = \"58mm\" or \"80mm\""))
            }
            PrinterConfig::Cups { .. } if paper.is_thermal() => Some((
                format!("{paper} is a thermal roll but the printer is a CUPS photo printer"),
                "set paper.size to the photo paper loaded, e.g. \"4x6\"",
            )),
            PrinterConfig::EscPos { .. } | PrinterConfig::Cups { .. } => None,
        }
    }

    /// The printer, opened lazily by the drivers that can be: a printer switched off at start
    /// only makes "Print" unavailable.
    pub fn open(&self) -> Result<Box<dyn Printer>, DeviceError> {
        Ok(match self {
            PrinterConfig::Image { dir } => Box::new(ImagePrinter::new(dir)),
            // Opened on first use.
            PrinterConfig::EscPos { path, baud, status } => Box::new(EscPosPrinter::new(path, *baud, *status)),
            PrinterConfig::Cups { uri, max_queued } => Box::new(CupsPrinter::new(uri, *max_queued)?),
        })
    }

    /// For `keepsake doctor`: whether it can print now, and if not why, as the booth would ask it.
    pub fn probe(&self) -> Result<String, DeviceError> {
        let mut printer = self.open()?;
        match printer.state()? {
            PrinterState::Ready => Ok(format!("{}: ready", printer.name())),
            PrinterState::Unavailable(why) => Err(DeviceError::new(printer.name(), format!("cannot print now: {why}"), why.fix())),
        }
    }
}
