//! The keepsake: the illustration, caption and message, the QR code, and whether Print is offered.

use keepsake_drivers::text::Align;

use super::layout::{Flow, Style};
use super::{printer_hint, Canvas, Touch, View, AMBER, CREAM, MUTED};
use crate::booth::state::PrinterCheck;
use crate::keepsake::Keepsake;
use crate::scene::Rect;
use crate::scene::{Paint, Scene};

/// Anywhere goes on to print and share.
pub(super) fn touch() -> Option<Touch> {
    Some(Touch::Next)
}

/// The illustration large, the caption, the message, and at the bottom the QR code with the
/// print hint beside it. A long message takes room from the illustration (portrait) before it
/// is set smaller, and is cut on the screen only when even that is not enough: the card and the
/// share page have it whole.
pub(super) fn scene<'a>(s: &mut Scene<'a>, c: &Canvas, view: &View<'a>, keepsake: &'a Keepsake, printer_check: &PrinterCheck) {
    let l = c.l;
    let heights: &[u32] = if l.landscape() { &[0] } else { &[l.picture_area().h, l.h / 2, l.h * 2 / 5, l.h / 3] };
    let candidates = heights.iter().map(|&picture_h| {
        let mut candidate = Scene::new(s.face.clone());
        place(&mut candidate, c, view, keepsake, printer_check, picture_h);
        candidate
    });
    if let Some(chosen) = Scene::roomiest(candidates, "message", l.small()) {
        s.items.extend(chosen.items);
    }
}

fn place<'a>(s: &mut Scene<'a>, c: &Canvas, view: &View<'a>, keepsake: &'a Keepsake, printer_check: &PrinterCheck, picture_h: u32) {
    let (l, printer) = (c.l, printer_hint::words(c.language));
    let m = l.margin();
    let mut flow = Flow::new(l.column(), m / 2);
    let picture = if l.landscape() { l.picture_area() } else { flow.top(picture_h) };
    s.push("illustration", picture, Paint::Picture(&keepsake.illustration));
    if let Some(qr) = view.qr {
        let side = (flow.left.w / 4).min(l.h / 5);
        let row = flow.bottom(side);
        s.push("qr", Rect { x: row.right() - side as i32, w: side, ..row }, Paint::Picture(qr));
        // Print is offered once the printer said it can print; until then (a moment) nothing.
        let hint = match printer_check {
            PrinterCheck::Asking => None,
            PrinterCheck::Ready => Some((printer.press_print(view.guidance).to_string(), AMBER)),
            PrinterCheck::Unavailable(why) => Some((printer.unavailable(why), MUTED)),
        };
        if let Some((hint, color)) = hint {
            let beside = Rect { w: row.w - side - m as u32 / 2, ..row };
            s.text_in("print_hint", beside, &hint, Style { align: Align::Left, ..Style::small(&l, 4, color) });
        }
    }
    flow.text_top(s, "caption", &keepsake.meta.caption, Style::big(&l, 3, CREAM));
    let message = Style { lines: usize::MAX, ..Style::small(&l, 0, MUTED) };
    flow.text_top(s, "message", &keepsake.meta.message, message);
}
