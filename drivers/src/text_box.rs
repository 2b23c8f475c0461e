//! Text set into a box, as the booth's screens and cards need it: measured in the face that
//! draws it, wrapped at spaces (Korean too: a word is never split while a smaller size still
//! fits it; a number keeps its unit, "QR" its noun), shrunk step by step to a floor size, and
//! only then cut with an ellipsis. Whoever shows the text cut keeps the whole text elsewhere
//! (the archive, the card, the share page); [`Fitted::truncated`] says when that happened.

use embedded_graphics::pixelcolor::Rgb888;

use crate::framebuffer::Framebuffer;
use crate::text::{line_height, Align, Face};

/// What ends a line that had to be cut.
pub const ELLIPSIS: &str = "…";

/// Text set for a box: its lines at one size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitted {
    pub lines: Vec<String>,
    /// The size it is set at (a multiple of the 16 px line, as everywhere in [`crate::text`]).
    pub scale: u32,
    /// Whether the whole text did not fit even at the floor size and the last line was cut.
    pub truncated: bool,
}

/// The space between two lines of a paragraph at `scale`.
pub fn leading(scale: u32) -> u32 {
    line_height(scale) / 4
}

/// The height `lines` lines take at `scale`, from the first line's top to the last one's bottom
/// (as much as a `u32` holds: "as many lines as there is room for" is `usize::MAX`).
pub fn block_height(lines: usize, scale: u32) -> u32 {
    match lines {
        0 => 0,
        n => {
            let n = n.min(u32::MAX as usize) as u64;
            (n * line_height(scale) as u64 + (n - 1) * leading(scale) as u64).min(u32::MAX as u64) as u32
        }
    }
}

impl Fitted {
    pub fn height(&self) -> u32 {
        block_height(self.lines.len(), self.scale)
    }

    /// The widest line's width in `face`.
    pub fn width(&self, face: &Face) -> u32 {
        self.lines.iter().map(|l| face.line_width(l, self.scale)).max().unwrap_or(0)
    }

    /// Draws the lines from `top`, each aligned in the span `left .. left + width`.
    #[allow(clippy::too_many_arguments)]
    pub fn draw(&self, fb: &mut Framebuffer, face: &Face, left: i32, top: i32, width: u32, color: Rgb888, align: Align) {
        let x = match align {
            Align::Left => left,
            Align::Center => left + width as i32 / 2,
            Align::Right => left + width as i32,
        };
        let step = (line_height(self.scale) + leading(self.scale)) as i32;
        for (i, line) in self.lines.iter().enumerate() {
            face.draw_line(fb, line, x, top + i as i32 * step, self.scale, color, align);
        }
    }
}

/// Sets `text` into a `width` x `height` box in `face`: the largest size from `largest` down to
/// `smallest` at which it fits with whole words; at `smallest`, a word wider than the box is split
/// and what does not fit is cut, the last line ending in [`ELLIPSIS`]. Newlines are kept.
pub fn fit(face: &Face, text: &str, width: u32, height: u32, largest: u32, smallest: u32) -> Fitted {
    let smallest = smallest.clamp(1, largest.max(1));
    for scale in (smallest..=largest.max(smallest)).rev() {
        if let Some(lines) = wrap_whole_words(face, text, width, scale) {
            if block_height(lines.len(), scale) <= height {
                return Fitted { lines, scale, truncated: false };
            }
        }
    }
    let mut lines = wrap(face, text, width, smallest);
    let room = (0..=lines.len()).rev().find(|&n| block_height(n, smallest) <= height).unwrap_or(0);
    if lines.len() <= room {
        return Fitted { lines, scale: smallest, truncated: false };
    }
    lines.truncate(room);
    if let Some(last) = lines.last_mut() {
        *last = with_ellipsis(face, last, width, smallest);
    } else {
        tracing::warn!(text, width, height, "a box is lower than one line of text at its smallest size; nothing of it is shown");
    }
    Fitted { lines, scale: smallest, truncated: true }
}

/// `line` shortened (at a space where it can) until it and the ellipsis fit `width`.
fn with_ellipsis(face: &Face, line: &str, width: u32, scale: u32) -> String {
    let mut cut: Vec<char> = line.chars().collect();
    loop {
        let head: String = cut.iter().collect::<String>().trim_end().to_string();
        let candidate = format!("{head}{ELLIPSIS}");
        if head.is_empty() || face.line_width(&candidate, scale) <= width {
            return candidate;
        }
        // Back to the previous space if one is near, else one character.
        match cut.iter().rposition(|c| *c == ' ') {
            Some(space) if cut.len() - space <= 12 => cut.truncate(space),
            _ => {
                cut.pop();
            }
        }
    }
}

/// Units and counters a number is written with, apart from it, on the booth's screens and cards.
const UNITS: &[&str] =
    &["s", "min", "h", "mm", "cm", "m", "px", "dpi", "초", "분", "시간", "일", "년", "월", "명", "장", "단계", "세", "살"];

