//! A screen or a card as a list of placed things: each text, picture and button with the box it
//! owns. The booth's screens and the printed card build one; drawing paints it, and the layout
//! tests check that every glyph stays in its box and that no two boxes overlap, on every screen
//! size and paper, in both languages.

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{Circle, PrimitiveStyle, PrimitiveStyleBuilder, Rectangle, RoundedRectangle};
use image::RgbImage;
use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::text::{Align, Face};
use keepsake_drivers::text_box::{self, Fitted};

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

    pub fn bottom(&self) -> i32 {
        self.y + self.h as i32
    }

    pub fn right(&self) -> i32 {
        self.x + self.w as i32
    }

    pub fn overlaps(&self, other: &Rect) -> bool {
        self.x < other.right() && other.x < self.right() && self.y < other.bottom() && other.y < self.bottom()
    }

    pub fn inside(&self, outer: &Rect) -> bool {
        self.x >= outer.x && self.y >= outer.y && self.right() <= outer.right() && self.bottom() <= outer.bottom()
    }

    /// This rectangle less `dx` on the left and right and `dy` at the top and bottom.
    pub fn inset(&self, dx: u32, dy: u32) -> Rect {
        Rect { x: self.x + dx as i32, y: self.y + dy as i32, w: self.w.saturating_sub(2 * dx), h: self.h.saturating_sub(2 * dy) }
    }
}

/// How a text is set: its largest and smallest sizes (multiples of the 16 px line), and its
/// colour and alignment.
#[derive(Debug, Clone, Copy)]
pub struct TextStyle {
    pub largest: u32,
    pub smallest: u32,
    pub color: Rgb888,
    pub align: Align,
}

/// A button's colours: filled with `accent` (the suggested answer) or outlined in it on `ground`.
#[derive(Debug, Clone, Copy)]
pub struct ButtonLook {
    pub accent: Rgb888,
    pub ground: Rgb888,
    pub filled: bool,
    /// The label's colour.
    pub ink: Rgb888,
}

/// How a placed thing is painted.
pub enum Paint<'a> {
    /// Behind everything: a picture covering the box, cropped (the live preview).
    Cover(&'a RgbImage),
    /// Behind everything: a plain colour (the flash).
    Fill(Rgb888),
    /// Behind what comes after it: a translucent colour (under "touch to begin").
    Shade(Rgb888, f32),
    /// A picture fitted inside its box, its aspect kept.
    Picture(&'a RgbImage),
    /// A picture made for this scene (a QR code), fitted the same way.
    OwnedPicture(RgbImage),
    Text(Fitted, Rgb888, Align),
    /// A rounded button with its label centred.
    Button {
        label: Fitted,
        look: ButtonLook,
    },
    /// A number in `ink` on a `disc`-coloured disc (the countdown).
    Badge {
        number: Fitted,
        disc: Rgb888,
        ink: Rgb888,
    },
    /// A progress bar, `fraction` (`0.0 ..= 1.0`) of it in `bar`, in a `frame`.
    Progress {
        fraction: f32,
        frame: Rgb888,
        bar: Rgb888,
    },
    /// A rectangle's outline `width` pixels wide, inside its box (the card's frame).
    Frame {
        color: Rgb888,
        width: u32,
    },
}

impl Paint<'_> {
    /// Whether others may be drawn over it (it is a backdrop, not content).
    pub fn is_backdrop(&self) -> bool {
        match self {
            Paint::Cover(_) | Paint::Fill(_) | Paint::Shade(..) => true,
            Paint::Frame { .. } => true,
            Paint::Picture(_)
            | Paint::OwnedPicture(_)
            | Paint::Text(..)
            | Paint::Button { .. }
            | Paint::Badge { .. }
            | Paint::Progress { .. } => false,
        }
    }
}

pub struct Item<'a> {
    /// What it is, for tests and logs ("caption", "qr", ...).
    pub name: &'static str,
    /// The box it owns.
    pub rect: Rect,
    pub paint: Paint<'a>,
}

/// Where `picture` lands when fitted into `area` (centred, aspect kept), as the framebuffer
/// draws it.
pub fn fitted(picture: &RgbImage, area: Rect) -> Rect {
    if picture.width() == 0 || picture.height() == 0 {
        return Rect { w: 0, h: 0, ..area };
    }
    let scale = (area.w as f32 / picture.width() as f32).min(area.h as f32 / picture.height() as f32);
    let w = ((picture.width() as f32 * scale).round() as u32).clamp(1, area.w.max(1));
    let h = ((picture.height() as f32 * scale).round() as u32).clamp(1, area.h.max(1));
    Rect { x: area.x + (area.w as i32 - w as i32) / 2, y: area.y + (area.h as i32 - h as i32) / 2, w, h }
}

