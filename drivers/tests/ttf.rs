//! Text in a scalable Korean font (NanumGothic from fonts-nanum): anti-aliased Hangul and Latin
//! at the sizes the screens ask for, wrapped by the face's own widths. A font without Hangul, or
//! a file that is no font, is refused with the fix. (Its own test binary: the face is global.)

use std::path::Path;

use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::text::{self, Align, Face};

const NANUM: &str = "/usr/share/fonts/truetype/nanum/NanumGothic.ttf";
const DEJAVU: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

fn installed(path: &str) -> bool {
    let there = Path::new(path).is_file();
    if !there {
        assert!(std::env::var("KEEPSAKE_STRICT_TESTS").as_deref() != Ok("1"), "KEEPSAKE_STRICT_TESTS=1 but {path} is missing");
        eprintln!("skipping: {path} is not installed");
    }
    there
}

#[test]
fn korean_and_latin_are_set_anti_aliased_in_a_scalable_face() {
    if !installed(NANUM) {
        return;
    }
    let face = Face::load(Path::new(NANUM)).unwrap();
    assert!(face.describe().contains("NanumGothic"));
    text::set_face(face.clone());
    for c in "추모 김영희 함께한 모든 순간을 기억합니다 Remember 1941-2026".chars() {
        assert!(text::has_glyph(c), "{c:?}");
    }
    let mut fb = Framebuffer::new(700, 120);
    let scale = 4; // a 64 px line, as the attract screen's title
    let width = text::draw_line(&mut fb, "김영희 Remember", 10, 10, scale, Rgb888::WHITE, Align::Left);
    let lit: Vec<(u32, u32, u8)> = fb.image.enumerate_pixels().filter(|(_, _, p)| p[0] > 0).map(|(x, y, p)| (x, y, p[0])).collect();
    assert!(!lit.is_empty());
    let (min_x, max_x) = (lit.iter().map(|l| l.0).min().unwrap(), lit.iter().map(|l| l.0).max().unwrap());
    let (min_y, max_y) = (lit.iter().map(|l| l.1).min().unwrap(), lit.iter().map(|l| l.1).max().unwrap());
    assert!(max_x - min_x + 1 <= width && width - (max_x - min_x + 1) < 20, "ink {min_x}..{max_x} within the measured {width}");
    assert!(min_y >= 10 && max_y < 10 + 64, "the glyphs sit in their 64 px line box: {min_y}..{max_y}");
    assert!(max_y - min_y > 40, "large type: {}", max_y - min_y);
    let edges = lit.iter().filter(|l| l.2 > 0 && l.2 < 255).count();
    assert!(edges * 10 > lit.len(), "anti-aliased edges: {edges} of {}", lit.len());
    // The Hangul part is drawn, not a fallback: ink in the first third, where 김영희 sits.
    assert!(lit.iter().filter(|l| l.0 < 10 + width / 3).count() > 500);
    // Wrapping uses the face's widths.
    let lines = keepsake_drivers::text_box::wrap(&face, "함께한 모든 순간을 기억합니다. 늘 따뜻했던 당신을 그리워합니다.", 300, 2);
    assert!(lines.len() >= 2, "{lines:?}");
    for l in &lines {
        assert!(text::line_width(l, 2) <= 300, "{l}");
    }
}

#[test]
fn a_font_without_korean_or_no_font_at_all_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("font.ttf");
    std::fs::write(&junk, b"not a font").unwrap();
    let err = Face::load(&junk).err().unwrap();
    assert!(err.problem.contains("not a font"), "{err}");
    let err = Face::load(&dir.path().join("missing.ttf")).err().unwrap();
    assert!(err.fix.contains("screen.font"), "{err}");
    if installed(DEJAVU) {
        let err = Face::load(Path::new(DEJAVU)).err().unwrap();
        assert!(err.problem.contains("가") && err.fix.contains("fonts-nanum"), "{err}");
    }
}
