//! The keepsake: the illustration, caption and message, the QR code, and whether Print is offered.

use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::printer::Unavailable;
use keepsake_drivers::text::{self, Align};

use super::{printer_hint, Canvas, Touch, View, AMBER, CREAM, MUTED};
use crate::keepsake::Keepsake;

/// Anywhere goes on to print and share.
pub(super) fn touch() -> Option<Touch> {
    Some(Touch::Next)
}

pub(super) fn draw(fb: &mut Framebuffer, c: &Canvas, view: &View, keepsake: &Keepsake, unavailable: Option<&Unavailable>) {
    let Canvas { l, language, w, h, m, text_w } = *c;
    let printer = printer_hint::words(language);
    let pic = l.picture_area();
    fb.blit_fit(&keepsake.illustration, pic.x, pic.y, pic.w, pic.h);
    let mut y = pic.y + pic.h as i32 + m / 2;
    y += text::draw_paragraph(fb, &keepsake.meta.caption, w / 2, y, text_w, l.big(), CREAM, Align::Center) as i32;
    text::draw_paragraph(fb, &keepsake.meta.message, w / 2, y, text_w, l.small(), MUTED, Align::Center);
    if let Some(qr) = view.qr {
        let side = l.w / 4;
        let qy = h - side as i32 - m;
        fb.blit_fit(qr, w - m - side as i32, qy, side, side);
        let (hint, color) = match unavailable {
            Some(why) => (printer.unavailable(why), MUTED),
            None => (printer.press_print.to_string(), AMBER),
        };
        text::draw_paragraph(fb, &hint, m, qy + side as i32 / 3, l.w - side - 3 * m as u32, l.small(), color, Align::Left);
    }
}
