//! Where things go on a screen of any size: a portrait panel stacks the picture over the text, a
//! landscape one puts the picture on the left and the text in a column on the right. Sizes come
//! from the panel's short side, so 720x1280, 1080x1920 and 1280x800 show the same design.

use embedded_graphics::pixelcolor::Rgb888;
use keepsake_drivers::text::Align;
use keepsake_drivers::text_box::block_height;

use crate::scene::{Paint, Rect, Scene, TextStyle};

#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub w: u32,
    pub h: u32,
}

impl Layout {
    pub fn landscape(&self) -> bool {
        self.w > self.h
    }

    pub fn margin(&self) -> i32 {
        (self.w.min(self.h) / 20) as i32
    }

    /// The whole screen less its margin.
    pub fn inner(&self) -> Rect {
        let m = self.margin();
        Rect { x: m, y: m, w: self.w - 2 * m as u32, h: self.h - 2 * m as u32 }
    }

    /// Where text and buttons go: the whole inner screen of a portrait panel (the picture takes
    /// its upper part), the right half of a landscape one.
    pub fn column(&self) -> Rect {
        let inner = self.inner();
        if self.landscape() {
            let m = self.margin();
            let half = (inner.w - m as u32) / 2;
            Rect { x: inner.right() - half as i32, y: inner.y, w: half, h: inner.h }
        } else {
            inner
        }
    }

    /// The area a picture takes: the upper three fifths of a portrait panel, the left half of a
    /// landscape one.
    pub fn picture_area(&self) -> Rect {
        let inner = self.inner();
        if self.landscape() {
            let column = self.column();
            Rect { w: (column.x - self.margin()) as u32 - inner.x as u32, ..inner }
        } else {
            Rect { h: self.h * 3 / 5, ..inner }
        }
    }

    /// Text scale for headings (a 16 px line times this), from the panel's short side: a
    /// visitor stands as far from a landscape panel as from a portrait one. Two sizes keep the
    /// screens calm.
    pub fn big(&self) -> u32 {
        (self.w.min(self.h) / 240).max(2)
    }

    /// Text scale for everything else.
    pub fn small(&self) -> u32 {
        (self.w.min(self.h) / 360).max(1)
    }

    /// The band at the bottom of the column where the review's buttons are.
    fn button_band(&self) -> Rect {
        let column = self.column();
        let bh = self.h / 8;
        Rect { x: column.x, y: column.bottom() - bh as i32, w: column.w, h: bh }
    }

    /// The two buttons of the review screen: retake (left) and continue (right).
    pub fn review_buttons(&self) -> (Rect, Rect) {
        let band = self.button_band();
        let m = self.margin();
        let bw = (band.w - m as u32) / 2;
        (Rect { w: bw, ..band }, Rect { x: band.right() - bw as i32, w: bw, ..band })
    }

    /// The consent screen's two answers (keep private, share), stacked across the column above
    /// the band where the review's buttons were: a second tap meant for "continue" lands on
    /// neither.
    pub fn consent_answers(&self) -> (Rect, Rect) {
        let m = self.margin();
        let band = self.button_band();
        let bh = self.h / 12;
        let share = Rect { y: band.y - m - bh as i32, h: bh, ..band };
        let private = Rect { y: share.y - m / 2 - bh as i32, ..share };
        (private, share)
    }

    /// The slideshow question's two answers (keep out, show), side by side in the band at the
    /// bottom: where no answer of the photo question was, so a double tap on that answer is no
    /// answer to this one. (The review's buttons were there two screens before.)
    pub fn slideshow_answers(&self) -> (Rect, Rect) {
        self.review_buttons()
    }
}

/// How a text is set: its largest and smallest sizes, how many lines it may take at the largest,
/// and its colour and alignment.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub largest: u32,
    pub smallest: u32,
    pub lines: usize,
    pub color: Rgb888,
    pub align: Align,
}

impl Style {
    /// A heading: large, shrinking to the small size, up to `lines` lines.
    pub fn big(l: &Layout, lines: usize, color: Rgb888) -> Style {
        Style { largest: l.big(), smallest: l.small(), lines, color, align: Align::Center }
    }

    /// Body text: the small size, shrinking to the smallest the face has.
    pub fn small(l: &Layout, lines: usize, color: Rgb888) -> Style {
        Style { largest: l.small(), smallest: (l.small() - 1).max(1), lines, color, align: Align::Center }
    }

    /// How its text is set, whatever the room.
    pub fn text(&self) -> TextStyle {
        TextStyle { largest: self.largest, smallest: self.smallest, color: self.color, align: self.align }
    }

    /// The height this style may take at most.
    pub fn room(&self) -> u32 {
        block_height(self.lines, self.largest)
    }
}

/// A region being filled from its top and its bottom: what is placed takes its height (plus a
/// gap) away, and what is left is for the picture (portrait) or stays empty.
pub struct Flow {
    pub left: Rect,
    gap: i32,
}

impl Flow {
    pub fn new(region: Rect, gap: i32) -> Flow {
        Flow { left: region, gap }
    }

    /// Takes `h` from the top.
    pub fn top(&mut self, h: u32) -> Rect {
        let h = h.min(self.left.h);
        let taken = Rect { h, ..self.left };
        let used = (h as i32 + self.gap).min(self.left.h as i32);
        self.left = Rect { y: self.left.y + used, h: self.left.h - used as u32, ..self.left };
        taken
    }

    /// Takes `h` from the bottom.
    pub fn bottom(&mut self, h: u32) -> Rect {
        let h = h.min(self.left.h);
        let taken = Rect { y: self.left.bottom() - h as i32, h, ..self.left };
        let used = (h as i32 + self.gap).min(self.left.h as i32);
        self.left = Rect { h: self.left.h - used as u32, ..self.left };
        taken
    }

    /// Sets `text` at the top in the room its style allows (or what is left), and takes the
    /// height it needs.
    pub fn text_top(&mut self, scene: &mut Scene, name: &'static str, text: &str, style: Style) -> Rect {
        let fitted = scene.fit(text, self.left.w, style.room().min(self.left.h), style);
        let rect = self.top(fitted.height());
        scene.push(name, rect, Paint::Text(fitted, style.color, style.align));
        rect
    }

    /// Sets `text` at the bottom in the room its style allows (or what is left).
    pub fn text_bottom(&mut self, scene: &mut Scene, name: &'static str, text: &str, style: Style) -> Rect {
        let fitted = scene.fit(text, self.left.w, style.room().min(self.left.h), style);
        let rect = self.bottom(fitted.height());
        scene.push(name, rect, Paint::Text(fitted, style.color, style.align));
        rect
    }
}

impl From<Style> for TextStyle {
    fn from(style: Style) -> TextStyle {
        style.text()
    }
}