/// Whether a line may not break between `word` and `next`: a number keeps its unit ("2 s",
/// "15 mm", "3 단계"), and "QR" its noun ("QR 코드로").
fn keeps_with_next(word: &str, next: &str) -> bool {
    let number = !word.is_empty() && word.chars().all(|c| c.is_ascii_digit());
    let unit = next.trim_end_matches(|c: char| c.is_ascii_punctuation());
    word == "QR" || (number && UNITS.contains(&unit))
}

/// A paragraph's unbreakable pieces: its words, with each number joined to its unit and "QR" to
/// its noun.
fn units(paragraph: &str) -> Vec<String> {
    let words: Vec<&str> = paragraph.split_whitespace().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let mut unit = words[i].to_string();
        while i + 1 < words.len() && keeps_with_next(words[i], words[i + 1]) {
            unit.push(' ');
            unit.push_str(words[i + 1]);
            i += 1;
        }
        out.push(unit);
        i += 1;
    }
    out
}

/// Lines of whole units no wider than `width`, or `None` if one unit alone is wider.
fn wrap_whole_words(face: &Face, text: &str, width: u32, scale: u32) -> Option<Vec<String>> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for unit in units(paragraph) {
            if face.line_width(&unit, scale) > width {
                return None;
            }
            let candidate = if line.is_empty() { unit.clone() } else { format!("{line} {unit}") };
            if face.line_width(&candidate, scale) <= width {
                line = candidate;
            } else {
                lines.push(std::mem::replace(&mut line, unit));
            }
        }
        lines.push(line);
    }
    Some(lines)
}

/// Lines no wider than `width` whatever the words: at spaces where it can, inside a word only
/// when the word alone is wider than the box. Newlines are kept.
pub fn wrap(face: &Face, text: &str, width: u32, scale: u32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        // A joined unit too wide for the box comes apart into its words first.
        let words = units(paragraph).into_iter().flat_map(|u| {
            if face.line_width(&u, scale) > width {
                u.split(' ').map(str::to_string).collect()
            } else {
                vec![u]
            }
        });
        for word in words {
            let candidate = if line.is_empty() { word.clone() } else { format!("{line} {word}") };
            if face.line_width(&candidate, scale) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            for ch in word.chars() {
                let candidate = format!("{line}{ch}");
                if !line.is_empty() && face.line_width(&candidate, scale) > width {
                    lines.push(std::mem::take(&mut line));
                    line.push(ch);
                } else {
                    line = candidate;
                }
            }
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNIFONT: Face = Face::Unifont;

    #[test]
    fn wrapping_respects_width_and_keeps_words() {
        let lines = wrap(&UNIFONT, "the quick brown fox jumps over the lazy dog", 100, 1);
        assert!(lines.len() > 1);
        for l in &lines {
            assert!(UNIFONT.line_width(l, 1) <= 100, "{l}");
        }
        assert_eq!(lines.join(" "), "the quick brown fox jumps over the lazy dog");
        // Only a word wider than the box itself is split.
        let korean = wrap(&UNIFONT, "함께한모든순간을기억합니다", 64, 1);
        assert!(korean.len() >= 3, "{korean:?}");
        assert_eq!(korean.concat(), "함께한모든순간을기억합니다");
    }

    #[test]
    fn korean_breaks_at_spaces_and_numbers_keep_their_units() {
        // 16 px a syllable, 8 a Latin letter or space: "가나 QR" would fit 96 px, "가나 QR 코드로" not.
        let f = fit(&UNIFONT, "가나 QR 코드로 받아 가세요", 96, 200, 1, 1);
        assert_eq!(f.lines, ["가나", "QR 코드로", "받아 가세요"], "{f:?}");
        let f = fit(&UNIFONT, "2 s until it continues", 8 * 10, 200, 1, 1);
        assert!(f.lines.iter().any(|l| l.starts_with("2 s")), "{f:?}");
        assert_eq!(units("1941 - 2026 and 3 단계"), ["1941", "-", "2026", "and", "3 단계"]);
    }

    #[test]
    fn text_shrinks_before_a_word_is_split_and_is_cut_only_at_the_floor() {
        // "않았습니다" is 80 px at 1x, 160 at 2x: in a 100 px box it fits whole only at 1x.
        let f = fit(&UNIFONT, "인쇄하지 않았습니다", 100, 200, 3, 1);
        assert_eq!((f.scale, f.truncated), (1, false), "{f:?}");
        assert_eq!(f.lines, ["인쇄하지", "않았습니다"]);
        // Large where it fits.
        let f = fit(&UNIFONT, "Kim", 400, 100, 3, 1);
        assert_eq!((f.scale, f.lines.len()), (3, 1));
        // Too long for the box at the floor: as many lines as fit, the last ends in the ellipsis.
        let long = "remember ".repeat(60);
        let f = fit(&UNIFONT, &long, 200, block_height(3, 1), 2, 1);
        assert!(f.truncated && f.lines.len() == 3, "{f:?}");
        assert!(f.lines[2].ends_with(ELLIPSIS), "{f:?}");
        for l in &f.lines {
            assert!(UNIFONT.line_width(l, 1) <= 200, "{l}");
        }
        assert!(f.height() <= block_height(3, 1));
    }
}
