//! `keepsake demo`: the booth on built-in devices with scripted visitors, writing every screen,
//! narration, print and archive entry into one folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use keepsake_drivers::input::{InputEvent, ScriptStep, ScriptedInput};
use keepsake_drivers::narrator::EspeakNarrator;

use crate::archive::Archive;
use crate::backend::Backend;
use crate::booth::screens::{consent, Layout};
use crate::booth::{Booth, RunReport, StopWhen};
use crate::config::{Config, Language};
use crate::devices::Devices;
use crate::error::Error;
use crate::stylizers;
use crate::sync::uploader::{Settings, Uploader};

pub struct DemoOptions {
    pub sessions: u32,
    pub out: PathBuf,
    pub language: Language,
    pub backend: Backend,
    /// A memorial server to send the keepsakes to: its address and this booth's token.
    pub server: Option<(String, String)>,
    /// Fast visits (quarter timeouts, small photos, no screen recording): for long runs such as
    /// the sync end-to-end test.
    pub fast: bool,
    /// How long to wait at the end for the outbox to empty.
    pub sync_wait: Duration,
}

impl DemoOptions {
    pub fn new(sessions: u32, out: PathBuf, language: Language, backend: Backend) -> Self {
        DemoOptions { sessions, out, language, backend, server: None, fast: false, sync_wait: Duration::from_secs(120) }
    }
}

