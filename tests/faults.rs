//! A device fault in any state shows the calm screen, returns to Attract, and the booth carries
//! on with the next visitor: each test breaks one real device once, in one state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use image::RgbImage;
use keepsake::archive::Archive;
use keepsake::booth::screens::Layout;
use keepsake::booth::{Booth, RunReport, StopWhen};
use keepsake::cli::demo::demo_config;
use keepsake::config::{Language, SlideshowPolicy};
use keepsake::devices::{CameraConfig, Devices, DisplayConfig};
use keepsake_drivers::audio::Audio;
use keepsake_drivers::camera::Camera;
use keepsake_drivers::display::Display;
use keepsake_drivers::input::{Input, InputEvent, ScriptStep, ScriptedInput};
use keepsake_drivers::narrator::Narrator;
use keepsake_drivers::paper::PaperSize;
use keepsake_drivers::printer::{Printer, PrinterState, Unavailable};
use keepsake_drivers::DeviceError;
use keepsake_models::formats;
use keepsake_models::stylize::toon::{ToonStyle, ToonStylizer};
use keepsake_models::{Progress, StylizeError, Stylizer};

/// True the first time it is asked, false after: each device fails exactly once.
#[derive(Default)]
struct Once(AtomicBool);

impl Once {
    fn now(&self) -> bool {
        !self.0.swap(true, Ordering::SeqCst)
    }
}

fn broken(device: &str) -> DeviceError {
    DeviceError::new(device, "unplugged", "plug it back in")
}

#[derive(Clone, Copy, PartialEq)]
enum Break {
    None,
    Input,
    Preview,
    Capture,
    ReviewDisplay,
    Stylizer,
    StylizerPanic,
    Narrator,
    Printer,
    PrinterOutOfPaper,
}

struct Flaky<T> {
    inner: T,
    what: Break,
    armed: Break,
    once: Arc<Once>,
}

impl<T> Flaky<T> {
    fn fails(&self, what: Break) -> bool {
        self.armed == what && self.what == what && self.once.now()
    }
}

impl Camera for Flaky<Box<dyn Camera>> {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn preview(&mut self) -> Result<RgbImage, DeviceError> {
        if self.armed == Break::Preview && self.once.now() {
            return Err(broken("camera"));
        }
        self.inner.preview()
    }
    fn capture(&mut self) -> Result<RgbImage, DeviceError> {
        if self.armed == Break::Capture && self.once.now() {
            return Err(broken("camera"));
        }
        self.inner.capture()
    }
}

impl Display for Flaky<Box<dyn Display>> {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn size(&self) -> (u32, u32) {
        self.inner.size()
    }
    fn present(&mut self, frame: &RgbImage, label: &str) -> Result<(), DeviceError> {
        if label.contains("-review") && self.fails(Break::ReviewDisplay) {
            return Err(broken("display"));
        }
        self.inner.present(frame, label)
    }
}

impl Input for Flaky<ScriptedInput> {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn poll(&mut self, screen: &str) -> Result<Option<InputEvent>, DeviceError> {
        if self.fails(Break::Input) {
            return Err(broken("touchscreen"));
        }
        self.inner.poll(screen)
    }
}

impl Narrator for Flaky<Arc<dyn Narrator>> {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn narrate(&self, text: &str, language: &str) -> Result<Audio, DeviceError> {
        if self.armed == Break::Narrator && self.once.now() {
            return Err(broken("espeak-ng"));
        }
        self.inner.narrate(text, language)
    }
}

impl Printer for Flaky<Box<dyn Printer>> {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn state(&mut self) -> Result<PrinterState, DeviceError> {
        if self.fails(Break::PrinterOutOfPaper) {
            return Ok(PrinterState::Unavailable(Unavailable::OutOfPaper));
        }
        self.inner.state()
    }
    fn print(&mut self, page: &RgbImage, paper: PaperSize, label: &str) -> Result<String, DeviceError> {
        if self.fails(Break::Printer) {
            return Err(broken("printer"));
        }
        self.inner.print(page, paper, label)
    }
}

