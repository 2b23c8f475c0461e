//! Drives the state machine over the devices with tokio: one loop that polls input, collects the
//! results of device work, fires timers and redraws, at the preview frame rate.
//!
//! Slow or blocking device work (capture, generation, narration, printing) runs on blocking
//! threads and comes back as events tagged with the visit it belongs to, so a late result from
//! an abandoned visit is dropped, never shown to the next visitor. A failure (error or panic) of
//! any device becomes [`Event::Fault`]: the visitor sees a calm screen and the booth goes on.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use image::RgbImage;
use keepsake_drivers::camera::Camera;
use keepsake_drivers::display::Display;
use keepsake_drivers::framebuffer::Framebuffer;
use keepsake_drivers::input::{Input, InputEvent};
use keepsake_drivers::narrator::Narrator;
use keepsake_drivers::printer::{Printer, PrinterState, Unavailable};
use keepsake_drivers::speaker::Speaker;
use keepsake_models::Stylizer;
use tokio::sync::mpsc;

use super::state::{Event, Journey, PrintStatus, PrinterCheck, State, Work};
use crate::archive::Archive;
use crate::booth::screens::{self, Layout, Touch, View};
use crate::card;
use crate::config::{Config, SlideshowPolicy};
use crate::devices::Devices;
use crate::error::Error;
use crate::keepsake::{self, FileInfo, Keepsake, KeepsakeMeta};
use crate::notify::Notifier;
use crate::qr;

/// Preview frame period: 15 frames a second.
const FRAME: Duration = Duration::from_millis(66);
/// Keepsakes shown in the attract slideshow.
const SLIDES: usize = 12;
/// After this many visits in a row failed before their keepsake, the booth says it is
/// temporarily unavailable instead of letting the next visitor fail the same way.
const FAILED_VISITS_OUT_OF_SERVICE: u32 = 3;

/// When `run` returns.
#[derive(Debug, Clone, Default)]
pub struct StopWhen {
    /// After this many visits have ended (back on the attract screen).
    pub sessions: Option<u32>,
    /// Give up (with an error) after this long: a demo or test must not hang.
    pub within: Option<Duration>,
}

/// What happened while the booth ran.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// Visits that began (left the attract screen).
    pub sessions: u32,
    /// Keepsakes made and archived, in order.
    pub keepsakes: Vec<Arc<Keepsake>>,
    /// Faults, as logged (never shown to visitors).
    pub faults: Vec<String>,
    /// Every screen shown, in order, as `session/screen` (for tests and the demo summary).
    pub screens: Vec<String>,
}

pub struct Booth {
    config: Arc<Config>,
    // parking_lot's locks do not poison: a panic while a device was held is already reported
    // as a fault, and the device is still usable (or fails again, cleanly).
    camera: Arc<Mutex<Box<dyn Camera>>>,
    display: Box<dyn Display>,
    input: Box<dyn Input>,
    speaker: Arc<Mutex<Box<dyn Speaker>>>,
    narrator: Arc<dyn Narrator>,
    printer: Arc<Mutex<Box<dyn Printer>>>,
    stylizer: Arc<dyn Stylizer>,
    archive: Arc<Archive>,
}

/// What the screens show beside the state: the slideshow and the keepsake's QR code.
struct Shown {
    slides: Vec<Arc<RgbImage>>,
    slide: usize,
    qr: Option<RgbImage>,
}

/// A message from device work back to the loop: which visit, and what happened.
type Tagged = (u32, Event);

/// Runs blocking device work, turning a panic into a fault instead of taking the booth down.
fn spawn_device_work(
    visit: u32,
    tx: &mpsc::UnboundedSender<Tagged>,
    what: &'static str,
    work: impl FnOnce(&mpsc::UnboundedSender<Tagged>) -> Option<Event> + Send + 'static,
) {
    let tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let event = match std::panic::catch_unwind(AssertUnwindSafe(|| work(&tx))) {
            Ok(e) => e,
            Err(p) => {
                let msg =
                    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_default();
                Some(Event::Fault(format!("{what} crashed: {msg}")))
            }
        };
        if let Some(event) = event {
            let _ = tx.send((visit, event));
        }
    });
}

