//! The Linux framebuffer (`/dev/fb0`): HDMI/DSI panels on boards whose kernel exposes fbdev.
//!
//! The panel's geometry and pixel layout come from the kernel (`FBIOGET_VSCREENINFO` /
//! `FBIOGET_FSCREENINFO`); 16 bpp (RGB565), 24 bpp and 32 bpp, in whatever channel order the
//! kernel reports, are packed from the booth's RGB frames. A panel mounted sideways or upside down
//! is handled by `rotation`: the booth draws upright at the rotated size and the frame is turned on
//! its way to the panel. A plain file of the same layout (the geometry given in the config) stands
//! in for the device where there is none, through the same packing and writing code.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use image::RgbImage;

use crate::display::{check_frame_size, Display};
use crate::error::{DeviceError, DeviceResult};

/// How the panel is mounted: the picture is turned clockwise by this much on its way to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    R0,
    R90,
    R180,
    R270,
}

impl Rotation {
    pub fn from_degrees(d: u32) -> Option<Rotation> {
        match d {
            0 => Some(Rotation::R0),
            90 => Some(Rotation::R90),
            180 => Some(Rotation::R180),
            270 => Some(Rotation::R270),
            _ => None,
        }
    }

    pub fn degrees(self) -> u32 {
        match self {
            Rotation::R0 => 0,
            Rotation::R90 => 90,
            Rotation::R180 => 180,
            Rotation::R270 => 270,
        }
    }

    /// The size the booth draws at for a panel of `(w, h)`.
    pub fn upright_size(self, (w, h): (u32, u32)) -> (u32, u32) {
        match self {
            Rotation::R0 | Rotation::R180 => (w, h),
            Rotation::R90 | Rotation::R270 => (h, w),
        }
    }

    /// The upright frame's pixel shown at panel pixel `(px, py)`; `(uw, uh)` is the frame's size.
    pub fn source_of(self, px: u32, py: u32, (uw, uh): (u32, u32)) -> (u32, u32) {
        match self {
            Rotation::R0 => (px, py),
            Rotation::R90 => (py, uh - 1 - px),
            Rotation::R180 => (uw - 1 - px, uh - 1 - py),
            Rotation::R270 => (uw - 1 - py, px),
        }
    }
}

/// One colour channel's place in a pixel, as `struct fb_bitfield` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Channel {
    pub offset: u32,
    pub length: u32,
}

/// How a pixel is stored: its size and where red, green and blue sit in it (little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelFormat {
    pub bits_per_pixel: u32,
    pub red: Channel,
    pub green: Channel,
    pub blue: Channel,
}

impl PixelFormat {
    /// RGB565, the usual 16 bpp layout.
    pub const RGB565: PixelFormat = PixelFormat {
        bits_per_pixel: 16,
        red: Channel { offset: 11, length: 5 },
        green: Channel { offset: 5, length: 6 },
        blue: Channel { offset: 0, length: 5 },
    };
    /// 24 bpp as most drivers set it: bytes B, G, R.
    pub const BGR888: PixelFormat = PixelFormat {
        bits_per_pixel: 24,
        red: Channel { offset: 16, length: 8 },
        green: Channel { offset: 8, length: 8 },
        blue: Channel { offset: 0, length: 8 },
    };
    /// 32 bpp XRGB8888: bytes B, G, R, X.
    pub const XRGB8888: PixelFormat = PixelFormat {
        bits_per_pixel: 32,
        red: Channel { offset: 16, length: 8 },
        green: Channel { offset: 8, length: 8 },
        blue: Channel { offset: 0, length: 8 },
    };

    /// The usual layout for a depth, for files standing in for a panel.
    pub fn for_bpp(bpp: u32) -> Option<PixelFormat> {
        match bpp {
            16 => Some(Self::RGB565),
            24 => Some(Self::BGR888),
            32 => Some(Self::XRGB8888),
            _ => None,
        }
    }

