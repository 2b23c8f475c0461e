//! Text for the booth's screens and printed cards, Korean and English.
//!
//! embedded-graphics' own fonts are ASCII only, so text is set in GNU Unifont's Korean cut (via
//! u8g2-fonts: Hangul syllables, jamo and ASCII in one 16 px font) and scaled up by whole pixels for
//! large type. A character the font lacks is drawn as '?' and logged, never dropped silently.

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use u8g2_fonts::types::{FontColor, VerticalPosition};
use u8g2_fonts::{fonts, FontRenderer};

use crate::framebuffer::Scaled;

/// The glyph drawn for characters the font does not have.
pub const FALLBACK_GLYPH: char = '?';

/// Height of one line of the base font in pixels, before scaling.
pub const BASE_LINE_HEIGHT: u32 = 16;

static FONT: FontRenderer = FontRenderer::new::<fonts::u8g2_font_unifont_t_korean2>();

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// Whether the font can draw `ch`.
pub fn has_glyph(ch: char) -> bool {
    ch == ' ' || FONT.get_rendered_dimensions(ch, Point::zero(), VerticalPosition::Top).is_ok()
}

/// Typographic characters the font lacks, with the plain look-alike drawn instead.
const LOOK_ALIKES: &[(char, &str)] =
    &[('–', "-"), ('—', "-"), ('·', "-"), ('‘', "'"), ('’', "'"), ('“', "\""), ('”', "\""), ('…', "..."), ('\u{00A0}', " ")];

/// `text` with look-alikes for typographic characters and every other character the font lacks
/// replaced by [`FALLBACK_GLYPH`] (logged once per character).
pub fn drawable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\n' || has_glyph(c) {
            out.push(c);
        } else if let Some((_, plain)) = LOOK_ALIKES.iter().find(|(t, _)| *t == c) {
            out.push_str(plain);
        } else {
            warn_missing(c);
            out.push(FALLBACK_GLYPH);
        }
    }
    out
}

fn warn_missing(c: char) {
    static WARNED: std::sync::Mutex<Vec<char>> = std::sync::Mutex::new(Vec::new());
    let mut warned = WARNED.lock().unwrap_or_else(|p| p.into_inner());
    if !warned.contains(&c) {
        warned.push(c);
        tracing::warn!(character = %c, code = %format!("U+{:04X}", c as u32), "the booth font lacks this character; it is shown as '{FALLBACK_GLYPH}'");
    }
}

/// Width in pixels of one line of text at `scale`.
pub fn line_width(text: &str, scale: u32) -> u32 {
    let text = drawable(text);
    let dims = FONT.get_rendered_dimensions(text.as_str(), Point::zero(), VerticalPosition::Top);
    dims.map(|d| d.advance.x.max(0) as u32).unwrap_or(0) * scale.max(1)
}

pub fn line_height(scale: u32) -> u32 {
    BASE_LINE_HEIGHT * scale.max(1)
}

/// Breaks `text` into lines no wider than `max_width` pixels at `scale`: at spaces where it can,
/// inside a word only when one word alone is too wide. Explicit newlines are kept.
pub fn wrap(text: &str, max_width: u32, scale: u32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
            if line_width(&candidate, scale) <= max_width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word alone: split it by characters if it still does not fit.
            for ch in word.chars() {
                let candidate = format!("{line}{ch}");
                if !line.is_empty() && line_width(&candidate, scale) > max_width {
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

/// Draws one line with its top edge at `y`, aligned around `x` (left edge, centre or right edge).
/// Returns the width drawn.
pub fn draw_line<D>(target: &mut D, text: &str, x: i32, y: i32, scale: u32, color: Rgb888, align: Align) -> u32
where
    D: DrawTarget<Color = Rgb888>,
{
    let scale = scale.max(1);
    let text = drawable(text);
    let width = line_width(&text, scale);
    let left = match align {
        Align::Left => x,
        Align::Center => x - width as i32 / 2,
        Align::Right => x - width as i32,
    };
    let mut scaled = Scaled { target, factor: scale, origin: Point::new(left, y) };
    // The text is known drawable; a draw error can only come from the target, which we ignore
    // like embedded-graphics' own infallible framebuffers do.
    let _ = FONT.render(text.as_str(), Point::zero(), VerticalPosition::Top, FontColor::Transparent(color), &mut scaled);
    width
}

/// Draws wrapped text starting at `y`; returns the height used.
#[allow(clippy::too_many_arguments)]
pub fn draw_paragraph<D>(target: &mut D, text: &str, x: i32, y: i32, max_width: u32, scale: u32, color: Rgb888, align: Align) -> u32
where
    D: DrawTarget<Color = Rgb888>,
{
    let step = line_height(scale) + line_height(scale) / 4;
    let lines = wrap(text, max_width, scale);
    for (i, line) in lines.iter().enumerate() {
        draw_line(target, line, x, y + (i as u32 * step) as i32, scale, color, align);
    }
    lines.len() as u32 * step
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framebuffer::Framebuffer;

    fn render(text: &str) -> image::RgbImage {
        let mut fb = Framebuffer::new(400, 40);
        draw_line(&mut fb, text, 0, 0, 2, Rgb888::WHITE, Align::Left);
        fb.image
    }

    #[test]
    fn korean_renders_with_real_glyphs() {
        for c in "추모 김영희 함께한 모든 순간을 기억합니다".chars() {
            assert!(has_glyph(c), "font lacks {c:?}");
        }
        let korean = render("추모");
        let fallback = render(&FALLBACK_GLYPH.to_string().repeat(2));
        assert_ne!(korean, fallback, "Korean must not render as the fallback glyph");
        assert!(korean.pixels().any(|p| p.0 != [0, 0, 0]), "something is drawn");
    }

    #[test]
    fn unknown_characters_fall_back_visibly() {
        assert!(!has_glyph('\u{1F600}'));
        assert_eq!(drawable("a\u{1F600}b"), "a?b");
        assert_eq!(drawable("1941 – 2026 · “Kim”"), "1941 - 2026 - \"Kim\"");
        assert_eq!(render("a\u{1F600}b"), render("a?b"));
    }

    #[test]
    fn wrapping_respects_width_and_keeps_words() {
        let lines = wrap("the quick brown fox jumps over the lazy dog", 100, 1);
        assert!(lines.len() > 1);
        for l in &lines {
            assert!(line_width(l, 1) <= 100, "{l}");
        }
        assert_eq!(lines.join(" "), "the quick brown fox jumps over the lazy dog");
        let korean = wrap("함께한모든순간을기억합니다", 64, 1);
        assert!(korean.len() >= 3, "{korean:?}");
        assert_eq!(korean.concat(), "함께한모든순간을기억합니다");
    }
}
