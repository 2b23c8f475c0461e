//! The booth's screens: one module per screen (attract ... fault) with what it shows and where
//! it takes touches; the layout they share ([`layout`]), the placed things they are made of
//! ([`scene`]), and the one dispatch over the state.
//!
//! Everything is laid out relative to the screen size and orientation, and every text is set
//! into its own box in the face that draws it, so a portrait 720x1280 panel, a 1080x1920 one and
//! a landscape 1280x800 one show the same design without clipping.

mod attract;
mod capture;
pub mod consent;
mod countdown;
mod fault;
#[cfg(test)]
mod fits;
mod generating;
pub mod layout;
mod out_of_service;
mod print_share;
mod printer_hint;
mod result;
mod review;
pub mod slideshow_consent;

use std::time::Duration;

use embedded_graphics::pixelcolor::Rgb888;
use image::RgbImage;
use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::text::{self, Face};

pub use crate::scene::Rect;
use crate::scene::{ButtonLook, Scene};
pub use layout::Layout;

use crate::booth::state::State;
use crate::config::Language;
use crate::config::{Guidance, Memorial};

pub const BACKGROUND: Rgb888 = Rgb888::new(0x2b, 0x23, 0x20);
pub const CREAM: Rgb888 = Rgb888::new(0xf4, 0xea, 0xd8);
pub const AMBER: Rgb888 = Rgb888::new(0xe0, 0xa4, 0x58);
pub const MUTED: Rgb888 = Rgb888::new(0xb8, 0xa8, 0x94);

/// An answer the screen does not lean to: outlined.
const OUTLINED: ButtonLook = ButtonLook { accent: AMBER, ground: BACKGROUND, filled: false, ink: CREAM };
/// The answer the screen suggests: filled.
const FILLED: ButtonLook = ButtonLook { accent: AMBER, ground: BACKGROUND, filled: true, ink: BACKGROUND };

/// What a touch means on the current screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    Begin,
    Retake,
    Continue,
    /// The consent screen's answers.
    KeepPhotoPrivate,
    SharePhoto,
    /// The slideshow question's answers.
    KeepOutOfSlideshow,
    ShowInSlideshow,
    Next,
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
        State::SlideshowConsent { .. } => slideshow_consent::touch(layout, x, y, shown_for),
        State::Result { .. } => result::touch(),
        State::PrintShare { .. } => print_share::touch(),
        // Nothing to touch while it counts, takes the photo or paints, nor on the calm fault screen.
        State::Countdown { .. } | State::Capture | State::Generating { .. } | State::Fault { .. } | State::OutOfService { .. } => None,
    }
}

/// What the screens need besides the state itself.
pub struct View<'a> {
    /// The memorial's language: each screen says its own words in it.
    pub language: Language,
    pub memorial: &'a Memorial,
    /// Where this box's print button is and where the card comes out.
    pub guidance: &'a Guidance,
    /// The live camera frame (countdown).
    pub live: Option<&'a RgbImage>,
    /// The current slideshow picture (attract).
    pub slide: Option<&'a RgbImage>,
    /// Seconds until the review continues by itself.
    pub seconds_left: u32,
    /// QR code of the share link (result, print/share).
    pub qr: Option<&'a RgbImage>,
}

/// What every screen is built with: the layout and the language.
#[derive(Clone, Copy)]
struct Canvas {
    l: Layout,
    language: Language,
}

/// What `state`'s screen shows on a `layout`-sized panel, its texts measured in `face`.
pub fn scene<'a>(layout: Layout, face: Face, state: &'a State, view: &View<'a>) -> Scene<'a> {
    let c = Canvas { l: layout, language: view.language };
    let mut s = Scene::new(face);
    match state {
        State::Attract => attract::scene(&mut s, &c, view),
        State::Countdown { remaining } => countdown::scene(&mut s, &c, view, *remaining),
        State::Capture => capture::scene(&mut s, &c),
        State::Review { photo } => review::scene(&mut s, &c, view, photo),
        State::Consent { photo } => consent::scene(&mut s, &c, view, photo),
        State::SlideshowConsent { photo, .. } => slideshow_consent::scene(&mut s, &c, view, photo),
        State::Generating { photo, step, total, preview, .. } => generating::scene(&mut s, &c, photo, preview.as_deref(), *step, *total),
        State::Result { keepsake, printer } => result::scene(&mut s, &c, view, keepsake, printer),
        State::PrintShare { keepsake, print } => print_share::scene(&mut s, &c, view, keepsake, print),
        State::Fault { .. } => fault::scene(&mut s, &c),
        State::OutOfService { .. } => out_of_service::scene(&mut s, &c, view),
    }
    s
}

/// Draws `state`'s screen into `fb` in the booth's face.
pub fn draw(fb: &mut Framebuffer, state: &State, view: &View) {
    let layout = Layout { w: fb.width(), h: fb.height() };
    fb.fill(BACKGROUND);
    scene(layout, text::face(), state, view).draw(fb);
}
