//! USB webcams through V4L2 (nokhwa): format negotiation, frame decoding, reconnecting.
//!
//! The format is chosen from what the camera offers: the configured encoding (MJPEG or YUYV, or
//! whichever fits), the smallest resolution that covers the configured one (else the largest),
//! and at least 15 frames a second so the countdown preview is live. Frames are decoded here:
//! YUYV 4:2:2 with nokhwa's converter, MJPEG with the image crate (UVC cameras leave the Huffman
//! tables out of each frame; the standard ones are put back). The preview is scaled down and
//! mirrored; the capture is the full frame. An unplugged camera is reported (the booth shows its
//! calm message) and reopened on the next frame asked for, so a replugged camera just works.

use image::{imageops, RgbImage};
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType};

use crate::camera::Camera;
use crate::error::{DeviceError, DeviceResult};
use crate::reconnect::{Reconnecting, Reopen};

/// The lowest frame rate that still looks live behind a countdown.
pub const MIN_PREVIEW_FPS: u32 = 15;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Whatever gives the best match (MJPEG preferred: more pixels per USB bandwidth).
    Auto,
    Mjpeg,
    Yuyv,
}

/// What the config asks of the camera.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraSettings {
    /// `/dev/videoN`'s N (nokhwa opens V4L2 devices by number).
    pub index: u32,
    pub width: u32,
    pub height: u32,
    pub encoding: Encoding,
    /// The preview's size (the screen scales it further).
    pub preview: (u32, u32),
}

/// Picks the format to stream from `offered`; `None` when nothing decodable is offered.
pub fn choose_format(offered: &[CameraFormat], want: &CameraSettings) -> Option<CameraFormat> {
    let decodable = |f: &&CameraFormat| match want.encoding {
        Encoding::Auto => matches!(f.format(), FrameFormat::MJPEG | FrameFormat::YUYV),
        Encoding::Mjpeg => f.format() == FrameFormat::MJPEG,
        Encoding::Yuyv => f.format() == FrameFormat::YUYV,
    };
    let covers = |f: &CameraFormat| f.width() >= want.width && f.height() >= want.height;
    let pixels = |f: &CameraFormat| f.width() as u64 * f.height() as u64;
    offered
        .iter()
        .filter(decodable)
        .min_by_key(|f| {
            (
                // Live first, then covering the wanted size, then as close to it as can be.
                f.frame_rate() < MIN_PREVIEW_FPS,
                !covers(f),
                if covers(f) { pixels(f) } else { u64::MAX - pixels(f) },
                f.format() != FrameFormat::MJPEG,
                u32::MAX - f.frame_rate(),
            )
        })
        .copied()
}

/// Whether a JPEG has its own Huffman tables (a DHT segment before the scan).
fn has_huffman_tables(jpeg: &[u8]) -> bool {
    let mut i = 2;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xff {
        let marker = jpeg[i + 1];
        if marker == 0xc4 {
            return true;
        }
        if marker == 0xda {
            return false;
        }
        let len = u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize;
        i += 2 + len;
    }
    false
}

/// Decodes one MJPEG frame. A frame without Huffman tables gets an `AVI1` APP0 segment, which
/// tells the decoder to use the standard MJPEG tables, as players of such streams do.
pub fn decode_mjpeg(frame: &[u8]) -> Result<RgbImage, String> {
    if frame.len() < 4 || frame[..2] != [0xff, 0xd8] {
        return Err("not a JPEG frame (no start-of-image marker)".into());
    }
    let patched;
    let jpeg = if has_huffman_tables(frame) {
        frame
    } else {
        let mut v = Vec::with_capacity(frame.len() + 9);
        v.extend_from_slice(&frame[..2]);
        v.extend_from_slice(&[0xff, 0xe0, 0x00, 0x07, b'A', b'V', b'I', b'1', 0x00]);
        v.extend_from_slice(&frame[2..]);
        patched = v;
        &patched
    };
    image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg).map(|i| i.to_rgb8()).map_err(|e| e.to_string())
}

/// Decodes one frame of `format` at `width` x `height`.
pub fn decode_frame(frame: &[u8], format: FrameFormat, width: u32, height: u32) -> Result<RgbImage, String> {
    let rgb = match format {
        FrameFormat::MJPEG => decode_mjpeg(frame)?,
        FrameFormat::YUYV => {
            let expected = width as usize * height as usize * 2;
            if frame.len() != expected {
                return Err(format!("a {width}x{height} YUYV frame is {expected} bytes, got {}", frame.len()));
            }
            let rgb = nokhwa::utils::yuyv422_to_rgb(frame, false).map_err(|e| e.to_string())?;
            RgbImage::from_raw(width, height, rgb).ok_or("YUYV conversion gave the wrong size")?
        }
        other => return Err(format!("{other} frames are not decoded; choose MJPEG or YUYV")),
    };
    if rgb.dimensions() != (width, height) {
        return Err(format!("the frame is {}x{}, the stream is {width}x{height}", rgb.width(), rgb.height()));
    }
    Ok(rgb)
}

