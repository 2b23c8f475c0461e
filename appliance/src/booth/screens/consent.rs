//! May the family also receive the original photo? The photo small, the question large, two
//! equal answers where no earlier button was, and no answer taken in the first moment (a second
//! tap meant for the review's "continue" is not a yes).

use std::time::Duration;

use image::RgbImage;

use super::layout::{Flow, Style};
use super::{two_buttons, Canvas, Layout, Rect, Touch, View, CREAM, MUTED, OUTLINED};
use crate::config::Language;
use crate::scene::{Paint, Scene};

/// How long after the screen appears touches are not taken as an answer.
pub const ANSWERS_AFTER: Duration = Duration::from_millis(700);

pub(super) fn touch(layout: &Layout, x: i32, y: i32, shown_for: Duration) -> Option<Touch> {
    if shown_for < ANSWERS_AFTER {
        return None;
    }
    two_buttons(layout.consent_answers(), x, y, Touch::KeepPhotoPrivate, Touch::SharePhoto)
}

/// The photo small, the question large, what each answer means, when the screen answers by
/// itself, and the two answers.
pub(super) fn scene<'a>(s: &mut Scene<'a>, c: &Canvas, view: &View<'a>, photo: &'a RgbImage) {
    let t = words(c.language);
    let question = Question {
        question: t.consent_question,
        detail: t.consent_detail,
        default_answer: t.consent_default.replace("{n}", &view.seconds_left.to_string()),
        answers: (c.l.consent_answers(), t.consent_no, t.consent_yes),
    };
    question_scene(s, c, photo, &question);
}

/// A yes/no question about the visitor's picture (this one, and the slideshow's): its words,
/// where its answers are and what they say.
pub(super) struct Question<'w> {
    pub question: &'w str,
    pub detail: &'w str,
    /// When and how the screen answers by itself.
    pub default_answer: String,
    /// The answers' places (no, yes) and labels.
    pub answers: ((Rect, Rect), &'w str, &'w str),
}

/// The photo small (the visitor decides about this very picture), the question large, what it
/// means, when the screen answers by itself, and the two equal, outlined answers: neither is the
/// one the screen leans to.
pub(super) fn question_scene<'a>(s: &mut Scene<'a>, c: &Canvas, photo: &'a RgbImage, q: &Question) {
    let l = c.l;
    let m = l.margin();
    let ((no, yes), no_label, yes_label) = q.answers;
    let mut flow = Flow::new(l.column(), m / 2);
    // The answers and everything below them are the answers' own.
    flow.bottom((flow.left.bottom() - no.y.min(yes.y)) as u32);
    flow.text_bottom(s, "default_answer", &q.default_answer, Style::small(&l, 2, MUTED));
    let picture = if l.landscape() { l.picture_area() } else { flow.top(l.picture_area().h / 2) };
    s.push("photo", picture, Paint::Picture(photo));
    flow.text_top(s, "question", q.question, Style::big(&l, 3, CREAM));
    flow.text_top(s, "detail", q.detail, Style::small(&l, 4, MUTED));
    s.answers([("no", no, no_label, OUTLINED), ("yes", yes, yes_label, OUTLINED)], l.big(), l.small());
}

/// What this screen says, in the memorial's language.
pub(super) struct Words {
    pub consent_question: &'static str,
    pub consent_detail: &'static str,
    pub consent_no: &'static str,
    pub consent_yes: &'static str,
    /// `{n}` is the seconds left (Korean writes them without a space: "2초").
    pub consent_default: &'static str,
}

const KO: Words = Words {
    consent_question: "원본 사진도 가족분들께 보내드릴까요?",
    consent_detail: "그림은 항상 가족분들께 전해집니다. 원본 사진은 동의하실 때만 보냅니다.",
    consent_no: "그림만",
    consent_yes: "사진도 보내기",
    consent_default: "{n}초 후 그림만 보냅니다",
};

