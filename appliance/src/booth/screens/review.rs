//! The photo just taken: retake, or continue (it continues by itself).

use image::RgbImage;

use super::layout::{Flow, Style};
use super::{two_buttons, Canvas, Layout, Touch, View, FILLED, MUTED, OUTLINED};
use crate::config::Language;
use crate::scene::{Paint, Scene};

pub(super) fn touch(layout: &Layout, x: i32, y: i32) -> Option<Touch> {
    two_buttons(layout.review_buttons(), x, y, Touch::Retake, Touch::Continue)
}

/// The photo large, when it continues by itself, and the two buttons.
pub(super) fn scene<'a>(s: &mut Scene<'a>, c: &Canvas, view: &View<'a>, photo: &'a RgbImage) {
    let (l, t) = (c.l, words(c.language));
    let m = l.margin();
    let (retake, cont) = l.review_buttons();
    let mut flow = Flow::new(l.column(), m);
    flow.bottom(retake.h);
    let hint = t.continues_in.replace("{n}", &view.seconds_left.to_string());
    flow.text_bottom(s, "continues_in", &hint, Style::small(&l, 2, MUTED));
    let picture = if l.landscape() { l.picture_area() } else { flow.left };
    s.push("photo", picture, Paint::Picture(photo));
    s.answers([("retake", retake, t.retake, OUTLINED), ("continue", cont, t.continue_, FILLED)], l.big(), l.small());
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
