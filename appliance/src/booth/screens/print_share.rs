//! Print and share: the QR code large, what the printer is doing, thanks.

use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::text::{self, Align};

use super::{printer_hint, Canvas, Touch, View, AMBER, CREAM, MUTED};
use crate::booth::state::PrintStatus;
use crate::config::Language;
use crate::keepsake::Keepsake;

/// Anywhere ends the visit.
pub(super) fn touch() -> Option<Touch> {
    Some(Touch::Next)
}

pub(super) fn draw(fb: &mut Framebuffer, c: &Canvas, view: &View, keepsake: &Keepsake, print: &PrintStatus) {
    let Canvas { l, language, w, m, text_w, .. } = *c;
    let t = words(language);
    let thumb = l.h / 4;
    fb.blit_fit(&keepsake.illustration, m, m, l.w - 2 * m as u32, thumb);
    let mut y = m + thumb as i32 + m;
    if let Some(qr) = view.qr {
        let side = l.w / 2;
        fb.blit_fit(qr, (w - side as i32) / 2, y, side, side);
        y += side as i32 + m / 2;
    }
    y += text::draw_paragraph(fb, t.scan_to_keep, w / 2, y, text_w, l.small() + 1, CREAM, Align::Center) as i32 + m;
    let printer = printer_hint::words(language);
    let (line, color) = match print {
        PrintStatus::Offered => (printer.press_print.to_string(), AMBER),
        PrintStatus::Printing => (t.printing.to_string(), AMBER),
        PrintStatus::Printed => (t.printed.to_string(), CREAM),
        PrintStatus::Unavailable(why) => (printer.unavailable(why), MUTED),
    };
    y += text::draw_paragraph(fb, &line, w / 2, y, text_w, l.small() + 1, color, Align::Center) as i32 + m;
    text::draw_paragraph(fb, t.thank_you, w / 2, y, text_w, l.small(), MUTED, Align::Center);
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