/// The preview: scaled to fit `(w, h)` and mirrored, as a visitor expects to see themselves.
pub fn preview_of(frame: &RgbImage, (w, h): (u32, u32)) -> RgbImage {
    let scale = (w as f32 / frame.width() as f32).min(h as f32 / frame.height() as f32).min(1.0);
    let (pw, ph) = (((frame.width() as f32 * scale) as u32).max(1), ((frame.height() as f32 * scale) as u32).max(1));
    // Nearest is enough for a moving preview and keeps 15 fps on a small CPU.
    let small = imageops::resize(frame, pw, ph, imageops::FilterType::Nearest);
    imageops::flip_horizontal(&small)
}

/// A V4L2 webcam.
pub struct V4lCamera {
    settings: CameraSettings,
    camera: Reconnecting<(nokhwa::Camera, CameraFormat)>,
}

impl V4lCamera {
    /// Opens the camera now; an error names it and the fix.
    pub fn open(settings: CameraSettings) -> DeviceResult<Self> {
        let camera = Self::connect(&settings)?;
        Ok(Self { settings, camera: Reconnecting::open(camera) })
    }

    /// Opens the camera if it is there; otherwise the booth starts and the camera is looked for
    /// each time a frame is needed.
    pub fn open_or_wait(settings: CameraSettings) -> Self {
        match Self::connect(&settings) {
            Ok(c) => Self { settings, camera: Reconnecting::open(c) },
            Err(e) => {
                tracing::warn!(error = %e, "camera not there yet; the booth starts and keeps looking");
                Self { settings, camera: Reconnecting::absent_try_at_once() }
            }
        }
    }

    fn device(settings: &CameraSettings) -> String {
        format!("camera /dev/video{}", settings.index)
    }

    fn connect(s: &CameraSettings) -> DeviceResult<(nokhwa::Camera, CameraFormat)> {
        let device = Self::device(s);
        let fail = |problem: String| {
            DeviceError::new(
                &device,
                problem,
                "check the camera's USB cable, devices.camera.index (v4l2-ctl --list-devices) and that the booth's user is in the video group",
            )
        };
        let index = CameraIndex::Index(s.index);
        let mut camera = nokhwa::Camera::new(index.clone(), RequestedFormat::new::<RgbFormat>(RequestedFormatType::None))
            .map_err(|e| fail(format!("cannot open: {e}")))?;
        let offered = camera.compatible_camera_formats().map_err(|e| fail(format!("cannot list its formats: {e}")))?;
        let chosen = choose_format(&offered, s).ok_or_else(|| {
            let listed: Vec<String> = offered.iter().map(|f| f.to_string()).collect();
            DeviceError::new(&device, format!("offers no MJPEG or YUYV format (it offers {})", listed.join(", ")), "use a UVC webcam")
        })?;
        camera
            .set_camera_requset(RequestedFormat::new::<RgbFormat>(RequestedFormatType::Exact(chosen)))
            .map_err(|e| fail(format!("cannot set {chosen}: {e}")))?;
        camera.open_stream().map_err(|e| fail(format!("cannot start streaming: {e}")))?;
        tracing::info!(%device, format = %chosen, "camera streaming");
        Ok((camera, chosen))
    }

    /// The next full frame, reconnecting first if the camera was lost.
    fn frame(&mut self) -> DeviceResult<RgbImage> {
        match self.camera.reopen_if_due(|| Self::connect(&self.settings)) {
            Reopen::AlreadyOpen | Reopen::Reopened => {}
            Reopen::NotDue => {
                return Err(DeviceError::new(
                    Self::device(&self.settings),
                    "not connected",
                    "plug the camera in; it is picked up by itself",
                ))
            }
            Reopen::StillAbsent(e) => return Err(e),
        }
        let (camera, format) = self.camera.get_mut().expect("open: checked above");
        let format = *format;
        let raw = match camera.frame_raw() {
            Ok(raw) => raw.into_owned(),
            Err(e) => {
                self.camera.lost();
                return Err(DeviceError::new(
                    Self::device(&self.settings),
                    format!("lost: {e}"),
                    "plug the camera back in; it is picked up by itself",
                ));
            }
        };
        decode_frame(&raw, format.format(), format.width(), format.height()).map_err(|e| {
            DeviceError::new(
                Self::device(&self.settings),
                format!("a bad frame: {e}"),
                "check the camera's USB cable (a USB 2 port shared with other devices drops data)",
            )
        })
    }
}

impl Camera for V4lCamera {
    fn name(&self) -> String {
        match self.camera.get() {
            Some((_, format)) => format!("{} ({format})", Self::device(&self.settings)),
            None => format!("{} (not connected)", Self::device(&self.settings)),
        }
    }

    fn preview(&mut self) -> DeviceResult<RgbImage> {
        let frame = self.frame()?;
        Ok(preview_of(&frame, self.settings.preview))
    }

    fn capture(&mut self) -> DeviceResult<RgbImage> {
        self.frame()
    }
}

/// The formats a camera offers, for `keepsake doctor`.
pub fn offered_formats(index: u32) -> Result<Vec<CameraFormat>, String> {
    let mut camera = nokhwa::Camera::new(CameraIndex::Index(index), RequestedFormat::new::<RgbFormat>(RequestedFormatType::None))
        .map_err(|e| e.to_string())?;
    camera.compatible_camera_formats().map_err(|e| e.to_string())
}
