//! The moment the photo is taken: a white flash and "smile".

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;

use super::layout::Style;
use super::{Canvas, BACKGROUND};
use crate::config::Language;
use crate::scene::Rect;
use crate::scene::{Paint, Scene};

/// A white flash and the word in the middle.
pub(super) fn scene(s: &mut Scene, c: &Canvas) {
    let (l, t) = (c.l, words(c.language));
    s.push("flash", Rect { x: 0, y: 0, w: l.w, h: l.h }, Paint::Fill(Rgb888::WHITE));
    let inner = l.inner();
    let middle = Rect { y: inner.y + inner.h as i32 / 3, h: inner.h / 3, ..inner };
    s.text_in("smile", middle, t.smile, Style::big(&l, 1, BACKGROUND));
}

/// What this screen says, in the memorial's language.
pub(super) struct Words {
    pub smile: &'static str,
}

const KO: Words = Words { smile: "찰칵!" };

const EN: Words = Words { smile: "Click!" };

pub(super) fn words(language: Language) -> &'static Words {
    language.choose(&KO, &EN)
}
