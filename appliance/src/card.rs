//! The printed keepsake card: the illustration in a frame, the memorial's name and dates, the
//! message, and the QR code of the share link, laid out for the paper size at 300 dpi.

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};
use image::RgbImage;
use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::paper::PaperSize;
use keepsake_drivers::text::{self, Align};

use crate::keepsake::Keepsake;

const PAPER: Rgb888 = Rgb888::new(0xfb, 0xf6, 0xec);
const INK: Rgb888 = Rgb888::new(0x3a, 0x2c, 0x24);
const FRAME: Rgb888 = Rgb888::new(0xc8, 0x8a, 0x4a);
const SOFT: Rgb888 = Rgb888::new(0x7a, 0x68, 0x5a);

/// Lays out the card for `paper`; `qr` is the share link's code.
pub fn layout(keepsake: &Keepsake, qr: &RgbImage, paper: PaperSize) -> RgbImage {
    let (w, h) = paper.pixels();
    let mut fb = Framebuffer::new(w, h);
    fb.fill(PAPER);
    let m = (w / 16) as i32;
    // A thin frame a little inside the edge (dye-sub printers crop a few pixels).
    let inset = m / 2;
    let _ = Rectangle::new(Point::new(inset, inset), Size::new(w - 2 * inset as u32, h - 2 * inset as u32))
        .into_styled(PrimitiveStyle::with_stroke(FRAME, (w / 150).max(2)))
        .draw(&mut fb);
    let inner_w = w - 2 * m as u32;
    let pic_h = h * 3 / 5;
    let (_, py, _, ph) = fb.blit_fit(&keepsake.illustration, m, m, inner_w, pic_h);

    let big = (w / 220).max(1);
    let small = (w / 420).max(1);
    let meta = &keepsake.meta;
    let mut y = py + ph as i32 + m / 2;
    y += text::draw_paragraph(&mut fb, &meta.memorial_name, w as i32 / 2, y, inner_w, big, INK, Align::Center) as i32;
    let rest_of_caption =
        meta.caption.strip_prefix(&meta.memorial_name).unwrap_or(&meta.caption).trim_start_matches([' ', '·', '(']).trim_end_matches(')');
    if !rest_of_caption.is_empty() {
        y += text::draw_paragraph(&mut fb, rest_of_caption, w as i32 / 2, y, inner_w, small, SOFT, Align::Center) as i32;
    }
    y += m / 3;

    let qr_side = (w / 4).min((h as i32 - y - m).max(0) as u32);
    let text_w = inner_w - qr_side - m as u32 / 2;
    text::draw_paragraph(&mut fb, &meta.message, m, y, text_w, small, INK, Align::Left);
    if qr_side > 0 {
        fb.blit_fit(qr, w as i32 - m - qr_side as i32, h as i32 - m - qr_side as i32, qr_side, qr_side);
    }
    fb.image
}
