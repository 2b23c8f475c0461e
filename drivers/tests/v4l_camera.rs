//! The V4L2 camera's format negotiation and frame decoding, on frames as webcams send them:
//! YUYV 4:2:2 in BT.601 studio range, and MJPEG without Huffman tables (UVC style). Without a
//! camera attached, the missing camera is named and the booth keeps asking for it.

use std::path::PathBuf;

use image::{codecs::jpeg::JpegEncoder, imageops, Rgb, RgbImage};
use keepsake_drivers::camera::Camera;
use keepsake_drivers::v4l_camera::{choose_format, decode_frame, decode_mjpeg, preview_of, CameraSettings, Encoding, V4lCamera};
use nokhwa::utils::{CameraFormat, FrameFormat};

fn photo() -> RgbImage {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/preprocessors/photo.png");
    image::open(p).unwrap().to_rgb8()
}

fn settings(width: u32, height: u32, encoding: Encoding) -> CameraSettings {
    CameraSettings { index: 0, width, height, encoding, preview: (360, 640) }
}

/// A C920-like list: MJPEG up to 1080p at 30 fps; YUYV fast only at 640x480.
fn offered() -> Vec<CameraFormat> {
    let f = |w, h, fmt, fps| CameraFormat::new_from(w, h, fmt, fps);
    vec![
        f(640, 480, FrameFormat::YUYV, 30),
        f(1280, 720, FrameFormat::YUYV, 10),
        f(1920, 1080, FrameFormat::YUYV, 5),
        f(640, 480, FrameFormat::MJPEG, 30),
        f(1280, 720, FrameFormat::MJPEG, 30),
        f(1920, 1080, FrameFormat::MJPEG, 30),
        f(1920, 1080, FrameFormat::MJPEG, 15),
    ]
}

#[test]
fn the_format_is_live_covers_the_wanted_size_and_uses_the_asked_encoding() {
    let pick = |w, h, e| choose_format(&offered(), &settings(w, h, e)).map(|f| (f.width(), f.height(), f.format(), f.frame_rate()));
    assert_eq!(pick(1280, 720, Encoding::Auto), Some((1280, 720, FrameFormat::MJPEG, 30)));
    assert_eq!(pick(1600, 900, Encoding::Auto), Some((1920, 1080, FrameFormat::MJPEG, 30)), "the smallest that covers, the fastest");
    assert_eq!(pick(960, 1280, Encoding::Auto), Some((1920, 1080, FrameFormat::MJPEG, 30)), "nothing covers: the largest");
    // YUYV at 1280x720 only comes at 10 fps: a live preview wins over size.
    assert_eq!(pick(1280, 720, Encoding::Yuyv), Some((640, 480, FrameFormat::YUYV, 30)));
    let only_nv12 = [CameraFormat::new_from(640, 480, FrameFormat::NV12, 30)];
    assert_eq!(choose_format(&only_nv12, &settings(640, 480, Encoding::Auto)), None);
}

/// RGB to YUYV the way a webcam's ISP does it (BT.601, studio range, chroma of each pixel pair).
fn to_yuyv(img: &RgbImage) -> Vec<u8> {
    let ycc = |p: &Rgb<u8>| {
        let [r, g, b] = p.0.map(|v| v as f32);
        (
            16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0,
            128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0,
            128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0,
        )
    };
    let mut out = Vec::new();
    for y in 0..img.height() {
        for x in (0..img.width()).step_by(2) {
            let (y0, u0, v0) = ycc(img.get_pixel(x, y));
            let (y1, u1, v1) = ycc(img.get_pixel(x + 1, y));
            out.extend([y0, (u0 + u1) / 2.0, y1, (v0 + v1) / 2.0].map(|v| v.round().clamp(0.0, 255.0) as u8));
        }
    }
    out
}

fn max_difference(a: &RgbImage, b: &RgbImage) -> u8 {
    a.pixels().zip(b.pixels()).flat_map(|(p, q)| (0..3).map(move |i| p.0[i].abs_diff(q.0[i]))).max().unwrap()
}

#[test]
fn yuyv_frames_decode_to_the_scene() {
    // Pairs of equal pixels, so the shared chroma of a pair loses nothing.
    let scene = photo();
    let scene = imageops::resize(&scene, scene.width() / 2 * 2, scene.height(), imageops::FilterType::Nearest);
    let pairs = RgbImage::from_fn(scene.width(), scene.height(), |x, y| *scene.get_pixel(x / 2 * 2, y));
    let frame = to_yuyv(&pairs);
    let decoded = decode_frame(&frame, FrameFormat::YUYV, pairs.width(), pairs.height()).unwrap();
    assert!(max_difference(&decoded, &pairs) <= 3, "{}", max_difference(&decoded, &pairs));
    let err = decode_frame(&frame[..frame.len() - 2], FrameFormat::YUYV, pairs.width(), pairs.height()).unwrap_err();
    assert!(err.contains("bytes"), "{err}");
}

/// Drops the DHT segments of a JPEG, as UVC cameras send their MJPEG frames.
fn without_huffman_tables(jpeg: &[u8]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    let mut i = 2;
    while jpeg[i] == 0xff && jpeg[i + 1] != 0xda {
        let len = u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize;
        if jpeg[i + 1] != 0xc4 {
            out.extend_from_slice(&jpeg[i..i + 2 + len]);
        }
        i += 2 + len;
    }
    out.extend_from_slice(&jpeg[i..]);
    out
}

#[test]
fn mjpeg_frames_decode_with_or_without_their_huffman_tables() {
    let scene = photo();
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(&scene).unwrap();
    let full = decode_frame(&jpeg, FrameFormat::MJPEG, scene.width(), scene.height()).unwrap();
    assert!(max_difference(&full, &scene) < 60);
    let uvc = without_huffman_tables(&jpeg);
    assert!(uvc.len() < jpeg.len() && !uvc.windows(2).any(|w| w == [0xff, 0xc4]), "the tables are gone");
    assert_eq!(decode_mjpeg(&uvc).unwrap(), full, "the standard tables decode the frame exactly");
    assert!(decode_mjpeg(b"not a jpeg").unwrap_err().contains("start-of-image"));
    let err = decode_frame(&jpeg, FrameFormat::MJPEG, 10, 10).unwrap_err();
    assert!(err.contains("the stream is 10x10"), "{err}");
}

#[test]
fn the_preview_is_small_and_mirrored() {
    let frame = RgbImage::from_fn(1920, 1080, |x, _| if x < 960 { Rgb([255, 0, 0]) } else { Rgb([0, 0, 255]) });
    let p = preview_of(&frame, (360, 640));
    assert_eq!(p.dimensions(), (360, 202));
    assert_eq!(p.get_pixel(10, 100).0, [0, 0, 255], "the right of the scene is on the left, as in a mirror");
}

#[test]
fn a_missing_camera_is_named_and_looked_for_again() {
    let s = CameraSettings { index: 57, ..settings(1280, 720, Encoding::Auto) };
    let err = V4lCamera::open(s.clone()).err().unwrap();
    assert!(err.device.contains("/dev/video57") && err.fix.contains("video group"), "{err}");
    let mut cam = V4lCamera::open_or_wait(s);
    assert!(cam.name().contains("not connected"));
    for _ in 0..3 {
        let err = cam.preview().unwrap_err();
        assert!(err.device.contains("/dev/video57"), "{err}");
    }
}
