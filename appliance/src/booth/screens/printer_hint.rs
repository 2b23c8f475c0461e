//! What the booth says about the printer, on the result and the print/share screens: press the
//! button, or why printing is not available now (the detail stays in the log).

use keepsake_drivers::printer::Unavailable;

use crate::config::Language;

/// What the screens say about the printer, in the memorial's language.
pub(super) struct Words {
    pub press_print: &'static str,
    pub print_unavailable: &'static str,
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
    print_unavailable: "지금은 인쇄할 수 없습니다. QR 코드로 받아 가세요",
    out_of_paper: "프린터 용지가 떨어졌습니다",
    jammed: "프린터에 용지가 걸렸습니다",
    cover_open: "프린터 덮개가 열려 있습니다",
    supply_empty: "프린터 리본이 다 되었습니다",
    not_ready: "프린터가 준비되지 않았습니다",
    busy: "앞의 카드를 인쇄하고 있습니다",
};

const EN: Words = Words {
    press_print: "Press the print button for your card",
    print_unavailable: "Printing is not available now. Please use the QR code",
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
    /// Why printing is unavailable, and what to do instead, on two lines.
    pub(super) fn unavailable(&self, why: &Unavailable) -> String {
        let reason = match why {
            Unavailable::OutOfPaper => self.out_of_paper,
            Unavailable::Jammed => self.jammed,
            Unavailable::CoverOpen => self.cover_open,
            Unavailable::SupplyEmpty(_) => self.supply_empty,
            Unavailable::Stopped(_) | Unavailable::Offline(_) | Unavailable::Misconfigured { .. } => self.not_ready,
            Unavailable::Busy(_) => self.busy,
        };
        format!("{reason}\n{}", self.print_unavailable)
    }
}
