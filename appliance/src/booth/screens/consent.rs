//! May the family also receive the original photo? The photo small, the question large.

use image::RgbImage;
use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::text::{self, Align};

use super::{button, two_buttons, Canvas, Layout, Touch, View, CREAM, MUTED};
use crate::config::Language;

pub(super) fn touch(layout: &Layout, x: i32, y: i32) -> Option<Touch> {
    two_buttons(layout, x, y, Touch::KeepPhotoPrivate, Touch::SharePhoto)
}

pub(super) fn draw(fb: &mut Framebuffer, c: &Canvas, view: &View, photo: &RgbImage) {
    let Canvas { l, language, w, m, text_w, .. } = *c;
    let t = words(language);
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

/// What this screen says, in the memorial's language.
pub(super) struct Words {
    pub consent_question: &'static str,
    pub consent_detail: &'static str,
    pub consent_no: &'static str,
    pub consent_yes: &'static str,
    pub consent_default: &'static str,
}

const KO: Words = Words {
    consent_question: "원본 사진도 가족분들께 보내 드릴까요?",
    consent_detail: "그림은 항상 가족분들께 전해집니다. 원본 사진은 동의하실 때만 보냅니다.",
    consent_no: "그림만",
    consent_yes: "사진도 보내기",
    consent_default: "초 후 그림만 보냅니다",
};

const EN: Words = Words {
    consent_question: "May the family also receive your original photo?",
    consent_detail: "The illustration always goes to the family. The original photo is sent only if you agree.",
    consent_no: "Illustration only",
    consent_yes: "Send the photo too",
    consent_default: "s until only the illustration is sent",
};

pub(super) fn words(language: Language) -> &'static Words {
    language.choose(&KO, &EN)
}
