//! Cameras: live preview frames for the countdown and one full-resolution capture.

use std::path::{Path, PathBuf};

use image::{imageops, Rgb, RgbImage};

use crate::error::{DeviceError, DeviceResult};

pub trait Camera: Send {
    /// A human name for logs and `keepsake doctor`.
    fn name(&self) -> String;
    /// A live frame for the preview (any size; the screen scales it), already mirrored the way a
    /// visitor expects to see themselves.
    fn preview(&mut self) -> DeviceResult<RgbImage>;
    /// The photo, at full resolution, not mirrored.
    fn capture(&mut self) -> DeviceResult<RgbImage>;
}

/// A synthetic scene: a softly lit room with a person-like figure that sways, so every screen,
/// filter and print has something real-looking to work on without a camera.
pub struct SyntheticCamera {
    width: u32,
    height: u32,
    frame: u64,
}

impl SyntheticCamera {
    pub fn new(width: u32, height: u32) -> Self {
        Self { width, height, frame: 0 }
    }

    fn render(&self, width: u32, height: u32, t: f32) -> RgbImage {
        let (w, h) = (width as f32, height as f32);
        let sway = (t * 0.7).sin() * 0.06 * w;
        let head = (w * 0.5 + sway, h * 0.36);
        let head_r = w.min(h) * 0.15;
        let body_top = head.1 + head_r * 1.1;
        RgbImage::from_fn(width, height, |x, y| {
            let (xf, yf) = (x as f32, y as f32);
            // Warm wall with a window of light and a floor.
            let light = (-((xf - w * 0.8).powi(2) + (yf - h * 0.2).powi(2)) / (0.18 * w * w)).exp();
            let mut c =
                if yf > h * 0.82 { [120.0, 92.0, 70.0] } else { [182.0 + 60.0 * light, 170.0 + 60.0 * light, 150.0 + 50.0 * light] };
            // Picture frame on the wall.
            if (xf - w * 0.18).abs() < w * 0.08 && (yf - h * 0.25).abs() < h * 0.09 {
                let edge = (xf - w * 0.18).abs() > w * 0.065 || (yf - h * 0.25).abs() > h * 0.075;
                c = if edge { [90.0, 60.0, 35.0] } else { [70.0, 120.0, 160.0] };
            }
            // Shoulders and body: a dark sweater.
            let bx = (xf - head.0) / (w * 0.32);
            let by = (yf - body_top) / (h * 0.5);
            if by > 0.0 && bx * bx + (by - 1.0).powi(2) < 1.0 {
                let shade = 1.0 - 0.3 * bx.abs();
                c = [60.0 * shade, 70.0 * shade, 110.0 * shade];
            }
            // Head: skin with darker hair on top, two eyes and a mouth.
            let dx = xf - head.0;
            let dy = yf - head.1;
            if dx * dx + dy * dy < head_r * head_r {
                c = if dy < -head_r * 0.45 { [55.0, 40.0, 30.0] } else { [226.0, 184.0, 156.0] };
                let eye_y = head.1 - head_r * 0.1;
                for ex in [head.0 - head_r * 0.38, head.0 + head_r * 0.38] {
                    if (xf - ex).powi(2) + (yf - eye_y).powi(2) < (head_r * 0.09).powi(2) {
                        c = [40.0, 30.0, 30.0];
                    }
                }
                if (yf - (head.1 + head_r * 0.45)).abs() < head_r * 0.04 && dx.abs() < head_r * 0.3 {
                    c = [150.0, 70.0, 70.0];
                }
            }
            // A little sensor noise, deterministic per pixel and frame.
            let n = ((x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663) ^ (t.to_bits())) % 7) as f32 - 3.0;
            Rgb([(c[0] + n).clamp(0.0, 255.0) as u8, (c[1] + n).clamp(0.0, 255.0) as u8, (c[2] + n).clamp(0.0, 255.0) as u8])
        })
    }
}

impl Camera for SyntheticCamera {
    fn name(&self) -> String {
        format!("synthetic camera {}x{}", self.width, self.height)
    }

