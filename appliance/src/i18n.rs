//! What the booth says, in the memorial's language.

use keepsake_drivers::printer::Unavailable;

use crate::config::Language;

pub struct Texts {
    pub touch_to_begin: &'static str,
    pub welcome: &'static str,
    pub get_ready: &'static str,
    pub smile: &'static str,
    pub retake: &'static str,
    pub continue_: &'static str,
    pub continues_in: &'static str,
    pub consent_question: &'static str,
    pub consent_detail: &'static str,
    pub consent_no: &'static str,
    pub consent_yes: &'static str,
    pub consent_default: &'static str,
    pub painting: &'static str,
    pub step: &'static str,
    pub press_print: &'static str,
    pub scan_to_keep: &'static str,
    pub printing: &'static str,
    pub printed: &'static str,
    pub print_unavailable: &'static str,
    /// Why, in a few words: out of paper, jammed, cover open, ribbon used up, not ready, busy.
    pub printer_why: [&'static str; 6],
    pub thank_you: &'static str,
    pub fault: &'static str,
    pub fault_detail: &'static str,
}

const KO: Texts = Texts {
    touch_to_begin: "화면을 터치해 시작하세요",
    welcome: "함께 기억해 주셔서 감사합니다",
    get_ready: "카메라를 바라봐 주세요",
    smile: "찰칵!",
    retake: "다시 찍기",
    continue_: "계속",
    continues_in: "초 후 자동으로 계속합니다",
    consent_question: "원본 사진도 가족분들께 보내 드릴까요?",
    consent_detail: "그림은 항상 가족분들께 전해집니다. 원본 사진은 동의하실 때만 보냅니다.",
    consent_no: "그림만",
    consent_yes: "사진도 보내기",
    consent_default: "초 후 그림만 보냅니다",
    painting: "추억을 그리고 있습니다",
    step: "단계",
    press_print: "인쇄 버튼을 누르면 카드를 드립니다",
    scan_to_keep: "QR 코드로 사진을 받아 가세요",
    printing: "카드를 인쇄하고 있습니다",
    printed: "카드가 인쇄되었습니다",
    print_unavailable: "지금은 인쇄할 수 없습니다. QR 코드로 받아 가세요",
    printer_why: [
        "프린터 용지가 떨어졌습니다",
        "프린터에 용지가 걸렸습니다",
        "프린터 덮개가 열려 있습니다",
        "프린터 리본이 다 되었습니다",
        "프린터가 준비되지 않았습니다",
        "앞의 카드를 인쇄하고 있습니다",
    ],
    thank_you: "함께해 주셔서 감사합니다",
    fault: "잠시만 기다려 주세요",
    fault_detail: "곧 다시 시작합니다",
};

const EN: Texts = Texts {
    touch_to_begin: "Touch the screen to begin",
    welcome: "Thank you for remembering with us",
    get_ready: "Please look at the camera",
    smile: "Click!",
    retake: "Retake",
    continue_: "Continue",
    continues_in: "s until it continues",
    consent_question: "May the family also receive your original photo?",
    consent_detail: "The illustration always goes to the family. The original photo is sent only if you agree.",
    consent_no: "Illustration only",
    consent_yes: "Send the photo too",
    consent_default: "s until only the illustration is sent",
    painting: "Painting your keepsake",
    step: "step",
    press_print: "Press the print button for your card",
    scan_to_keep: "Scan the QR code to keep your picture",
    printing: "Printing your card",
    printed: "Your card has been printed",
    print_unavailable: "Printing is not available now. Please use the QR code",
    printer_why: [
        "The printer is out of paper",
        "The paper is jammed",
        "The printer cover is open",
        "The printer's ribbon has run out",
        "The printer is not ready",
        "The printer is busy with earlier cards",
    ],
    thank_you: "Thank you for being here",
    fault: "One moment, please",
    fault_detail: "We will be right back",
};

impl Texts {
    /// Why printing is unavailable, for the visitor (the detail stays in the log).
    pub fn printer_why(&self, why: &Unavailable) -> &'static str {
        self.printer_why[match why {
            Unavailable::OutOfPaper => 0,
            Unavailable::Jammed => 1,
            Unavailable::CoverOpen => 2,
            Unavailable::SupplyEmpty(_) => 3,
            Unavailable::Stopped(_) | Unavailable::Offline(_) | Unavailable::Misconfigured { .. } => 4,
            Unavailable::Busy(_) => 5,
        }]
    }
}

pub fn texts(language: Language) -> &'static Texts {
    match language {
        Language::Ko => &KO,
        Language::En => &EN,
    }
}
