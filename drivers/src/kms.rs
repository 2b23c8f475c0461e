//! HDMI/DSI panels through DRM/KMS dumb buffers (`/dev/dri/cardN`), for boards whose kernel has
//! no fbdev emulation (Jetson's nvidia-drm, Raspberry Pi's vc4 with KMS).
//!
//! The first connected connector is driven at its preferred mode with one XRGB8888 dumb buffer;
//! frames are packed into it by the framebuffer writer (`fbdev::encode`, same rotation and row
//! pitch rules), so what a panel shows is tested once for both paths.

use std::fs::{File, OpenOptions};
use std::os::unix::io::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use drm::buffer::{Buffer, DrmFourcc};
use drm::control::dumbbuffer::DumbBuffer;
use drm::control::{connector, framebuffer, Device as ControlDevice};
use image::RgbImage;

use crate::display::{check_frame_size, Display};
use crate::error::{DeviceError, DeviceResult};
use crate::fbdev::{encode, FbLayout, PixelFormat, Rotation};

struct Card(File);

impl AsFd for Card {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl drm::Device for Card {}
impl ControlDevice for Card {}

pub struct KmsDisplay {
    path: PathBuf,
    card: Card,
    buffer: DumbBuffer,
    fb: framebuffer::Handle,
    layout: FbLayout,
    rotation: Rotation,
    connector: String,
    scratch: Vec<u8>,
}

impl KmsDisplay {
    pub fn open(path: &Path, rotation: Rotation) -> DeviceResult<Self> {
        let device = format!("display {}", path.display());
        let fail = |problem: String, fix: &str| DeviceError::new(&device, problem, fix);
        let file = OpenOptions::new().read(true).write(true).open(path).map_err(|e| {
            fail(format!("cannot open: {e}"), "check the path (ls /dev/dri) and that the booth's user is in the video group")
        })?;
        let card = Card(file);
        let res = card
            .resource_handles()
            .map_err(|e| fail(format!("is not a KMS device: {e}"), "point devices.display.path at /dev/dri/cardN"))?;
        let connected = res
            .connectors()
            .iter()
            .filter_map(|c| card.get_connector(*c, true).ok())
            .find(|c| c.state() == connector::State::Connected && !c.modes().is_empty())
            .ok_or_else(|| fail("no panel is connected".into(), "check the HDMI/DSI cable and that the panel is powered"))?;
        // The preferred mode is listed first.
        let mode = connected.modes()[0];
        let encoder = connected
            .current_encoder()
            .or_else(|| connected.encoders().first().copied())
            .and_then(|e| card.get_encoder(e).ok())
            .ok_or_else(|| fail("the connector has no encoder".into(), "report the board and kernel"))?;
        let crtc = encoder
            .crtc()
            .or_else(|| res.filter_crtcs(encoder.possible_crtcs()).first().copied())
            .ok_or_else(|| fail("no CRTC can drive the connector".into(), "report the board and kernel"))?;
        let (w, h) = mode.size();
        let buffer = card
            .create_dumb_buffer((w.into(), h.into()), DrmFourcc::Xrgb8888, 32)
            .map_err(|e| fail(format!("cannot allocate a {w}x{h} buffer: {e}"), "check the kernel's DRM driver supports dumb buffers"))?;
        let fb = card
            .add_framebuffer(&buffer, 24, 32)
            .map_err(|e| fail(format!("cannot add a framebuffer: {e}"), "report the board and kernel"))?;
        card.set_crtc(crtc, Some(fb), (0, 0), &[connected.handle()], Some(mode)).map_err(|e| {
            fail(
                format!("cannot set the mode: {e}"),
                "another program holds the display (stop the desktop: systemctl stop display-manager)",
            )
        })?;
        let layout =
            FbLayout { width: w.into(), height: h.into(), line_length: buffer.pitch() as usize, format: PixelFormat::XRGB8888, offset: 0 };
        let connector = format!("{:?}-{} {}x{}@{}", connected.interface(), connected.interface_id(), w, h, mode.vrefresh());
        tracing::info!(%device, %connector, "KMS display set");
        Ok(Self { path: path.to_path_buf(), card, buffer, fb, layout, rotation, connector, scratch: Vec::new() })
    }
}

impl Display for KmsDisplay {
    fn name(&self) -> String {
        format!("KMS display {} {} rotated {}°", self.path.display(), self.connector, self.rotation.degrees())
    }

    fn size(&self) -> (u32, u32) {
        self.rotation.upright_size((self.layout.width, self.layout.height))
    }

    fn present(&mut self, frame: &RgbImage, _label: &str) -> DeviceResult<()> {
        check_frame_size(self, frame)?;
        encode(frame, &self.layout, self.rotation, &mut self.scratch);
        let name = self.name();
        let mut map = self
            .card
            .map_dumb_buffer(&mut self.buffer)
            .map_err(|e| DeviceError::new(&name, format!("cannot map the buffer: {e}"), "check dmesg for the display driver"))?;
        let n = self.scratch.len().min(map.as_mut().len());
        map.as_mut()[..n].copy_from_slice(&self.scratch[..n]);
        Ok(())
    }
}

impl Drop for KmsDisplay {
    fn drop(&mut self) {
        let _ = self.card.destroy_framebuffer(self.fb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_card_or_a_plain_file_is_named_with_the_fix() {
        let err = KmsDisplay::open(Path::new("/dev/dri/card77"), Rotation::R0).err().unwrap();
        assert!(err.problem.contains("cannot open") && err.fix.contains("video group"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("card0");
        std::fs::write(&plain, b"").unwrap();
        let err = KmsDisplay::open(&plain, Rotation::R0).err().unwrap();
        assert!(err.problem.contains("not a KMS device") && err.fix.contains("/dev/dri/cardN"), "{err}");
    }
}
