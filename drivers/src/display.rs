//! Displays: where the booth's drawn frames go.

use std::path::{Path, PathBuf};

use atomic_write_file::AtomicWriteFile;
use image::RgbImage;

use crate::error::{DeviceError, DeviceResult};

pub trait Display: Send {
    fn name(&self) -> String;
    /// (width, height) in pixels, as the booth should draw.
    fn size(&self) -> (u32, u32);
    /// Shows a frame. `label` names what the frame shows (e.g. `session-001/03-review`); displays
    /// that record frames use it to keep one picture per distinct screen.
    fn present(&mut self, frame: &RgbImage, label: &str) -> DeviceResult<()>;
}

/// A frame must be exactly the size a display reports: the booth lays screens out for it.
pub fn check_frame_size(display: &dyn Display, frame: &RgbImage) -> DeviceResult<()> {
    let (w, h) = display.size();
    if frame.dimensions() == (w, h) {
        return Ok(());
    }
    Err(DeviceError::new(
        display.name(),
        format!("frame is {}x{}, the display shows {w}x{h}", frame.width(), frame.height()),
        "draw at the size the display reports",
    ))
}

/// A headless display: keeps the latest frame in memory and, when recording, saves one PNG per
/// distinct label under its folder (`<dir>/<label>.png`).
pub struct PngDisplay {
    width: u32,
    height: u32,
    record_dir: Option<PathBuf>,
    last_label: Option<String>,
    pub last_frame: Option<RgbImage>,
}

impl PngDisplay {
    pub fn new(width: u32, height: u32, record_dir: Option<&Path>) -> Self {
        Self { width, height, record_dir: record_dir.map(Path::to_path_buf), last_label: None, last_frame: None }
    }
}

/// Writes a PNG atomically, so a reader never sees half a picture.
pub fn save_png_atomically(image: &RgbImage, path: &Path) -> DeviceResult<()> {
    let device = format!("image file {}", path.display());
    let fail = |e: &dyn std::fmt::Display| {
        DeviceError::new(&device, format!("cannot write: {e}"), "check the folder is writable and the disk is not full")
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| fail(&e))?;
    }
    let mut file = AtomicWriteFile::open(path).map_err(|e| fail(&e))?;
    image.write_to(&mut std::io::BufWriter::new(&mut file), image::ImageFormat::Png).map_err(|e| fail(&e))?;
    file.commit().map_err(|e| fail(&e))
}

impl Display for PngDisplay {
    fn name(&self) -> String {
        match &self.record_dir {
            Some(d) => format!("headless display {}x{} recording to {}", self.width, self.height, d.display()),
            None => format!("headless display {}x{}", self.width, self.height),
        }
    }

    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn present(&mut self, frame: &RgbImage, label: &str) -> DeviceResult<()> {
        check_frame_size(self, frame)?;
        if let Some(dir) = &self.record_dir {
            if self.last_label.as_deref() != Some(label) {
                save_png_atomically(frame, &dir.join(format!("{label}.png")))?;
            }
        }
        self.last_label = Some(label.to_string());
        self.last_frame = Some(frame.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_one_png_per_label() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = PngDisplay::new(8, 4, Some(dir.path()));
        let frame = RgbImage::new(8, 4);
        d.present(&frame, "s/01-a").unwrap();
        d.present(&frame, "s/01-a").unwrap();
        d.present(&frame, "s/02-b").unwrap();
        let mut names: Vec<_> = std::fs::read_dir(dir.path().join("s")).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["01-a.png", "02-b.png"]);
        assert!(d.present(&RgbImage::new(3, 3), "x").is_err());
    }
}
