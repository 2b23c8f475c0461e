//! Print and share: the QR code large, what the printer is doing, thanks.

use super::layout::{Flow, Style};
use super::{printer_hint, Canvas, Touch, View, AMBER, CREAM, MUTED};
use crate::booth::state::PrintStatus;
use crate::config::Language;
use crate::keepsake::Keepsake;
use crate::scene::{Paint, Rect, Scene};

/// Anywhere ends the visit.
pub(super) fn touch() -> Option<Touch> {
    Some(Touch::Next)
}

/// The QR code large (with the illustration small above it on a portrait panel, beside the
/// text on a landscape one), what to do with it, what the printer is doing, thanks.
pub(super) fn scene<'a>(s: &mut Scene<'a>, c: &Canvas, view: &View<'a>, keepsake: &'a Keepsake, print: &PrintStatus) {
    let (l, t, printer) = (c.l, words(c.language), printer_hint::words(c.language));
    let m = l.margin();
    let mut flow = Flow::new(l.column(), m / 2);
    let (line, color) = match print {
        PrintStatus::Offered => (printer.press_print(view.guidance).to_string(), AMBER),
        PrintStatus::Printing => (format!("{}\n{}", t.printing, printer.take_card(view.guidance)), AMBER),
        PrintStatus::Printed => (format!("{}\n{}", t.printed, printer.take_card(view.guidance)), CREAM),
        PrintStatus::Unavailable(why) => (printer.unavailable(why), MUTED),
    };
    let body = Style { largest: l.small() + 1, ..Style::small(&l, 2, CREAM) };
    if l.landscape() {
        if let Some(qr) = view.qr {
            s.push("qr", l.picture_area(), Paint::Picture(qr));
        }
        let thumb = flow.top(flow.left.h / 3);
        s.push("illustration", thumb, Paint::Picture(&keepsake.illustration));
    } else {
        let thumb = flow.top(l.h / 4);
        s.push("illustration", thumb, Paint::Picture(&keepsake.illustration));
        if let Some(qr) = view.qr {
            let side = (l.w / 2).min(flow.left.h / 2);
            let row = flow.top(side);
            s.push("qr", Rect { x: row.x + (row.w - side) as i32 / 2, w: side, ..row }, Paint::Picture(qr));
        }
    }
    flow.text_top(s, "scan_to_keep", t.scan_to_keep, body);
    flow.text_top(s, "print_status", &line, Style { lines: 4, color, ..body });
    flow.text_top(s, "thank_you", t.thank_you, Style::small(&l, 2, MUTED));
}

/// What this screen says, in the memorial's language.
pub(super) struct Words {
    pub scan_to_keep: &'static str,
    pub printing: &'static str,
    pub printed: &'static str,
    pub thank_you: &'static str,
}

const KO: Words = Words {
    scan_to_keep: "QR 코드로 사진을 받아 가세요",
    printing: "카드를 인쇄하고 있습니다",
    printed: "카드가 인쇄되었습니다",
    thank_you: "함께해 주셔서 감사합니다",
};

const EN: Words = Words {
    scan_to_keep: "Scan the QR code to keep your picture",
    printing: "Printing your card",
    printed: "Your card has been printed",
    thank_you: "Thank you for being here",
};

pub(super) fn words(language: Language) -> &'static Words {
    language.choose(&KO, &EN)
}