/// Text as the contents of a TOML basic string.
fn toml_str(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The demo's config: built-in devices writing into `out`, short timeouts so a visit takes
/// seconds. It goes through the same validation as a booth's config file.
pub fn demo_config(out: &Path, language: Language) -> Config {
    demo_config_with(out, language, None, false)
}

pub fn demo_config_with(out: &Path, language: Language, server: Option<&(String, String)>, fast: bool) -> Config {
    let (name, dates, message) = match language {
        Language::Ko => ("김영희", "1941 – 2026", "함께한 모든 순간을 기억합니다. 늘 따뜻했던 당신을 그리워합니다."),
        Language::En => ("Margaret Ellis", "1941 – 2026", "We remember every moment we shared. Thank you for your kindness."),
    };
    let out = toml_str(&out.display().to_string());
    let server = match server {
        Some((url, token)) => {
            format!("url = \"{}\"\ntoken = \"{}\"\nretry_max = 1.0\nupload_chunk_kib = 64", toml_str(url), toml_str(token))
        }
        None => "url = \"https://memorial.example.org\"".to_string(),
    };
    // Fast visits: half the waits, a smaller photo, and only the last frame kept. (The scripted
    // visitors act ten times faster, so a busy machine does not make them miss a screen.)
    let (pace, camera, record) = if fast { (0.5, (384, 512), String::new()) } else { (1.0, (768, 1024), format!("record = \"{out}\"")) };
    let text = format!(
        r#"
[memorial]
name = "{name}"
dates = "{dates}"
message = "{message}"
language = "{lang}"

[devices.camera]
kind = "synthetic"
width = {cam_w}
height = {cam_h}

[devices.display]
kind = "png"
{record}

[devices.speaker]
kind = "wav"
dir = "{out}"

[devices.printer]
kind = "image"
dir = "{out}"

[server]
{server}

[privacy]
slideshow = "ask"

[timeouts]
countdown_step = {countdown}
review = {review}
consent = {consent}
result = {result}
share = {share}
slide = {slide}
fault = {slide}

[archive]
dir = "{out}/archive"
"#,
        lang = language.code(),
        cam_w = camera.0,
        cam_h = camera.1,
        countdown = 0.3 * pace,
        review = 1.5 * pace,
        // Long enough for the scripted answer, which waits out the consent screen's first moment
        // at any pace (see `visitors_paced`).
        consent = 3.0 * pace,
        result = 1.5 * pace,
        share = 1.2 * pace,
        slide = 1.0 * pace,
    );
    Config::parse(&text, "built-in demo config", Path::new(".")).expect("the built-in demo config is valid")
}

/// Scripted visitors that walk through every path of the journey: the first continues at
/// once, shares the original photo, lets the illustration join the slideshow and prints from the
/// result screen; the second retakes, lets the review continue by itself, keeps the photo
/// private and the illustration out of the slideshow and prints from the share screen; the
/// third lets every screen time out (so neither is shared) but prints.
pub fn visitors(sessions: u32, layout: &Layout) -> Vec<ScriptStep> {
    visitors_paced(sessions, layout, 1.0)
}

pub fn visitors_paced(sessions: u32, layout: &Layout, pace: f64) -> Vec<ScriptStep> {
    let (retake, cont) = layout.review_buttons();
    let (no, yes) = layout.consent_answers();
    let (not_shown, shown) = layout.slideshow_answers();
    // The consent screen takes no answer in its first moment, at any pace.
    let answer_after_ms = consent::ANSWERS_AFTER.as_millis() as u64 + 200;
    let touch = |r: crate::booth::screens::Rect| {
        let (x, y) = r.center();
        InputEvent::Touch { x, y }
    };
    let center = InputEvent::Touch { x: layout.w as i32 / 2, y: layout.h as i32 / 2 };
    let step =
        |on: &str, after_ms: u64, event: InputEvent| ScriptStep { on: on.to_string(), after_ms: (after_ms as f64 * pace) as u64, event };
    let answer = |on: &str, event: InputEvent| ScriptStep { on: on.to_string(), after_ms: answer_after_ms, event };
    let mut steps = Vec::new();
    for i in 0..sessions {
        steps.push(step("attract", 400, center));
        match i % 3 {
            0 => {
                steps.push(step("review", 300, touch(cont)));
                steps.push(answer("consent", touch(yes)));
                steps.push(answer("slideshow_consent", touch(shown)));
                // Pressed on the result screen, or on the next one if the result moved on.
                steps.push(step("result|print_share", 500, InputEvent::PrintButton));
            }
            1 => {
                steps.push(step("review", 300, touch(retake)));
                // The second review is left alone: it continues by itself.
                steps.push(answer("consent", touch(no)));
                steps.push(answer("slideshow_consent", touch(not_shown)));
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
fn check_voice(language: Language) -> Result<(), Error> {
    match EspeakNarrator::has_voice(language.code()) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::new("espeak-ng", format!("has no {:?} voice", language.code()), "sudo apt-get install -y espeak-ng-data")),
        Err(e) => Err(e.into()),
    }
}

pub async fn run(opts: &DemoOptions) -> Result<RunReport, Error> {
    check_voice(opts.language)?;
    std::fs::create_dir_all(&opts.out)
        .map_err(|e| Error::file(&opts.out, format!("cannot create the output folder: {e}"), "choose a writable place with --out"))?;
    let config = demo_config_with(&opts.out, opts.language, opts.server.as_ref(), opts.fast);
    let layout = Layout { w: config.screen.0, h: config.screen.1 };
    let mut devices = Devices::open(&config.devices, config.screen)?;
    let pace = if opts.fast { 0.1 } else { 1.0 };
    devices.input = Box::new(ScriptedInput::new(visitors_paced(opts.sessions, &layout, pace)));
    let stylizer = stylizers::for_booth(&config, opts.backend)?;
    let archive = Arc::new(Archive::open(&config.archive_dir)?);
    let uploader = Settings::from_config(&config.server).map(|s| Uploader::start(archive.clone(), s));
    let booth = Booth::new(Arc::new(config), devices, stylizer, archive.clone());
    let within = Duration::from_secs(120 + 60 * opts.sessions as u64);
    let report = booth.run(StopWhen { sessions: Some(opts.sessions), within: Some(within) }).await?;
    if uploader.is_some() {
        wait_for_sync(&archive, opts.sync_wait).await;
    }
    drop(uploader);
    Ok(report)
}

/// Waits (up to `limit`) until every keepsake has reached the server, saying what is left.
async fn wait_for_sync(archive: &Archive, limit: Duration) {
    let until = std::time::Instant::now() + limit;
    loop {
        match archive.outbox().summary() {
            Ok(s) if s.pending == 0 => {
                println!("all keepsakes are on the memorial server ({} sent, {} refused)", s.sent, s.refused);
                return;
            }
            Ok(s) if std::time::Instant::now() >= until => {
                println!("{} keepsakes still wait in the outbox; they are sent at the next start (keepsake sync push)", s.pending);
                return;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(e) => {
                println!("cannot read the outbox: {e}");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted answer that came after the question timed out would wait for a consent screen
    /// that never comes again (the script keeps its order) and stop the demo.
    #[test]
    fn the_scripted_answers_come_well_before_the_consent_question_times_out() {
        for fast in [false, true] {
            let config = demo_config_with(Path::new("/tmp"), Language::En, None, fast);
            let layout = Layout { w: config.screen.0, h: config.screen.1 };
            for pace in [1.0, 0.1] {
                for step in visitors_paced(3, &layout, pace).iter().filter(|s| s.on.ends_with("consent")) {
                    let answer = Duration::from_millis(step.after_ms);
                    assert!(answer >= consent::ANSWERS_AFTER, "an answer at {answer:?} is not taken");
                    assert!(config.timeouts.consent >= answer * 3 / 2, "fast={fast}: {answer:?} against {:?}", config.timeouts.consent);
                }
            }
        }
    }
}
