//! The calm fault screen: something went wrong, the booth is ready again in a moment.

use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::text::{self, Align};

use super::{Canvas, CREAM, MUTED};

pub(super) fn draw(fb: &mut Framebuffer, c: &Canvas) {
    let Canvas { l, t, w, h, m, text_w } = *c;
    text::draw_paragraph(fb, t.fault, w / 2, h / 2 - m * 2, text_w, l.big(), CREAM, Align::Center);
    text::draw_paragraph(fb, t.fault_detail, w / 2, h / 2 + m, text_w, l.small() + 1, MUTED, Align::Center);
}