    pub fn bytes_per_pixel(&self) -> usize {
        self.bits_per_pixel as usize / 8
    }

    fn check(&self) -> Result<(), String> {
        if !matches!(self.bits_per_pixel, 16 | 24 | 32) {
            return Err(format!("{} bits per pixel is not supported (16, 24 or 32 are)", self.bits_per_pixel));
        }
        for (name, c) in [("red", self.red), ("green", self.green), ("blue", self.blue)] {
            if c.length == 0 || c.length > 8 || c.offset + c.length > self.bits_per_pixel {
                return Err(format!("the {name} channel (offset {}, length {}) does not fit a pixel", c.offset, c.length));
            }
        }
        Ok(())
    }

    /// One pixel's value: each 8-bit channel keeps its top `length` bits.
    pub fn pack(&self, [r, g, b]: [u8; 3]) -> u32 {
        let put = |v: u8, c: Channel| ((v as u32) >> (8 - c.length)) << c.offset;
        put(r, self.red) | put(g, self.green) | put(b, self.blue)
    }
}

/// A panel's memory layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FbLayout {
    /// Visible pixels, as the panel is wired (before rotation).
    pub width: u32,
    pub height: u32,
    /// Bytes from one row to the next (at least width × bytes per pixel; drivers pad rows).
    pub line_length: usize,
    pub format: PixelFormat,
    /// Where the visible area starts in the memory (panning), in bytes.
    pub offset: u64,
}

impl FbLayout {
    /// A tightly packed layout for a file standing in for a panel.
    pub fn packed(width: u32, height: u32, bpp: u32) -> Option<FbLayout> {
        let format = PixelFormat::for_bpp(bpp)?;
        Some(FbLayout { width, height, line_length: width as usize * format.bytes_per_pixel(), format, offset: 0 })
    }

    pub fn bytes(&self) -> usize {
        self.line_length * self.height as usize
    }
}

/// Packs an upright frame into panel memory: turned by `rotation`, each pixel in the panel's format.
/// Row padding is left as zero.
pub fn encode(frame: &RgbImage, layout: &FbLayout, rotation: Rotation, out: &mut Vec<u8>) {
    out.clear();
    out.resize(layout.bytes(), 0);
    let bpp = layout.format.bytes_per_pixel();
    let upright = frame.dimensions();
    for py in 0..layout.height {
        let row = &mut out[py as usize * layout.line_length..][..layout.width as usize * bpp];
        for (px, dst) in row.chunks_exact_mut(bpp).enumerate() {
            let (x, y) = rotation.source_of(px as u32, py, upright);
            let v = layout.format.pack(frame.get_pixel(x, y).0);
            dst.copy_from_slice(&v.to_le_bytes()[..bpp]);
        }
    }
}

/// The kernel's `struct fb_bitfield`.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct FbBitfield {
    offset: u32,
    length: u32,
    msb_right: u32,
}

/// The kernel's `struct fb_var_screeninfo`.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct FbVarScreeninfo {
    xres: u32,
    yres: u32,
    xres_virtual: u32,
    yres_virtual: u32,
    xoffset: u32,
    yoffset: u32,
    bits_per_pixel: u32,
    grayscale: u32,
    red: FbBitfield,
    green: FbBitfield,
    blue: FbBitfield,
    transp: FbBitfield,
    nonstd: u32,
    activate: u32,
    height: u32,
    width: u32,
    accel_flags: u32,
    timing: [u32; 13],
    reserved: [u32; 4],
}

/// The kernel's `struct fb_fix_screeninfo`.
#[repr(C)]
#[derive(Clone, Copy)]
struct FbFixScreeninfo {
    id: [u8; 16],
    smem_start: libc::c_ulong,
    smem_len: u32,
    type_: u32,
    type_aux: u32,
    visual: u32,
    xpanstep: u16,
    ypanstep: u16,
    ywrapstep: u16,
    line_length: u32,
    mmio_start: libc::c_ulong,
    mmio_len: u32,
    accel: u32,
    capabilities: u16,
    reserved: [u16; 2],
}

