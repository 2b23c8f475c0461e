//! The attract screen: the memorial's name, the latest keepsakes as a slideshow, "touch to begin".

use super::layout::{Flow, Style};
use super::{Canvas, Touch, View, AMBER, BACKGROUND, CREAM, MUTED};
use crate::config::Language;
use crate::scene::{Paint, Rect, Scene};

/// Anywhere on the screen begins.
pub(super) fn touch() -> Option<Touch> {
    Some(Touch::Begin)
}

/// The name and dates at the top, "touch to begin" on a shaded band at the bottom, the
/// slideshow between them (portrait) or on the left (landscape).
pub(super) fn scene<'a>(s: &mut Scene<'a>, c: &Canvas, view: &View<'a>) {
    let (l, t) = (c.l, words(c.language));
    let m = l.margin();
    let band_h = l.h / 6;
    s.push("band", Rect { x: 0, y: (l.h - band_h) as i32 - m / 2, w: l.w, h: band_h + m as u32 / 2 }, Paint::Shade(BACKGROUND, 0.8));
    let mut flow = Flow::new(l.column(), m / 2);
    flow.text_top(s, "name", &view.memorial.name, Style::big(&l, 2, CREAM));
    if !view.memorial.dates.is_empty() {
        flow.text_top(s, "dates", &view.memorial.dates, Style::small(&l, 2, MUTED));
    }
    flow.text_bottom(s, "touch_to_begin", t.touch_to_begin, Style::big(&l, 2, AMBER));
    let area = if l.landscape() { l.picture_area() } else { flow.left };
    match view.slide {
        Some(slide) => s.push("slide", area, Paint::Picture(slide)),
        None => s.text_in("welcome", area, t.welcome, Style::big(&l, 3, MUTED)),
    }
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
