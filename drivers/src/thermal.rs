//! ESC/POS thermal receipt printers on a serial port (58 and 80 mm rolls).
//!
//! The keepsake card is dithered (Floyd–Steinberg) to the head's black dots, so the
//! illustration keeps its tones on a one-bit printer, and sent as raster bands
//! (`GS v 0`, built by the `escpos` crate) followed by a feed and a cut. Before "Print" is offered,
//! the printer's real-time status (`DLE EOT`) is asked: paper end, cover open or an error make
//! the printer unavailable with the reason, and a printer that does not answer is offline.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use escpos::driver::Driver;
use escpos::errors::PrinterError;
use escpos::printer::Printer as EscPos;
use escpos::utils::{BitImageOption, BitImageSize, Protocol, RealTimeStatusRequest, RealTimeStatusResponse};
use image::{imageops, GrayImage, Luma, RgbImage};

use crate::error::{DeviceError, DeviceResult};
use crate::paper::PaperSize;
use crate::printer::{Printer, PrinterState, Unavailable};

/// Rows per raster command: small enough for the receive buffers of cheap printers.
pub const BAND_ROWS: u32 = 128;

/// How the light mid-tones are deepened before dithering: a thermal head's isolated dots are
/// small and sharp, so a face's light skin (luma ~200) dithered as it is prints almost white
/// and only the eyes and mouth remain. Paper white and full black stay as they are.
const THERMAL_GAMMA: f32 = 1.6;

/// Floyd–Steinberg dithering to pure black (0) and white (255), after the tone curve.
pub fn dither(page: &RgbImage) -> GrayImage {
    let mut gray = imageops::grayscale(page);
    let curve: Vec<u8> = (0..=255u32).map(|v| ((v as f32 / 255.0).powf(THERMAL_GAMMA) * 255.0).round() as u8).collect();
    for p in gray.pixels_mut() {
        p[0] = curve[p[0] as usize];
    }
    imageops::dither(&mut gray, &imageops::colorops::BiLevel);
    gray
}

/// The bytes that print `page` on a thermal head of the page's width: initialise, raster bands,
/// feed past the cutter, partial cut.
pub fn job_bytes(page: &RgbImage) -> Result<Vec<u8>, String> {
    let dots = dither(page);
    let mut printer = EscPos::new(Capture::default(), Protocol::default(), None);
    let esc = |e: PrinterError| e.to_string();
    printer.init().map_err(esc)?;
    let mut y = 0;
    while y < dots.height() {
        let rows = BAND_ROWS.min(dots.height() - y);
        let band = imageops::crop_imm(&dots, 0, y, dots.width(), rows).to_image();
        let mut png = Vec::new();
        band.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).map_err(|e| e.to_string())?;
        // The image is already the head's width: no scaling, no re-thresholding of grey.
        let option = BitImageOption::new(None, None, BitImageSize::Normal).map_err(esc)?;
        printer.bit_image_from_bytes_option(&png, option).map_err(esc)?;
        y += rows;
    }
    printer.feeds(4).map_err(esc)?.partial_cut().map_err(esc)?.print().map_err(esc)?;
    Ok(printer.driver().bytes.into_inner())
}

/// An escpos driver that keeps the bytes, so a whole job goes to the port in one write.
#[derive(Default)]
struct Capture {
    bytes: RefCell<Vec<u8>>,
}

impl Driver for Capture {
    fn name(&self) -> String {
        "capture".into()
    }
    fn write(&self, data: &[u8]) -> escpos::errors::Result<()> {
        self.bytes.borrow_mut().extend_from_slice(data);
        Ok(())
    }
    fn read(&self, _buf: &mut [u8]) -> escpos::errors::Result<usize> {
        Ok(0)
    }
    fn flush(&self) -> escpos::errors::Result<()> {
        Ok(())
    }
}

/// A thermal printer on a serial port (USB-serial or RS-232).
pub struct EscPosPrinter {
    path: PathBuf,
    baud: u32,
    /// Whether to ask the printer for its status (a few cheap printers never answer).
    status_queries: bool,
    port: Option<Box<dyn serialport::SerialPort>>,
    jobs: u64,
}

