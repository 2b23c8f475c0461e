//! The moment the photo is taken: a white flash and "smile".

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::text::{self, Align};

use super::{Canvas, BACKGROUND};
use crate::config::Language;

pub(super) fn draw(fb: &mut Framebuffer, c: &Canvas) {
    let Canvas { l, language, w, h, .. } = *c;
    let t = words(language);
    fb.fill(Rgb888::WHITE);
    text::draw_line(fb, t.smile, w / 2, h / 2, l.big(), BACKGROUND, Align::Center);
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
