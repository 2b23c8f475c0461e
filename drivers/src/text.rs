//! Text for the booth's screens and printed cards, Korean and English.
//!
//! Large type is set in a TrueType/OpenType font with Hangul (NanumGothic, Noto Sans CJK KR or
//! Droid Sans Fallback, found on the system or given in the config), rasterised with fontdue and
//! blended anti-aliased. Without one, GNU Unifont's Korean cut is built in (via u8g2-fonts:
//! Hangul syllables, jamo and ASCII in one 16 px bitmap font) and scaled up by whole pixels.
//! Sizes are given as a scale of a 16 px line either way, so layouts do not depend on the face.
//! A character the face lacks is drawn as '?' and logged, never dropped silently.

use std::path::Path;
use std::sync::Arc;

use parking_lot::RwLock;

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use u8g2_fonts::types::{FontColor, VerticalPosition};
use u8g2_fonts::{fonts, FontRenderer};

use crate::error::{DeviceError, DeviceResult};
use crate::framebuffer::{Framebuffer, Scaled};

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

/// Fonts with Hangul that Debian/Ubuntu systems have, best first.
pub const SYSTEM_FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
];

/// The typeface text is set in.
#[derive(Clone)]
pub enum Face {
    /// The built-in bitmap font.
    Unifont,
    /// A scalable font with Hangul, and where it came from.
    Ttf(Arc<fontdue::Font>, String),
}

static FACE: RwLock<Face> = RwLock::new(Face::Unifont);

/// Sets the face all screens and cards use from now on.
pub fn set_face(face: Face) {
    *FACE.write() = face;
}

pub fn face() -> Face {
    FACE.read().clone()
}

fn luma_blend(dst: &mut image::Rgb<u8>, color: Rgb888, coverage: u8) {
    let a = coverage as u32;
    let c = [color.r(), color.g(), color.b()];
    for i in 0..3 {
        dst.0[i] = ((dst.0[i] as u32 * (255 - a) + c[i] as u32 * a + 127) / 255) as u8;
    }
}

impl Face {
    /// Loads a TrueType/OpenType font (a collection's first face); it must have Hangul and Latin.
    pub fn load(path: &Path) -> DeviceResult<Face> {
        let device = format!("font {}", path.display());
        let bytes = std::fs::read(path)
            .map_err(|e| DeviceError::new(&device, format!("cannot read: {e}"), "set screen.font to a .ttf/.otf/.ttc file"))?;
        let font = fontdue::Font::from_bytes(bytes, fontdue::FontSettings::default())
            .map_err(|e| DeviceError::new(&device, format!("not a font: {e}"), "use a TrueType or OpenType file"))?;
        let lacking: String = ['가', '힣', 'A', '1'].into_iter().filter(|c| font.lookup_glyph_index(*c) == 0).collect();
        if !lacking.is_empty() {
            return Err(DeviceError::new(
                &device,
                format!("has no glyphs for {lacking}"),
                "use a font with Korean, e.g. NanumGothic (sudo apt-get install fonts-nanum)",
            ));
        }
        Ok(Face::Ttf(Arc::new(font), path.display().to_string()))
    }

    /// The first usable font of [`SYSTEM_FONTS`], else the built-in one.
    pub fn system() -> Face {
        SYSTEM_FONTS.iter().map(Path::new).filter(|p| p.is_file()).find_map(|p| Face::load(p).ok()).unwrap_or(Face::Unifont)
    }

    pub fn describe(&self) -> String {
        match self {
            Face::Unifont => "built-in GNU Unifont (bitmap, Hangul + Latin)".into(),
            Face::Ttf(_, path) => format!("{path} (scalable, anti-aliased)"),
        }
    }

    pub fn has_glyph(&self, ch: char) -> bool {
        match self {
            _ if ch == ' ' => true,
            Face::Unifont => FONT.get_rendered_dimensions(ch, Point::zero(), VerticalPosition::Top).is_ok(),
            Face::Ttf(font, _) => font.lookup_glyph_index(ch) != 0,
        }
    }

    fn px(scale: u32) -> f32 {
        (BASE_LINE_HEIGHT * scale.max(1)) as f32
    }

    /// The size a scalable face is set at for a `scale` line: its ascent and descent (what its
    /// glyphs reach) must fit the line box with a pixel to spare, or they would spill into the
    /// next box; most fonts' ascent + descent is a little more than their em.
    fn em(font: &fontdue::Font, scale: u32) -> f32 {
        let px = Self::px(scale);
        match font.horizontal_line_metrics(px) {
            Some(m) if m.ascent - m.descent > px - 2.0 => px * (px - 2.0) / (m.ascent - m.descent),
            _ => px,
        }
    }

    /// Width of one line of (drawable) text.
    fn width(&self, text: &str, scale: u32) -> u32 {
        match self {
            Face::Unifont => {
                let dims = FONT.get_rendered_dimensions(text, Point::zero(), VerticalPosition::Top);
                dims.map(|d| d.advance.x.max(0) as u32).unwrap_or(0) * scale.max(1)
            }
            Face::Ttf(font, _) => text.chars().map(|c| font.metrics(c, Self::em(font, scale)).advance_width).sum::<f32>().ceil() as u32,
        }
    }

