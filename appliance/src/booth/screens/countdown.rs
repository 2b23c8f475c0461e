//! The countdown over the live preview, the number low so the visitor still sees their face.

use embedded_graphics::prelude::*;
use embedded_graphics::primitives::PrimitiveStyle;
use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::text::{self, Align};

use super::{Canvas, View, BACKGROUND, CREAM};
use crate::config::Language;

pub(super) fn draw(fb: &mut Framebuffer, c: &Canvas, view: &View, remaining: u32) {
    let Canvas { l, language, w, h, m, .. } = *c;
    let t = words(language);
    if let Some(live) = view.live {
        // Cover the screen with the preview: the visitor sees themselves large.
        let scale = (l.w as f32 / live.width() as f32).max(l.h as f32 / live.height() as f32);
        let (sw, sh) = ((live.width() as f32 * scale) as u32, (live.height() as f32 * scale) as u32);
        fb.blit_fit(live, (w - sw as i32) / 2, (h - sh as i32) / 2, sw, sh);
    }
    fb.shade(0, 0, l.w, (l.h / 10) as u32, BACKGROUND, 0.6);
    text::draw_line(fb, t.get_ready, w / 2, m / 2, l.small() + 1, CREAM, Align::Center);
    let n = remaining.to_string();
    let scale = l.w / 48;
    let nh = text::line_height(scale) as i32;
    let d = (nh as u32) * 5 / 4;
    // Low on the screen, so the visitor still sees their face while it counts.
    let cy = h * 4 / 5;
    let _ = embedded_graphics::primitives::Circle::with_center(Point::new(w / 2, cy), d)
        .into_styled(PrimitiveStyle::with_fill(BACKGROUND))
        .draw(fb);
    text::draw_line(fb, &n, w / 2, cy - nh / 2, scale, CREAM, Align::Center);
}

/// What this screen says, in the memorial's language.
pub(super) struct Words {
    pub get_ready: &'static str,
}

const KO: Words = Words { get_ready: "카메라를 바라봐 주세요" };

const EN: Words = Words { get_ready: "Please look at the camera" };

pub(super) fn words(language: Language) -> &'static Words {
    language.choose(&KO, &EN)
}
