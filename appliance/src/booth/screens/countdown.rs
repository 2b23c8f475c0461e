//! The countdown over the live preview, the number low so the visitor still sees their face.

use super::layout::Style;
use super::{Canvas, View, BACKGROUND, CREAM};
use crate::config::Language;
use crate::scene::Rect;
use crate::scene::{Paint, Scene};

/// The live preview over the whole screen, "look at the camera" on a band at the top, the
/// number low so the visitor still sees their face while it counts.
pub(super) fn scene<'a>(s: &mut Scene<'a>, c: &Canvas, view: &View<'a>, remaining: u32) {
    let (l, t) = (c.l, words(c.language));
    let m = l.margin();
    let screen = Rect { x: 0, y: 0, w: l.w, h: l.h };
    if let Some(live) = view.live {
        s.push("live", screen, Paint::Cover(live));
    }
    let band = Rect { h: l.h / 10, ..screen };
    s.push("band", band, Paint::Shade(BACKGROUND, 0.6));
    s.text_in("get_ready", band.inset(m as u32, m as u32 / 4), t.get_ready, Style { smallest: l.small(), ..Style::big(&l, 1, CREAM) });
    let d = l.w.min(l.h) / 4;
    let (cx, cy) = (l.w as i32 / 2, l.h as i32 * 4 / 5);
    let disc = Rect { x: cx - d as i32 / 2, y: cy - d as i32 / 2, w: d, h: d };
    s.badge("number", disc, &remaining.to_string(), l.w.min(l.h) / 48, (BACKGROUND, CREAM));
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
