//! What the booth says about the printer, on the result and the print/share screens: press the
//! button (where it is and where the card comes out, as the config says for this box), or why
//! printing is not available now and what to do (the detail stays in the log).

use keepsake_drivers::printer::Unavailable;

use crate::config::{Guidance, Language};

/// What the screens say about the printer, in the memorial's language.
pub(super) struct Words {
    /// Unless `guidance.press_print` says where this box's button is.
    pub press_print: &'static str,
    /// Unless `guidance.take_card` says where this box's card comes out.
    pub take_card: &'static str,
    /// When someone on site can fix it.
    pub tell_staff: &'static str,
    pub use_qr: &'static str,
    // Why it cannot print, in a few words, for each way the printer can be unavailable.
    pub out_of_paper: &'static str,
    pub jammed: &'static str,
    pub cover_open: &'static str,
    pub supply_empty: &'static str,
    pub not_ready: &'static str,
    pub busy: &'static str,
}

const KO: Words = Words {
    press_print: "인쇄 버튼을 누르면 카드를 드립니다",
    take_card: "카드는 프린터에서 나옵니다",
    tell_staff: "직원에게 알려 주세요.",
    use_qr: "그림은 QR 코드로 받아 가실 수 있습니다.",
    out_of_paper: "프린터 용지가 떨어졌습니다",
    jammed: "프린터에 용지가 걸렸습니다",
    cover_open: "프린터 덮개가 열려 있습니다",
    supply_empty: "프린터 리본이 다 되었습니다",
    not_ready: "프린터가 준비되지 않았습니다",
    busy: "앞의 카드를 인쇄하고 있습니다",
};

const EN: Words = Words {
    press_print: "Press the print button for your card",
    take_card: "Your card comes out of the printer",
    tell_staff: "Please tell a staff member.",
    use_qr: "You can still take your picture home with the QR code.",
    out_of_paper: "The printer is out of paper",
    jammed: "The paper is jammed",
    cover_open: "The printer cover is open",
    supply_empty: "The printer's ribbon has run out",
    not_ready: "The printer is not ready",
    busy: "The printer is busy with earlier cards",
};

pub(super) fn words(language: Language) -> &'static Words {
    language.choose(&KO, &EN)
}

impl Words {
    /// Press the button (where it is on this box, if the config says).
    pub(super) fn press_print<'g>(&self, guidance: &'g Guidance) -> &'g str {
        guidance.press_print.as_deref().unwrap_or(self.press_print)
    }

    /// Where the card comes out (on this box, if the config says).
    pub(super) fn take_card<'g>(&self, guidance: &'g Guidance) -> &'g str {
        guidance.take_card.as_deref().unwrap_or(self.take_card)
    }

    /// Why printing is unavailable, what to do about it (tell the staff, where someone on site
    /// can fix it), and that the QR code still works.
    pub(super) fn unavailable(&self, why: &Unavailable) -> String {
        let (reason, staff) = match why {
            Unavailable::OutOfPaper => (self.out_of_paper, true),
            Unavailable::Jammed => (self.jammed, true),
            Unavailable::CoverOpen => (self.cover_open, true),
            Unavailable::SupplyEmpty(_) => (self.supply_empty, true),
            Unavailable::Stopped(_) | Unavailable::Offline(_) | Unavailable::Misconfigured { .. } => (self.not_ready, true),
            // Earlier cards are still coming out: nothing to fix.
            Unavailable::Busy(_) => (self.busy, false),
        };
        if staff {
            format!("{reason}. {}\n{}", self.tell_staff, self.use_qr)
        } else {
            format!("{reason}.\n{}", self.use_qr)
        }
    }
}
