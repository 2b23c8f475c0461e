//! The booth's screens: one module per screen (attract ... fault) with its drawing and touch
//! areas; here the layout they share, their widgets, and the one dispatch over the state.
//!
//! Everything is laid out relative to the screen size, so a portrait 720x1280 panel and a
//! 1080x1920 one show the same design.

mod attract;
mod capture;
pub mod consent;
mod countdown;
mod fault;
mod generating;
mod print_share;
mod printer_hint;
mod result;
mod review;

use std::time::Duration;

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{PrimitiveStyle, PrimitiveStyleBuilder, Rectangle, RoundedRectangle};
use image::RgbImage;
use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::text::{self, Align};

use crate::booth::state::State;
use crate::config::Language;
use crate::config::Memorial;

pub const BACKGROUND: Rgb888 = Rgb888::new(0x2b, 0x23, 0x20);
pub const CREAM: Rgb888 = Rgb888::new(0xf4, 0xea, 0xd8);
pub const AMBER: Rgb888 = Rgb888::new(0xe0, 0xa4, 0x58);
pub const MUTED: Rgb888 = Rgb888::new(0xb8, 0xa8, 0x94);

/// What a touch means on the current screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    Begin,
    Retake,
    Continue,
    /// The consent screen's answers.
    KeepPhotoPrivate,
    SharePhoto,
    Next,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: u32,
    pub h: u32,
}

impl Rect {
    pub fn contains(&self, x: i32, y: i32) -> bool {
        x >= self.x && y >= self.y && x < self.x + self.w as i32 && y < self.y + self.h as i32
    }

    pub fn center(&self) -> (i32, i32) {
        (self.x + self.w as i32 / 2, self.y + self.h as i32 / 2)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub w: u32,
    pub h: u32,
}

impl Layout {
    /// Text scale: 16 px Unifont times this. Two sizes keep the screens calm.
    pub fn big(&self) -> u32 {
        (self.w / 240).max(2)
    }

    pub fn small(&self) -> u32 {
        (self.w / 360).max(1)
    }

    pub fn margin(&self) -> i32 {
        (self.w / 20) as i32
    }

    /// The two buttons of the review screen: retake (left) and continue (right).
    pub fn review_buttons(&self) -> (Rect, Rect) {
        let m = self.margin();
        let bh = self.h / 8;
        let y = self.h as i32 - bh as i32 - m;
        let bw = (self.w as i32 - 3 * m) as u32 / 2;
        (Rect { x: m, y, w: bw, h: bh }, Rect { x: 2 * m + bw as i32, y, w: bw, h: bh })
    }

    /// The consent screen's two answers (keep private, share), stacked across the screen above
    /// the band where the review's buttons were: a second tap meant for "continue" lands on
    /// neither.
    pub fn consent_answers(&self) -> (Rect, Rect) {
        let m = self.margin();
        let (review, _) = self.review_buttons();
        let bh = self.h / 12;
        let w = self.w - 2 * m as u32;
        let share = Rect { x: m, y: review.y - m - bh as i32, w, h: bh };
        let private = Rect { x: m, y: share.y - m / 2 - bh as i32, w, h: bh };
        (private, share)
    }

    /// The area a picture takes above the text.
    pub fn picture_area(&self) -> Rect {
        let m = self.margin();
        Rect { x: m, y: m, w: self.w - 2 * m as u32, h: self.h * 3 / 5 }
    }
}

/// Which of a screen's two buttons (`l`, `r`) a touch at (x, y) is on.
fn two_buttons((l, r): (Rect, Rect), x: i32, y: i32, left: Touch, right: Touch) -> Option<Touch> {
    if l.contains(x, y) {
        Some(left)
    } else if r.contains(x, y) {
        Some(right)
    } else {
        None
    }
}

/// What a touch at (x, y) means on `state`'s screen, shown for `shown_for` so far.
pub fn hit(state: &State, layout: &Layout, x: i32, y: i32, shown_for: Duration) -> Option<Touch> {
    match state {
        State::Attract => attract::touch(),
        State::Review { .. } => review::touch(layout, x, y),
        State::Consent { .. } => consent::touch(layout, x, y, shown_for),
        State::Result { .. } => result::touch(),
        State::PrintShare { .. } => print_share::touch(),
        // Nothing to touch while it counts, takes the photo or paints, nor on the calm fault screen.
        State::Countdown { .. } | State::Capture | State::Generating { .. } | State::Fault { .. } => None,
    }
}

/// What the screens need besides the state itself.
pub struct View<'a> {
    /// The memorial's language: each screen says its own words in it.
    pub language: Language,
    pub memorial: &'a Memorial,
    /// The live camera frame (countdown).
    pub live: Option<&'a RgbImage>,
    /// The current slideshow picture (attract).
    pub slide: Option<&'a RgbImage>,
    /// Seconds until the review continues by itself.
    pub seconds_left: u32,
    /// QR code of the share link (result, print/share).
    pub qr: Option<&'a RgbImage>,
}

