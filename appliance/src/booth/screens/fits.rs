//! Every screen, in both languages, on portrait 720x1280 and 1080x1920 and landscape 1280x800
//! panels, in every face the booth sets text in, with the longest texts a memorial has: nothing
//! leaves its box, no two boxes overlap, only the message may be cut (the card and the share page
//! keep it whole).

use std::sync::Arc;

use image::RgbImage;
use keepsake_drivers::printer::Unavailable;

use super::{scene, Layout, View};
use crate::booth::state::{PrintStatus, PrinterCheck, State};
use crate::config::{Guidance, Language};
use crate::scene::check;

pub const PANELS: [Layout; 3] = [Layout { w: 720, h: 1280 }, Layout { w: 1080, h: 1920 }, Layout { w: 1280, h: 800 }];

/// Every state's screen, with each way it can look (a slide or none, each printer answer).
pub fn every_screen(keepsake: &Arc<crate::keepsake::Keepsake>) -> Vec<(String, State)> {
    let photo = keepsake.photo.clone();
    let misconfigured = Unavailable::Misconfigured { problem: "x".into(), fix: "y".into() };
    let mut states = vec![
        ("attract".to_string(), State::Attract),
        ("countdown".into(), State::Countdown { remaining: 3 }),
        ("capture".into(), State::Capture),
        ("review".into(), State::Review { photo: photo.clone() }),
        ("consent".into(), State::Consent { photo: photo.clone() }),
        ("slideshow_consent".into(), State::SlideshowConsent { photo: photo.clone(), share_photo: true }),
        ("generating".into(), State::Generating { photo: photo.clone(), answers: Default::default(), step: 3, total: 28, preview: None }),
        ("result, asking".into(), State::Result { keepsake: keepsake.clone(), printer: PrinterCheck::Asking }),
        ("result".into(), State::Result { keepsake: keepsake.clone(), printer: PrinterCheck::Ready }),
        ("fault".into(), State::Fault { detail: String::new() }),
        ("out_of_service".into(), State::OutOfService { detail: String::new() }),
    ];
    for why in [Unavailable::OutOfPaper, Unavailable::SupplyEmpty("ribbon".into()), Unavailable::Busy(12), misconfigured] {
        states.push((
            format!("result, {why:?}"),
            State::Result { keepsake: keepsake.clone(), printer: PrinterCheck::Unavailable(why.clone()) },
        ));
        states.push((
            format!("print_share, {why:?}"),
            State::PrintShare { keepsake: keepsake.clone(), print: PrintStatus::Unavailable(why) },
        ));
    }
    for print in [PrintStatus::Offered, PrintStatus::Printing, PrintStatus::Printed] {
        states.push((format!("print_share, {print:?}"), State::PrintShare { keepsake: keepsake.clone(), print }));
    }
    states
}

/// To look at them: `KEEPSAKE_SCREENS_OUT=DIR cargo test -p keepsake --lib fits` writes each screen.
fn save(s: &crate::scene::Scene, panel: Layout, path: &str) {
    let mut fb = keepsake_drivers::framebuffer::Framebuffer::new(panel.w, panel.h);
    fb.fill(super::BACKGROUND);
    s.draw(&mut fb);
    fb.image.save(path.replace(", ", "-").replace(' ', "")).unwrap();
}

fn face_name(face: &keepsake_drivers::text::Face) -> &'static str {
    match face {
        keepsake_drivers::text::Face::Unifont => "unifont",
        keepsake_drivers::text::Face::Ttf(..) => "ttf",
    }
}

#[test]
fn every_screen_fits_its_longest_texts_on_every_panel_in_both_languages() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for face in check::faces() {
        for language in [Language::Ko, Language::En] {
            let keepsake = Arc::new(check::longest_keepsake(language));
            let memorial = check::longest_memorial(language);
            // This box's own words, as long as a technician writes them.
            let guidance = Guidance {
                press_print: Some(
                    language
                        .choose(
                            "화면 아래쪽 가운데에 있는 둥근 초록색 인쇄 버튼을 한 번 눌러 주시면 기념 카드를 인쇄해 드립니다",
                            "Press the round green print button in the middle below the screen once and we will print your keepsake card",
                        )
                        .to_string(),
                ),
                take_card: Some(
                    language
                        .choose(
                            "카드는 오른쪽 아래 나무 상자 앞쪽의 가느다란 투입구로 천천히 나옵니다",
                            "Your card comes out slowly from the narrow slot at the front of the wooden box on the right",
                        )
                        .to_string(),
                ),
            };
            let qr = crate::qr::qr_image(&keepsake.meta.share_url, 4).unwrap();
            let live = RgbImage::from_pixel(640, 480, image::Rgb([60, 60, 60]));
            for slide in [None, Some(keepsake.illustration.as_ref())] {
                let view =
                    View { language, memorial: &memorial, guidance: &guidance, live: Some(&live), slide, seconds_left: 10, qr: Some(&qr) };
                for (name, state) in every_screen(&keepsake) {
                    for panel in PANELS {
                        let s = scene(panel, face.clone(), &state, &view);
                        if let Ok(dir) = std::env::var("KEEPSAKE_SCREENS_OUT") {
                            save(&s, panel, &format!("{dir}/{}-{language:?}-{}x{}-{name}.png", face_name(&face), panel.w, panel.h));
                        }
                        for p in check::problems(&s, panel.w, panel.h, &["message"]) {
                            problems.push(format!("{} {language:?} {}x{} {name}: {p}", face.describe(), panel.w, panel.h));
                        }
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked >= 2 * 2 * 19 * 3, "{checked} screens checked");
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}