impl EscPosPrinter {
    pub fn new(path: &Path, baud: u32, status_queries: bool) -> Self {
        Self { path: path.to_path_buf(), baud, status_queries, port: None, jobs: 0 }
    }

    fn device(&self) -> String {
        format!("thermal printer {}", self.path.display())
    }

    fn port(&mut self) -> DeviceResult<&mut Box<dyn serialport::SerialPort>> {
        if self.port.is_none() {
            let port = serialport::new(self.path.to_string_lossy(), self.baud).timeout(Duration::from_millis(500)).open().map_err(|e| {
                DeviceError::new(
                    self.device(),
                    format!("cannot open: {e}"),
                    "check the printer is on and its cable is in, the path (ls -l /dev/serial/by-id) and the baud rate",
                )
            })?;
            self.port = Some(port);
        }
        Ok(self.port.as_mut().expect("opened above"))
    }

    /// Sends `DLE EOT n` and reads the one-byte answer.
    fn ask(&mut self, request: RealTimeStatusRequest) -> Result<u8, String> {
        let (n, _) = request.into();
        let port = self.port().map_err(|e| e.problem)?;
        let _ = port.clear(serialport::ClearBuffer::Input);
        port.write_all(&[0x10, 0x04, n]).map_err(|e| format!("cannot write: {e}"))?;
        let mut answer = [0u8; 1];
        match port.read_exact(&mut answer) {
            Ok(()) => Ok(answer[0]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Err("does not answer (off, offline or unplugged)".into()),
            Err(e) => Err(format!("cannot read: {e}")),
        }
    }

    /// The first reason, if any, the printer cannot print now.
    fn why_not(&mut self) -> Result<Option<Unavailable>, String> {
        let flag = |request, answer: u8, key| {
            RealTimeStatusResponse::parse(request, answer)
                .map(|m| m.get(&key).copied().unwrap_or(false))
                .map_err(|e| format!("answered nonsense to a status query: {e}"))
        };
        let paper = self.ask(RealTimeStatusRequest::RollPaperSensor)?;
        if !flag(RealTimeStatusRequest::RollPaperSensor, paper, RealTimeStatusResponse::RollPaperEndSensorPaperPresent)? {
            return Ok(Some(Unavailable::OutOfPaper));
        }
        let offline = self.ask(RealTimeStatusRequest::OfflineCause)?;
        if !flag(RealTimeStatusRequest::OfflineCause, offline, RealTimeStatusResponse::CoverClosed)? {
            return Ok(Some(Unavailable::CoverOpen));
        }
        if flag(RealTimeStatusRequest::OfflineCause, offline, RealTimeStatusResponse::ErrorOccurred)? {
            return Ok(Some(Unavailable::Jammed));
        }
        Ok(None)
    }
}

impl Printer for EscPosPrinter {
    fn name(&self) -> String {
        format!("{} at {} baud", self.device(), self.baud)
    }

    fn state(&mut self) -> DeviceResult<PrinterState> {
        if !self.status_queries {
            return Ok(match self.port() {
                Ok(_) => PrinterState::Ready,
                Err(e) => PrinterState::Unavailable(Unavailable::Offline(e.problem)),
            });
        }
        Ok(match self.why_not() {
            Ok(None) => PrinterState::Ready,
            Ok(Some(reason)) => PrinterState::Unavailable(reason),
            Err(problem) => {
                // Reopen next time: the port may be a new device after a replug.
                self.port = None;
                PrinterState::Unavailable(Unavailable::Offline(problem))
            }
        })
    }

