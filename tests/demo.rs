//! End to end: `keepsake demo --sessions 3 --out DIR`, the real binary on built-in devices, and
//! what it leaves in DIR: every screen, the narration, the print and the archive entry of each
//! visit, with a Result screen whose illustration, caption and QR code are really there.

use std::path::{Path, PathBuf};
use std::process::Command;

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use image::RgbImage;
use keepsake::archive::Archive;
use keepsake::booth::screens::{self, Layout, CREAM};
use keepsake::cli::demo::demo_config;
use keepsake::config::Language;
use keepsake_drivers::audio::Audio;
use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::paper::PaperSize;
use keepsake_drivers::printer::read_png_dpi;
use keepsake_drivers::text;

fn run_demo(out: &Path, language: &str) {
    let status = Command::new(env!("CARGO_BIN_EXE_keepsake"))
        .args(["demo", "--sessions", "3", "--language", language, "--out"])
        .arg(out)
        .env("KEEPSAKE_LOG", "warn")
        .status()
        .expect("run keepsake demo");
    assert!(status.success(), "keepsake demo failed: {status}");
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

fn screen(dir: &Path, names: &[String], state: &str) -> (PathBuf, RgbImage) {
    let name = names
        .iter()
        .find(|n| n.ends_with(".png") && n.contains(&format!("-{state}")))
        .unwrap_or_else(|| panic!("no {state} screen in {names:?}"));
    let path = dir.join(name);
    let img = image::open(&path).unwrap().to_rgb8();
    (path, img)
}

/// Mean absolute difference per channel between two same-sized images.
fn mean_diff(a: &RgbImage, b: &RgbImage) -> f32 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| x.abs_diff(*y) as u64).sum();
    sum as f32 / a.as_raw().len() as f32
}

fn check_session(out: &Path, session: u32, keepsake_dir: &Path, archive: &Archive, language: Language) {
    let dir = out.join(format!("session-{session:03}"));
    let names = files(&dir);
    for state in [
        "attract",
        "countdown-3",
        "countdown-2",
        "countdown-1",
        "capture",
        "review",
        "consent",
        "slideshow_consent",
        "generating",
        "result",
        "print_share",
    ] {
        screen(&dir, &names, state);
    }
    let k = archive.load(keepsake_dir).expect("archive entry is whole");
    let (w, h) = k.illustration.dimensions();
    assert!(w.max(h) >= keepsake::keepsake::MIN_LONG_SIDE, "the keepsake is {w}x{h}");
    assert!(names.contains(&format!("card-{}.png", k.meta.id)), "{names:?}");

    // The Result screen as the layout places it for this keepsake, in the face the demo uses:
    let (_, result) = screen(&dir, &names, "result");
    let layout = Layout { w: result.width(), h: result.height() };
    let memorial = demo_config(out, language).memorial;
    let qr = keepsake::qr::qr_image(&k.meta.share_url, 8).unwrap();
    let state =
        keepsake::booth::State::Result { keepsake: std::sync::Arc::new(k.clone()), printer: keepsake::booth::state::PrinterCheck::Ready };
    let view = screens::View {
        language,
        memorial: &memorial,
        guidance: &Default::default(),
        live: None,
        slide: None,
        seconds_left: 0,
        qr: Some(&qr),
    };
    let scene = screens::scene(layout, text::Face::system(), &state, &view);
    // ...the illustration where the layout puts it...
    let pic = scene.item("illustration").expect("the result screen has the illustration").rect;
    let mut fb = Framebuffer::new(layout.w, layout.h);
    let (x, y, w, h) = fb.blit_fit(&k.illustration, pic.x, pic.y, pic.w, pic.h);
    let shown = image::imageops::crop_imm(&result, x as u32, y as u32, w, h).to_image();
    let expected = image::imageops::crop_imm(&fb.image, x as u32, y as u32, w, h).to_image();
    assert!(mean_diff(&shown, &expected) < 1.0, "the result screen shows the illustration");

    // ...the caption in cream under it (every caption pixel drawn alone is cream on the screen)...
    let caption = scene.item("caption").expect("the result screen has the caption");
    let (rect, set, align) = caption.text().unwrap();
    assert!(!set.truncated && set.lines.join(" ") == k.meta.caption, "{set:?}");
    let mut alone = Framebuffer::new(layout.w, layout.h);
    alone.fill(Rgb888::BLACK);
    keepsake::scene::draw_text(&mut alone, &scene.face, rect, set, CREAM, align);
    let cream = [CREAM.r(), CREAM.g(), CREAM.b()];
    let caption_px: Vec<_> = alone.image.enumerate_pixels().filter(|(_, _, p)| p.0 == cream).map(|(x, y, _)| (x, y)).collect();
    assert!(caption_px.len() > 200, "the caption has ink");
    let matching = caption_px.iter().filter(|(x, y)| result.get_pixel(*x, *y).0 == cream).count();
    assert_eq!(matching, caption_px.len(), "the caption is drawn on the result screen");

    // ...and a QR code that decodes to this keepsake's share link.
    let gray = image::DynamicImage::ImageRgb8(result.clone()).to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(gray);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the result screen");
    let (_, content) = grids[0].decode().expect("the QR code decodes");
    assert_eq!(content, k.meta.share_url);
    assert!(content.starts_with("https://memorial.example.org/k/"));

    // Narration: a real WAV, not silent, as long as the message needs.
    let audio = Audio::read_wav(&dir.join("narration.wav")).unwrap();
    assert!(audio.rms() > 0.02, "narration is not silent (rms {})", audio.rms());
    // The visitor sees the picture first: a lead-in of quiet before the voice.
    let lead_in = (audio.sample_rate as f32 * keepsake::booth::narration::LEAD_IN.as_secs_f32()) as usize;
    assert!(audio.samples[..lead_in].iter().all(|s| *s == 0), "the voice starts after the lead-in");
    assert!(audio.samples[lead_in..lead_in + audio.sample_rate as usize].iter().any(|s| s.unsigned_abs() > 1000), "and then speaks");
    let chars = k.meta.message.chars().filter(|c| !c.is_whitespace()).count() as f32;
    let per_char = audio.duration_secs() / chars;
    let (lo, hi) = match language {
        Language::Ko => (0.08, 0.45),
        Language::En => (0.03, 0.2),
    };
    assert!((lo..hi).contains(&per_char), "{}s for {chars} characters", audio.duration_secs());

    // The print: the paper size at 300 dpi.
    let card_path = dir.join(format!("card-{}.png", k.meta.id));
    assert_eq!(read_png_dpi(&card_path).unwrap(), Some(300));
    let card = image::open(&card_path).unwrap().to_rgb8();
    assert_eq!(card.dimensions(), PaperSize::FourBySix.pixels());
    let mut prepared = rqrr::PreparedImage::prepare(image::DynamicImage::ImageRgb8(card).to_luma8());
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the card");
    assert_eq!(grids[0].decode().unwrap().1, k.meta.share_url);
}

