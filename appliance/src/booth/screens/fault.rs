//! The calm fault screen: something went wrong, the booth is ready again in a moment.

use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::text::{self, Align};

use super::{Canvas, CREAM, MUTED};
use crate::config::Language;

pub(super) fn draw(fb: &mut Framebuffer, c: &Canvas) {
    let Canvas { l, language, w, h, m, text_w } = *c;
    let t = words(language);
    text::draw_paragraph(fb, t.fault, w / 2, h / 2 - m * 2, text_w, l.big(), CREAM, Align::Center);
    text::draw_paragraph(fb, t.fault_detail, w / 2, h / 2 + m, text_w, l.small() + 1, MUTED, Align::Center);
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
