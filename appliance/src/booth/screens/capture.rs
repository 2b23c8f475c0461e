//! The moment the photo is taken: a white flash and "smile".

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::text::{self, Align};

use super::{Canvas, BACKGROUND};

pub(super) fn draw(fb: &mut Framebuffer, c: &Canvas) {
    let Canvas { l, t, w, h, .. } = *c;
    fb.fill(Rgb888::WHITE);
    text::draw_line(fb, t.smile, w / 2, h / 2, l.big(), BACKGROUND, Align::Center);
}