impl Stylizer for Flaky<ToonStylizer> {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn steps(&self) -> u32 {
        self.inner.steps()
    }
    fn stylize(&self, photo: &RgbImage, progress: &mut dyn FnMut(Progress)) -> Result<RgbImage, StylizeError> {
        if self.armed == Break::StylizerPanic && self.once.now() {
            panic!("a bug in the stylizer");
        }
        if self.armed == Break::Stylizer && self.once.now() {
            return Err(StylizeError::Gpu { stage: "test", message: "device lost".into() });
        }
        self.inner.stylize(photo, progress)
    }
}

/// How far a visitor gets before the fault, as script steps.
fn steps(layout: &Layout, upto: &str) -> Vec<ScriptStep> {
    let (_, cont) = layout.review_buttons();
    let (cx, cy) = cont.center();
    let (_, yes) = layout.consent_answers();
    let (yx, yy) = yes.center();
    let answer_after_ms = keepsake::booth::screens::consent::ANSWERS_AFTER.as_millis() as u64 + 50;
    let all = [
        ScriptStep { on: "attract".into(), after_ms: 50, event: InputEvent::Touch { x: 10, y: 10 } },
        ScriptStep { on: "review".into(), after_ms: 50, event: InputEvent::Touch { x: cx, y: cy } },
        ScriptStep { on: "consent".into(), after_ms: answer_after_ms, event: InputEvent::Touch { x: yx, y: yy } },
        ScriptStep { on: "result".into(), after_ms: 50, event: InputEvent::PrintButton },
    ];
    let n = match upto {
        "" => 0,
        "attract" => 1,
        "review" => 3,
        _ => 4,
    };
    all[..n].to_vec()
}

async fn run(armed: Break, broken_visit_steps: &str, sessions: u32) -> (RunReport, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let mut config = demo_config(out.path(), Language::En);
    config.devices.camera = CameraConfig::Synthetic { width: 240, height: 320 };
    config.devices.display = DisplayConfig::Png { record: None };
    // One consent question is enough to break a visit at.
    config.slideshow = SlideshowPolicy::Off;
    let layout = Layout { w: config.screen.0, h: config.screen.1 };
    let mut script = steps(&layout, broken_visit_steps);
    script.extend(steps(&layout, "result"));
    let once = Arc::new(Once::default());
    let devices = Devices::open(&config.devices, config.screen).unwrap();
    let devices = Devices {
        camera: Box::new(Flaky { inner: devices.camera, what: Break::None, armed, once: once.clone() }),
        display: Box::new(Flaky { inner: devices.display, what: Break::ReviewDisplay, armed, once: once.clone() }),
        input: Box::new(Flaky { inner: ScriptedInput::new(script), what: Break::Input, armed, once: once.clone() }),
        speaker: devices.speaker,
        narrator: Arc::new(Flaky { inner: devices.narrator, what: Break::Narrator, armed, once: once.clone() }),
        printer: Box::new(Flaky {
            inner: devices.printer,
            what: if armed == Break::PrinterOutOfPaper { Break::PrinterOutOfPaper } else { Break::Printer },
            armed,
            once: once.clone(),
        }),
    };
    let stylizer = Arc::new(Flaky { inner: ToonStylizer::cpu(ToonStyle::warm_animation()), what: Break::None, armed, once });
    let archive = Arc::new(Archive::open(&config.archive_dir).unwrap());
    let booth = Booth::new(Arc::new(config), devices, stylizer, archive);
    let report =
        booth.run(StopWhen { sessions: Some(sessions), within: Some(Duration::from_secs(120)) }).await.expect("the booth keeps going");
    (report, out)
}

