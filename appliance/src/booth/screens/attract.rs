//! The attract screen: the memorial's name, the latest keepsakes as a slideshow, "touch to begin".

use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::text::{self, Align};

use super::{title, Canvas, Touch, View, AMBER, BACKGROUND, MUTED};
use crate::config::Language;

/// Anywhere on the screen begins.
pub(super) fn touch() -> Option<Touch> {
    Some(Touch::Begin)
}

pub(super) fn draw(fb: &mut Framebuffer, c: &Canvas, view: &View) {
    let Canvas { l, language, w, h, m, text_w } = *c;
    let t = words(language);
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

/// What this screen says, in the memorial's language.
pub(super) struct Words {
    pub touch_to_begin: &'static str,
    pub welcome: &'static str,
}

const KO: Words = Words { touch_to_begin: "화면을 터치해 시작하세요", welcome: "함께 기억해 주셔서 감사합니다" };

const EN: Words = Words { touch_to_begin: "Touch the screen to begin", welcome: "Thank you for remembering with us" };

pub(super) fn words(language: Language) -> &'static Words {
    language.choose(&KO, &EN)
}