impl Booth {
    pub fn new(config: Arc<Config>, devices: Devices, stylizer: Arc<dyn Stylizer>, archive: Arc<Archive>) -> Self {
        Self {
            config,
            camera: Arc::new(Mutex::new(devices.camera)),
            display: devices.display,
            input: devices.input,
            speaker: Arc::new(Mutex::new(devices.speaker)),
            narrator: devices.narrator,
            printer: Arc::new(Mutex::new(devices.printer)),
            stylizer,
            archive,
        }
    }

    /// Runs the booth until `stop` says so, or forever. Never returns an error for a device
    /// fault; only for `stop.within` running out.
    pub async fn run(mut self, stop: StopWhen) -> Result<RunReport, Error> {
        let cfg = self.config.clone();
        let t = &cfg.timeouts;
        let journey = Journey { timeouts: cfg.timeouts.clone(), ask_slideshow: cfg.slideshow == SlideshowPolicy::Ask };
        // A panel's size is the panel's; screen.width/height size only the headless display.
        let (w, h) = self.display.size();
        let layout = Layout { w, h };
        let started = Instant::now();
        let (tx, mut rx) = mpsc::unbounded_channel::<Tagged>();
        let mut notifier = Notifier::new();
        let mut report = RunReport::default();

        let mut state = State::Attract;
        let mut deadline = state.timeout(t).map(|d| Instant::now() + d);
        // When the current screen appeared (a screen may ignore touches at first).
        let mut screen_since = Instant::now();
        let mut visit = 0u32;
        let mut step_in_visit = 0u32;
        // Visits in a row that failed before their keepsake.
        let mut failed_visits = 0u32;
        let mut shown = Shown { slides: self.slides(), slide: 0, qr: None };
        let mut live: Option<RgbImage> = None;
        let mut fb = Framebuffer::new(layout.w, layout.h);
        let mut dirty = true;
        let mut ticker = tokio::time::interval(FRAME);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

        notifier.ready(&format!("{}: attract", self.stylizer.name()));
        tracing::info!(stylizer = %self.stylizer.name(), "booth ready");
        report.screens.push(format!("{visit}/attract"));

        loop {
            ticker.tick().await;
            notifier.alive();
            if let Some(limit) = stop.within {
                if started.elapsed() > limit {
                    return Err(Error::new(
                        "the booth",
                        format!("did not finish within {limit:?}; it was on the {} screen", state.screen()),
                        "a scripted run waits for more screens than its script gives (check the script's taps and the timeouts)",
                    ));
                }
            }

            // Gather this turn's events.
            let mut events = Vec::new();
            match self.input.poll(state.screen()) {
                Ok(Some(InputEvent::PrintButton)) => events.push(Event::PrintButton),
                Ok(Some(InputEvent::Touch { x, y })) => match screens::hit(&state, &layout, x, y, screen_since.elapsed()) {
                    Some(Touch::Begin) => events.push(Event::Begin),
                    Some(Touch::Retake) => events.push(Event::Retake),
                    Some(Touch::Continue) => events.push(Event::Continue),
                    Some(Touch::KeepPhotoPrivate) => events.push(Event::Consent(false)),
                    Some(Touch::SharePhoto) => events.push(Event::Consent(true)),
                    Some(Touch::KeepOutOfSlideshow) => events.push(Event::SlideshowConsent(false)),
                    Some(Touch::ShowInSlideshow) => events.push(Event::SlideshowConsent(true)),
                    Some(Touch::Next) => events.push(Event::Next),
                    None => {}
                },
                Ok(None) => {}
                Err(e) => events.push(Event::Fault(format!("input: {e}"))),
            }
            while let Ok((from_visit, event)) = rx.try_recv() {
                if from_visit == visit {
                    events.push(event);
                } else {
                    tracing::debug!(from_visit, visit, ?event, "dropping a late result of an earlier visit");
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                events.push(Event::Timeout);
            }

            for mut event in events {
                if let Event::Generated(_) = &event {
                    failed_visits = 0;
                }
                if let Event::Fault(detail) = &event {
                    report.faults.push(detail.clone());
                    // Counted once per visit, and only before its keepsake was made: a printer
                    // fault after it is no reason to turn the next visitor away.
                    if state.before_keepsake() {
                        failed_visits += 1;
                    }
                    if failed_visits >= FAILED_VISITS_OUT_OF_SERVICE && !matches!(state, State::OutOfService { .. }) {
                        tracing::error!(screen = state.screen(), %detail, failed_visits, "the same kind of visit keeps failing; showing \"temporarily unavailable\"");
                        event = Event::OutOfService(detail.clone());
                    } else {
                        tracing::error!(screen = state.screen(), %detail, "device fault; showing the calm screen and returning to attract");
                    }
                }
                let is_timeout = matches!(event, Event::Timeout);
                let step = state.clone().on(event, &journey);
                dirty = true;
                if !step.new_step {
                    state = step.state;
                    if is_timeout {
                        deadline = state.timeout(t).map(|d| Instant::now() + d);
                    }
                    for work in step.work {
                        self.perform(work, visit, &tx, &mut report, &mut shown);
                    }
                    continue;
                }
                if matches!(state, State::Attract) && matches!(step.state, State::Countdown { .. }) {
                    visit += 1;
                    step_in_visit = 0;
                    report.sessions = visit;
                    tracing::info!(visit, "a visitor begins");
                }
                state = step.state;
                screen_since = Instant::now();
                step_in_visit += 1;
                deadline = state.timeout(t).map(|d| Instant::now() + d);
                report.screens.push(format!("{visit}/{}", state.screen()));
                notifier.status(&self.status_line(&state));
                for work in step.work {
                    self.perform(work, visit, &tx, &mut report, &mut shown);
                }
                if matches!(state, State::Attract) {
                    step_in_visit = 0;
                    if stop.sessions.is_some_and(|n| visit >= n) {
                        notifier.stopping();
                        return Ok(report);
                    }
                }
            }

            // The live preview during the countdown.
            if matches!(state, State::Countdown { .. }) {
                let frame = self.camera.lock().preview();
                match frame {
                    Ok(f) => {
                        live = Some(f);
                        dirty = true;
                    }
                    Err(e) => {
                        let _ = tx.send((visit, Event::Fault(format!("camera preview: {e}"))));
                        continue;
                    }
                }
            }
            if matches!(state, State::Review { .. } | State::Consent { .. } | State::SlideshowConsent { .. }) {
                dirty = true; // the seconds-left hint
            }

            if dirty {
                dirty = false;
                let seconds_left = deadline.map(|d| d.saturating_duration_since(Instant::now()).as_secs_f32().ceil() as u32).unwrap_or(0);
                let view = View {
                    language: cfg.memorial.language,
                    memorial: &cfg.memorial,
                    guidance: &cfg.guidance,
                    live: live.as_ref(),
                    slide: (!shown.slides.is_empty()).then(|| shown.slides[shown.slide % shown.slides.len()].as_ref()),
                    seconds_left,
                    qr: shown.qr.as_ref(),
                };
                if let Err(p) = std::panic::catch_unwind(AssertUnwindSafe(|| screens::draw(&mut fb, &state, &view))) {
                    let _ = tx.send((visit, Event::Fault(format!("drawing the {} screen crashed: {p:?}", state.screen()))));
                    continue;
                }
                let label = self.frame_label(&state, visit, step_in_visit);
                if let Err(e) = self.display.present(&fb.image, &label) {
                    if matches!(state, State::Fault { .. } | State::OutOfService { .. }) {
                        // Cannot even show the calm screen: log it and carry on with the timer.
                        tracing::error!(%e, "display fault while showing the fault screen");
                    } else {
                        let _ = tx.send((visit, Event::Fault(format!("display: {e}"))));
                    }
                }
            }
        }
    }

    /// What `systemctl status` shows: the screen, and on the attract screen how many keepsakes
    /// still wait for the memorial server.
    fn status_line(&self, state: &State) -> String {
        match (state, self.archive.outbox().summary()) {
            (State::Attract, Ok(s)) if s.pending + s.refused > 0 => {
                format!("attract; outbox: {} waiting, {} refused (keepsake sync status)", s.pending, s.refused)
            }
            _ => state.screen().to_string(),
        }
    }

    /// The recording label of a frame: `session-NNN/SS-screen[-detail]`. The attract screen
    /// belongs to the visit it waits for.
    fn frame_label(&self, state: &State, visit: u32, step: u32) -> String {
        let session = if matches!(state, State::Attract) { visit + 1 } else { visit };
        let detail = match state {
            State::Countdown { remaining } => format!("-{remaining}"),
            State::Generating { step, total, .. } if *total > 0 => format!("-{step}of{total}"),
            State::PrintShare { print, .. } => match print {
                PrintStatus::Offered => "-offered".into(),
                PrintStatus::Printing => "-printing".into(),
                PrintStatus::Printed => "-printed".into(),
                PrintStatus::Unavailable(_) => "-unavailable".into(),
            },
            // What the printer answered changes what the screen offers: a frame each.
            State::Result { printer, .. } => match printer {
                PrinterCheck::Asking => String::new(),
                PrinterCheck::Ready => "-printer-ready".into(),
                PrinterCheck::Unavailable(_) => "-printer-unavailable".into(),
            },
            _ => String::new(),
        };
        format!("session-{session:03}/{step:02}-{}{detail}", state.screen())
    }

    /// Starts `work` for this visit; what it finds comes back on `tx` as an event.
    /// The attract slideshow: the portrait of the person remembered first, then the latest
    /// keepsakes whose visitors said yes, where the config asks them (none where it does not).
    fn slides(&self) -> Vec<Arc<RgbImage>> {
        let keepsakes = match self.config.slideshow {
            SlideshowPolicy::Ask => self.archive.slideshow(SLIDES),
            SlideshowPolicy::Off => Vec::new(),
        };
        self.portrait().into_iter().chain(keepsakes).collect()
    }

    /// The portrait: the configured one (`memorial.portrait`), else the memorial server's cover
    /// the uploader keeps beside the archive. Read afresh each time the attract screen returns
    /// (either may change); a file that cannot be read is logged and left out, never a fault.
    fn portrait(&self) -> Option<Arc<RgbImage>> {
        let synced = crate::sync::cover::path(self.archive.root());
        let path = match &self.config.memorial.portrait {
            Some(configured) => configured.clone(),
            None if synced.is_file() => synced,
            None => return None,
        };
        let picture = std::fs::read(&path).map_err(|e| e.to_string()).and_then(|b| image::load_from_memory(&b).map_err(|e| e.to_string()));
        match picture {
            Ok(picture) => Some(Arc::new(picture.to_rgb8())),
            Err(e) => {
                tracing::warn!(path = %path.display(), %e, "the memorial portrait cannot be read; the attract screen goes without it");
                None
            }
        }
    }

    fn perform(&mut self, work: Work, visit: u32, tx: &mpsc::UnboundedSender<Tagged>, report: &mut RunReport, shown: &mut Shown) {
        match work {
            Work::Capture => {
                let camera = self.camera.clone();
                spawn_device_work(visit, tx, "camera", move |_| {
                    Some(match camera.lock().capture() {
                        Ok(photo) => Event::Captured(Arc::new(photo)),
                        Err(e) => Event::Fault(format!("camera capture: {e}")),
                    })
                });
            }
            Work::Stylize { photo, answers } => {
                let stylizer = self.stylizer.clone();
                let archive = self.archive.clone();
                let cfg = self.config.clone();
                spawn_device_work(visit, tx, "illustration", move |tx| {
                    let total = stylizer.steps();
                    let _ = tx.send((visit, Event::Progress { step: 0, total, preview: None }));
                    let mut progress = |p: keepsake_models::Progress| {
                        let _ = tx.send((visit, Event::Progress { step: p.step, total: p.total, preview: p.preview.map(Arc::new) }));
                    };
                    let illustration = match stylizer.stylize(&photo, &mut progress) {
                        Ok(i) => Arc::new(keepsake::full_size(i)),
                        // Cancelled because the visit was abandoned: nothing more to say.
                        Err(keepsake_models::StylizeError::Cancelled) => return None,
                        Err(e) => return Some(Event::Fault(format!("{}: {e}", stylizer.name()))),
                    };
                    let id = keepsake::new_id();
                    let empty = FileInfo { file: String::new(), bytes: 0, crc32: 0, width: 0, height: 0 };
                    let meta = KeepsakeMeta {
                        share_url: keepsake::share_url(&cfg.server.url, &id),
                        share_photo: answers.share_photo,
                        in_slideshow: answers.in_slideshow,
                        id,
                        created_at: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                        memorial_name: cfg.memorial.name.clone(),
                        caption: cfg.memorial.caption.clone(),
                        message: cfg.memorial.message.clone(),
                        language: cfg.memorial.language.code().to_string(),
                        made_by: stylizer.name(),
                        style: cfg.style.preset.clone(),
                        photo: empty.clone(),
                        illustration: empty,
                    };
                    Some(match archive.store(meta, photo, illustration) {
                        Ok(k) => Event::Generated(Arc::new(k)),
                        Err(e) => Event::Fault(format!("archive: {e}")),
                    })
                });
            }
            Work::CancelStylize => {
                tracing::info!(visit, "cancelling the abandoned visit's generation");
                self.stylizer.cancel();
            }
            Work::ShowKeepsake(keepsake) => {
                shown.qr = match qr::qr_image(&keepsake.meta.share_url, 8) {
                    Ok(q) => Some(q),
                    Err(e) => {
                        tracing::error!(%e, url = %keepsake.meta.share_url, "cannot make the QR code");
                        None
                    }
                };
                report.keepsakes.push(keepsake);
            }
            Work::CheckPrinter => {
                let printer = self.printer.clone();
                spawn_device_work(visit, tx, "printer check", move |_| {
                    let unavailable = match printer.lock().state() {
                        Ok(PrinterState::Ready) => None,
                        Ok(PrinterState::Unavailable(why)) => Some(why),
                        Err(e) => Some(Unavailable::Offline(e.to_string())),
                    };
                    if let Some(why) = &unavailable {
                        tracing::warn!(%why, fix = %why.fix(), "printer unavailable; Print is not offered");
                    }
                    Some(Event::PrinterChecked(unavailable))
                });
            }
            Work::Narrate(keepsake) => {
                let narrator = self.narrator.clone();
                let speaker = self.speaker.clone();
                let text = keepsake.meta.message.clone();
                let language = keepsake.meta.language.clone();
                let label = format!("session-{visit:03}/narration");
                spawn_device_work(visit, tx, "narration", move |_| {
                    let audio = match narrator.narrate(&text, &language) {
                        Ok(voice) => super::narration::with_lead_in(&voice),
                        Err(e) => return Some(Event::Fault(format!("narration: {e}"))),
                    };
                    tracing::info!(seconds = audio.duration_secs(), "narration plays");
                    // Nothing changes on screen when it plays; only a failure is news.
                    speaker.lock().play(&audio, &label).err().map(|e| Event::Fault(format!("speaker: {e}")))
                });
            }
            Work::Print(keepsake) => {
                let printer = self.printer.clone();
                let paper = self.config.paper;
                let label = format!("session-{visit:03}/card-{}", keepsake.meta.id);
                spawn_device_work(visit, tx, "printer", move |_| {
                    let mut printer = printer.lock();
                    match printer.state() {
                        Ok(PrinterState::Ready) => {}
                        Ok(PrinterState::Unavailable(why)) => return Some(Event::PrinterUnavailable(why)),
                        Err(e) => return Some(Event::Fault(format!("printer: {e}"))),
                    }
                    let page = card::layout(&keepsake, paper);
                    Some(match printer.print(&page, paper, &label) {
                        Ok(job) => {
                            tracing::info!(%job, "keepsake card printed");
                            Event::Printed
                        }
                        Err(e) => Event::Fault(format!("printer: {e}")),
                    })
                });
            }
            Work::ShowSlides => {
                shown.slides = self.slides();
                shown.slide = 0;
            }
            Work::NextSlide => shown.slide = shown.slide.wrapping_add(1),
        }
    }
}
