//! The illustration being painted: the latest preview, a progress bar and the step.

use image::RgbImage;
use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::text::{self, Align};

use super::{progress_bar, Canvas, Rect, CREAM, MUTED};
use crate::config::Language;

pub(super) fn draw(fb: &mut Framebuffer, c: &Canvas, photo: &RgbImage, preview: Option<&RgbImage>, step: u32, total: u32) {
    let Canvas { l, language, w, m, text_w, .. } = *c;
    let t = words(language);
    let pic = l.picture_area();
    let shown = preview.unwrap_or(photo);
    fb.blit_fit(shown, pic.x, pic.y, pic.w, pic.h);
    let mut y = pic.y + pic.h as i32 + m;
    y += text::draw_paragraph(fb, t.painting, w / 2, y, text_w, l.big(), CREAM, Align::Center) as i32 + m / 2;
    let fraction = if total == 0 { 0.0 } else { step as f32 / total as f32 };
    progress_bar(fb, Rect { x: m, y, w: text_w, h: (l.h / 28).max(12) }, fraction);
    y += (l.h / 28).max(12) as i32 + m / 2;
    if total > 0 {
        let label = format!("{} {step}/{total}", t.step);
        text::draw_line(fb, &label, w / 2, y, l.small(), MUTED, Align::Center);
    }
}

/// What this screen says, in the memorial's language.
pub(super) struct Words {
    pub painting: &'static str,
    pub step: &'static str,
}

const KO: Words = Words { painting: "추억을 그리고 있습니다", step: "단계" };

const EN: Words = Words { painting: "Painting your keepsake", step: "step" };

pub(super) fn words(language: Language) -> &'static Words {
    language.choose(&KO, &EN)
}