    /// Draws one line of (drawable) text with its line box's top at (left, top).
    fn draw(&self, fb: &mut Framebuffer, text: &str, left: i32, top: i32, scale: u32, color: Rgb888) {
        match self {
            Face::Unifont => {
                // Unifont's glyphs reach one pixel above the top it is drawn at and end 12 below:
                // two pixels down centres their 14 rows in the 16 px line box.
                let down = 2 * scale.max(1) as i32;
                let mut scaled = Scaled { target: fb, factor: scale.max(1), origin: Point::new(left, top + down) };
                // The text is known drawable; a framebuffer never fails to draw.
                let _ = FONT.render(text, Point::zero(), VerticalPosition::Top, FontColor::Transparent(color), &mut scaled);
            }
            Face::Ttf(font, _) => {
                let (line, px) = (Self::px(scale), Self::em(font, scale));
                // The line box is `line` high; the glyphs sit on a baseline that centres the face's
                // ascent and descent in it, as the bitmap font's do.
                let (ascent, descent) = font.horizontal_line_metrics(px).map(|m| (m.ascent, m.descent)).unwrap_or((px * 0.8, -px * 0.2));
                let baseline = top as f32 + (line - (ascent - descent)) / 2.0 + ascent;
                let (w, h) = (fb.image.width() as i32, fb.image.height() as i32);
                let mut pen = left as f32;
                for c in text.chars() {
                    let (m, coverage) = font.rasterize(c, px);
                    let gx = (pen + m.xmin as f32).round() as i32;
                    let gy = (baseline - m.height as f32 - m.ymin as f32).round() as i32;
                    for (i, &a) in coverage.iter().enumerate() {
                        let (x, y) = (gx + (i % m.width.max(1)) as i32, gy + (i / m.width.max(1)) as i32);
                        if a > 0 && x >= 0 && y >= 0 && x < w && y < h {
                            luma_blend(fb.image.get_pixel_mut(x as u32, y as u32), color, a);
                        }
                    }
                    pen += m.advance_width;
                }
            }
        }
    }
}

impl Face {
    /// `text` with look-alikes for typographic characters and every other character this face
    /// lacks replaced by [`FALLBACK_GLYPH`] (logged once per character).
    pub fn drawable(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if c == '\n' || self.has_glyph(c) {
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

    /// Width in pixels of one line of text at `scale` in this face.
    pub fn line_width(&self, text: &str, scale: u32) -> u32 {
        self.width(&self.drawable(text), scale)
    }

    /// Draws one line in this face with its top edge at `y`, aligned around `x` (left edge,
    /// centre or right edge). Returns the width drawn.
    #[allow(clippy::too_many_arguments)]
    pub fn draw_line(&self, fb: &mut Framebuffer, text: &str, x: i32, y: i32, scale: u32, color: Rgb888, align: Align) -> u32 {
        let text = self.drawable(text);
        let width = self.width(&text, scale);
        let left = match align {
            Align::Left => x,
            Align::Center => x - width as i32 / 2,
            Align::Right => x - width as i32,
        };
        self.draw(fb, &text, left, y, scale, color);
        width
    }
}

/// Whether the current face can draw `ch`.
pub fn has_glyph(ch: char) -> bool {
    face().has_glyph(ch)
}

/// Typographic characters the font lacks, with the plain look-alike drawn instead.
const LOOK_ALIKES: &[(char, &str)] =
    &[('–', "-"), ('—', "-"), ('·', "-"), ('‘', "'"), ('’', "'"), ('“', "\""), ('”', "\""), ('…', "..."), ('\u{00A0}', " ")];

/// `text` with look-alikes for typographic characters and every other character the current
/// face lacks replaced by [`FALLBACK_GLYPH`] (logged once per character).
pub fn drawable(text: &str) -> String {
    face().drawable(text)
}

fn warn_missing(c: char) {
    static WARNED: parking_lot::Mutex<Vec<char>> = parking_lot::Mutex::new(Vec::new());
    let mut warned = WARNED.lock();
    if !warned.contains(&c) {
        warned.push(c);
        tracing::warn!(character = %c, code = %format!("U+{:04X}", c as u32), "the booth font lacks this character; it is shown as '{FALLBACK_GLYPH}'");
    }
}

/// Width in pixels of one line of text at `scale` in the current face.
pub fn line_width(text: &str, scale: u32) -> u32 {
    face().line_width(text, scale)
}

pub fn line_height(scale: u32) -> u32 {
    BASE_LINE_HEIGHT * scale.max(1)
}

/// Draws one line in the current face with its top edge at `y`, aligned around `x` (left edge,
/// centre or right edge). Returns the width drawn.
pub fn draw_line(fb: &mut Framebuffer, text: &str, x: i32, y: i32, scale: u32, color: Rgb888, align: Align) -> u32 {
    face().draw_line(fb, text, x, y, scale, color, align)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