    fn preview(&mut self) -> DeviceResult<RgbImage> {
        self.frame += 1;
        // Rendered at preview size directly: the preview must keep up with the frame rate.
        let small = self.render(self.width / 2, self.height / 2, self.frame as f32 / 15.0);
        Ok(imageops::flip_horizontal(&small))
    }

    fn capture(&mut self) -> DeviceResult<RgbImage> {
        self.frame += 1;
        Ok(self.render(self.width, self.height, self.frame as f32 / 15.0))
    }
}

/// Plays the pictures of a folder (JPEG/PNG, sorted by name) as if they came from a camera: each
/// capture takes the next picture. The folder is read on each frame, so a removed folder or a
/// broken file is a device fault, as an unplugged camera would be.
pub struct FolderCamera {
    dir: PathBuf,
    width: u32,
    height: u32,
    next: usize,
}

impl FolderCamera {
    pub fn open(dir: &Path, width: u32, height: u32) -> DeviceResult<Self> {
        let cam = Self { dir: dir.to_path_buf(), width, height, next: 0 };
        cam.pictures()?;
        Ok(cam)
    }

    fn device(&self) -> String {
        format!("camera folder {}", self.dir.display())
    }

    fn pictures(&self) -> DeviceResult<Vec<PathBuf>> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| {
            DeviceError::new(
                self.device(),
                format!("cannot read the folder: {e}"),
                "set devices.camera.path to a folder of .jpg/.png photos",
            )
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(DeviceError::new(self.device(), "the folder has no .jpg or .png pictures", "put at least one photo in the folder"));
        }
        Ok(files)
    }

    fn current(&self) -> DeviceResult<RgbImage> {
        let files = self.pictures()?;
        let path = &files[self.next % files.len()];
        let img = image::open(path).map_err(|e| {
            DeviceError::new(self.device(), format!("cannot decode {}: {e}", path.display()), "replace or remove the broken picture")
        })?;
        // Fill the configured frame the way a camera sensor would: scale to cover, centre-crop.
        let img = img.resize_to_fill(self.width, self.height, imageops::FilterType::Triangle);
        Ok(img.to_rgb8())
    }
}

impl Camera for FolderCamera {
    fn name(&self) -> String {
        self.device()
    }

    fn preview(&mut self) -> DeviceResult<RgbImage> {
        let full = self.current()?;
        let small = imageops::resize(&full, self.width / 2, self.height / 2, imageops::FilterType::Triangle);
        Ok(imageops::flip_horizontal(&small))
    }

    fn capture(&mut self) -> DeviceResult<RgbImage> {
        let photo = self.current()?;
        self.next += 1;
        Ok(photo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_scene_moves_and_has_detail() {
        let mut cam = SyntheticCamera::new(160, 200);
        let a = cam.capture().unwrap();
        let b = cam.capture().unwrap();
        assert_eq!(a.dimensions(), (160, 200));
        assert_ne!(a, b, "the figure sways between frames");
        let p = cam.preview().unwrap();
        assert_eq!(p.dimensions(), (80, 100));
    }

    #[test]
    fn folder_camera_cycles_and_faults_clearly() {
        let dir = tempfile::tempdir().unwrap();
        RgbImage::from_pixel(40, 30, Rgb([255, 0, 0])).save(dir.path().join("a.png")).unwrap();
        RgbImage::from_pixel(40, 30, Rgb([0, 0, 255])).save(dir.path().join("b.png")).unwrap();
        let mut cam = FolderCamera::open(dir.path(), 20, 20).unwrap();
        assert_eq!(cam.capture().unwrap().get_pixel(10, 10).0, [255, 0, 0]);
        assert_eq!(cam.capture().unwrap().get_pixel(10, 10).0, [0, 0, 255]);
        std::fs::write(dir.path().join("a.png"), b"not a png").unwrap();
        let err = cam.capture().unwrap_err();
        assert!(err.problem.contains("cannot decode"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = FolderCamera::open(empty.path(), 20, 20).err().unwrap();
        assert!(err.problem.contains("no .jpg or .png"), "{err}");
    }
}