/// The fault happened on `screen` of visit `visit`, was followed by the calm screen and Attract,
/// and the next visit made a keepsake.
fn assert_recovered(report: &RunReport, visit: u32, screen: &str, device: &str, keepsakes: usize) {
    assert_eq!(report.faults.len(), 1, "{:?}", report.faults);
    assert!(report.faults[0].contains(device), "{:?}", report.faults);
    let at = report
        .screens
        .iter()
        .position(|s| s == &format!("{visit}/fault"))
        .unwrap_or_else(|| panic!("no fault screen: {:?}", report.screens));
    assert_eq!(report.screens[at - 1], format!("{visit}/{screen}"), "{:?}", report.screens);
    assert_eq!(report.screens[at + 1], format!("{visit}/attract"), "{:?}", report.screens);
    assert_eq!(report.keepsakes.len(), keepsakes, "the next visitor still gets a keepsake");
    assert!(report.screens.last().unwrap().ends_with("/attract"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_fault_no_fault_screen() {
    let (report, _out) = run(Break::None, "", 1).await;
    assert!(report.faults.is_empty());
    assert!(!report.screens.iter().any(|s| s.ends_with("/fault")));
    assert_eq!(report.keepsakes.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn touchscreen_fault_on_attract() {
    let (report, _out) = run(Break::Input, "", 1).await;
    assert_recovered(&report, 0, "attract", "touchscreen", 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_fault_during_countdown() {
    let (report, _out) = run(Break::Preview, "attract", 2).await;
    assert_recovered(&report, 1, "countdown", "camera preview", 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_fault_at_capture() {
    let (report, _out) = run(Break::Capture, "attract", 2).await;
    assert_recovered(&report, 1, "capture", "camera capture", 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn display_fault_on_review() {
    let (report, _out) = run(Break::ReviewDisplay, "attract", 2).await;
    assert_recovered(&report, 1, "review", "display", 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stylizer_fault_while_generating() {
    let (report, _out) = run(Break::Stylizer, "review", 2).await;
    assert_recovered(&report, 1, "generating", "device lost", 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stylizer_panic_is_a_fault_not_a_crash() {
    let (report, _out) = run(Break::StylizerPanic, "review", 2).await;
    assert_recovered(&report, 1, "generating", "a bug in the stylizer", 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrator_fault_on_result_keeps_the_archived_keepsake() {
    let (report, out) = run(Break::Narrator, "review", 2).await;
    assert_recovered(&report, 1, "result", "espeak-ng", 2);
    // Nothing is lost: the faulted visit's keepsake was archived before the narration.
    let archive = Archive::open(&out.path().join("archive")).unwrap();
    assert_eq!(archive.entries().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printer_fault_on_print_share() {
    let (report, _out) = run(Break::Printer, "result", 2).await;
    assert_recovered(&report, 1, "print_share", "printer", 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printer_out_of_paper_is_said_calmly_not_a_fault() {
    let (report, out) = run(Break::PrinterOutOfPaper, "", 1).await;
    assert!(report.faults.is_empty(), "{:?}", report.faults);
    assert!(report.screens.iter().any(|s| s == "1/print_share"));
    let cards = std::fs::read_dir(out.path().join("session-001"))
        .map(|d| d.filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("card-")).count())
        .unwrap_or(0);
    assert_eq!(cards, 0, "nothing printed while out of paper");
}

fn tiny_model() -> std::path::PathBuf {
    std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/sd-tiny")).to_path_buf()
}

/// With a diffusers folder configured, Stable Diffusion makes the keepsake and the filter is the
/// instant preview; the booth journey is the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booth_uses_the_diffusion_model_when_configured() {
    let made_by = booth_with_model(tiny_model()).await;
    assert!(made_by.contains("Euler a 20 steps"), "{made_by}");
}

/// A baked int8 booth file with an LCM-LoRA and TAESD: the booth paints in LCM steps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booth_runs_a_baked_lcm_file_with_lcm_steps() {
    let dir = tempfile::tempdir().unwrap();
    let device = burn::tensor::Device::flex();
    let fixtures = tiny_model();
    let mut sd = formats::load(&fixtures, &device).unwrap();
    let lcm = keepsake_models::edits::lora::Lora::read(&fixtures.join("../lora/peft.safetensors"), &sd).unwrap();
    lcm.merge_into(&mut sd, 1.0).unwrap();
    sd.origin.lcm = true;
    let sd = formats::diffusers::with_tiny_vae(sd, &fixtures.join("vae_tiny")).unwrap();
    let file = dir.path().join("booth.safetensors");
    formats::booth_file::write(&sd, formats::booth_file::Precision::Int8, &file).unwrap();
    let made_by = booth_with_model(file).await;
    assert!(made_by.contains("LCM 7 steps"), "{made_by}");
}

/// One visit through the booth with `model` as style.model; what made the keepsake.
async fn booth_with_model(model: std::path::PathBuf) -> String {
    booth_with(model, |_| {}).await
}

/// The booth's LoRAs and ControlNet units: each unit makes its control image from the visitor's
/// photo; a LoRA or unit whose files are missing is left out and the visit still ends with a
/// keepsake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booth_runs_its_loras_and_controlnet_units_and_leaves_out_broken_ones() {
    let fixtures = tiny_model();
    let unit = |model: &str, module: keepsake_models::preprocessors::Module, weight: f32| keepsake::config::ControlNetUnit {
        model: fixtures.join("..").join(model),
        module,
        resolution: 128,
        settings: keepsake_models::components::controlnet::ControlSettings { weight, ..Default::default() },
    };
    use keepsake_models::preprocessors::Module;
    let made_by = booth_with(fixtures.clone(), |config| {
        // The style's LoRA is merged; one that is missing is left out.
        config.style.loras = vec![(fixtures.join("../lora/kohya.safetensors"), 0.8), (fixtures.join("../lora/missing.safetensors"), 1.0)];
        config.style.annotators = fixtures.join("../preprocessors/openpose");
        config.style.controlnets = vec![
            unit("controlnet/cn1", Module::Canny { low: 100, high: 200 }, 1.0),
            unit("controlnet/cn2", Module::Openpose, 0.7),
            // No M-LSD weights in that folder: left out.
            unit("controlnet/cn3", Module::Mlsd, 0.5),
        ];
    })
    .await;
    assert!(made_by.contains("ControlNet canny 1 + openpose 0.7,") && !made_by.contains("mlsd"), "{made_by}");
    assert!(made_by.contains("LoRA kohya.safetensors:0.8,") && !made_by.contains("missing"), "{made_by}");
}

/// One visit through a booth with `model` as style.model and `adjust`ed config.
async fn booth_with(model: std::path::PathBuf, adjust: impl FnOnce(&mut keepsake::config::Config)) -> String {
    let out = tempfile::tempdir().unwrap();
    let mut config = demo_config(out.path(), Language::En);
    config.devices.camera = CameraConfig::Synthetic { width: 64, height: 80 };
    config.devices.display = DisplayConfig::Png { record: None };
    config.style.model = Some(model);
    adjust(&mut config);
    let layout = Layout { w: config.screen.0, h: config.screen.1 };
    let mut devices = Devices::open(&config.devices, config.screen).unwrap();
    devices.input = Box::new(ScriptedInput::new(steps(&layout, "result")));
    let stylizer = keepsake::stylizers::for_booth(&config, keepsake::backend::Backend::Cpu).unwrap();
    assert!(stylizer.name().contains("Stable Diffusion"), "{}", stylizer.name());
    let archive = Arc::new(Archive::open(&config.archive_dir).unwrap());
    let booth = Booth::new(Arc::new(config), devices, stylizer, archive);
    let report = booth.run(StopWhen { sessions: Some(1), within: Some(Duration::from_secs(300)) }).await.unwrap();
    assert!(report.faults.is_empty(), "{:?}", report.faults);
    let k = &report.keepsakes[0];
    assert!(k.meta.made_by.contains("Stable Diffusion") && k.meta.made_by.contains("seed "), "{}", k.meta.made_by);
    // The tiny model paints 64x80; the keepsake is that, enlarged to its 1024 px long side.
    assert_eq!(k.illustration.dimensions(), (819, 1024));
    k.meta.made_by.clone()
}

#[test]
fn a_broken_model_falls_back_to_the_filter() {
    let out = tempfile::tempdir().unwrap();
    let mut config = demo_config(out.path(), Language::En);
    config.style.model = Some(out.path().to_path_buf()); // exists, but is no diffusers folder
    let s = keepsake::stylizers::for_booth(&config, keepsake::backend::Backend::Cpu).unwrap();
    assert!(s.name().contains("illustration filter"), "{}", s.name());
    config.style.model = Some(out.path().join("missing"));
    let s = keepsake::stylizers::for_booth(&config, keepsake::backend::Backend::Cpu).unwrap();
    assert!(s.name().contains("illustration filter"), "{}", s.name());
}

/// Records how each stylization of the real diffusion stylizer ended.
struct Recording {
    inner: keepsake_models::stylize::diffusion_stylizer::DiffusionStylizer,
    outcomes: std::sync::Mutex<Vec<String>>,
}

impl Stylizer for Recording {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn steps(&self) -> u32 {
        self.inner.steps()
    }
    fn stylize(&self, photo: &RgbImage, progress: &mut dyn FnMut(Progress)) -> Result<RgbImage, StylizeError> {
        let mut last = 0;
        let result = self.inner.stylize(photo, &mut |p| {
            last = p.step;
            progress(p)
        });
        self.outcomes.lock().unwrap().push(match &result {
            Ok(_) => "finished".to_string(),
            Err(e) => format!("{e} after {last} of {} steps", self.inner.steps()),
        });
        result
    }
    fn cancel(&self) {
        self.inner.cancel()
    }
}

/// A display that breaks on the first frame whose label contains `needle`.
struct BreaksOn {
    inner: Box<dyn Display>,
    needle: &'static str,
    once: Once,
}

impl Display for BreaksOn {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn size(&self) -> (u32, u32) {
        self.inner.size()
    }
    fn present(&mut self, frame: &RgbImage, label: &str) -> Result<(), DeviceError> {
        if label.contains(self.needle) && self.once.now() {
            return Err(broken("display"));
        }
        self.inner.present(frame, label)
    }
}

/// A fault while the picture is being painted ends the visit, and its generation stops after the
/// step it is in rather than running on (minutes on a CPU) beside the next visitor's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_visit_stops_its_generation() {
    let out = tempfile::tempdir().unwrap();
    let mut config = demo_config(out.path(), Language::En);
    config.devices.camera = CameraConfig::Synthetic { width: 64, height: 80 };
    config.devices.display = DisplayConfig::Png { record: None };
    let layout = Layout { w: config.screen.0, h: config.screen.1 };
    let mut devices = Devices::open(&config.devices, config.screen).unwrap();
    devices.input = Box::new(ScriptedInput::new(steps(&layout, "result")));
    devices.display = Box::new(BreaksOn { inner: devices.display, needle: "generating-3of", once: Once::default() });
    let sd = formats::load(&tiny_model(), &burn::tensor::Device::flex()).unwrap();
    let preset = keepsake_models::stylize::diffusion_stylizer::DiffusionPreset {
        strength: 1.0,
        steps: 500,
        ..keepsake_models::stylize::diffusion_stylizer::DiffusionPreset::warm_animation()
    };
    let stylizer = Arc::new(Recording {
        inner: keepsake_models::stylize::diffusion_stylizer::DiffusionStylizer::new(sd, preset),
        outcomes: Default::default(),
    });
    let archive = Arc::new(Archive::open(&config.archive_dir).unwrap());
    let booth = Booth::new(Arc::new(config), devices, stylizer.clone(), archive);
    let report = booth.run(StopWhen { sessions: Some(1), within: Some(Duration::from_secs(120)) }).await.unwrap();
    assert_eq!(report.faults.len(), 1, "{:?}", report.faults);
    assert!(report.keepsakes.is_empty());
    // The generation thread notices at its next step.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while stylizer.outcomes.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let outcomes = stylizer.outcomes.lock().unwrap().clone();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert!(outcomes[0].starts_with("stylization was cancelled after"), "{outcomes:?}");
    let steps_run: u32 = outcomes[0].split_whitespace().nth(4).unwrap().parse().unwrap();
    assert!(steps_run < 100, "it ran on for {steps_run} steps: {outcomes:?}");
}

/// A webcam that is not plugged in: the booth starts anyway; each visitor who touches gets the
/// calm screen naming nothing technical, the log names the camera, and the booth looks for it
/// again at the next visit instead of giving up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unplugged_webcam_shows_the_calm_message_and_is_looked_for_at_each_visit() {
    use keepsake_drivers::v4l_camera::{CameraSettings, Encoding};
    let out = tempfile::tempdir().unwrap();
    let mut config = demo_config(out.path(), Language::En);
    config.devices.camera =
        CameraConfig::V4l2(CameraSettings { index: 57, width: 640, height: 480, encoding: Encoding::Auto, preview: (360, 640) });
    config.devices.display = DisplayConfig::Png { record: None };
    let layout = Layout { w: config.screen.0, h: config.screen.1 };
    let mut script = steps(&layout, "attract");
    script.extend(steps(&layout, "attract"));
    let mut devices = Devices::open(&config.devices, config.screen).expect("the booth starts without its camera");
    devices.input = Box::new(ScriptedInput::new(script));
    let archive = Arc::new(Archive::open(&config.archive_dir).unwrap());
    let stylizer = Arc::new(ToonStylizer::cpu(ToonStyle::warm_animation()));
    let booth = Booth::new(Arc::new(config), devices, stylizer, archive);
    let report = booth.run(StopWhen { sessions: Some(2), within: Some(Duration::from_secs(60)) }).await.expect("the booth keeps going");
    assert_eq!(report.faults.len(), 2, "{:?}", report.faults);
    assert!(report.faults.iter().all(|f| f.contains("/dev/video57")), "{:?}", report.faults);
    for visit in 1..=2 {
        let at = report.screens.iter().position(|s| s == &format!("{visit}/fault")).unwrap_or_else(|| panic!("{:?}", report.screens));
        assert_eq!(report.screens[at - 1], format!("{visit}/countdown"));
        assert_eq!(report.screens[at + 1], format!("{visit}/attract"));
    }
    assert!(report.keepsakes.is_empty());
}

/// A double tap on the review's "continue" must not answer the consent question: a touch in the
/// consent screen's first moment, even right on an answer, is no answer (the question then
/// times out as "no"); the same touch a moment later is the visitor's yes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tap_in_the_consent_screen_s_first_moment_is_no_answer() {
    let guard = keepsake::booth::screens::consent::ANSWERS_AFTER.as_millis() as u64;
    for (after_ms, shared) in [(100, false), (guard + 100, true)] {
        let out = tempfile::tempdir().unwrap();
        let mut config = demo_config(out.path(), Language::En);
        config.devices.camera = CameraConfig::Synthetic { width: 240, height: 320 };
        config.devices.display = DisplayConfig::Png { record: None };
        config.timeouts.consent = Duration::from_millis(1500);
        config.slideshow = SlideshowPolicy::Off;
        let layout = Layout { w: config.screen.0, h: config.screen.1 };
        let (cx, cy) = layout.review_buttons().1.center();
        let (yx, yy) = layout.consent_answers().1.center();
        let script = vec![
            ScriptStep { on: "attract".into(), after_ms: 50, event: InputEvent::Touch { x: 10, y: 10 } },
            ScriptStep { on: "review".into(), after_ms: 50, event: InputEvent::Touch { x: cx, y: cy } },
            ScriptStep { on: "consent".into(), after_ms, event: InputEvent::Touch { x: yx, y: yy } },
            ScriptStep { on: "result".into(), after_ms: 50, event: InputEvent::PrintButton },
        ];
        let mut devices = Devices::open(&config.devices, config.screen).unwrap();
        devices.input = Box::new(ScriptedInput::new(script));
        let stylizer = Arc::new(ToonStylizer::cpu(ToonStyle::warm_animation()));
        let archive = Arc::new(Archive::open(&config.archive_dir).unwrap());
        let booth = Booth::new(Arc::new(config), devices, stylizer, archive);
        let report = booth.run(StopWhen { sessions: Some(1), within: Some(Duration::from_secs(60)) }).await.unwrap();
        assert_eq!(report.keepsakes.len(), 1, "{:?}", report.screens);
        assert_eq!(report.keepsakes[0].meta.share_photo, shared, "a tap {after_ms} ms after the question appeared");
    }
}

/// Where the config asks about the slideshow, only a "yes" puts the illustration there: a
/// double tap on "send the photo too" is no answer to the second question (it times out as no),
/// and the archive's slideshow holds the one keepsake whose visitor agreed. The answers go into
/// the archive entry (which the outbox sends).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slideshow_holds_only_the_keepsakes_whose_visitors_said_yes() {
    let out = tempfile::tempdir().unwrap();
    let mut config = demo_config(out.path(), Language::En);
    config.devices.camera = CameraConfig::Synthetic { width: 240, height: 320 };
    config.devices.display = DisplayConfig::Png { record: None };
    config.timeouts.consent = Duration::from_millis(1500);
    assert_eq!(config.slideshow, SlideshowPolicy::Ask, "the demo asks");
    let layout = Layout { w: config.screen.0, h: config.screen.1 };
    let guard = keepsake::booth::screens::consent::ANSWERS_AFTER.as_millis() as u64 + 100;
    let at = |r: keepsake::booth::screens::Rect| {
        let (x, y) = r.center();
        InputEvent::Touch { x, y }
    };
    let (_, cont) = layout.review_buttons();
    let (keep_private, share) = layout.consent_answers();
    let (_, show) = layout.slideshow_answers();
    let step = |on: &str, after_ms: u64, event: InputEvent| ScriptStep { on: on.into(), after_ms, event };
    let script = vec![
        // The first visitor shares the photo and says yes to the slideshow.
        step("attract", 50, InputEvent::Touch { x: 10, y: 10 }),
        step("review", 50, at(cont)),
        step("consent", guard, at(share)),
        step("slideshow_consent", guard, at(show)),
        step("result", 50, InputEvent::Touch { x: 10, y: 10 }),
        // The second keeps the photo private and double-taps: the second tap lands on the
        // slideshow question in its first moment, where no answer is; it times out as no.
        step("attract", 50, InputEvent::Touch { x: 10, y: 10 }),
        step("review", 50, at(cont)),
        step("consent", guard, at(keep_private)),
        step("slideshow_consent", 100, at(show)),
        step("result", 50, InputEvent::Touch { x: 10, y: 10 }),
    ];
    let mut devices = Devices::open(&config.devices, config.screen).unwrap();
    devices.input = Box::new(ScriptedInput::new(script));
    let stylizer = Arc::new(ToonStylizer::cpu(ToonStyle::warm_animation()));
    let archive = Arc::new(Archive::open(&config.archive_dir).unwrap());
    let booth = Booth::new(Arc::new(config), devices, stylizer, archive.clone());
    let report = booth.run(StopWhen { sessions: Some(2), within: Some(Duration::from_secs(90)) }).await.unwrap();
    assert_eq!(report.keepsakes.len(), 2, "{:?}", report.screens);
    let answers: Vec<(bool, bool)> = report.keepsakes.iter().map(|k| (k.meta.share_photo, k.meta.in_slideshow)).collect();
    assert_eq!(answers, [(true, true), (false, false)]);
    let stored: Vec<bool> = archive.entries().unwrap().iter().map(|e| archive.load(e).unwrap().meta.in_slideshow).collect();
    assert_eq!(stored, [true, false], "the archive entries record the answer");
    let slides = archive.slideshow(12);
    assert_eq!(slides.len(), 1);
    assert_eq!(*slides[0], *report.keepsakes[0].illustration, "the slideshow shows the first visitor's keepsake");
}

/// A camera whose captures fail the first `broken` times (then it was plugged back in).
struct CaptureFails {
    inner: Box<dyn Camera>,
    broken: std::sync::atomic::AtomicU32,
}

impl Camera for CaptureFails {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn preview(&mut self) -> Result<RgbImage, DeviceError> {
        self.inner.preview()
    }
    fn capture(&mut self) -> Result<RgbImage, DeviceError> {
        if self.broken.load(Ordering::SeqCst) > 0 {
            self.broken.fetch_sub(1, Ordering::SeqCst);
            return Err(broken("camera"));
        }
        self.inner.capture()
    }
}

/// A camera that keeps failing: the first two visitors see the calm "one moment" screen, the
/// third a steady "temporarily unavailable" one that takes no touch, instead of the loop; after
/// `timeouts.out_of_service` the next visitor may try again, and once the camera works a
/// keepsake is made as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booth_that_stays_broken_says_it_is_unavailable_instead_of_looping() {
    let out = tempfile::tempdir().unwrap();
    let mut config = demo_config(out.path(), Language::En);
    config.devices.camera = CameraConfig::Synthetic { width: 240, height: 320 };
    config.devices.display = DisplayConfig::Png { record: None };
    config.slideshow = SlideshowPolicy::Off;
    config.timeouts.fault = Duration::from_millis(300);
    config.timeouts.out_of_service = Duration::from_millis(1500);
    let layout = Layout { w: config.screen.0, h: config.screen.1 };
    let begin = InputEvent::Touch { x: 10, y: 10 };
    let step = |on: &str, after_ms: u64, event: InputEvent| ScriptStep { on: on.into(), after_ms, event };
    let mut script: Vec<ScriptStep> = (0..3).map(|_| step("attract", 50, begin)).collect();
    // A touch on the unavailable screen begins nothing.
    script.push(step("out_of_service", 200, begin));
    script.extend(steps(&layout, "result"));
    let mut devices = Devices::open(&config.devices, config.screen).unwrap();
    devices.camera = Box::new(CaptureFails { inner: devices.camera, broken: 3.into() });
    devices.input = Box::new(ScriptedInput::new(script));
    let stylizer = Arc::new(ToonStylizer::cpu(ToonStyle::warm_animation()));
    let archive = Arc::new(Archive::open(&config.archive_dir).unwrap());
    let booth = Booth::new(Arc::new(config), devices, stylizer, archive);
    let report = booth.run(StopWhen { sessions: Some(4), within: Some(Duration::from_secs(60)) }).await.unwrap();
    let ends: Vec<&str> =
        report.screens.iter().filter(|s| s.ends_with("/fault") || s.ends_with("/out_of_service")).map(String::as_str).collect();
    assert_eq!(ends, ["1/fault", "2/fault", "3/out_of_service"], "{:?}", report.screens);
    let after: Vec<&String> = report.screens.iter().skip_while(|s| !s.ends_with("/out_of_service")).collect();
    assert_eq!(after[1], "3/attract", "only its timeout leaves the unavailable screen: {after:?}");
    assert_eq!(report.keepsakes.len(), 1, "the fourth visitor gets a keepsake: {:?}", report.screens);
    assert_eq!(report.faults.len(), 3);
}

/// The attract screen shows the portrait of the person remembered (memorial.portrait) even
/// where no visitor's picture may be shown; a portrait file that went bad later is left out,
/// never a fault.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attract_screen_shows_the_portrait_of_the_person_remembered() {
    let out = tempfile::tempdir().unwrap();
    let portrait = out.path().join("portrait.png");
    RgbImage::from_pixel(300, 400, image::Rgb([20, 200, 40])).save(&portrait).unwrap();
    let mut config = demo_config(out.path(), Language::En);
    config.devices.camera = CameraConfig::Synthetic { width: 240, height: 320 };
    let frames = out.path().join("frames");
    config.devices.display = DisplayConfig::Png { record: Some(frames.clone()) };
    config.slideshow = SlideshowPolicy::Off;
    config.memorial.portrait = Some(portrait.clone());
    let layout = Layout { w: config.screen.0, h: config.screen.1 };
    let mut devices = Devices::open(&config.devices, config.screen).unwrap();
    devices.input = Box::new(ScriptedInput::new(steps(&layout, "result")));
    let stylizer = Arc::new(ToonStylizer::cpu(ToonStyle::warm_animation()));
    let archive = Arc::new(Archive::open(&config.archive_dir).unwrap());
    let booth = Booth::new(Arc::new(config.clone()), devices, stylizer, archive.clone());
    let report = booth.run(StopWhen { sessions: Some(1), within: Some(Duration::from_secs(60)) }).await.unwrap();
    assert_eq!(report.keepsakes.len(), 1);
    let attract: Vec<_> = walkdir(&frames).into_iter().filter(|p| p.to_string_lossy().contains("attract")).collect();
    assert!(!attract.is_empty(), "the attract screen was recorded");
    let green = |p: &std::path::Path| image::open(p).unwrap().to_rgb8().pixels().filter(|px| px.0 == [20, 200, 40]).count();
    assert!(attract.iter().all(|p| green(p) > 10_000), "every attract frame shows the portrait");

    // The portrait file goes bad: the booth carries on without it.
    std::fs::write(&portrait, b"not a picture any more").unwrap();
    std::fs::remove_dir_all(&frames).unwrap();
    let mut devices = Devices::open(&config.devices, config.screen).unwrap();
    devices.input = Box::new(ScriptedInput::new(steps(&layout, "result")));
    let stylizer = Arc::new(ToonStylizer::cpu(ToonStyle::warm_animation()));
    let booth = Booth::new(Arc::new(config), devices, stylizer, archive);
    let report = booth.run(StopWhen { sessions: Some(1), within: Some(Duration::from_secs(60)) }).await.unwrap();
    assert_eq!((report.keepsakes.len(), report.faults.len()), (1, 0), "{:?}", report.faults);
    let attract: Vec<_> = walkdir(&frames).into_iter().filter(|p| p.to_string_lossy().contains("attract")).collect();
    assert!(attract.iter().all(|p| green(p) == 0), "without a readable portrait, none is shown");
}

/// Every file under `dir`.
fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files.extend(walkdir(&p));
        } else {
            files.push(p);
        }
    }
    files
}
