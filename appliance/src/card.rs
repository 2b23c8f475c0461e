//! The printed keepsake card: the illustration in a frame, the memorial's name and dates, the
//! message, and the QR code of the share link, laid out for the paper size at its resolution (300 dpi photo paper, 203 dpi thermal rolls).

use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
use image::RgbImage;
use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::paper::PaperSize;
use keepsake_drivers::text::{self, Align, Face};

use crate::keepsake::Keepsake;
use crate::qr;
use crate::scene::{fitted, Paint, Rect, Scene, TextStyle};

const PAPER: Rgb888 = Rgb888::new(0xfb, 0xf6, 0xec);
const INK: Rgb888 = Rgb888::new(0x3a, 0x2c, 0x24);
const FRAME: Rgb888 = Rgb888::new(0xc8, 0x8a, 0x4a);
const SOFT: Rgb888 = Rgb888::new(0x7a, 0x68, 0x5a);

/// The smallest printed QR code phones read at arm's length.
const QR_MIN_MM: f32 = 15.0;

/// Lays out the card for `paper`, with the QR code of the keepsake's share link, in the booth's face.
pub fn layout(keepsake: &Keepsake, paper: PaperSize) -> RgbImage {
    let (w, h) = paper.pixels();
    let mut fb = Framebuffer::new(w, h);
    fb.fill(if paper.is_thermal() { Rgb888::WHITE } else { PAPER });
    scene(keepsake, paper, text::face()).draw(&mut fb);
    fb.image
}

/// What the card shows and where: the frame, the illustration, the name, the dates and the
/// day of the visit, the message beside the QR code and the QR code's label. Texts are measured
/// in `face`. The card keeps the whole message: a long one takes room from the illustration
/// before its type gets smaller.
pub fn scene(keepsake: &Keepsake, paper: PaperSize, face: Face) -> Scene<'_> {
    let h = paper.pixels().1;
    let small = type_scales(paper).1;
    let candidates =
        [h * 3 / 5, h / 2, h * 2 / 5, h / 3].into_iter().filter_map(|picture_h| place(keepsake, paper, face.clone(), picture_h));
    Scene::roomiest(candidates, "message", small).unwrap_or_else(|| Scene::new(face))
}

/// The type sizes for `paper`: the name's and the rest's. Thermal type is the unifont at 2x
/// (4 mm) and 1x (2 mm), like a receipt's own fonts.
fn type_scales(paper: PaperSize) -> (u32, u32) {
    let w = paper.pixels().0;
    if paper.is_thermal() {
        (2, 1)
    } else {
        ((w / 220).max(1), (w / 420).max(1))
    }
}

/// `mm` millimetres in `paper`'s dots.
fn dots(paper: PaperSize, mm: f32) -> u32 {
    (mm / 25.4 * paper.dpi() as f32).ceil() as u32
}

/// How far in from the paper's edge the frame is drawn: photo paper is cut up to a few
/// millimetres inside the image by borderless printers, so at least 5 mm; a thermal head's dots
/// are all inside the roll's own margins.
pub fn frame_inset(paper: PaperSize) -> u32 {
    let w = paper.pixels().0;
    if paper.is_thermal() {
        w / 32
    } else {
        dots(paper, 5.0).max(w / 32)
    }
}

/// The visit's day as the card prints it (the booth's own date, from its record).
fn visit_day(created_at: &str, language: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(created_at).ok()?;
    Some(match language {
        "ko" => t.format("%Y년 %-m월 %-d일 방문").to_string(),
        _ => t.format("Visited %-d %B %Y").to_string(),
    })
}

/// The label under the QR code, in the keepsake's language.
fn qr_label(language: &str) -> &'static str {
    match language {
        "ko" => "휴대폰 카메라로 찍으면 사진을 받을 수 있어요",
        _ => "Scan with a phone camera to keep this picture",
    }
}