const FBIOGET_VSCREENINFO: libc::c_ulong = 0x4600;
const FBIOGET_FSCREENINFO: libc::c_ulong = 0x4602;

/// Asks the kernel for the panel's layout; `None` when `file` is not a framebuffer device.
fn query_layout(file: &File) -> Option<Result<FbLayout, String>> {
    let mut var = FbVarScreeninfo::default();
    // SAFETY: the ioctls fill structs laid out exactly as the kernel's (repr(C), same fields).
    let mut fix: FbFixScreeninfo = unsafe { std::mem::zeroed() };
    let fd = file.as_raw_fd();
    if unsafe { libc::ioctl(fd, FBIOGET_VSCREENINFO as _, &mut var) } != 0
        || unsafe { libc::ioctl(fd, FBIOGET_FSCREENINFO as _, &mut fix) } != 0
    {
        return None;
    }
    let ch = |b: FbBitfield| Channel { offset: b.offset, length: b.length };
    let format = PixelFormat { bits_per_pixel: var.bits_per_pixel, red: ch(var.red), green: ch(var.green), blue: ch(var.blue) };
    Some(format.check().map(|()| FbLayout {
        width: var.xres,
        height: var.yres,
        line_length: fix.line_length as usize,
        format,
        offset: var.yoffset as u64 * fix.line_length as u64 + var.xoffset as u64 * format.bytes_per_pixel() as u64,
    }))
}

/// A framebuffer device (or a file of the same layout).
pub struct FbDisplay {
    path: PathBuf,
    file: File,
    layout: FbLayout,
    rotation: Rotation,
    buf: Vec<u8>,
}

impl FbDisplay {
    /// Opens `path`. The kernel's layout wins; `stand_in` (width, height, bpp) is used only when
    /// `path` is not a framebuffer device (a file in tests, or a preview of what a panel gets).
    pub fn open(path: &Path, rotation: Rotation, stand_in: Option<(u32, u32, u32)>) -> DeviceResult<Self> {
        let device = format!("framebuffer {}", path.display());
        let file = OpenOptions::new().read(true).write(true).open(path).map_err(|e| {
            DeviceError::new(
                &device,
                format!("cannot open: {e}"),
                "check the panel is connected, the path (ls /dev/fb*) and that the booth's user is in the video group",
            )
        })?;
        let (layout, is_device) = match query_layout(&file) {
            Some(Ok(layout)) => (layout, true),
            Some(Err(problem)) => {
                return Err(DeviceError::new(&device, problem, "set the panel to 16, 24 or 32 bpp (e.g. `fbset -depth 32`)"))
            }
            None => match stand_in.and_then(|(w, h, bpp)| FbLayout::packed(w, h, bpp)) {
                Some(layout) => (layout, false),
                None => {
                    return Err(DeviceError::new(
                        &device,
                        "is not a framebuffer device",
                        "point devices.display.path at /dev/fbN, or give width, height and bpp (16, 24 or 32) for a stand-in file",
                    ))
                }
            },
        };
        let needed = layout.offset + layout.bytes() as u64;
        if !is_device && file.metadata().map(|m| m.len()).unwrap_or(0) < needed {
            // A stand-in file grows to the panel's size, as the device memory would be.
            file.set_len(needed).map_err(|e| DeviceError::new(&device, format!("cannot size the file: {e}"), "check the disk"))?;
        }
        tracing::info!(%device, width = layout.width, height = layout.height, bpp = layout.format.bits_per_pixel, rotation = rotation.degrees(), "framebuffer opened");
        Ok(Self { path: path.to_path_buf(), file, layout, rotation, buf: Vec::new() })
    }

    pub fn layout(&self) -> FbLayout {
        self.layout
    }
}