const EN: Words = Words {
    consent_question: "May the family also receive your original photo?",
    consent_detail: "The illustration always goes to the family. The original photo is sent only if you agree.",
    consent_no: "Illustration only",
    consent_yes: "Send the photo too",
    consent_default: "{n} s until only the illustration is sent",
};

pub(super) fn words(language: Language) -> &'static Words {
    language.choose(&KO, &EN)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use embedded_graphics::pixelcolor::RgbColor;

    use keepsake_drivers::framebuffer::Framebuffer;

    use crate::booth::screens::{draw, Rect, View, BACKGROUND};
    use crate::booth::state::State;
    use crate::config::Memorial;

    const LAYOUTS: [Layout; 3] = [Layout { w: 720, h: 1280 }, Layout { w: 1080, h: 1920 }, Layout { w: 1280, h: 800 }];

    fn overlap(a: Rect, b: Rect) -> bool {
        a.x < b.x + b.w as i32 && b.x < a.x + a.w as i32 && a.y < b.y + b.h as i32 && b.y < a.y + a.h as i32
    }

    #[test]
    fn the_answers_sit_where_no_earlier_button_was() {
        for l in LAYOUTS {
            let (no, yes) = l.consent_answers();
            let (retake, cont) = l.review_buttons();
            for answer in [no, yes] {
                assert!(!overlap(answer, retake) && !overlap(answer, cont), "{l:?}: {answer:?} where a review button was");
                assert!(answer.x >= 0 && answer.y >= 0 && answer.x + answer.w as i32 <= l.w as i32, "{l:?}: {answer:?} off the screen");
            }
            assert!(!overlap(no, yes), "{l:?}: the answers overlap");
            assert_eq!((no.w, no.h), (yes.w, yes.h), "{l:?}: the answers are equal");
        }
    }

    #[test]
    fn no_answer_is_taken_in_the_first_moment_nor_from_a_tap_meant_for_continue() {
        let l = LAYOUTS[0];
        let (no, yes) = l.consent_answers();
        let (yx, yy) = yes.center();
        let (nx, ny) = no.center();
        let (cx, cy) = l.review_buttons().1.center();
        assert_eq!(touch(&l, yx, yy, Duration::from_millis(150)), None, "a double tap's second touch");
        assert_eq!(touch(&l, yx, yy, ANSWERS_AFTER), Some(Touch::SharePhoto));
        assert_eq!(touch(&l, nx, ny, ANSWERS_AFTER), Some(Touch::KeepPhotoPrivate));
        assert_eq!(touch(&l, cx, cy, Duration::from_secs(5)), None, "where continue was is no answer");
    }

    #[test]
    fn both_answers_are_drawn_alike_and_outlined() {
        let l = LAYOUTS[0];
        let memorial = Memorial {
            name: "Kim".into(),
            dates: "1941 - 2026".into(),
            message: String::new(),
            caption: String::new(),
            language: Language::En,
            portrait: None,
        };
        let photo = Arc::new(RgbImage::from_pixel(60, 80, image::Rgb([90, 120, 200])));
        let mut fb = Framebuffer::new(l.w, l.h);
        let view = View {
            language: Language::En,
            memorial: &memorial,
            guidance: &Default::default(),
            live: None,
            slide: None,
            seconds_left: 7,
            qr: None,
        };
        draw(&mut fb, &State::Consent { photo }, &view);
        let background = image::Rgb([BACKGROUND.r(), BACKGROUND.g(), BACKGROUND.b()]);
        for answer in [l.consent_answers().0, l.consent_answers().1] {
            // Inside the outline, beside the label: the screen's own colour, not a filled button.
            let (_, cy) = answer.center();
            let inside = *fb.image.get_pixel((answer.x + answer.w as i32 / 24) as u32, cy as u32);
            assert_eq!(inside, background, "{answer:?} is filled");
        }
    }

    #[test]
    fn korean_writes_the_seconds_against_their_unit() {
        assert_eq!(words(Language::Ko).consent_default.replace("{n}", "2"), "2초 후 그림만 보냅니다");
        assert_eq!(words(Language::En).consent_default.replace("{n}", "2"), "2 s until only the illustration is sent");
    }
}
