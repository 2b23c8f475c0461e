//! The illustration being painted: the latest preview, a progress bar and the step.

use image::RgbImage;

use super::layout::{Flow, Style};
use super::{Canvas, AMBER, CREAM, MUTED};
use crate::config::Language;
use crate::scene::{Paint, Scene};

/// The latest preview (the photo until there is one), "painting", a progress bar and the step.
pub(super) fn scene<'a>(s: &mut Scene<'a>, c: &Canvas, photo: &'a RgbImage, preview: Option<&'a RgbImage>, step: u32, total: u32) {
    let (l, t) = (c.l, words(c.language));
    let m = l.margin();
    let mut flow = Flow::new(l.column(), m / 2);
    let picture = if l.landscape() { l.picture_area() } else { flow.top(l.picture_area().h) };
    s.push("preview", picture, Paint::Picture(preview.unwrap_or(photo)));
    flow.text_top(s, "painting", t.painting, Style::big(&l, 2, CREAM));
    let fraction = if total == 0 { 0.0 } else { step as f32 / total as f32 };
    let bar = flow.top((l.h / 28).max(12));
    s.push("progress", bar, Paint::Progress { fraction, frame: MUTED, bar: AMBER });
    if total > 0 {
        flow.text_top(s, "step", &format!("{} {step}/{total}", t.step), Style::small(&l, 1, MUTED));
    }
}

/// What this screen says, in the memorial's language.
pub(super) struct Words {
    pub painting: &'static str,
    pub step: &'static str,
}

const KO: Words = Words { painting: "추억을 그리고 있습니다", step: "단계" };

const EN: Words = Words { painting: "Painting your keepsake", step: "step" };

pub(super) fn words(language: Language) -> &'static Words {
    language.choose(&KO, &EN)
}