/// Where a button's label is set inside it: clear of the rounded outline.
pub fn label_box(button: Rect) -> Rect {
    button.inset(button.h / 6, button.h / 8)
}

/// Where a badge's number is set: the square inside its disc.
fn badge_box(disc: Rect) -> Rect {
    let side = disc.w * 7 / 10;
    Rect { x: disc.x + (disc.w - side) as i32 / 2, y: disc.y + (disc.h - side) as i32 / 2, w: side, h: side }
}

impl Item<'_> {
    /// The text it sets, with the box the text is set in and how.
    pub fn text(&self) -> Option<(Rect, &Fitted, Align)> {
        match &self.paint {
            Paint::Text(fitted, _, align) => Some((self.rect, fitted, *align)),
            Paint::Button { label, .. } => Some((label_box(self.rect), label, Align::Center)),
            Paint::Badge { number, .. } => Some((badge_box(self.rect), number, Align::Center)),
            Paint::Cover(_)
            | Paint::Fill(_)
            | Paint::Shade(..)
            | Paint::Picture(_)
            | Paint::OwnedPicture(_)
            | Paint::Progress { .. }
            | Paint::Frame { .. } => None,
        }
    }
}

/// Draws a fitted text in its box: horizontally by its alignment, vertically centred.
pub fn draw_text(fb: &mut Framebuffer, face: &Face, rect: Rect, fitted: &Fitted, color: Rgb888, align: Align) {
    let top = rect.y + (rect.h as i32 - fitted.height() as i32) / 2;
    fitted.draw(fb, face, rect.x, top, rect.w, color, align);
}

/// One screen, ready to draw: the face its texts were measured in, and what is placed where.
pub struct Scene<'a> {
    pub face: Face,
    pub items: Vec<Item<'a>>,
}

impl<'a> Scene<'a> {
    pub fn new(face: Face) -> Self {
        Scene { face, items: Vec::new() }
    }

    pub fn push(&mut self, name: &'static str, rect: Rect, paint: Paint<'a>) {
        self.items.push(Item { name, rect, paint });
    }

    /// Sets `text` for a `w` x `h` box in this scene's face.
    pub fn fit(&self, text: &str, w: u32, h: u32, style: impl Into<TextStyle>) -> Fitted {
        let style = style.into();
        text_box::fit(&self.face, text, w, h, style.largest, style.smallest)
    }

    /// Places `text` in `rect`, vertically centred there.
    pub fn text_in(&mut self, name: &'static str, rect: Rect, text: &str, style: impl Into<TextStyle>) {
        let style = style.into();
        let fitted = self.fit(text, rect.w, rect.h, style);
        self.push(name, rect, Paint::Text(fitted, style.color, style.align));
    }

    /// Places a button in `rect` with `label` set as large as `largest` allows, down to `smallest`.
    #[allow(clippy::too_many_arguments)]
    pub fn button(&mut self, name: &'static str, rect: Rect, label: &str, largest: u32, smallest: u32, look: ButtonLook) {
        let inner = label_box(rect);
        let label = text_box::fit(&self.face, label, inner.w, inner.h, largest, smallest);
        self.push(name, rect, Paint::Button { label, look });
    }

