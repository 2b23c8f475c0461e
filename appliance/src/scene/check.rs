//! The layout rules every scene keeps, for tests: everything on the page, no two boxes over each
//! other (backdrops aside), every glyph inside its box, nothing but the allowed texts cut.

use embedded_graphics::pixelcolor::Rgb888;
use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::text_box::ELLIPSIS;

use super::{draw_text, Rect, Scene};

/// What broke the rules in `scene` on a `w` x `h` page; `may_cut` names the texts that may be
/// cut (the whole text is kept elsewhere). Empty when it keeps them.
pub fn problems(scene: &Scene, w: u32, h: u32, may_cut: &[&str]) -> Vec<String> {
    let page = Rect { x: 0, y: 0, w, h };
    let mut found = Vec::new();
    for item in &scene.items {
        if !item.rect.inside(&page) {
            found.push(format!("{}: {:?} is off the {w}x{h} page", item.name, item.rect));
        }
    }
    let content: Vec<_> = scene.items.iter().filter(|i| !i.paint.is_backdrop()).collect();
    for (i, a) in content.iter().enumerate() {
        for b in &content[i + 1..] {
            if a.rect.overlaps(&b.rect) {
                found.push(format!("{} {:?} and {} {:?} overlap", a.name, a.rect, b.name, b.rect));
            }
        }
    }
    for item in &scene.items {
        let Some((rect, fitted, align)) = item.text() else { continue };
        if !rect.inside(&item.rect) {
            found.push(format!("{}: its text box {rect:?} leaves {:?}", item.name, item.rect));
        }
        if fitted.lines.iter().all(|l| l.trim().is_empty()) {
            found.push(format!("{}: nothing of its text is shown", item.name));
        }
        if fitted.truncated && !may_cut.contains(&item.name) {
            found.push(format!("{}: cut to {:?}", item.name, fitted.lines));
        }
        if fitted.lines.iter().any(|l| l.ends_with(ELLIPSIS)) != fitted.truncated {
            found.push(format!("{}: cut without the ellipsis, or an ellipsis on a whole text: {:?}", item.name, fitted.lines));
        }
        // The ink itself, drawn alone: every lit pixel inside the box.
        let mut alone = Framebuffer::new(w, h);
        alone.fill(Rgb888::new(0, 0, 0));
        draw_text(&mut alone, &scene.face, rect, fitted, Rgb888::new(255, 255, 255), align);
        let lit: Vec<(u32, u32)> = alone.image.enumerate_pixels().filter(|(_, _, p)| p.0[0] > 0).map(|(x, y, _)| (x, y)).collect();
        if lit.is_empty() {
            found.push(format!("{}: no ink", item.name));
        }
        if let Some((x, y)) = lit.iter().find(|(x, y)| !rect.contains(*x as i32, *y as i32)) {
            found.push(format!("{}: a glyph of {:?} is drawn at ({x}, {y}), outside its box {rect:?}", item.name, fitted.lines));
        }
    }
    found
}

/// The longest texts a memorial really has, in `language`: a 30-character name, long dates, the
/// caption made of them, and a 300-character message.
pub fn longest_memorial(language: crate::config::Language) -> crate::config::Memorial {
    let (name, dates, message) = *language.choose(
        &        (
            "사랑하는 우리 어머니 故 김영희 권사님과 아버지 故 박철수 장로님",
            "1941년 1월 1일 – 2026년 12월 31일",
            "어머니, 당신이 계셔서 우리의 날들은 늘 따뜻했습니다. 새벽마다 부엌에서 들리던 칼질 소리, 아프다고 하면 밤새 이마에 얹어 주시던 손, \
             QR 코드 하나 읽는 법을 배우시며 웃으시던 얼굴까지 모두 기억하겠습니다. 하루도 잊지 않겠습니다. 먼 길 오셔서 함께 기억해 주신 모든 분들께 \
             진심으로 감사드립니다. 어머니가 가르쳐 주신 대로 서로 아끼고 사랑하며 살겠습니다. 이제 아프지 마시고 편히 쉬세요. 늘 그립고 사랑합니다. \
             다시 만날 그날까지 우리 가족은 어머니의 웃음을 품고 살아가겠습니다.",
        ),
        &(
            "Alexandra Montgomery-Whitfield",
            "1 September 1941 – 31 December 2026",
            "Mum, you made every ordinary day feel like a small celebration. We remember the smell of bread on Sunday mornings, \
             your garden full of sweet peas, the letters you wrote to each of us every birthday, and how you laughed until you cried \
             at your own jokes. Thank you to everyone who travelled so far to be here today. Please take a picture home with you.",
        ),
    );
    crate::config::Memorial {
        name: name.into(),
        dates: dates.into(),
        message: message.into(),
        caption: format!("{name} ({dates})"),
        language,
        portrait: None,
    }
}

/// A keepsake of [`longest_memorial`].
pub fn longest_keepsake(language: crate::config::Language) -> crate::keepsake::Keepsake {
    use crate::keepsake::{FileInfo, Keepsake, KeepsakeMeta};
    let memorial = longest_memorial(language);
    let file = FileInfo { file: String::new(), bytes: 0, crc32: 0, width: 0, height: 0 };
    Keepsake {
        meta: KeepsakeMeta {
            id: "0f3a9c2e".into(),
            created_at: "2026-12-31T23:59:59+09:00".into(),
            memorial_name: memorial.name,
            caption: memorial.caption,
            message: memorial.message,
            language: language.code().into(),
            share_url: "https://memorial.example.org/k/0f3a9c2e7b1d4e6f8a0b2c4d6e8f0a1b".into(),
            share_photo: false,
            in_slideshow: false,
            made_by: String::new(),
            style: String::new(),
            photo: file.clone(),
            illustration: file,
        },
        photo: std::sync::Arc::new(image::RgbImage::from_pixel(640, 480, image::Rgb([90, 120, 200]))),
        illustration: std::sync::Arc::new(image::RgbImage::from_fn(576, 768, |x, y| image::Rgb([(x / 3) as u8, (y / 4) as u8, 120]))),
    }
}

/// The faces the booth sets text in: the built-in bitmap one always, NanumGothic where installed
/// (required under KEEPSAKE_STRICT_TESTS=1).
pub fn faces() -> Vec<keepsake_drivers::text::Face> {
    use keepsake_drivers::text::Face;
    const NANUM: &str = "/usr/share/fonts/truetype/nanum/NanumGothic.ttf";
    let mut faces = vec![Face::Unifont];
    match Face::load(std::path::Path::new(NANUM)) {
        Ok(face) => faces.push(face),
        Err(e) => {
            assert!(std::env::var("KEEPSAKE_STRICT_TESTS").as_deref() != Ok("1"), "KEEPSAKE_STRICT_TESTS=1 but {e}");
            eprintln!("only the built-in face: {e}");
        }
    }
    faces
}
