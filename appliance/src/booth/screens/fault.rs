//! The calm fault screen: something went wrong, the booth is ready again in a moment.

use super::layout::Style;
use super::{Canvas, CREAM, MUTED};
use crate::config::Language;
use crate::scene::Rect;
use crate::scene::Scene;

/// Two calm lines in the middle of the screen.
pub(super) fn scene(s: &mut Scene, c: &Canvas) {
    let (l, t) = (c.l, words(c.language));
    let inner = l.inner();
    let third = inner.h / 3;
    let m = l.margin();
    let upper = Rect { y: inner.y + third as i32, h: third / 2 - m as u32 / 4, ..inner };
    let lower = Rect { y: upper.bottom() + m / 2, h: third / 2 - m as u32 / 4, ..inner };
    s.text_in("fault", upper, t.fault, Style::big(&l, 2, CREAM));
    s.text_in("fault_detail", lower, t.fault_detail, Style::small(&l, 2, MUTED));
}

/// What this screen says, in the memorial's language.
pub(super) struct Words {
    pub fault: &'static str,
    pub fault_detail: &'static str,
}

const KO: Words = Words { fault: "잠시만 기다려 주세요", fault_detail: "곧 다시 시작합니다" };

const EN: Words = Words { fault: "One moment, please", fault_detail: "We will be right back" };

pub(super) fn words(language: Language) -> &'static Words {
    language.choose(&KO, &EN)
}
