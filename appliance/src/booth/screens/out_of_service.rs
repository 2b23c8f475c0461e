//! The steady screen of a booth that cannot make keepsakes now: the memorial's name stays, the
//! booth says it is temporarily unavailable and to tell a staff member, and nothing moves.

use super::layout::{Flow, Style};
use super::{Canvas, View, AMBER, CREAM, MUTED};
use crate::config::Language;
use crate::scene::{Rect, Scene};

/// The name and dates at the top, the two lines in the middle.
pub(super) fn scene(s: &mut Scene, c: &Canvas, view: &View) {
    let (l, t) = (c.l, words(c.language));
    let m = l.margin();
    let mut flow = Flow::new(l.inner(), m / 2);
    flow.text_top(s, "name", &view.memorial.name, Style::big(&l, 2, CREAM));
    if !view.memorial.dates.is_empty() {
        flow.text_top(s, "dates", &view.memorial.dates, Style::small(&l, 2, MUTED));
    }
    let middle = flow.left;
    let third = middle.h / 3;
    let upper = Rect { y: middle.y + third as i32, h: third / 2, ..middle };
    let lower = Rect { y: upper.bottom() + m / 2, h: third / 2, ..middle };
    s.text_in("unavailable", upper, t.unavailable, Style::big(&l, 3, AMBER));
    s.text_in("tell_staff", lower, t.tell_staff, Style::small(&l, 3, CREAM));
}

/// What this screen says, in the memorial's language.
pub(super) struct Words {
    pub unavailable: &'static str,
    pub tell_staff: &'static str,
}

const KO: Words = Words {
    unavailable: "지금은 사진을 찍을 수 없습니다",
    tell_staff: "잠시 후 다시 이용해 주세요. 직원에게 알려 주시면 곧 고쳐 드리겠습니다.",
};

const EN: Words = Words {
    unavailable: "This booth is temporarily unavailable",
    tell_staff: "Please try again later, or tell a staff member so we can fix it.",
};

pub(super) fn words(language: Language) -> &'static Words {
    language.choose(&KO, &EN)
}