    /// Places answers side by side or stacked (each `(name, rect, label, look)`) with their labels
    /// at one size, so neither looks like the bigger choice: the largest at which every label
    /// fits its button on one line, else the largest at which each fits wrapped.
    pub fn answers(&mut self, answers: [(&'static str, Rect, &str, ButtonLook); 2], largest: u32, smallest: u32) {
        let one_line = (smallest..=largest.max(smallest)).rev().find(|&scale| {
            answers.iter().all(|(_, rect, label, _)| {
                let inner = label_box(*rect);
                self.face.line_width(label, scale) <= inner.w && keepsake_drivers::text::line_height(scale) <= inner.h
            })
        });
        let scale = one_line.unwrap_or_else(|| {
            let wrapped = answers.map(|(_, rect, label, _)| {
                let inner = label_box(rect);
                text_box::fit(&self.face, label, inner.w, inner.h, largest, smallest).scale
            });
            wrapped.into_iter().min().unwrap_or(smallest)
        });
        for (name, rect, label, look) in answers {
            self.button(name, rect, label, scale, scale, look);
        }
    }

    /// Places a number on a disc filling `disc`.
    pub fn badge(&mut self, name: &'static str, disc: Rect, number: &str, largest: u32, colors: (Rgb888, Rgb888)) {
        let inner = badge_box(disc);
        let number = text_box::fit(&self.face, number, inner.w, inner.h, largest, 1);
        self.push(name, disc, Paint::Badge { number, disc: colors.0, ink: colors.1 });
    }

    /// Of the same page laid out in several ways (ever smaller pictures), the first that sets
    /// the text called `name` whole at `scale` or larger; else the one that shows the most of
    /// it (whole before cut, then larger type; the earlier wins a tie).
    pub fn roomiest(candidates: impl IntoIterator<Item = Scene<'a>>, name: &str, scale: u32) -> Option<Scene<'a>> {
        let mut best: Option<(Scene<'a>, (bool, u32))> = None;
        for candidate in candidates {
            let set = match candidate.item(name).map(|i| &i.paint) {
                Some(Paint::Text(set, ..)) => (!set.truncated, set.scale),
                _ => (true, u32::MAX),
            };
            if best.as_ref().is_none_or(|(_, b)| set > *b) {
                best = Some((candidate, set));
            }
            if set.0 && set.1 >= scale {
                break;
            }
        }
        best.map(|(scene, _)| scene)
    }

    /// The item called `name`.
    pub fn item(&self, name: &str) -> Option<&Item<'a>> {
        self.items.iter().find(|i| i.name == name)
    }

    pub fn draw(&self, fb: &mut Framebuffer) {
        for item in &self.items {
            let r = item.rect;
            let corner = Point::new(r.x, r.y);
            match &item.paint {
                Paint::Cover(picture) => {
                    let scale = (r.w as f32 / picture.width() as f32).max(r.h as f32 / picture.height() as f32);
                    let (sw, sh) = ((picture.width() as f32 * scale) as u32, (picture.height() as f32 * scale) as u32);
                    fb.blit_fit(picture, r.x + (r.w as i32 - sw as i32) / 2, r.y + (r.h as i32 - sh as i32) / 2, sw, sh);
                }
                Paint::Fill(color) => {
                    let _ = Rectangle::new(corner, Size::new(r.w, r.h)).into_styled(PrimitiveStyle::with_fill(*color)).draw(fb);
                }
                Paint::Shade(color, alpha) => fb.shade(r.x, r.y, r.w, r.h, *color, *alpha),
                Paint::Picture(picture) => {
                    fb.blit_fit(picture, r.x, r.y, r.w, r.h);
                }
                Paint::OwnedPicture(picture) => {
                    fb.blit_fit(picture, r.x, r.y, r.w, r.h);
                }
                Paint::Text(fitted, color, align) => draw_text(fb, &self.face, r, fitted, *color, *align),
                Paint::Button { label, look } => {
                    let style = if look.filled {
                        PrimitiveStyle::with_fill(look.accent)
                    } else {
                        PrimitiveStyleBuilder::new().stroke_color(look.accent).stroke_width(4).fill_color(look.ground).build()
                    };
                    let _ = RoundedRectangle::with_equal_corners(Rectangle::new(corner, Size::new(r.w, r.h)), Size::new(r.h / 3, r.h / 3))
                        .into_styled(style)
                        .draw(fb);
                    draw_text(fb, &self.face, label_box(r), label, look.ink, Align::Center);
                }
                Paint::Badge { number, disc, ink } => {
                    let _ = Circle::new(corner, r.w).into_styled(PrimitiveStyle::with_fill(*disc)).draw(fb);
                    draw_text(fb, &self.face, badge_box(r), number, *ink, Align::Center);
                }
                Paint::Progress { fraction, frame, bar } => {
                    let _ = Rectangle::new(corner, Size::new(r.w, r.h)).into_styled(PrimitiveStyle::with_stroke(*frame, 3)).draw(fb);
                    let filled = ((r.w as f32 - 8.0) * fraction.clamp(0.0, 1.0)) as u32;
                    if filled > 0 {
                        let _ = Rectangle::new(Point::new(r.x + 4, r.y + 4), Size::new(filled, r.h.saturating_sub(8)))
                            .into_styled(PrimitiveStyle::with_fill(*bar))
                            .draw(fb);
                    }
                }
                Paint::Frame { color, width } => {
                    let style = PrimitiveStyleBuilder::new()
                        .stroke_color(*color)
                        .stroke_width(*width)
                        .stroke_alignment(embedded_graphics::primitives::StrokeAlignment::Inside)
                        .build();
                    let _ = Rectangle::new(corner, Size::new(r.w, r.h)).into_styled(style).draw(fb);
                }
            }
        }
    }
}

#[cfg(test)]
pub mod check;