impl Display for FbDisplay {
    fn name(&self) -> String {
        let l = &self.layout;
        format!(
            "framebuffer {} {}x{} {} bpp, rotated {}°",
            self.path.display(),
            l.width,
            l.height,
            l.format.bits_per_pixel,
            self.rotation.degrees()
        )
    }

    fn size(&self) -> (u32, u32) {
        self.rotation.upright_size((self.layout.width, self.layout.height))
    }

    fn present(&mut self, frame: &RgbImage, _label: &str) -> DeviceResult<()> {
        check_frame_size(self, frame)?;
        encode(frame, &self.layout, self.rotation, &mut self.buf);
        self.file
            .write_all_at(&self.buf, self.layout.offset)
            .map_err(|e| DeviceError::new(self.name(), format!("cannot write a frame: {e}"), "check the panel is still connected (dmesg)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3x2 upright frame with a distinct colour per pixel.
    fn frame() -> RgbImage {
        RgbImage::from_fn(3, 2, |x, y| image::Rgb([(x * 80 + 10) as u8, (y * 120 + 20) as u8, ((x + 3 * y) * 40) as u8]))
    }

    #[test]
    fn packs_each_depth() {
        assert_eq!(PixelFormat::RGB565.pack([0xff, 0x00, 0x00]), 0xf800);
        assert_eq!(PixelFormat::RGB565.pack([0x00, 0xff, 0x00]), 0x07e0);
        assert_eq!(PixelFormat::RGB565.pack([0x08, 0x04, 0xf8]), 0x0820 | 0x1f);
        assert_eq!(PixelFormat::XRGB8888.pack([0x12, 0x34, 0x56]), 0x0012_3456);
        let rgba = PixelFormat { red: Channel { offset: 0, length: 8 }, blue: Channel { offset: 16, length: 8 }, ..PixelFormat::XRGB8888 };
        assert_eq!(rgba.pack([0x12, 0x34, 0x56]), 0x0056_3412);
        assert!(PixelFormat { bits_per_pixel: 8, ..PixelFormat::RGB565 }.check().is_err());
    }

    #[test]
    fn rotation_turns_clockwise() {
        let f = frame();
        let p = |x: u32, y: u32| f.get_pixel(x, y).0;
        for (rot, (w, h)) in [(Rotation::R0, (3, 2)), (Rotation::R90, (2, 3)), (Rotation::R180, (3, 2)), (Rotation::R270, (2, 3))] {
            let layout = FbLayout::packed(w, h, 24).unwrap();
            let mut out = Vec::new();
            encode(&f, &layout, rot, &mut out);
            let at = |x: usize, y: usize| {
                let i = (y * w as usize + x) * 3;
                [out[i + 2], out[i + 1], out[i]]
            };
            // Where the upright top-left pixel lands on the panel.
            let top_left = match rot {
                Rotation::R0 => at(0, 0),
                Rotation::R90 => at(1, 0),
                Rotation::R180 => at(2, 1),
                Rotation::R270 => at(0, 2),
            };
            assert_eq!(top_left, p(0, 0), "{rot:?}");
            // And the upright top-right one.
            let top_right = match rot {
                Rotation::R0 => at(2, 0),
                Rotation::R90 => at(1, 2),
                Rotation::R180 => at(0, 1),
                Rotation::R270 => at(0, 0),
            };
            assert_eq!(top_right, p(2, 0), "{rot:?}");
        }
    }

    #[test]
    fn padded_rows_leave_padding_zero() {
        let layout = FbLayout { line_length: 3 * 4 + 4, ..FbLayout::packed(3, 2, 32).unwrap() };
        let mut out = Vec::new();
        encode(&frame(), &layout, Rotation::R0, &mut out);
        assert_eq!(out.len(), 32);
        assert_eq!(&out[12..16], &[0, 0, 0, 0]);
        assert_eq!(&out[16..20], &[120, 140, 10, 0], "second row starts after the padding: B, G, R, X");
    }
}