fn button(fb: &mut Framebuffer, r: Rect, label: &str, scale: u32, filled: bool) {
    let style = if filled {
        PrimitiveStyle::with_fill(AMBER)
    } else {
        PrimitiveStyleBuilder::new().stroke_color(AMBER).stroke_width(4).fill_color(BACKGROUND).build()
    };
    let _ = RoundedRectangle::with_equal_corners(Rectangle::new(Point::new(r.x, r.y), Size::new(r.w, r.h)), Size::new(r.h / 3, r.h / 3))
        .into_styled(style)
        .draw(fb);
    let (cx, cy) = r.center();
    let color = if filled { BACKGROUND } else { CREAM };
    text::draw_line(fb, label, cx, cy - text::line_height(scale) as i32 / 2, scale, color, Align::Center);
}

fn title(fb: &mut Framebuffer, l: &Layout, memorial: &Memorial, y: i32) -> i32 {
    let mut y = y;
    y += text::draw_paragraph(fb, &memorial.name, l.w as i32 / 2, y, l.w - 2 * l.margin() as u32, l.big(), CREAM, Align::Center) as i32;
    if !memorial.dates.is_empty() {
        y += text::draw_paragraph(fb, &memorial.dates, l.w as i32 / 2, y, l.w, l.small(), MUTED, Align::Center) as i32;
    }
    y
}

fn progress_bar(fb: &mut Framebuffer, r: Rect, fraction: f32) {
    let _ = Rectangle::new(Point::new(r.x, r.y), Size::new(r.w, r.h)).into_styled(PrimitiveStyle::with_stroke(MUTED, 3)).draw(fb);
    let filled = ((r.w as f32 - 8.0) * fraction.clamp(0.0, 1.0)) as u32;
    if filled > 0 {
        let _ = Rectangle::new(Point::new(r.x + 4, r.y + 4), Size::new(filled, r.h.saturating_sub(8)))
            .into_styled(PrimitiveStyle::with_fill(AMBER))
            .draw(fb);
    }
}

/// What every screen draws with: the layout, its margin and text width, and the language.
#[derive(Clone, Copy)]
struct Canvas {
    l: Layout,
    language: Language,
    w: i32,
    h: i32,
    m: i32,
    text_w: u32,
}

/// Draws `state`'s screen into `fb`.
pub fn draw(fb: &mut Framebuffer, state: &State, view: &View) {
    let l = Layout { w: fb.width(), h: fb.height() };
    let m = l.margin();
    let c = Canvas { l, language: view.language, w: l.w as i32, h: l.h as i32, m, text_w: l.w - 2 * m as u32 };
    fb.fill(BACKGROUND);
    match state {
        State::Attract => attract::draw(fb, &c, view),
        State::Countdown { remaining } => countdown::draw(fb, &c, view, *remaining),
        State::Capture => capture::draw(fb, &c),
        State::Review { photo } => review::draw(fb, &c, view, photo),
        State::Consent { photo } => consent::draw(fb, &c, view, photo),
        State::Generating { photo, step, total, preview, .. } => generating::draw(fb, &c, photo, preview.as_deref(), *step, *total),
        State::Result { keepsake, printer } => result::draw(fb, &c, view, keepsake, printer.as_ref()),
        State::PrintShare { keepsake, print } => print_share::draw(fb, &c, view, keepsake, print),
        State::Fault { .. } => fault::draw(fb, &c),
    }
}
