//! The photo just taken: retake, or continue (it continues by itself).

use image::RgbImage;
use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::text::{self, Align};

use super::{button, two_buttons, Canvas, Layout, Touch, View, MUTED};
use crate::config::Language;

pub(super) fn touch(layout: &Layout, x: i32, y: i32) -> Option<Touch> {
    two_buttons(layout.review_buttons(), x, y, Touch::Retake, Touch::Continue)
}

pub(super) fn draw(fb: &mut Framebuffer, c: &Canvas, view: &View, photo: &RgbImage) {
    let Canvas { l, language, w, m, .. } = *c;
    let t = words(language);
    let pic = l.picture_area();
    fb.blit_fit(photo, pic.x, pic.y, pic.w, pic.h + pic.h / 4);
    let (retake, cont) = l.review_buttons();
    let hint = t.continues_in.replace("{n}", &view.seconds_left.to_string());
    text::draw_line(fb, &hint, w / 2, retake.y - m - text::line_height(l.small()) as i32, l.small(), MUTED, Align::Center);
    button(fb, retake, t.retake, l.big(), false);
    button(fb, cont, t.continue_, l.big(), true);
}

/// What this screen says, in the memorial's language.
pub(super) struct Words {
    pub retake: &'static str,
    pub continue_: &'static str,
    /// `{n}` is the seconds left (Korean writes them without a space: "2초").
    pub continues_in: &'static str,
}

const KO: Words = Words { retake: "다시 찍기", continue_: "계속", continues_in: "{n}초 후 자동으로 계속합니다" };

const EN: Words = Words { retake: "Retake", continue_: "Continue", continues_in: "{n} s until it continues" };

pub(super) fn words(language: Language) -> &'static Words {
    language.choose(&KO, &EN)
}