/// The card with the illustration `picture_h` dots high at most; `None` when the QR code and
/// its label do not fit under the texts then.
fn place(keepsake: &Keepsake, paper: PaperSize, face: Face, picture_h: u32) -> Option<Scene<'_>> {
    let (w, h) = paper.pixels();
    let mut s = Scene::new(face);
    // A thermal roll is dithered to black dots: a tinted ground would print as grey speckle.
    let (ink, frame, soft) = if paper.is_thermal() { (Rgb888::BLACK, Rgb888::BLACK, Rgb888::BLACK) } else { (INK, FRAME, SOFT) };
    let page = Rect { x: 0, y: 0, w, h };
    let inset = frame_inset(paper);
    let frame_w = (w / 150).max(2);
    s.push("frame", page.inset(inset, inset), Paint::Frame { color: frame, width: frame_w });
    let m = (inset + frame_w + w / 40) as i32;
    let inner = page.inset(m as u32, m as u32);

    // 300 dpi at least: the illustration is never enlarged past its own pixels at 300 dpi.
    let ill = &keepsake.illustration;
    let most = |px: u32| (px as u64 * paper.dpi() as u64 / 300) as u32;
    let area = Rect { h: picture_h.min(most(ill.height())), w: inner.w.min(most(ill.width())), ..inner };
    let area = Rect { x: inner.x + (inner.w - area.w) as i32 / 2, ..area };
    let picture = fitted(ill, area);
    s.push("illustration", picture, Paint::Picture(ill));

    let (big, small) = type_scales(paper);
    let style = |largest: u32, color: Rgb888, align: Align| TextStyle { largest, smallest: (small - 1).max(1), color, align };
    let meta = &keepsake.meta;
    let mut y = picture.bottom() + m / 2;
    let mut text_top = |s: &mut Scene, name: &'static str, text: &str, lines: usize, style: TextStyle| {
        let room = keepsake_drivers::text_box::block_height(lines, style.largest).min((inner.bottom() - y).max(0) as u32);
        let set = s.fit(text, inner.w, room, style);
        let rect = Rect { y, h: set.height(), ..inner };
        y += rect.h as i32;
        s.push(name, rect, Paint::Text(set, style.color, style.align));
    };
    text_top(&mut s, "name", &meta.memorial_name, 2, style(big, ink, Align::Center));
    let rest_of_caption =
        meta.caption.strip_prefix(&meta.memorial_name).unwrap_or(&meta.caption).trim_start_matches([' ', '·', '(']).trim_end_matches(')');
    if !rest_of_caption.is_empty() {
        text_top(&mut s, "caption", rest_of_caption, 2, style(small, soft, Align::Center));
    }
    if let Some(day) = visit_day(&meta.created_at, &meta.language) {
        text_top(&mut s, "visit_day", &day, 1, style(small, soft, Align::Center));
    }
    let y = y + m / 3;

    // The QR code's symbol at least 15 mm across, in whole dots per module, drawn at its own
    // size: a scaled code prints with grey seams that a thermal head's dithering turns into noise.
    let modules = qr::modules(&meta.share_url) as u32;
    if modules == 0 {
        tracing::warn!(url = %meta.share_url, "the share link makes no QR code; the card goes without");
        return None;
    }
    let module_px = dots(paper, QR_MIN_MM).div_ceil(modules).max((w / 4) / (modules + 8));
    let code = qr::qr_image(&meta.share_url, module_px).ok()?;
    let (qr_w, qr_h) = code.dimensions();
    let label_style = style(small, soft, Align::Center);
    let label = s.fit(qr_label(&meta.language), qr_w, keepsake_drivers::text_box::block_height(4, small), label_style);
    // On a narrow roll the code sits under the message, centred; on a card, beside it.
    let narrow = paper.is_thermal();
    let qr_x = if narrow { inner.x + (inner.w - qr_w) as i32 / 2 } else { inner.right() - qr_w as i32 };
    let label_rect = Rect { x: qr_x, y: inner.bottom() - label.height() as i32, w: qr_w, h: label.height() };
    // The code's quiet zone is part of the code: the label may start right under it.
    let qr_rect = Rect { x: label_rect.x, y: label_rect.y - qr_h as i32, w: qr_w, h: qr_h };
    if qr_rect.y < y {
        return None;
    }
    s.push("qr", qr_rect, Paint::OwnedPicture(code));
    s.push("qr_label", label_rect, Paint::Text(label, soft, Align::Center));
    let message_box = if narrow {
        Rect { y, h: (qr_rect.y - m / 3 - y).max(0) as u32, ..inner }
    } else {
        Rect { y, w: inner.w.saturating_sub(qr_w + m as u32 / 2), h: (inner.bottom() - y).max(0) as u32, ..inner }
    };
    let message = s.fit(&meta.message, message_box.w, message_box.h, style(small, ink, Align::Left));
    s.push("message", Rect { h: message.height(), ..message_box }, Paint::Text(message, ink, Align::Left));
    Some(s)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use image::{DynamicImage, Rgb};
    use keepsake_drivers::thermal::dither;

    use super::*;
    use crate::keepsake::{FileInfo, KeepsakeMeta};

    fn keepsake() -> Keepsake {
        let file = FileInfo { file: String::new(), bytes: 0, crc32: 0, width: 0, height: 0 };
        let url = "https://memorial.example.org/k/0f3a9c2e7b1d4e6f8a0b2c4d6e8f0a1b".to_string();
        Keepsake {
            meta: KeepsakeMeta {
                id: "0f3a".into(),
                created_at: String::new(),
                memorial_name: "김영희".into(),
                caption: "김영희 (1941 - 2026)".into(),
                message: "함께한 시간을 기억합니다. Thank you for coming.".into(),
                language: "ko".into(),
                share_url: url,
                share_photo: false,
                in_slideshow: false,
                made_by: String::new(),
                style: String::new(),
                photo: file.clone(),
                illustration: file,
            },
            photo: Arc::new(RgbImage::new(1, 1)),
            illustration: Arc::new(RgbImage::from_fn(480, 640, |x, y| Rgb([(x / 2) as u8, (y / 3) as u8, 120]))),
        }
    }

    fn decoded_qr(page: &image::GrayImage) -> Vec<String> {
        let mut prepared = rqrr::PreparedImage::prepare(page.clone());
        prepared.detect_grids().iter().filter_map(|g| g.decode().ok().map(|(_, text)| text)).collect()
    }

    #[test]
    fn every_card_fits_the_longest_texts_on_every_paper_in_both_languages() {
        let mut problems = Vec::new();
        for face in crate::scene::check::faces() {
            for language in [crate::config::Language::Ko, crate::config::Language::En] {
                let k = crate::scene::check::longest_keepsake(language);
                for paper in PaperSize::ALL {
                    let (w, h) = paper.pixels();
                    let s = scene(&k, paper, face.clone());
                    for p in crate::scene::check::problems(&s, w, h, &[]) {
                        problems.push(format!("{} {language:?} {paper}: {p}", face.describe()));
                    }
                    if let Ok(dir) = std::env::var("KEEPSAKE_SCREENS_OUT") {
                        let mut fb = Framebuffer::new(w, h);
                        fb.fill(PAPER);
                        s.draw(&mut fb);
                        let name = if matches!(face, Face::Unifont) { "unifont" } else { "ttf" };
                        fb.image.save(format!("{dir}/card-{name}-{language:?}-{paper}.png")).unwrap();
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
    }

    #[test]
    fn the_card_is_framed_clear_of_the_cut_dated_labelled_and_never_enlarged_past_300_dpi() {
        for language in [crate::config::Language::Ko, crate::config::Language::En] {
            let k = crate::scene::check::longest_keepsake(language);
            for paper in PaperSize::ALL {
                let s = scene(&k, paper, Face::Unifont);
                let rect = |name: &str| s.item(name).unwrap_or_else(|| panic!("{paper}: no {name}")).rect;
                let text = |name: &str| match &s.item(name).unwrap().paint {
                    Paint::Text(set, ..) => set.lines.join(" "),
                    _ => panic!("{name} is no text"),
                };
                if !paper.is_thermal() {
                    assert!(rect("frame").x as u32 >= dots(paper, 5.0), "{paper}: the frame is 5 mm in at least");
                }
                let ill = rect("illustration");
                let (iw, ih) = k.illustration.dimensions();
                assert!(
                    ill.w <= iw * paper.dpi() / 300 && ill.h <= ih * paper.dpi() / 300,
                    "{paper}: {ill:?} enlarges a {iw}x{ih} picture"
                );
                let day = text("visit_day");
                assert_eq!(day, language.choose("2026년 12월 31일 방문", "Visited 31 December 2026"), "{paper}");
                let (qr, label) = (rect("qr"), rect("qr_label"));
                assert_eq!((label.y, label.x, label.w), (qr.bottom(), qr.x, qr.w), "{paper}: the label is right under the code");
                assert_eq!(text("qr_label"), qr_label(language.code()), "{paper}");
            }
        }
    }

    #[test]
    fn every_paper_gets_a_card_whose_qr_code_reads_back() {
        let k = keepsake();
        for paper in PaperSize::ALL {
            let page = layout(&k, paper);
            assert_eq!(page.dimensions(), paper.pixels(), "{paper}");
            // What the printer puts on paper: black dots on a thermal roll.
            let printed = if paper.is_thermal() { dither(&page) } else { DynamicImage::ImageRgb8(page.clone()).to_luma8() };
            assert_eq!(decoded_qr(&printed), [k.meta.share_url.clone()], "{paper}");
            // The code's symbol (its dark modules, quiet zone aside) is at least 15 mm across.
            let qr = scene(&k, paper, Face::Unifont).item("qr").unwrap().rect;
            let dark: Vec<(u32, u32)> = (qr.y as u32..qr.bottom() as u32)
                .flat_map(|y| (qr.x as u32..qr.right() as u32).map(move |x| (x, y)))
                .filter(|&(x, y)| printed.get_pixel(x, y)[0] < 60)
                .collect();
            let across = dark.iter().map(|p| p.0).max().unwrap() - dark.iter().map(|p| p.0).min().unwrap() + 1;
            assert!(across >= dots(paper, 15.0), "{paper}: a {across}-dot code is under 15 mm");
            // The illustration is in the top part of the card.
            let top = image::imageops::crop_imm(&page, 0, 0, page.width(), page.height() / 2).to_image();
            assert!(top.pixels().any(|p| p.0[2] == 120), "{paper}: the illustration is printed");
        }
    }
}
