//! What the booth says about the printer, on the result and the print/share screens: press the
//! button, or why printing is not available now (the detail stays in the log).

use keepsake_drivers::printer::Unavailable;

use crate::config::Language;

/// What the screens say about the printer, in the memorial's language.
pub(super) struct Words {
    pub press_print: &'static str,
    pub print_unavailable: &'static str,
    /// Why, in a few words: out of paper, jammed, cover open, ribbon used up, not ready, busy.
    pub printer_why: [&'static str; 6],
}

const KO: Words = Words {
    press_print: "인쇄 버튼을 누르면 카드를 드립니다",
    print_unavailable: "지금은 인쇄할 수 없습니다. QR 코드로 받아 가세요",
    printer_why: [
        "프린터 용지가 떨어졌습니다",
        "프린터에 용지가 걸렸습니다",
        "프린터 덮개가 열려 있습니다",
        "프린터 리본이 다 되었습니다",
        "프린터가 준비되지 않았습니다",
        "앞의 카드를 인쇄하고 있습니다",
    ],
};

const EN: Words = Words {
    press_print: "Press the print button for your card",
    print_unavailable: "Printing is not available now. Please use the QR code",
    printer_why: [
        "The printer is out of paper",
        "The paper is jammed",
        "The printer cover is open",
        "The printer's ribbon has run out",
        "The printer is not ready",
        "The printer is busy with earlier cards",
    ],
};

pub(super) fn words(language: Language) -> &'static Words {
    language.choose(&KO, &EN)
}

impl Words {
    /// Why printing is unavailable, and what to do instead, on two lines.
    pub(super) fn unavailable(&self, why: &Unavailable) -> String {
        let reason = self.printer_why[match why {
            Unavailable::OutOfPaper => 0,
            Unavailable::Jammed => 1,
            Unavailable::CoverOpen => 2,
            Unavailable::SupplyEmpty(_) => 3,
            Unavailable::Stopped(_) | Unavailable::Offline(_) | Unavailable::Misconfigured { .. } => 4,
            Unavailable::Busy(_) => 5,
        }];
        format!("{reason}\n{}", self.print_unavailable)
    }
}
