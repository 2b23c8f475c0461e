//! May the illustration appear in this booth's slideshow for the next visitors? Asked only where
//! the config says so. The photo small, the question large, two equal answers where the photo
//! question's answers were not, no answer taken in the first moment, and no answer is no.

use std::time::Duration;

use image::RgbImage;

use super::consent::{question_scene, Question, ANSWERS_AFTER};
use super::{two_buttons, Canvas, Layout, Touch, View};
use crate::config::Language;
use crate::scene::Scene;

pub(super) fn touch(layout: &Layout, x: i32, y: i32, shown_for: Duration) -> Option<Touch> {
    if shown_for < ANSWERS_AFTER {
        return None;
    }
    two_buttons(layout.slideshow_answers(), x, y, Touch::KeepOutOfSlideshow, Touch::ShowInSlideshow)
}

/// The photo question's layout, with the answers side by side at the bottom.
pub(super) fn scene<'a>(s: &mut Scene<'a>, c: &Canvas, view: &View<'a>, photo: &'a RgbImage) {
    let t = words(c.language);
    let question = Question {
        question: t.question,
        detail: t.detail,
        default_answer: t.default_answer.replace("{n}", &view.seconds_left.to_string()),
        answers: (c.l.slideshow_answers(), t.no, t.yes),
    };
    question_scene(s, c, photo, &question);
}

/// What this screen says, in the memorial's language.
pub(super) struct Words {
    pub question: &'static str,
    pub detail: &'static str,
    pub no: &'static str,
    pub yes: &'static str,
    /// `{n}` is the seconds left (Korean writes them without a space: "2초").
    pub default_answer: &'static str,
}

const KO: Words = Words {
    question: "완성된 그림을 이 화면에서 다음 방문객께 보여 드려도 될까요?",
    detail: "원본 사진은 보여 드리지 않습니다. 그림은 어느 쪽이든 가족분들께 전해집니다.",
    no: "보여 주지 않기",
    yes: "보여 주기",
    default_answer: "{n}초 후 보여 주지 않는 것으로 합니다",
};

const EN: Words = Words {
    question: "May your illustration be shown on this screen to the next visitors?",
    detail: "Your photo is never shown. The illustration goes to the family either way.",
    no: "Don't show it",
    yes: "Show it",
    default_answer: "{n} s until it is not shown",
};

pub(super) fn words(language: Language) -> &'static Words {
    language.choose(&KO, &EN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booth::screens::fits::PANELS;

    #[test]
    fn the_answers_are_equal_and_not_where_the_photo_question_s_answers_were() {
        for l in PANELS {
            let (no, yes) = l.slideshow_answers();
            let (keep, share) = l.consent_answers();
            for answer in [no, yes] {
                assert!(!answer.overlaps(&keep) && !answer.overlaps(&share), "{l:?}: {answer:?} where a photo answer was");
            }
            assert!(!no.overlaps(&yes) && (no.w, no.h) == (yes.w, yes.h), "{l:?}");
        }
        let l = PANELS[0];
        let (no, yes) = l.slideshow_answers();
        let (yx, yy) = yes.center();
        let (sx, sy) = l.consent_answers().1.center();
        assert_eq!(touch(&l, yx, yy, Duration::from_millis(150)), None, "a double tap's second touch");
        assert_eq!(touch(&l, yx, yy, ANSWERS_AFTER), Some(Touch::ShowInSlideshow));
        assert_eq!(touch(&l, no.center().0, no.center().1, ANSWERS_AFTER), Some(Touch::KeepOutOfSlideshow));
        assert_eq!(touch(&l, sx, sy, Duration::from_secs(5)), None, "where \"send the photo too\" was is no answer");
    }
}