#[test]
fn demo_runs_three_visits_in_korean() {
    let out = tempfile::tempdir().unwrap();
    run_demo(out.path(), "ko");
    let config = demo_config(out.path(), Language::Ko);
    let archive = Archive::open(&config.archive_dir).unwrap();
    let entries = archive.entries().unwrap();
    assert_eq!(entries.len(), 3, "one archive entry per visit");
    for (i, entry) in entries.iter().enumerate() {
        check_session(out.path(), i as u32 + 1, entry, &archive, Language::Ko);
    }
    // The second visitor retook the photo: two countdowns, two reviews.
    let names = files(&out.path().join("session-002"));
    assert_eq!(names.iter().filter(|n| n.contains("-review")).count(), 2, "{names:?}");
    assert_eq!(names.iter().filter(|n| n.contains("-countdown-3")).count(), 2, "{names:?}");
    // The slideshow of later visits shows earlier keepsakes, not the welcome text.
    let first = image::open(out.path().join("session-001/00-attract.png")).unwrap().to_rgb8();
    let third = image::open(out.path().join("session-003/00-attract.png")).unwrap().to_rgb8();
    assert!(mean_diff(&first, &third) > 5.0, "the attract screen shows the slideshow once keepsakes exist");
}

#[test]
fn demo_runs_in_english() {
    let out = tempfile::tempdir().unwrap();
    run_demo(out.path(), "en");
    let config = demo_config(out.path(), Language::En);
    let archive = Archive::open(&config.archive_dir).unwrap();
    let entries = archive.entries().unwrap();
    assert_eq!(entries.len(), 3);
    check_session(out.path(), 1, &entries[0], &archive, Language::En);
}

#[test]
fn result_screen_with_and_without_qr_differs_only_where_expected() {
    // Guards the QR check above against passing on a screen that never had one.
    let layout = Layout { w: 720, h: 1280 };
    let k = {
        let out = tempfile::tempdir().unwrap();
        let archive = Archive::open(out.path()).unwrap();
        let meta: keepsake::keepsake::KeepsakeMeta = serde_json::from_str(include_str!("fixtures/meta.json")).unwrap();
        let img = std::sync::Arc::new(RgbImage::from_pixel(64, 96, image::Rgb([90, 120, 200])));
        archive.store(meta, img.clone(), img).unwrap()
    };
    let memorial = demo_config(Path::new("/tmp"), Language::En).memorial;
    let qr = keepsake::qr::qr_image(&k.meta.share_url, 8).unwrap();
    let state = keepsake::booth::State::Result { keepsake: std::sync::Arc::new(k), printer: keepsake::booth::state::PrinterCheck::Ready };
    let draw = |qr: Option<&RgbImage>| {
        let mut fb = Framebuffer::new(layout.w, layout.h);
        screens::draw(
            &mut fb,
            &state,
            &screens::View {
                language: Language::En,
                memorial: &memorial,
                guidance: &Default::default(),
                live: None,
                slide: None,
                seconds_left: 0,
                qr,
            },
        );
        fb.image
    };
    let without = draw(None);
    let gray = image::DynamicImage::ImageRgb8(without).to_luma8();
    assert!(rqrr::PreparedImage::prepare(gray).detect_grids().is_empty());
    let with = draw(Some(&qr));
    let gray = image::DynamicImage::ImageRgb8(with).to_luma8();
    assert_eq!(rqrr::PreparedImage::prepare(gray).detect_grids().len(), 1);
}
