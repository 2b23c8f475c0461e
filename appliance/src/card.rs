//! The printed keepsake card: the illustration in a frame, the memorial's name and dates, the
//! message, and the QR code of the share link, laid out for the paper size at its resolution (300 dpi photo paper, 203 dpi thermal rolls).

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};
use image::RgbImage;
use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::paper::PaperSize;
use keepsake_drivers::text::{self, Align};

use crate::keepsake::Keepsake;
use crate::qr;

const PAPER: Rgb888 = Rgb888::new(0xfb, 0xf6, 0xec);
const INK: Rgb888 = Rgb888::new(0x3a, 0x2c, 0x24);
const FRAME: Rgb888 = Rgb888::new(0xc8, 0x8a, 0x4a);
const SOFT: Rgb888 = Rgb888::new(0x7a, 0x68, 0x5a);

/// The smallest printed QR code phones read at arm's length.
const QR_MIN_MM: f32 = 15.0;

/// Lays out the card for `paper`, with the QR code of the keepsake's share link.
pub fn layout(keepsake: &Keepsake, paper: PaperSize) -> RgbImage {
    let (w, h) = paper.pixels();
    let mut fb = Framebuffer::new(w, h);
    // A thermal roll is dithered to black dots: a tinted ground would print as grey speckle.
    let (paper_tone, ink, frame, soft) =
        if paper.is_thermal() { (Rgb888::WHITE, Rgb888::BLACK, Rgb888::BLACK, Rgb888::BLACK) } else { (PAPER, INK, FRAME, SOFT) };
    fb.fill(paper_tone);
    let m = (w / 16) as i32;
    // A thin frame a little inside the edge (dye-sub printers crop a few pixels).
    let inset = m / 2;
    let _ = Rectangle::new(Point::new(inset, inset), Size::new(w - 2 * inset as u32, h - 2 * inset as u32))
        .into_styled(PrimitiveStyle::with_stroke(frame, (w / 150).max(2)))
        .draw(&mut fb);
    let inner_w = w - 2 * m as u32;
    let pic_h = h * 3 / 5;
    let (_, py, _, ph) = fb.blit_fit(&keepsake.illustration, m, m, inner_w, pic_h);

    // Thermal type: the unifont at 2x (4 mm) and 1x (2 mm), like a receipt's own fonts.
    let (big, small) = if paper.is_thermal() { (2, 1) } else { ((w / 220).max(1), (w / 420).max(1)) };
    let meta = &keepsake.meta;
    let mut y = py + ph as i32 + m / 2;
    y += text::draw_paragraph(&mut fb, &meta.memorial_name, w as i32 / 2, y, inner_w, big, ink, Align::Center) as i32;
    let rest_of_caption =
        meta.caption.strip_prefix(&meta.memorial_name).unwrap_or(&meta.caption).trim_start_matches([' ', '·', '(']).trim_end_matches(')');
    if !rest_of_caption.is_empty() {
        y += text::draw_paragraph(&mut fb, rest_of_caption, w as i32 / 2, y, inner_w, small, soft, Align::Center) as i32;
    }
    y += m / 3;

    let min_side = (QR_MIN_MM / 25.4 * paper.dpi() as f32).ceil() as u32;
    let room = (h as i32 - y - m).max(0) as u32;
    let qr_side = (w / 4).max(min_side).min(room);
    // Whole pixels per module, drawn at its own size: a scaled QR code prints with grey seams
    // that a thermal head's dithering turns into noise.
    let qr = qr::modules(&meta.share_url);
    let module_px = qr_side / (qr as u32 + 8).max(1);
    let qr = (qr > 0 && module_px > 0).then(|| qr::qr_image(&meta.share_url, module_px).ok()).flatten();
    let qr_w = qr.as_ref().map_or(0, |q| q.width());
    let text_w = inner_w - qr_w - m as u32 / 2;
    text::draw_paragraph(&mut fb, &meta.message, m, y, text_w, small, ink, Align::Left);
    if let Some(qr) = qr {
        image::imageops::replace(&mut fb.image, &qr, (w - m as u32 - qr_w) as i64, (h - m as u32 - qr.height()) as i64);
    } else {
        tracing::warn!(url = %meta.share_url, "no room or no code for the share link's QR on the card");
    }
    fb.image
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
