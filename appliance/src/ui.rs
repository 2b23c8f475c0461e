//! The booth's screens: one drawing function per state, and the touch areas that go with them.
//!
//! Everything is laid out relative to the screen size, so a portrait 720x1280 panel and a
//! 1080x1920 one show the same design.

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{PrimitiveStyle, PrimitiveStyleBuilder, Rectangle, RoundedRectangle};
use image::RgbImage;
use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::printer::Unavailable;
use keepsake_drivers::text::{self, Align};

use crate::booth::state::{PrintStatus, State};
use crate::config::Memorial;
use crate::i18n::Texts;

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

    /// The area a picture takes above the text.
    pub fn picture_area(&self) -> Rect {
        let m = self.margin();
        Rect { x: m, y: m, w: self.w - 2 * m as u32, h: self.h * 3 / 5 }
    }
}

/// The review and consent screens' pair of buttons (left, right).
fn two_buttons(layout: &Layout, x: i32, y: i32, left: Touch, right: Touch) -> Option<Touch> {
    let (l, r) = layout.review_buttons();
    if l.contains(x, y) {
        Some(left)
    } else if r.contains(x, y) {
        Some(right)
    } else {
        None
    }
}

/// What a touch at (x, y) means on `state`'s screen.
pub fn hit(state: &State, layout: &Layout, x: i32, y: i32) -> Option<Touch> {
    match state {
        State::Attract => Some(Touch::Begin),
        State::Review { .. } => two_buttons(layout, x, y, Touch::Retake, Touch::Continue),
        State::Consent { .. } => two_buttons(layout, x, y, Touch::KeepPhotoPrivate, Touch::SharePhoto),
        State::Result { .. } | State::PrintShare { .. } => Some(Touch::Next),
        _ => None,
    }
}

/// What the screens need besides the state itself.
pub struct View<'a> {
    pub texts: &'a Texts,
    pub memorial: &'a Memorial,
    /// The live camera frame (countdown).
    pub live: Option<&'a RgbImage>,
    /// The current slideshow picture (attract).
    pub slide: Option<&'a RgbImage>,
    /// Seconds until the review continues by itself.
    pub seconds_left: u32,
    /// QR code of the share link (result, print/share).
    pub qr: Option<&'a RgbImage>,
    /// Why the printer cannot print, when it was found out before the visitor pressed.
    pub printer_unavailable: Option<&'a Unavailable>,
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

