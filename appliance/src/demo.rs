//! `keepsake demo`: the booth on built-in devices with scripted visitors, writing every screen,
//! narration, print and archive entry into one folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use keepsake_drivers::input::{InputEvent, ScriptStep, ScriptedInput};
use keepsake_drivers::narrator::EspeakNarrator;

use crate::archive::Archive;
use crate::booth::{Booth, Devices, RunReport, StopWhen};
use crate::config::{Config, Language};
use crate::stylizers::{self, Backend};
use crate::ui::Layout;

pub struct DemoOptions {
    pub sessions: u32,
    pub out: PathBuf,
    pub language: Language,
    pub backend: Backend,
}

/// The demo's config: built-in devices writing into `out`, short timeouts so a visit takes
/// seconds. It goes through the same validation as a booth's config file.
pub fn demo_config(out: &Path, language: Language) -> Config {
    let (name, dates, message) = match language {
        Language::Ko => ("김영희", "1941 – 2026", "함께한 모든 순간을 기억합니다. 늘 따뜻했던 당신을 그리워합니다."),
        Language::En => ("Margaret Ellis", "1941 – 2026", "We remember every moment we shared. Thank you for your kindness."),
    };
    let out = out.display().to_string().replace('\\', "\\\\").replace('"', "\\\"");
    let text = format!(
        r#"
[memorial]
name = "{name}"
dates = "{dates}"
message = "{message}"
language = "{lang}"

[devices.camera]
kind = "synthetic"
width = 768
height = 1024

[devices.display]
kind = "png"
record = "{out}"

[devices.speaker]
kind = "wav"
dir = "{out}"

[devices.printer]
kind = "image"
dir = "{out}"

[server]
url = "https://memorial.example.org"

[timeouts]
countdown_step = 0.3
review = 1.5
result = 1.5
share = 1.2
slide = 1.0
fault = 1.0

[archive]
dir = "{out}/archive"
"#,
        lang = language.code()
    );
    Config::parse(&text, "built-in demo config", Path::new(".")).expect("the built-in demo config is valid")
}

/// Scripted visitors that walk through every path of the journey: the first continues at
/// once and prints from the result screen; the second retakes, lets the review continue by
/// itself and prints from the share screen; the third lets every screen time out but prints.
pub fn visitors(sessions: u32, layout: &Layout) -> Vec<ScriptStep> {
    let (retake, cont) = layout.review_buttons();
    let touch = |r: crate::ui::Rect| {
        let (x, y) = r.center();
        InputEvent::Touch { x, y }
    };
    let center = InputEvent::Touch { x: layout.w as i32 / 2, y: layout.h as i32 / 2 };
    let step = |on: &str, after_ms: u64, event: InputEvent| ScriptStep { on: on.to_string(), after_ms, event };
    let mut steps = Vec::new();
    for i in 0..sessions {
        steps.push(step("attract", 400, center));
        match i % 3 {
            0 => {
                steps.push(step("review", 300, touch(cont)));
                steps.push(step("result", 500, InputEvent::PrintButton));
            }
            1 => {
                steps.push(step("review", 300, touch(retake)));
                // The second review is left alone: it continues by itself.
                steps.push(step("result", 300, center));
                steps.push(step("print_share", 200, InputEvent::PrintButton));
            }
            _ => {
                steps.push(step("print_share", 200, InputEvent::PrintButton));
            }
        }
    }
    steps
}

/// The demo narrates every visit: without espeak-ng it would only show fault screens, so say
/// what to install instead.
fn check_voice(language: Language) -> Result<(), String> {
    match EspeakNarrator::has_voice(language.code()) {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("espeak-ng has no {:?} voice: sudo apt-get install -y espeak-ng-data", language.code())),
        Err(e) => Err(format!("{}: {} ({})", e.device, e.problem, e.fix)),
    }
}

pub async fn run(opts: &DemoOptions) -> Result<RunReport, String> {
    check_voice(opts.language)?;
    std::fs::create_dir_all(&opts.out).map_err(|e| format!("cannot create {}: {e}", opts.out.display()))?;
    let config = demo_config(&opts.out, opts.language);
    let layout = Layout { w: config.screen.0, h: config.screen.1 };
    let mut devices = Devices::open(&config).map_err(|e| e.to_string())?;
    devices.input = Box::new(ScriptedInput::new(visitors(opts.sessions, &layout)));
    let stylizer = stylizers::for_booth(&config, opts.backend)?;
    let archive = Arc::new(Archive::open(&config.archive_dir).map_err(|e| e.to_string())?);
    let booth = Booth::new(Arc::new(config), devices, stylizer, archive);
    let within = Duration::from_secs(120 + 60 * opts.sessions as u64);
    booth.run(StopWhen { sessions: Some(opts.sessions), within: Some(within) }).await
}
