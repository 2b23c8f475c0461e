//! The printed keepsake card: the illustration in a frame, the memorial's name and dates, the
//! message, and the QR code of the share link, laid out for the paper size at its resolution (300 dpi photo paper, 203 dpi thermal rolls).

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
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

/// What the card shows and where: the frame, the illustration, the name and the rest of the
/// caption, the message beside the QR code. Texts are measured in `face`. The card keeps the
/// whole message: a long one takes room from the illustration before its type gets smaller.
pub fn scene(keepsake: &Keepsake, paper: PaperSize, face: Face) -> Scene<'_> {
    let h = paper.pixels().1;
    let small = type_scales(paper).1;
    let candidates = [h * 3 / 5, h / 2, h * 2 / 5, h / 3].map(|picture_h| place(keepsake, paper, face.clone(), picture_h));
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

fn place(keepsake: &Keepsake, paper: PaperSize, face: Face, picture_h: u32) -> Scene<'_> {
    let (w, h) = paper.pixels();
    let mut s = Scene::new(face);
    // A thermal roll is dithered to black dots: a tinted ground would print as grey speckle.
    let (ink, frame, soft) = if paper.is_thermal() { (Rgb888::BLACK, Rgb888::BLACK, Rgb888::BLACK) } else { (INK, FRAME, SOFT) };
    let m = (w / 16) as i32;
    // A thin frame a little inside the edge (dye-sub printers crop a few pixels).
    let inset = m / 2;
    let page = Rect { x: 0, y: 0, w, h };
    s.push("frame", page.inset(inset as u32, inset as u32), Paint::Frame { color: frame, width: (w / 150).max(2) });
    let inner = page.inset(m as u32, m as u32);
    let picture = fitted(&keepsake.illustration, Rect { h: picture_h, ..inner });
    s.push("illustration", picture, Paint::Picture(&keepsake.illustration));

    let (big, small) = type_scales(paper);
    let style = |largest: u32, color: Rgb888, align: Align| TextStyle { largest, smallest: (small - 1).max(1), color, align };
    let meta = &keepsake.meta;
    let mut y = picture.bottom() + m / 2;
    let mut text_top = |s: &mut Scene, name: &'static str, text: &str, lines: usize, style: TextStyle, gap: i32| {
        let room = keepsake_drivers::text_box::block_height(lines, style.largest).min((inner.bottom() - y).max(0) as u32);
        let set = s.fit(text, inner.w, room, style);
        let rect = Rect { y, h: set.height(), ..inner };
        y += rect.h as i32 + gap;
        s.push(name, rect, Paint::Text(set, style.color, style.align));
    };
    text_top(&mut s, "name", &meta.memorial_name, 2, style(big, ink, Align::Center), 0);
    let rest_of_caption =
        meta.caption.strip_prefix(&meta.memorial_name).unwrap_or(&meta.caption).trim_start_matches([' ', '·', '(']).trim_end_matches(')');
    if !rest_of_caption.is_empty() {
        text_top(&mut s, "caption", rest_of_caption, 2, style(small, soft, Align::Center), 0);
    }
    let y = y + m / 3;

    let min_side = (QR_MIN_MM / 25.4 * paper.dpi() as f32).ceil() as u32;
    let room = (inner.bottom() - y).max(0) as u32;
    let qr_side = (w / 4).max(min_side).min(room);
    // Whole pixels per module, drawn at its own size: a scaled QR code prints with grey seams
    // that a thermal head's dithering turns into noise.
    let modules = qr::modules(&meta.share_url);
    let module_px = qr_side / (modules as u32 + 8).max(1);
    let code = (modules > 0 && module_px > 0).then(|| qr::qr_image(&meta.share_url, module_px).ok()).flatten();
    let qr_w = code.as_ref().map_or(0, |q| q.width());
    match code {
        Some(code) => {
            let rect = Rect {
                x: inner.right() - code.width() as i32,
                y: inner.bottom() - code.height() as i32,
                w: code.width(),
                h: code.height(),
            };
            s.push("qr", rect, Paint::OwnedPicture(code));
        }
        None => tracing::warn!(url = %meta.share_url, "no room or no code for the share link's QR on the card"),
    }
    let beside = Rect { y, w: inner.w.saturating_sub(qr_w + m as u32 / 2), h: (inner.bottom() - y).max(0) as u32, ..inner };
    let message = s.fit(&meta.message, beside.w, beside.h, style(small, ink, Align::Left));
    s.push("message", Rect { h: message.height(), ..beside }, Paint::Text(message, ink, Align::Left));
    s
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
    fn every_paper_gets_a_card_whose_qr_code_reads_back() {
        let k = keepsake();
        for paper in PaperSize::ALL {
            let page = layout(&k, paper);
            assert_eq!(page.dimensions(), paper.pixels(), "{paper}");
            // What the printer puts on paper: black dots on a thermal roll.
            let printed = if paper.is_thermal() { dither(&page) } else { DynamicImage::ImageRgb8(page.clone()).to_luma8() };
            assert_eq!(decoded_qr(&printed), [k.meta.share_url.clone()], "{paper}");
            // The QR code is at least 15 mm across.
            let min_px = (15.0 / 25.4 * paper.dpi() as f32) as u32;
            let dark_rows =
                (0..page.height()).filter(|&y| (page.width() - page.width() / 4..page.width()).any(|x| printed.get_pixel(x, y)[0] < 60));
            assert!(dark_rows.count() as u32 >= min_px * 3 / 4, "{paper}: the code is big enough to scan");
            // The illustration is in the top part of the card.
            let top = image::imageops::crop_imm(&page, 0, 0, page.width(), page.height() / 2).to_image();
            assert!(top.pixels().any(|p| p.0[2] == 120), "{paper}: the illustration is printed");
        }
    }
}