/// Draws `state`'s screen into `fb`.
pub fn draw(fb: &mut Framebuffer, state: &State, view: &View) {
    let l = Layout { w: fb.width(), h: fb.height() };
    let t = view.texts;
    let (w, h) = (l.w as i32, l.h as i32);
    let m = l.margin();
    let text_w = l.w - 2 * m as u32;
    fb.fill(BACKGROUND);
    match state {
        State::Attract => {
            let pic = l.picture_area();
            let y = title(fb, &l, view.memorial, m);
            if let Some(slide) = view.slide {
                fb.blit_fit(slide, pic.x, y + m / 2, pic.w, pic.h);
            } else {
                text::draw_paragraph(fb, t.welcome, w / 2, h / 3, text_w, l.big(), MUTED, Align::Center);
            }
            let by = h - (l.h / 6) as i32;
            fb.shade(0, by - m / 2, l.w, (l.h / 6) as u32 + m as u32 / 2, BACKGROUND, 0.8);
            text::draw_paragraph(fb, t.touch_to_begin, w / 2, by, text_w, l.big(), AMBER, Align::Center);
        }
        State::Countdown { remaining } => {
            if let Some(live) = view.live {
                // Cover the screen with the preview: the visitor sees themselves large.
                let scale = (l.w as f32 / live.width() as f32).max(l.h as f32 / live.height() as f32);
                let (sw, sh) = ((live.width() as f32 * scale) as u32, (live.height() as f32 * scale) as u32);
                fb.blit_fit(live, (w - sw as i32) / 2, (h - sh as i32) / 2, sw, sh);
            }
            fb.shade(0, 0, l.w, (l.h / 10) as u32, BACKGROUND, 0.6);
            text::draw_line(fb, t.get_ready, w / 2, m / 2, l.small() + 1, CREAM, Align::Center);
            let n = remaining.to_string();
            let scale = l.w / 48;
            let nh = text::line_height(scale) as i32;
            let d = (nh as u32) * 5 / 4;
            // Low on the screen, so the visitor still sees their face while it counts.
            let cy = h * 4 / 5;
            let _ = embedded_graphics::primitives::Circle::with_center(Point::new(w / 2, cy), d)
                .into_styled(PrimitiveStyle::with_fill(BACKGROUND))
                .draw(fb);
            text::draw_line(fb, &n, w / 2, cy - nh / 2, scale, CREAM, Align::Center);
        }
        State::Capture => {
            fb.fill(Rgb888::WHITE);
            text::draw_line(fb, t.smile, w / 2, h / 2, l.big(), BACKGROUND, Align::Center);
        }
        State::Review { photo } => {
            let pic = l.picture_area();
            fb.blit_fit(photo, pic.x, pic.y, pic.w, pic.h + pic.h / 4);
            let (retake, cont) = l.review_buttons();
            let hint = format!("{} {}", view.seconds_left, t.continues_in);
            text::draw_line(fb, &hint, w / 2, retake.y - m - text::line_height(l.small()) as i32, l.small(), MUTED, Align::Center);
            button(fb, retake, t.retake, l.big(), false);
            button(fb, cont, t.continue_, l.big(), true);
        }
        State::Consent { photo } => {
            // The photo small, the question large: the visitor decides about this very picture.
            let pic = l.picture_area();
            let small_h = pic.h / 2;
            fb.blit_fit(photo, pic.x, pic.y, pic.w, small_h);
            let mut y = pic.y + small_h as i32 + m;
            y += text::draw_paragraph(fb, t.consent_question, w / 2, y, text_w, l.big(), CREAM, Align::Center) as i32 + m / 2;
            text::draw_paragraph(fb, t.consent_detail, w / 2, y, text_w, l.small(), MUTED, Align::Center);
            let (no, yes) = l.review_buttons();
            let hint = format!("{} {}", view.seconds_left, t.consent_default);
            text::draw_line(fb, &hint, w / 2, no.y - m - text::line_height(l.small()) as i32, l.small(), MUTED, Align::Center);
            button(fb, no, t.consent_no, l.big(), false);
            button(fb, yes, t.consent_yes, l.big(), true);
        }
        State::Generating { photo, step, total, preview, .. } => {
            let pic = l.picture_area();
            let shown = preview.as_deref().unwrap_or(photo);
            fb.blit_fit(shown, pic.x, pic.y, pic.w, pic.h);
            let mut y = pic.y + pic.h as i32 + m;
            y += text::draw_paragraph(fb, t.painting, w / 2, y, text_w, l.big(), CREAM, Align::Center) as i32 + m / 2;
            let fraction = if *total == 0 { 0.0 } else { *step as f32 / *total as f32 };
            progress_bar(fb, Rect { x: m, y, w: text_w, h: (l.h / 28).max(12) }, fraction);
            y += (l.h / 28).max(12) as i32 + m / 2;
            if *total > 0 {
                let label = format!("{} {step}/{total}", t.step);
                text::draw_line(fb, &label, w / 2, y, l.small(), MUTED, Align::Center);
            }
        }
        State::Result { keepsake } => {
            let pic = l.picture_area();
            fb.blit_fit(&keepsake.illustration, pic.x, pic.y, pic.w, pic.h);
            let mut y = pic.y + pic.h as i32 + m / 2;
            y += text::draw_paragraph(fb, &keepsake.meta.caption, w / 2, y, text_w, l.big(), CREAM, Align::Center) as i32;
            text::draw_paragraph(fb, &keepsake.meta.message, w / 2, y, text_w, l.small(), MUTED, Align::Center);
            if let Some(qr) = view.qr {
                let side = l.w / 4;
                let qy = h - side as i32 - m;
                fb.blit_fit(qr, w - m - side as i32, qy, side, side);
                let (hint, color) = match view.printer_unavailable {
                    Some(why) => (format!("{}\n{}", t.printer_why(why), t.print_unavailable), MUTED),
                    None => (t.press_print.to_string(), AMBER),
                };
                text::draw_paragraph(fb, &hint, m, qy + side as i32 / 3, l.w - side - 3 * m as u32, l.small(), color, Align::Left);
            }
        }
        State::PrintShare { keepsake, print } => {
            let thumb = l.h / 4;
            fb.blit_fit(&keepsake.illustration, m, m, l.w - 2 * m as u32, thumb);
            let mut y = m + thumb as i32 + m;
            if let Some(qr) = view.qr {
                let side = l.w / 2;
                fb.blit_fit(qr, (w - side as i32) / 2, y, side, side);
                y += side as i32 + m / 2;
            }
            y += text::draw_paragraph(fb, t.scan_to_keep, w / 2, y, text_w, l.small() + 1, CREAM, Align::Center) as i32 + m;
            let unavailable = |why| (format!("{}\n{}", t.printer_why(why), t.print_unavailable), MUTED);
            let (line, color) = match (print, view.printer_unavailable) {
                (PrintStatus::Offered, Some(why)) => unavailable(why),
                (PrintStatus::Offered, None) => (t.press_print.to_string(), AMBER),
                (PrintStatus::Printing, _) => (t.printing.to_string(), AMBER),
                (PrintStatus::Printed, _) => (t.printed.to_string(), CREAM),
                (PrintStatus::Unavailable(why), _) => unavailable(why),
            };
            y += text::draw_paragraph(fb, &line, w / 2, y, text_w, l.small() + 1, color, Align::Center) as i32 + m;
            text::draw_paragraph(fb, t.thank_you, w / 2, y, text_w, l.small(), MUTED, Align::Center);
        }
        State::Fault { .. } => {
            text::draw_paragraph(fb, t.fault, w / 2, h / 2 - m * 2, text_w, l.big(), CREAM, Align::Center);
            text::draw_paragraph(fb, t.fault_detail, w / 2, h / 2 + m, text_w, l.small() + 1, MUTED, Align::Center);
        }
    }
}