    fn print(&mut self, page: &RgbImage, paper: PaperSize, label: &str) -> DeviceResult<String> {
        if !paper.is_thermal() || page.dimensions() != paper.pixels() {
            let (w, h) = paper.pixels();
            return Err(DeviceError::new(
                self.name(),
                format!("page is {}x{} px for {paper} paper ({w}x{h})", page.width(), page.height()),
                "set paper.size to the roll in the printer: 58mm or 80mm",
            ));
        }
        let bytes = job_bytes(page).map_err(|e| DeviceError::new(self.name(), format!("cannot encode the page: {e}"), "report this"))?;
        let device = self.name();
        let written = self.port().and_then(|port| {
            port.write_all(&bytes)
                .and_then(|()| port.flush())
                .map_err(|e| DeviceError::new(&device, format!("cannot send the page: {e}"), "check the printer's cable and power"))
        });
        if let Err(e) = written {
            self.port = None;
            return Err(e);
        }
        self.jobs += 1;
        Ok(format!("escpos-{}-{label}", self.jobs))
    }
}

/// Decodes the raster bands (`GS v 0`) in ESC/POS bytes back into one picture: black dots are 0.
/// Other commands are skipped by their known lengths. Used to check what a printer receives.
pub fn decode_raster(bytes: &[u8]) -> Result<GrayImage, String> {
    let mut bands: Vec<GrayImage> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i..] {
            [0x1d, 0x76, 0x30, _mode, xl, xh, yl, yh, ..] => {
                let width_bytes = xl as usize + 256 * xh as usize;
                let rows = yl as usize + 256 * yh as usize;
                let data = bytes.get(i + 8..i + 8 + width_bytes * rows).ok_or("a raster band is cut short")?;
                bands.push(GrayImage::from_fn(width_bytes as u32 * 8, rows as u32, |x, y| {
                    let byte = data[y as usize * width_bytes + x as usize / 8];
                    Luma([if byte & (0x80 >> (x % 8)) != 0 { 0 } else { 255 }])
                }));
                i += 8 + width_bytes * rows;
            }
            [0x1b, 0x40, ..] => i += 2,                 // ESC @ initialise
            [0x18, ..] | [0x0a, ..] => i += 1,          // CAN, LF
            [0x1b, 0x64, _, ..] => i += 3,              // ESC d n feed
            [0x1d, 0x56, 0x41 | 0x42, _, ..] => i += 4, // GS V m n feed and cut
            [0x1d, 0x56, _, ..] => i += 3,              // GS V m cut
            _ => return Err(format!("unexpected byte {:#04x} at {i}", bytes[i])),
        }
    }
    let width = bands.iter().map(|b| b.width()).max().ok_or("no raster in the job")?;
    let height = bands.iter().map(|b| b.height()).sum();
    let mut out = GrayImage::from_pixel(width, height, Luma([255]));
    let mut y = 0;
    for band in bands {
        imageops::replace(&mut out, &band, 0, y as i64);
        y += band.height();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn black_share(luma: u8) -> f32 {
        let dots = dither(&RgbImage::from_pixel(64, 64, image::Rgb([luma, luma, luma])));
        assert!(dots.pixels().all(|p| p[0] == 0 || p[0] == 255));
        dots.pixels().filter(|p| p[0] == 0).count() as f32 / (64.0 * 64.0)
    }

    #[test]
    fn dithering_deepens_light_mid_tones_and_keeps_white_black_and_order() {
        assert_eq!(black_share(255), 0.0, "paper white stays clean");
        assert_eq!(black_share(0), 1.0);
        // Light skin (luma ~200) keeps a third of its dots, not the fifth a linear dither gives.
        let skin = black_share(200);
        assert!(skin > 0.3 && skin < 0.45, "{skin}");
        let shares: Vec<f32> = (0..=255).step_by(15).map(|v| black_share(v as u8)).collect();
        assert!(shares.windows(2).all(|w| w[0] >= w[1]), "darker stays darker: {shares:?}");
    }

    #[test]
    fn a_job_decodes_back_to_the_dithered_page_in_bands() {
        let page = RgbImage::from_fn(384, 300, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
        let bytes = job_bytes(&page).unwrap();
        assert_eq!(&bytes[..2], &[0x1b, 0x40], "starts with ESC @");
        let bands = bytes.windows(3).filter(|w| w == &[0x1d, 0x76, 0x30]).count();
        assert_eq!(bands, 3, "300 rows in bands of {BAND_ROWS}");
        assert_eq!(decode_raster(&bytes).unwrap(), dither(&page));
    }
}
