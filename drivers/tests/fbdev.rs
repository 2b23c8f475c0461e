//! The framebuffer writer against a file of a panel's layout: the bytes for each depth and
//! rotation, checked with image's own rotations and the channel formulas written out.

use image::{imageops, Rgb, RgbImage};
use keepsake_drivers::display::Display;
use keepsake_drivers::fbdev::{FbDisplay, Rotation};

fn scene(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| Rgb([(x * 37 % 256) as u8, (y * 53 % 256) as u8, ((x * y) % 256) as u8]))
}

fn expected_bytes(panel: &RgbImage, bpp: u32) -> Vec<u8> {
    panel
        .pixels()
        .flat_map(|p| {
            let [r, g, b] = p.0;
            match bpp {
                16 => {
                    let v = ((r as u16 >> 3) << 11) | ((g as u16 >> 2) << 5) | (b as u16 >> 3);
                    v.to_le_bytes().to_vec()
                }
                24 => vec![b, g, r],
                _ => vec![b, g, r, 0],
            }
        })
        .collect()
}

#[test]
fn writes_each_depth_and_rotation_into_a_file_of_the_panel_layout() {
    let dir = tempfile::tempdir().unwrap();
    let upright = scene(6, 10);
    for bpp in [16, 24, 32] {
        for degrees in [0, 90, 180, 270] {
            let rotation = Rotation::from_degrees(degrees).unwrap();
            let panel = match degrees {
                0 => upright.clone(),
                90 => imageops::rotate90(&upright),
                180 => imageops::rotate180(&upright),
                _ => imageops::rotate270(&upright),
            };
            let path = dir.path().join(format!("fb-{bpp}-{degrees}"));
            std::fs::write(&path, b"").unwrap();
            let mut fb = FbDisplay::open(&path, rotation, Some((panel.width(), panel.height(), bpp))).unwrap();
            assert_eq!(fb.size(), (6, 10), "the booth draws upright at {bpp} bpp, {degrees}°");
            fb.present(&upright, "x").unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), expected_bytes(&panel, bpp), "{bpp} bpp, {degrees}°");
        }
    }
}

#[test]
fn wrong_sizes_and_non_devices_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fb");
    std::fs::write(&path, b"").unwrap();
    let err = FbDisplay::open(&path, Rotation::R0, None).err().unwrap();
    assert!(err.problem.contains("not a framebuffer") && err.fix.contains("/dev/fb"), "{err}");
    let err = FbDisplay::open(&dir.path().join("missing"), Rotation::R0, None).err().unwrap();
    assert!(err.problem.contains("cannot open") && err.fix.contains("video group"), "{err}");
    let mut fb = FbDisplay::open(&path, Rotation::R90, Some((8, 4, 32))).unwrap();
    assert_eq!(fb.size(), (4, 8));
    let err = fb.present(&RgbImage::new(8, 4), "x").unwrap_err();
    assert!(err.problem.contains("8x4") && err.problem.contains("4x8"), "{err}");
}
