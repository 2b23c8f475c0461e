//! Printers: the keepsake card on paper.

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use atomic_write_file::AtomicWriteFile;
use image::RgbImage;

use crate::error::{DeviceError, DeviceResult};
use crate::paper::PaperSize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrinterState {
    Ready,
    /// Printing is not possible now, and why.
    Unavailable(Unavailable),
}

/// Why a printer cannot print now: kinds a visitor can be told in their language, with the
/// technician's detail kept for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    OutOfPaper,
    Jammed,
    CoverOpen,
    /// A ribbon, ink or toner is used up (its name, when the printer gives one).
    SupplyEmpty(String),
    /// Stopped or paused by someone, or not accepting jobs.
    Stopped(String),
    /// This many of our cards are still waiting to print.
    Busy(usize),
    /// Not answering: off, unplugged or unreachable.
    Offline(String),
    /// Set up so that no card can come out (a queue whose device cannot be opened, a card the
    /// spooler stopped): what is wrong and the technician's fix, both naming the thing.
    Misconfigured {
        problem: String,
        fix: String,
    },
}

impl Unavailable {
    /// What the technician does about it (`keepsake doctor` prints it beside the reason).
    pub fn fix(&self) -> String {
        match self {
            Unavailable::OutOfPaper => "load paper (the booth offers the QR code meanwhile)".into(),
            Unavailable::Jammed => "open the printer, clear the jam or the cutter, close it".into(),
            Unavailable::CoverOpen => "close the printer's cover or door".into(),
            Unavailable::SupplyEmpty(_) => "replace the ribbon or ink (dye-sub printers need the ribbon and paper pack together)".into(),
            Unavailable::Stopped(_) => "start the queue again: cupsenable QUEUE (or the printer's own panel)".into(),
            Unavailable::Busy(_) => "wait for the cards to print; lpstat -o lists them and cancel -a QUEUE drops them".into(),
            Unavailable::Offline(_) => {
                "check the printer's cable and power (and, for a CUPS queue, that CUPS runs: systemctl status cups)".into()
            }
            Unavailable::Misconfigured { fix, .. } => fix.clone(),
        }
    }
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unavailable::OutOfPaper => write!(f, "out of paper"),
            Unavailable::Jammed => write!(f, "paper jam or cutter error"),
            Unavailable::CoverOpen => write!(f, "the cover is open"),
            Unavailable::SupplyEmpty(name) if name.is_empty() => write!(f, "the ribbon or ink is used up"),
            Unavailable::SupplyEmpty(name) => write!(f, "{name} is used up"),
            Unavailable::Stopped(detail) => write!(f, "stopped: {detail}"),
            Unavailable::Busy(n) => write!(f, "{n} card(s) still waiting to print"),
            Unavailable::Offline(detail) => write!(f, "not answering: {detail}"),
            Unavailable::Misconfigured { problem, .. } => write!(f, "{problem}"),
        }
    }
}

pub trait Printer: Send {
    fn name(&self) -> String;
    /// Checked before "Print" is offered.
    fn state(&mut self) -> DeviceResult<PrinterState>;
    /// Prints one page. `page` must be exactly the paper's size in pixels. Returns a job id.
    fn print(&mut self, page: &RgbImage, paper: PaperSize, label: &str) -> DeviceResult<String>;
}

/// A printer that writes the print-ready page as a PNG at the paper's resolution
/// (`<dir>/<label>.png`), exactly as it would be sent to the printer.
pub struct ImagePrinter {
    dir: PathBuf,
}

impl ImagePrinter {
    pub fn new(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf() }
    }
}

/// Writes an RGB PNG that records its resolution (pHYs chunk), atomically.
pub fn write_png_with_dpi(page: &RgbImage, dpi: u32, path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = AtomicWriteFile::open(path)?;
    let mut encoder = png::Encoder::new(BufWriter::new(&mut file), page.width(), page.height());
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let per_metre = (dpi as f64 / 0.0254).round() as u32;
    encoder.set_pixel_dims(Some(png::PixelDimensions { xppu: per_metre, yppu: per_metre, unit: png::Unit::Meter }));
    let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
    writer.write_image_data(page.as_raw()).map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)?;
    file.commit()
}

/// Reads the resolution recorded in a PNG, in dots per inch.
pub fn read_png_dpi(path: &Path) -> std::io::Result<Option<u32>> {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path)?));
    let reader = decoder.read_info().map_err(std::io::Error::other)?;
    Ok(reader.info().pixel_dims.and_then(|d| match d.unit {
        png::Unit::Meter => Some((d.xppu as f64 * 0.0254).round() as u32),
        png::Unit::Unspecified => None,
    }))
}

impl Printer for ImagePrinter {
    fn name(&self) -> String {
        format!("image printer writing 300 dpi pages to {}", self.dir.display())
    }

    fn state(&mut self) -> DeviceResult<PrinterState> {
        match std::fs::create_dir_all(&self.dir) {
            Ok(()) => Ok(PrinterState::Ready),
            Err(e) => Ok(PrinterState::Unavailable(Unavailable::Offline(format!("cannot write to {}: {e}", self.dir.display())))),
        }
    }

    fn print(&mut self, page: &RgbImage, paper: PaperSize, label: &str) -> DeviceResult<String> {
        if page.dimensions() != paper.pixels() {
            let (w, h) = paper.pixels();
            return Err(DeviceError::new(
                self.name(),
                format!("page is {}x{} px but {paper} paper at {} dpi is {w}x{h}", page.width(), page.height(), paper.dpi()),
                "lay the card out at the configured paper size",
            ));
        }
        let path = self.dir.join(format!("{label}.png"));
        write_png_with_dpi(page, paper.dpi(), &path).map_err(|e| {
            DeviceError::new(
                self.name(),
                format!("cannot write {}: {e}", path.display()),
                "check the folder is writable and the disk is not full",
            )
        })?;
        Ok(path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_page_at_300_dpi_and_rejects_wrong_size() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = ImagePrinter::new(dir.path());
        assert_eq!(p.state().unwrap(), PrinterState::Ready);
        let page = RgbImage::new(600, 1800);
        let job = p.print(&page, PaperSize::TwoBySix, "card").unwrap();
        assert_eq!(read_png_dpi(Path::new(&job)).unwrap(), Some(300));
        assert_eq!(image::open(&job).unwrap().to_rgb8().dimensions(), (600, 1800));
        let err = p.print(&page, PaperSize::FourBySix, "card2").unwrap_err();
        assert!(err.problem.contains("1200x1800"), "{err}");
    }

    #[test]
    fn a_failed_write_keeps_the_old_page_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("page.png");
        write_png_with_dpi(&RgbImage::from_pixel(4, 6, image::Rgb([9, 8, 7])), 300, &path).unwrap();
        // PNG has no empty pictures: the encoder fails after the file was opened.
        assert!(write_png_with_dpi(&RgbImage::new(0, 0), 300, &path).is_err());
        let kept = image::open(&path).unwrap().to_rgb8();
        assert_eq!((kept.dimensions(), kept.get_pixel(3, 5).0), ((4, 6), [9, 8, 7]));
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["page.png"]);
    }
}
