//! The attract screen: the memorial's name, the latest keepsakes as a slideshow, "touch to begin".

use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::text::{self, Align};

use super::{title, Canvas, Touch, View, AMBER, BACKGROUND, MUTED};

/// Anywhere on the screen begins.
pub(super) fn touch() -> Option<Touch> {
    Some(Touch::Begin)
}

pub(super) fn draw(fb: &mut Framebuffer, c: &Canvas, view: &View) {
    let Canvas { l, t, w, h, m, text_w } = *c;
    let pic = l.picture_area();
    let y = title(fb, &l, view.memorial, m);
    if let Some(slide) = view.slide {
        fb.blit_fit(slide, pic.x, y + m / 2, pic.w, pic.h);
    } else {
        text::draw_paragraph(fb, t.welcome, w / 2, h / 3, text_w, l.big(), MUTED, Align::Center);
    }
    let by = h - (l.h / 6) as i32;
    fb.shade(0, by - m / 2, l.w, (l.h / 6) as u32 + m as u32 / 2, BACKGROUND, 0.8);
    text::draw_paragraph(fb, t.touch_to_begin, w / 2, by, text_w, l.big(), AMBER, Align::Center);
}
