//! The camera: the kinds the booth takes photos with, their `[devices.camera]` settings, how each
//! is opened, and what `keepsake doctor` checks.

use std::path::PathBuf;

use keepsake_drivers::camera::{Camera, FolderCamera, SyntheticCamera};
use keepsake_drivers::v4l_camera::{CameraSettings, Encoding, V4lCamera};
use keepsake_drivers::DeviceError;

use crate::config_reader::{config_kinds, Reader};

config_kinds! {
    enum CameraKind { Synthetic = "synthetic", Folder = "folder", V4l2 = "v4l2" }
}

config_kinds! {
    enum Format { Auto = "auto", Mjpeg = "mjpeg", Yuyv = "yuyv" }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CameraConfig {
    Synthetic {
        width: u32,
        height: u32,
    },
    Folder {
        path: PathBuf,
        width: u32,
        height: u32,
    },
    /// A V4L2 (UVC) webcam.
    V4l2(CameraSettings),
}

impl CameraConfig {
    /// `[devices.camera]`; a webcam's preview is shaped like the `screen`.
    pub(crate) fn read(r: &mut Reader, screen: (u32, u32)) -> CameraConfig {
        let kind = r.choice("devices.camera.kind", CameraKind::Synthetic, "camera");
        let width = r.number("devices.camera.width", 960.0, 64.0, 8192.0, "pixels") as u32;
        let height = r.number("devices.camera.height", 1280.0, 64.0, 8192.0, "pixels") as u32;
        match kind {
            CameraKind::Synthetic => CameraConfig::Synthetic { width, height },
            CameraKind::Folder => {
                CameraConfig::Folder { path: r.path("devices.camera.path", None, "\"/srv/keepsake/photos\""), width, height }
            }
            CameraKind::V4l2 => {
                let index = r.number("devices.camera.index", 0.0, 0.0, 63.0, "(N of /dev/videoN)") as u32;
                let encoding = match r.choice("devices.camera.format", Format::Auto, "camera format") {
                    Format::Auto => Encoding::Auto,
                    Format::Mjpeg => Encoding::Mjpeg,
                    Format::Yuyv => Encoding::Yuyv,
                };
                CameraConfig::V4l2(CameraSettings { index, width, height, encoding, preview: screen })
            }
        }
    }

    /// The size of the photos it takes (what the diffusion model's warm-up is shaped like).
    pub fn frame_size(&self) -> (u32, u32) {
        match self {
            CameraConfig::Synthetic { width, height } | CameraConfig::Folder { width, height, .. } => (*width, *height),
            CameraConfig::V4l2(s) => (s.width, s.height),
        }
    }

    pub fn open(&self) -> Result<Box<dyn Camera>, DeviceError> {
        Ok(match self {
            CameraConfig::Synthetic { width, height } => Box::new(SyntheticCamera::new(*width, *height)),
            CameraConfig::Folder { path, width, height } => Box::new(FolderCamera::open(path, *width, *height)?),
            // A camera unplugged at start does not stop the booth; it is looked for at each visit.
            CameraConfig::V4l2(settings) => Box::new(V4lCamera::open_or_wait(settings.clone())),
        })
    }

    /// For `keepsake doctor`: the webcam opened for real (the booth would wait for it); the
    /// built-in cameras have nothing to find.
    pub fn probe(&self) -> Option<Result<String, DeviceError>> {
        match self {
            CameraConfig::Synthetic { .. } | CameraConfig::Folder { .. } => None,
            CameraConfig::V4l2(s) => Some(V4lCamera::open(s.clone()).map(|c| c.name())),
        }
    }
}
