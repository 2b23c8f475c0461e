//! Print and share: the QR code large, what the printer is doing, thanks.

use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::text::{self, Align};

use super::{Canvas, Touch, View, AMBER, CREAM, MUTED};
use crate::booth::state::PrintStatus;
use crate::keepsake::Keepsake;

/// Anywhere ends the visit.
pub(super) fn touch() -> Option<Touch> {
    Some(Touch::Next)
}

pub(super) fn draw(fb: &mut Framebuffer, c: &Canvas, view: &View, keepsake: &Keepsake, print: &PrintStatus) {
    let Canvas { l, t, w, m, text_w, .. } = *c;
    let thumb = l.h / 4;
    fb.blit_fit(&keepsake.illustration, m, m, l.w - 2 * m as u32, thumb);
    let mut y = m + thumb as i32 + m;
    if let Some(qr) = view.qr {
        let side = l.w / 2;
        fb.blit_fit(qr, (w - side as i32) / 2, y, side, side);
        y += side as i32 + m / 2;
    }
    y += text::draw_paragraph(fb, t.scan_to_keep, w / 2, y, text_w, l.small() + 1, CREAM, Align::Center) as i32 + m;
    let unavailable = |why| (format!("{}\n{}", t.printer_why(why), t.print_unavailable), MUTED);
    let (line, color) = match print {
        PrintStatus::Offered => (t.press_print.to_string(), AMBER),
        PrintStatus::Printing => (t.printing.to_string(), AMBER),
        PrintStatus::Printed => (t.printed.to_string(), CREAM),
        PrintStatus::Unavailable(why) => unavailable(why),
    };
    y += text::draw_paragraph(fb, &line, w / 2, y, text_w, l.small() + 1, color, Align::Center) as i32 + m;
    text::draw_paragraph(fb, t.thank_you, w / 2, y, text_w, l.small(), MUTED, Align::Center);
}
