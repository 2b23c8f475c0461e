//! May the family also receive the original photo? The photo small, the question large.

use image::RgbImage;
use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::text::{self, Align};

use super::{button, two_buttons, Canvas, Layout, Touch, View, CREAM, MUTED};

pub(super) fn touch(layout: &Layout, x: i32, y: i32) -> Option<Touch> {
    two_buttons(layout, x, y, Touch::KeepPhotoPrivate, Touch::SharePhoto)
}

pub(super) fn draw(fb: &mut Framebuffer, c: &Canvas, view: &View, photo: &RgbImage) {
    let Canvas { l, t, w, m, text_w, .. } = *c;
    // The photo small, the question large: the visitor decides about this very picture.
    let pic = l.picture_area();
    let small_h = pic.h / 2;
    fb.blit_fit(photo, pic.x, pic.y, pic.w, small_h);
    let mut y = pic.y + small_h as i32 + m;
    y += text::draw_paragraph(fb, t.consent_question, w / 2, y, text_w, l.big(), CREAM, Align::Center) as i32 + m / 2;
    text::draw_paragraph(fb, t.consent_detail, w / 2, y, text_w, l.small(), MUTED, Align::Center);
    let (no, yes) = l.review_buttons();
    let hint = format!("{} {}", view.seconds_left, t.consent_default);
    text::draw_line(fb, &hint, w / 2, no.y - m - text::line_height(l.small()) as i32, l.small(), MUTED, Align::Center);
    button(fb, no, t.consent_no, l.big(), false);
    button(fb, yes, t.consent_yes, l.big(), true);
}
