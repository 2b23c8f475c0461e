//! The booth's one TOML config, validated at start: every problem is listed at once, each with
//! its key and the fix, so a technician fixes the file in one pass.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use keepsake_drivers::fbdev::Rotation;
use keepsake_drivers::paper::PaperSize;
use keepsake_drivers::touch::{Calibration, TouchSettings};
use keepsake_drivers::v4l_camera::{CameraSettings, Encoding};
use keepsake_models::controlnet::ControlMode;
use keepsake_models::preprocessors::Module;
use keepsake_models::toon::ToonStyle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Ko,
    En,
}

impl Language {
    pub fn code(self) -> &'static str {
        match self {
            Language::Ko => "ko",
            Language::En => "en",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Memorial {
    pub name: String,
    pub dates: String,
    pub message: String,
    pub caption: String,
    pub language: Language,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Style {
    pub preset: String,
    /// The diffusion model file; `None` means the illustration filter makes the keepsake.
    pub model: Option<PathBuf>,
    /// LoRAs merged into the model at load, with their weights (`loras = ["warm.safetensors:0.8"]`).
    pub loras: Vec<(PathBuf, f32)>,
    /// ControlNet units applied to every visit (`[[style.controlnet]]`).
    pub controlnets: Vec<ControlNetUnit>,
    /// The annotator weights folder the preprocessors read (body_pose_model.pth, ...).
    pub annotators: PathBuf,
    /// Where the GPU runtime keeps its autotune results between starts (in the state folder).
    pub gpu_cache: PathBuf,
    /// Where the model computes (`--backend` overrides it).
    pub compute: crate::stylizers::Backend,
}

/// One `[[style.controlnet]]`: the net, the preprocessor that makes its control image from the
/// photo, and A1111's weight, guidance window and processor resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlNetUnit {
    pub model: PathBuf,
    pub module: Module,
    pub weight: f32,
    pub start: f64,
    pub end: f64,
    pub resolution: u32,
    pub mode: ControlMode,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CameraConfig {
    Synthetic {
        width: u32,
        height: u32,
    },
    Folder {
        path: PathBuf,
        width: u32,
        height: u32,
    },
    /// A V4L2 (UVC) webcam.
    V4l2(CameraSettings),
}

impl CameraConfig {
    /// The size of the photos it takes (what the diffusion model's warm-up is shaped like).
    pub fn frame_size(&self) -> (u32, u32) {
        match self {
            CameraConfig::Synthetic { width, height } | CameraConfig::Folder { width, height, .. } => (*width, *height),
            CameraConfig::V4l2(s) => (s.width, s.height),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum DisplayConfig {
    /// Headless framebuffer; `record` saves one PNG per screen.
    Png { record: Option<PathBuf> },
    /// A window on the X11/Wayland desktop (development): clicks touch, P or space print.
    Window,
    /// A DRM/KMS device driven with a dumb buffer at the panel's preferred mode.
    Kms { path: PathBuf, rotation: Rotation },
    /// A Linux framebuffer device; `stand_in` (width, height, bpp) describes a plain file in its place.
    Framebuffer { path: PathBuf, rotation: Rotation, stand_in: Option<(u32, u32, u32)> },
}

#[derive(Debug, Clone, PartialEq)]
pub enum InputConfig {
    None,
    Scripted {
        script: PathBuf,
    },
    /// An evdev touchscreen.
    Touch(TouchSettings),
}

/// The physical print button.
#[derive(Debug, Clone, PartialEq)]
pub enum ButtonConfig {
    None,
    /// A print-button box on a serial port (one `PRINT` line per press).
    Serial {
        path: PathBuf,
        baud: u32,
    },
    /// A button on a GPIO line.
    Gpio {
        chip: PathBuf,
        line: u32,
        active_low: bool,
        debounce: Duration,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum SpeakerConfig {
    Wav {
        dir: PathBuf,
    },
    /// An ALSA device (`default`, or a PCM name aplay -L lists), at a volume of 0.0..=1.0.
    Alsa {
        device: String,
        volume: f32,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum NarratorConfig {
    Espeak { clips: Option<PathBuf> },
}

#[derive(Debug, Clone, PartialEq)]
pub enum PrinterConfig {
    Image {
        dir: PathBuf,
    },
    /// An ESC/POS thermal printer on a serial port; `status` asks it for paper and cover state.
    EscPos {
        path: PathBuf,
        baud: u32,
        status: bool,
    },
    /// A CUPS queue (or IPP printer); no new card is offered while `max_queued` are waiting.
    Cups {
        uri: String,
        max_queued: usize,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Devices {
    pub camera: CameraConfig,
    pub display: DisplayConfig,
    pub input: InputConfig,
    pub button: ButtonConfig,
    pub speaker: SpeakerConfig,
    pub narrator: NarratorConfig,
    pub printer: PrinterConfig,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Timeouts {
    /// One countdown number.
    pub countdown_step: Duration,
    pub countdown_from: u32,
    /// Review continues by itself after this.
    pub review: Duration,
    /// The consent question counts as "no" after this.
    pub consent: Duration,
    pub result: Duration,
    pub share: Duration,
    /// How long the calm fault message stays.
    pub fault: Duration,
    /// Attract slideshow: one keepsake per slide.
    pub slide: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    pub url: String,
    /// The booth's token; without one keepsakes wait in the outbox.
    pub token: Option<String>,
    /// Pictures are uploaded in pieces of this many bytes (resumable).
    pub upload_chunk: usize,
    /// The longest wait between upload tries.
    pub retry_max: Duration,
}

/// The A1111-compatible API beside the booth (`[api]`): off unless enabled.
#[derive(Debug, Clone, PartialEq)]
pub struct Api {
    pub enabled: bool,
    pub listen: std::net::SocketAddr,
    pub token: Option<String>,
    pub lora_dir: Option<PathBuf>,
    pub controlnet_dir: Option<PathBuf>,
    pub max_side: u32,
    pub max_steps: u32,
    pub max_images: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub memorial: Memorial,
    pub style: Style,
    pub screen: (u32, u32),
    /// The TrueType/OpenType font for screens and cards (`screen.font`); `None`: the system's.
    pub font: Option<PathBuf>,
    pub devices: Devices,
    pub paper: PaperSize,
    pub server: Server,
    pub api: Api,
    pub timeouts: Timeouts,
    pub archive_dir: PathBuf,
}

/// One thing wrong with the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub problem: String,
    pub fix: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub source_name: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} has {} problem(s):", self.source_name, self.problems.len())?;
        for p in &self.problems {
            writeln!(f, "  - {}: {}\n      fix: {}", p.key, p.problem, p.fix)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Reads typed values out of a TOML table, collecting every problem instead of stopping at the
/// first, and remembering which keys were read so the rest can be reported as unknown.
struct Reader<'a> {
    root: &'a toml::Table,
    base: PathBuf,
    problems: Vec<Problem>,
    known: BTreeSet<String>,
}

fn type_name(v: &toml::Value) -> &'static str {
    v.type_str()
}

impl<'a> Reader<'a> {
    fn problem(&mut self, key: &str, problem: impl Into<String>, fix: impl Into<String>) {
        self.problems.push(Problem { key: key.to_string(), problem: problem.into(), fix: fix.into() });
    }

    fn get(&mut self, key: &str) -> Option<&'a toml::Value> {
        self.known.insert(key.to_string());
        let mut parts = key.split('.').peekable();
        let mut table = self.root;
        while let Some(part) = parts.next() {
            let v = table.get(part)?;
            if parts.peek().is_none() {
                return Some(v);
            }
            table = v.as_table()?;
        }
        None
    }

    fn string(&mut self, key: &str, default: Option<&str>, example: &str) -> String {
        match self.get(key) {
            Some(toml::Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(toml::Value::String(_)) => {
                self.problem(key, "is empty", format!("write a value, e.g. {key} = {example}"));
                String::new()
            }
            Some(v) => {
                self.problem(key, format!("must be a string, found a {}", type_name(v)), format!("quote it: {key} = {example}"));
                String::new()
            }
            None => match default {
                Some(d) => d.to_string(),
                None => {
                    self.problem(key, "is missing", format!("add {key} = {example}"));
                    String::new()
                }
            },
        }
    }

    fn opt_string(&mut self, key: &str, example: &str) -> Option<String> {
        self.get(key)?;
        Some(self.string(key, None, example))
    }

    fn path(&mut self, key: &str, default: Option<&str>, example: &str) -> PathBuf {
        let s = self.string(key, default, example);
        self.resolve(&s)
    }

    fn opt_path(&mut self, key: &str, example: &str) -> Option<PathBuf> {
        self.opt_string(key, example).map(|s| self.resolve(&s))
    }

    /// Relative paths are relative to the config file, as a technician reading it expects.
    fn resolve(&self, s: &str) -> PathBuf {
        let p = Path::new(s);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    fn number(&mut self, key: &str, default: f64, min: f64, max: f64, unit: &str) -> f64 {
        let v = match self.get(key) {
            None => return default,
            Some(toml::Value::Integer(i)) => *i as f64,
            Some(toml::Value::Float(f)) => *f,
            Some(v) => {
                self.problem(
                    key,
                    format!("must be a number, found a {}", type_name(v)),
                    format!("write a number without quotes, e.g. {key} = {default}"),
                );
                return default;
            }
        };
        if !(min..=max).contains(&v) {
            self.problem(key, format!("{v} is out of range"), format!("use {min}..={max} {unit}"));
            return default;
        }
        v
    }

    fn seconds(&mut self, key: &str, default: f64, min: f64, max: f64) -> Duration {
        Duration::from_secs_f64(self.number(key, default, min, max, "seconds"))
    }

    fn kind(&mut self, key: &str, default: &str, allowed: &[&str], what: &str) -> String {
        let k = self.string(key, Some(default), &format!("\"{default}\""));
        if !k.is_empty() && !allowed.contains(&k.as_str()) {
            self.problem(key, format!("unknown {what} {k:?}"), format!("use one of: {}", allowed.join(", ")));
            return default.to_string();
        }
        k
    }

    /// How a panel is mounted: 0, 90, 180 or 270 degrees clockwise.
    fn rotation(&mut self, key: &str) -> Rotation {
        let degrees = self.number(key, 0.0, 0.0, 270.0, "degrees");
        Rotation::from_degrees(degrees as u32).filter(|_| degrees.fract() == 0.0).unwrap_or_else(|| {
            self.problem(key, format!("{degrees} is not a quarter turn"), "use 0, 90, 180 or 270 (degrees clockwise)");
            Rotation::R0
        })
    }

    fn boolean(&mut self, key: &str, default: bool) -> bool {
        match self.get(key) {
            None => default,
            Some(toml::Value::Boolean(b)) => *b,
            Some(v) => {
                self.problem(key, format!("must be true or false, found a {}", type_name(v)), format!("write {key} = {default}"));
                default
            }
        }
    }

    /// `[devices.input]` for an evdev touchscreen: the device, the calibration measured on the
    /// panel (or the kernel's ranges), and the rotation (the display's unless given).
    fn touch(&mut self, table: &str, panel_rotation: Rotation) -> TouchSettings {
        let path = self.path(&format!("{table}.path"), None, "\"/dev/input/by-id/usb-ILITEK-event-if00\"");
        let key = format!("{table}.calibration");
        let calibration = match self.get(&key) {
            None => None,
            Some(toml::Value::Array(a)) if a.len() == 4 && a.iter().all(|v| v.as_integer().is_some_and(|i| i32::try_from(i).is_ok())) => {
                let v: Vec<i32> = a.iter().map(|v| v.as_integer().unwrap_or(0) as i32).collect();
                if v[0] == v[1] || v[2] == v[3] {
                    self.problem(&key, "an axis has the same value at both edges", "measure the raw values at opposite edges (evtest)");
                }
                Some(Calibration { x: (v[0], v[1]), y: (v[2], v[3]) })
            }
            Some(_) => {
                self.problem(
                    &key,
                    "must be four whole numbers",
                    format!("write {key} = [x_left, x_right, y_top, y_bottom] with the raw values evtest shows at the edges"),
                );
                None
            }
        };
        let swap_xy = self.boolean(&format!("{table}.swap_xy"), false);
        let rotation_key = format!("{table}.rotation");
        let rotation = if self.get(&rotation_key).is_some() { self.rotation(&rotation_key) } else { panel_rotation };
        let debounce = self.seconds(&format!("{table}.debounce"), 0.15, 0.0, 2.0);
        TouchSettings { path, calibration, swap_xy, rotation, debounce }
    }

    /// `[devices.display]` for a framebuffer: the device, its rotation, and the layout of a
    /// stand-in file (all of width, height and bpp, or none).
    fn framebuffer(&mut self, table: &str) -> DisplayConfig {
        let path = self.path(&format!("{table}.path"), Some("/dev/fb0"), "\"/dev/fb0\"");
        let rotation = self.rotation(&format!("{table}.rotation"));
        let keys = ["width", "height", "bpp"].map(|k| format!("{table}.{k}"));
        let given: Vec<bool> = keys.iter().map(|k| self.get(k).is_some()).collect();
        let stand_in = if given.iter().all(|g| *g) {
            let w = self.number(&keys[0], 720.0, 16.0, 7680.0, "pixels") as u32;
            let h = self.number(&keys[1], 1280.0, 16.0, 7680.0, "pixels") as u32;
            let bpp = self.number(&keys[2], 32.0, 16.0, 32.0, "bits") as u32;
            if !matches!(bpp, 16 | 24 | 32) {
                self.problem(&keys[2], format!("{bpp} bits per pixel is not supported"), "use 16, 24 or 32");
            }
            Some((w, h, bpp))
        } else {
            if given.iter().any(|g| *g) {
                self.problem(table, "has some of width, height and bpp", "give all three (for a stand-in file) or none (a real /dev/fbN)");
            }
            None
        };
        DisplayConfig::Framebuffer { path, rotation, stand_in }
    }

    /// A list of `"FILE:WEIGHT"` LoRAs (paths relative to the config file).
    fn loras(&mut self, key: &str) -> Vec<(PathBuf, f32)> {
        let items = match self.get(key) {
            None => return Vec::new(),
            Some(toml::Value::Array(a)) => a.clone(),
            Some(v) => {
                self.problem(
                    key,
                    format!("must be a list, found a {}", type_name(v)),
                    format!("write {key} = [\"warm-style.safetensors:0.8\"]"),
                );
                return Vec::new();
            }
        };
        let mut loras = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let parsed = item
                .as_str()
                .ok_or_else(|| format!("entry {i} is a {}, not a string", type_name(item)))
                .and_then(crate::models_cli::parse_lora);
            match parsed {
                Ok((path, weight)) => loras.push((self.resolve(&path.to_string_lossy()), weight)),
                Err(e) => self.problem(key, e, format!("write {key} = [\"warm-style.safetensors:0.8\"] (file, colon, weight)")),
            }
        }
        loras
    }

    /// `[[key]]` ControlNet units, each read (and its unknown keys reported) as its own table.
    fn controlnet_units(&mut self, key: &str) -> Vec<ControlNetUnit> {
        let entries = match self.get(key) {
            None => return Vec::new(),
            Some(toml::Value::Array(a)) if a.iter().all(|v| v.is_table()) => a.clone(),
            Some(v) => {
                self.problem(key, format!("must be a list of tables, found a {}", type_name(v)), format!("write [[{key}]] sections"));
                return Vec::new();
            }
        };
        let mut units = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let table = entry.as_table().expect("checked above");
            let mut r = Reader { root: table, base: self.base.clone(), problems: Vec::new(), known: BTreeSet::new() };
            let model = r.path("model", None, "\"/var/lib/keepsake/controlnet/control_v11p_sd15_openpose.safetensors\"");
            let module_name = r.string("module", None, "\"openpose\"");
            let module = match module_name.parse::<Module>() {
                Ok(m) => m,
                Err(e) if !module_name.is_empty() => {
                    r.problem("module", e, "use canny, openpose, depth, depth_anything_v2 or mlsd");
                    Module::None
                }
                Err(_) => Module::None,
            };
            if module == Module::None && !module_name.is_empty() && r.problems.is_empty() {
                r.problem(
                    "module",
                    "the booth makes each control image from the visitor's photo",
                    "use canny, openpose, depth, depth_anything_v2 or mlsd",
                );
            }
            let weight = r.number("weight", 1.0, 0.0, 2.0, "(A1111's control weight)") as f32;
            let start = r.number("start", 0.0, 0.0, 1.0, "(fraction of the steps)");
            let end = r.number("end", 1.0, 0.0, 1.0, "(fraction of the steps)");
            if start >= end {
                r.problem("start", format!("start {start} is not before end {end}"), "use 0 <= start < end <= 1");
            }
            let resolution = r.number("resolution", 512.0, 64.0, 2048.0, "pixels (A1111's processor resolution)") as u32;
            let mode = match r.string("mode", Some("balanced"), "\"balanced\"").parse::<ControlMode>() {
                Ok(m) => m,
                Err(e) => {
                    r.problem(
                        "mode",
                        e,
                        "use \"balanced\", \"prompt\" (my prompt is more important) or \"controlnet\" (ControlNet is more important)",
                    );
                    ControlMode::Balanced
                }
            };
            r.unknown_keys();
            for p in r.problems {
                self.problems.push(Problem { key: format!("{key}[{i}].{}", p.key), ..p });
            }
            units.push(ControlNetUnit { model, module, weight, start, end, resolution, mode });
        }
        units
    }

    /// Keys present in the file that nothing read: typos and leftovers.
    fn unknown_keys(&mut self) {
        let mut found = Vec::new();
        collect_keys(self.root, "", &mut found);
        for key in found {
            let is_known = self.known.contains(&key) || self.known.iter().any(|k| k.starts_with(&format!("{key}.")));
            if !is_known {
                let suggestion = self
                    .known
                    .iter()
                    .filter(|k| edit_distance(k, &key) <= 2)
                    .min_by_key(|k| edit_distance(k, &key))
                    .map(|k| format!("did you mean {k}?"))
                    .unwrap_or_else(|| "remove it (see `keepsake config example`)".to_string());
                self.problem(&key, "is not a known setting", suggestion);
            }
        }
    }
}

fn collect_keys(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in table {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(t) => collect_keys(t, &key, out),
            _ => out.push(key),
        }
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + (ca != *cb) as usize).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

pub const CAMERAS: &[&str] = &["synthetic", "folder", "v4l2"];
pub const DISPLAYS: &[&str] = &["png", "framebuffer", "kms", "window"];
pub const INPUTS: &[&str] = &["none", "scripted", "touch"];
pub const BUTTONS: &[&str] = &["none", "serial", "gpio"];
pub const SPEAKERS: &[&str] = &["wav", "alsa"];
pub const NARRATORS: &[&str] = &["espeak"];
pub const PRINTERS: &[&str] = &["image", "escpos", "cups"];

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            source_name: name.clone(),
            problems: vec![Problem {
                key: "(file)".into(),
                problem: format!("cannot read: {e}"),
                fix: "pass the path of the booth config, e.g. `keepsake run --config /etc/keepsake/booth.toml`".into(),
            }],
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Config::parse(&text, &name, &base)
    }

    /// Parses and validates config text; `base` resolves relative paths.
    pub fn parse(text: &str, source_name: &str, base: &Path) -> Result<Config, ConfigError> {
        let root: toml::Table = toml::from_str(text).map_err(|e| ConfigError {
            source_name: source_name.to_string(),
            problems: vec![Problem {
                key: "(syntax)".into(),
                problem: e.to_string().trim().to_string(),
                fix: "fix the TOML syntax at the line shown (strings need quotes, tables [like.this])".into(),
            }],
        })?;
        let mut r = Reader { root: &root, base: base.to_path_buf(), problems: Vec::new(), known: BTreeSet::new() };

        let name = r.string("memorial.name", None, "\"김영희\"");
        let dates = r.string("memorial.dates", Some(""), "\"1941 – 2026\"");
        let message = r.string("memorial.message", None, "\"함께한 모든 순간을 기억합니다.\"");
        let language = match r.string("memorial.language", Some("ko"), "\"ko\"").as_str() {
            "ko" => Language::Ko,
            "en" => Language::En,
            "" => Language::Ko,
            other => {
                r.problem("memorial.language", format!("{other:?} is not a supported language"), "use \"ko\" (Korean) or \"en\" (English)");
                Language::Ko
            }
        };
        let default_caption = if dates.is_empty() { name.clone() } else { format!("{name} ({dates})") };
        let caption = r.string("memorial.caption", Some(&default_caption), "\"김영희 (1941 – 2026)\"");

        let preset = r.kind("style.preset", "warm-animation", &ToonStyle::PRESETS, "style preset");
        let model = r.opt_path("style.model", "\"/var/lib/keepsake/models/booth.safetensors\"");
        let annotators = r.path("style.annotators", Some("/var/lib/keepsake/annotators"), "\"/var/lib/keepsake/annotators\"");
        let gpu_cache = r.path("style.gpu_cache", Some("gpu-cache"), "\"/var/lib/keepsake/gpu-cache\"");
        let compute = r.kind("style.compute", "auto", &crate::stylizers::Backend::NAMES, "compute backend");
        let compute = crate::stylizers::Backend::from_name(&compute).unwrap_or(crate::stylizers::Backend::Auto);
        let controlnets = r.controlnet_units("style.controlnet");
        let loras = r.loras("style.loras");

        let screen_w = r.number("screen.width", 720.0, 240.0, 7680.0, "pixels") as u32;
        let screen_h = r.number("screen.height", 1280.0, 240.0, 7680.0, "pixels") as u32;
        let font = r.opt_path("screen.font", "\"/usr/share/fonts/truetype/nanum/NanumGothic.ttf\"");

        let camera_kind = r.kind("devices.camera.kind", "synthetic", CAMERAS, "camera");
        let cam_w = r.number("devices.camera.width", 960.0, 64.0, 8192.0, "pixels") as u32;
        let cam_h = r.number("devices.camera.height", 1280.0, 64.0, 8192.0, "pixels") as u32;
        let camera = match camera_kind.as_str() {
            "folder" => {
                CameraConfig::Folder { path: r.path("devices.camera.path", None, "\"/srv/keepsake/photos\""), width: cam_w, height: cam_h }
            }
            "v4l2" => {
                let index = r.number("devices.camera.index", 0.0, 0.0, 63.0, "(N of /dev/videoN)") as u32;
                let encoding = match r.kind("devices.camera.format", "auto", &["auto", "mjpeg", "yuyv"], "camera format").as_str() {
                    "mjpeg" => Encoding::Mjpeg,
                    "yuyv" => Encoding::Yuyv,
                    _ => Encoding::Auto,
                };
                CameraConfig::V4l2(CameraSettings { index, width: cam_w, height: cam_h, encoding, preview: (screen_w, screen_h) })
            }
            _ => CameraConfig::Synthetic { width: cam_w, height: cam_h },
        };
        let display = match r.kind("devices.display.kind", "png", DISPLAYS, "display").as_str() {
            "framebuffer" => r.framebuffer("devices.display"),
            "window" => DisplayConfig::Window,
            "kms" => DisplayConfig::Kms {
                path: r.path("devices.display.path", Some("/dev/dri/card0"), "\"/dev/dri/card0\""),
                rotation: r.rotation("devices.display.rotation"),
            },
            _ => DisplayConfig::Png { record: r.opt_path("devices.display.record", "\"/var/lib/keepsake/screens\"") },
        };
        let panel_rotation = match &display {
            DisplayConfig::Framebuffer { rotation, .. } | DisplayConfig::Kms { rotation, .. } => *rotation,
            DisplayConfig::Png { .. } | DisplayConfig::Window => Rotation::R0,
        };
        let input = match r.kind("devices.input.kind", "none", INPUTS, "input").as_str() {
            "scripted" => InputConfig::Scripted { script: r.path("devices.input.script", None, "\"visitor.toml\"") },
            "touch" => InputConfig::Touch(r.touch("devices.input", panel_rotation)),
            _ => InputConfig::None,
        };
        let button = match r.kind("devices.button.kind", "none", BUTTONS, "print button").as_str() {
            "serial" => ButtonConfig::Serial {
                path: r.path("devices.button.path", None, "\"/dev/serial/by-id/usb-keepsake-buttons\""),
                baud: r.number("devices.button.baud", 9600.0, 300.0, 4_000_000.0, "baud") as u32,
            },
            "gpio" => ButtonConfig::Gpio {
                chip: r.path("devices.button.chip", Some("/dev/gpiochip0"), "\"/dev/gpiochip0\""),
                line: r.number("devices.button.line", 0.0, 0.0, 1023.0, "(the line offset gpioinfo shows)") as u32,
                active_low: r.boolean("devices.button.active_low", true),
                debounce: r.seconds("devices.button.debounce", 0.2, 0.0, 2.0),
            },
            _ => ButtonConfig::None,
        };
        let speaker = match r.kind("devices.speaker.kind", "wav", SPEAKERS, "speaker").as_str() {
            "alsa" => SpeakerConfig::Alsa {
                device: r.string("devices.speaker.device", Some("default"), "\"default\""),
                volume: r.number("devices.speaker.volume", 0.8, 0.0, 1.0, "(0 silent, 1 full)") as f32,
            },
            _ => SpeakerConfig::Wav { dir: r.path("devices.speaker.dir", Some("sound"), "\"/var/lib/keepsake/sound\"") },
        };
        r.kind("devices.narrator.kind", "espeak", NARRATORS, "narrator");
        let narrator = NarratorConfig::Espeak { clips: r.opt_path("devices.narrator.clips", "\"/var/lib/keepsake/clips\"") };
        let printer = match r.kind("devices.printer.kind", "image", PRINTERS, "printer").as_str() {
            "escpos" => PrinterConfig::EscPos {
                path: r.path("devices.printer.path", None, "\"/dev/serial/by-id/usb-thermal-printer\""),
                baud: r.number("devices.printer.baud", 9600.0, 300.0, 4_000_000.0, "baud") as u32,
                status: r.boolean("devices.printer.status", true),
            },
            "cups" => {
                let uri = r.string("devices.printer.uri", None, "\"ipp://127.0.0.1:631/printers/photo\"");
                if !uri.is_empty() && !["ipp://", "ipps://", "http://", "https://"].iter().any(|p| uri.starts_with(p)) {
                    r.problem(
                        "devices.printer.uri",
                        format!("{uri:?} is not an IPP address"),
                        "write ipp://127.0.0.1:631/printers/QUEUE (lpstat -v lists the queues)",
                    );
                }
                PrinterConfig::Cups { uri, max_queued: r.number("devices.printer.max_queued", 2.0, 1.0, 50.0, "cards") as usize }
            }
            _ => PrinterConfig::Image { dir: r.path("devices.printer.dir", Some("prints"), "\"/var/lib/keepsake/prints\"") },
        };

        let paper_name = r.string("paper.size", Some("4x6"), "\"4x6\"");
        let paper = paper_name.parse::<PaperSize>().unwrap_or_else(|e| {
            r.problem("paper.size", e, "pick the size loaded in the printer");
            PaperSize::FourBySix
        });
        if matches!(printer, PrinterConfig::Cups { .. }) && paper.is_thermal() {
            r.problem(
                "paper.size",
                format!("{paper} is a thermal roll but the printer is a CUPS photo printer"),
                "set paper.size to the photo paper loaded, e.g. \"4x6\"",
            );
        }
        if matches!(printer, PrinterConfig::EscPos { .. }) && !paper.is_thermal() {
            r.problem(
                "paper.size",
                format!("{paper} is photo paper but the printer is a thermal one"),
                "set paper.size = \"58mm\" or \"80mm\"",
            );
        }

        let url = r.string("server.url", None, "\"https://memorial.example.org\"");
        if !url.is_empty() && !(url.starts_with("https://") || url.starts_with("http://")) {
            r.problem(
                "server.url",
                format!("{url:?} is not an http(s) URL"),
                "write the memorial server's address, e.g. \"https://memorial.example.org\"",
            );
        }
        let token = r.opt_string("server.token", "\"ksb_...\" (from `keepsake-server booth add`)");
        let upload_chunk = (r.number("server.upload_chunk_kib", 1024.0, 1.0, 65536.0, "KiB") as usize) << 10;
        let retry_max = r.seconds("server.retry_max", 600.0, 0.1, 86400.0);

        let api_enabled = r.boolean("api.enabled", false);
        let listen_text = r.string("api.listen", Some("127.0.0.1:7860"), "\"127.0.0.1:7860\"");
        let listen = listen_text.parse().unwrap_or_else(|_| {
            r.problem(
                "api.listen",
                format!("{listen_text:?} is not an address:port"),
                "write e.g. \"127.0.0.1:7860\" (or \"0.0.0.0:7860\" for the hall's network)",
            );
            std::net::SocketAddr::from(([127, 0, 0, 1], 7860))
        });
        let api_token = r.opt_string("api.token", "\"a long random secret\"");
        if api_token.as_ref().is_some_and(|t| t.len() < 16) {
            r.problem("api.token", "is shorter than 16 characters", "use a long random secret, e.g. from `openssl rand -hex 16`");
        }
        if api_enabled && !listen.ip().is_loopback() && api_token.is_none() {
            r.problem(
                "api.token",
                format!("is missing while the API listens on {listen}, beyond this machine"),
                "set api.token to a long random secret (clients send it), or listen on 127.0.0.1",
            );
        }
        let api = Api {
            enabled: api_enabled,
            listen,
            token: api_token,
            lora_dir: r.opt_path("api.lora_dir", "\"/var/lib/keepsake/loras\""),
            controlnet_dir: r.opt_path("api.controlnet_dir", "\"/var/lib/keepsake/controlnet\""),
            max_side: r.number("api.max_side", 1024.0, 64.0, 2048.0, "px") as u32,
            max_steps: r.number("api.max_steps", 150.0, 1.0, 1000.0, "steps") as u32,
            max_images: r.number("api.max_images", 8.0, 1.0, 64.0, "pictures") as u32,
        };

        let timeouts = Timeouts {
            countdown_step: r.seconds("timeouts.countdown_step", 1.0, 0.05, 5.0),
            countdown_from: r.number("timeouts.countdown_from", 3.0, 1.0, 10.0, "counts") as u32,
            review: r.seconds("timeouts.review", 8.0, 0.1, 120.0),
            consent: r.seconds("timeouts.consent", 12.0, 0.1, 120.0),
            result: r.seconds("timeouts.result", 20.0, 0.1, 600.0),
            share: r.seconds("timeouts.share", 30.0, 0.1, 600.0),
            fault: r.seconds("timeouts.fault", 5.0, 0.1, 120.0),
            slide: r.seconds("timeouts.slide", 5.0, 0.1, 120.0),
        };
        let archive_dir = r.path("archive.dir", Some("archive"), "\"/var/lib/keepsake/archive\"");

        r.unknown_keys();
        if !r.problems.is_empty() {
            return Err(ConfigError { source_name: source_name.to_string(), problems: r.problems });
        }
        Ok(Config {
            memorial: Memorial { name, dates, message, caption, language },
            style: Style { preset, model, loras, controlnets, annotators, gpu_cache, compute },
            screen: (screen_w, screen_h),
            font,
            devices: Devices { camera, display, input, button, speaker, narrator, printer },
            paper,
            server: Server { url: url.trim_end_matches('/').to_string(), token, upload_chunk, retry_max },
            api,
            timeouts,
            archive_dir,
        })
    }
}

/// A complete, commented example config (`keepsake config example`).
pub const EXAMPLE: &str = include_str!("../../docs/booth.example.toml");

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "[memorial]\nname = \"Kim\"\nmessage = \"We remember.\"\n[server]\nurl = \"https://m.example\"\n";

    fn problems(text: &str) -> Vec<Problem> {
        Config::parse(text, "test.toml", Path::new("/etc/keepsake")).unwrap_err().problems
    }

    fn keys(text: &str) -> Vec<String> {
        problems(text).into_iter().map(|p| p.key).collect()
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = Config::parse(MINIMAL, "t", Path::new("/etc/keepsake")).unwrap();
        assert_eq!(c.memorial.language, Language::Ko);
        assert_eq!(c.memorial.caption, "Kim");
        assert_eq!(c.paper, PaperSize::FourBySix);
        assert_eq!(c.archive_dir, Path::new("/etc/keepsake/archive"));
        assert_eq!(c.style.model, None);
        assert_eq!(c.timeouts.countdown_from, 3);
    }

    #[test]
    fn the_compute_backend_and_gpu_cache_are_read_and_checked() {
        let c = Config::parse(MINIMAL, "t", Path::new("/etc/keepsake")).unwrap();
        assert_eq!((c.style.compute, c.style.gpu_cache), (crate::stylizers::Backend::Auto, PathBuf::from("/etc/keepsake/gpu-cache")));
        let text = format!("{MINIMAL}[style]\ncompute = \"gpu\"\ngpu_cache = \"/var/lib/keepsake/gpu-cache\"\n");
        let c = Config::parse(&text, "t", Path::new("/etc/keepsake")).unwrap();
        assert_eq!((c.style.compute, c.style.gpu_cache), (crate::stylizers::Backend::Gpu, PathBuf::from("/var/lib/keepsake/gpu-cache")));
        let wrong = format!("{MINIMAL}[style]\ncompute = \"tpu\"\n");
        let p = problems(&wrong);
        assert!(p.iter().any(|p| p.key == "style.compute" && p.fix.contains("auto, cpu, gpu")), "{p:?}");
    }

    #[test]
    fn example_config_is_valid() {
        Config::parse(EXAMPLE, "booth.example.toml", Path::new("/etc/keepsake")).unwrap();
    }

    #[test]
    fn controlnet_units_are_read_and_checked_one_by_one() {
        let units = "[[style.controlnet]]\nmodel = \"cn/openpose.safetensors\"\nmodule = \"openpose\"\nweight = 0.8\nend = 0.9\n\
                     [[style.controlnet]]\nmodel = \"/m/lines\"\nmodule = \"mlsd\"\nresolution = 384\nmode = \"controlnet\"\n";
        let c = Config::parse(&format!("{MINIMAL}{units}"), "t", Path::new("/etc/keepsake")).unwrap();
        assert_eq!(c.style.annotators, PathBuf::from("/var/lib/keepsake/annotators"));
        assert_eq!(
            c.style.controlnets,
            vec![
                ControlNetUnit {
                    model: "/etc/keepsake/cn/openpose.safetensors".into(),
                    module: Module::Openpose,
                    weight: 0.8,
                    start: 0.0,
                    end: 0.9,
                    resolution: 512,
                    mode: ControlMode::Balanced,
                },
                ControlNetUnit {
                    model: "/m/lines".into(),
                    module: Module::Mlsd,
                    weight: 1.0,
                    start: 0.0,
                    end: 1.0,
                    resolution: 384,
                    mode: ControlMode::Control
                },
            ]
        );
        let bad = "[[style.controlnet]]\nmodule = \"hed\"\nwieght = 1\n[[style.controlnet]]\nmodel = \"m\"\nmodule = \"none\"\nstart = 0.5\nend = 0.5\n";
        let p = problems(&format!("{MINIMAL}{bad}"));
        let k: Vec<_> = p.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            k,
            [
                "style.controlnet[0].model",
                "style.controlnet[0].module",
                "style.controlnet[0].wieght",
                "style.controlnet[1].module",
                "style.controlnet[1].start"
            ],
            "{p:?}"
        );
        assert!(p[2].fix.contains("did you mean weight"), "{:?}", p[2]);
        assert!(p[3].problem.contains("from the visitor's photo"), "{:?}", p[3]);
        let c = Config::parse(
            &format!("{MINIMAL}[style]\nloras = [\"styles/warm.safetensors:0.8\", \"/l/b.safetensors\"]\n"),
            "t",
            Path::new("/etc/keepsake"),
        )
        .unwrap();
        assert_eq!(
            c.style.loras,
            vec![(PathBuf::from("/etc/keepsake/styles/warm.safetensors"), 0.8), (PathBuf::from("/l/b.safetensors"), 1.0)]
        );
        let p = problems(&format!("{MINIMAL}[style]\nloras = [3, \"x.safetensors:lots\"]\n"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].key == "style.loras" && p[0].problem.contains("not a string"), "{p:?}");
        let p = problems(&format!("{MINIMAL}[style]\ncontrolnet = \"openpose\"\n"));
        assert!(p[0].key == "style.controlnet" && p[0].fix.contains("[[style.controlnet]]"), "{p:?}");
    }

    #[test]
    fn a_print_button_is_a_serial_box_or_a_gpio_line() {
        let c = Config::parse(
            &format!("{MINIMAL}[devices.button]\nkind = \"serial\"\npath = \"/dev/ttyACM0\"\nbaud = 115200\n"),
            "t",
            Path::new("/etc/keepsake"),
        )
        .unwrap();
        assert_eq!(c.devices.button, ButtonConfig::Serial { path: "/dev/ttyACM0".into(), baud: 115200 });
        let p = problems(&format!("{MINIMAL}[devices.button]\nkind = \"serial\"\n"));
        assert!(p.len() == 1 && p[0].key == "devices.button.path" && p[0].problem == "is missing", "{p:?}");
        let c = Config::parse(&format!("{MINIMAL}[devices.button]\nkind = \"gpio\"\nline = 17\n"), "t", Path::new("/etc")).unwrap();
        assert_eq!(
            c.devices.button,
            ButtonConfig::Gpio { chip: "/dev/gpiochip0".into(), line: 17, active_low: true, debounce: Duration::from_millis(200) }
        );
        let p = problems(&format!("{MINIMAL}[devices.button]\nkind = \"gpio\"\nactive_low = \"yes\"\n"));
        assert!(p.len() == 1 && p[0].problem.contains("true or false"), "{p:?}");
    }

    #[test]
    fn a_touchscreen_takes_calibration_and_the_panels_rotation() {
        let c = Config::parse(
            &format!(
                "{MINIMAL}[devices.display]\nkind = \"framebuffer\"\nrotation = 270\n[devices.input]\nkind = \"touch\"\npath = \"/dev/input/event3\"\ncalibration = [3900, 200, 300, 3800]\nswap_xy = true\n"
            ),
            "t",
            Path::new("/etc"),
        )
        .unwrap();
        assert_eq!(
            c.devices.input,
            InputConfig::Touch(TouchSettings {
                path: "/dev/input/event3".into(),
                calibration: Some(Calibration { x: (3900, 200), y: (300, 3800) }),
                swap_xy: true,
                rotation: Rotation::R270,
                debounce: Duration::from_millis(150),
            })
        );
        let p = problems(&format!("{MINIMAL}[devices.input]\nkind = \"touch\"\npath = \"/dev/input/event3\"\ncalibration = [1, 2, 3]\n"));
        assert!(p.len() == 1 && p[0].key == "devices.input.calibration" && p[0].fix.contains("x_left"), "{p:?}");
        let p = problems(&format!("{MINIMAL}[devices.input]\nkind = \"touch\"\n"));
        assert!(p.len() == 1 && p[0].key == "devices.input.path", "{p:?}");
    }

    #[test]
    fn a_framebuffer_panel_is_configured_by_path_rotation_and_stand_in_layout() {
        let c =
            Config::parse(&format!("{MINIMAL}[devices.display]\nkind = \"framebuffer\"\nrotation = 90\n"), "t", Path::new("/etc")).unwrap();
        assert_eq!(c.devices.display, DisplayConfig::Framebuffer { path: "/dev/fb0".into(), rotation: Rotation::R90, stand_in: None });
        let c = Config::parse(
            &format!("{MINIMAL}[devices.display]\nkind = \"framebuffer\"\npath = \"fb.raw\"\nwidth = 800\nheight = 480\nbpp = 16\n"),
            "t",
            Path::new("/etc"),
        )
        .unwrap();
        assert_eq!(
            c.devices.display,
            DisplayConfig::Framebuffer { path: "/etc/fb.raw".into(), rotation: Rotation::R0, stand_in: Some((800, 480, 16)) }
        );
        let p = problems(&format!("{MINIMAL}[devices.display]\nkind = \"framebuffer\"\nrotation = 45\nwidth = 800\n"));
        let k: Vec<_> = p.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(k, ["devices.display.rotation", "devices.display"], "{p:?}");
        assert!(p[0].fix.contains("0, 90, 180 or 270") && p[1].fix.contains("all three"), "{p:?}");
        let p = problems(&format!("{MINIMAL}[devices.display]\nkind = \"framebuffer\"\nwidth = 8\nheight = 480\nbpp = 8\n"));
        assert_eq!(p.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(), ["devices.display.width", "devices.display.bpp"], "{p:?}");
    }

    #[test]
    fn printers_need_their_kind_of_paper() {
        let c = Config::parse(
            &format!("{MINIMAL}[devices.printer]\nkind = \"escpos\"\npath = \"/dev/ttyUSB0\"\nbaud = 19200\n[paper]\nsize = \"58mm\"\n"),
            "t",
            Path::new("/etc"),
        )
        .unwrap();
        assert_eq!(c.devices.printer, PrinterConfig::EscPos { path: "/dev/ttyUSB0".into(), baud: 19200, status: true });
        assert_eq!(c.paper, PaperSize::Thermal58);
        let p = problems(&format!("{MINIMAL}[devices.printer]\nkind = \"escpos\"\npath = \"/dev/ttyUSB0\"\n"));
        assert!(p.len() == 1 && p[0].key == "paper.size" && p[0].fix.contains("58mm"), "{p:?}");
        let c = Config::parse(
            &format!("{MINIMAL}[devices.printer]\nkind = \"cups\"\nuri = \"ipp://127.0.0.1:631/printers/dnp\"\n"),
            "t",
            Path::new("/etc"),
        )
        .unwrap();
        assert_eq!(c.devices.printer, PrinterConfig::Cups { uri: "ipp://127.0.0.1:631/printers/dnp".into(), max_queued: 2 });
        let p = problems(&format!("{MINIMAL}[devices.printer]\nkind = \"cups\"\nuri = \"dnp\"\n[paper]\nsize = \"80mm\"\n"));
        assert_eq!(p.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(), ["devices.printer.uri", "paper.size"], "{p:?}");
    }

    #[test]
    fn a_webcam_is_configured_by_index_size_and_format() {
        let c = Config::parse(
            &format!("{MINIMAL}[devices.camera]\nkind = \"v4l2\"\nindex = 2\nwidth = 1920\nheight = 1080\nformat = \"yuyv\"\n"),
            "t",
            Path::new("/etc"),
        )
        .unwrap();
        assert_eq!(
            c.devices.camera,
            CameraConfig::V4l2(CameraSettings { index: 2, width: 1920, height: 1080, encoding: Encoding::Yuyv, preview: (720, 1280) })
        );
        let p = problems(&format!("{MINIMAL}[devices.camera]\nkind = \"v4l2\"\nformat = \"h264\"\n"));
        assert!(p.len() == 1 && p[0].key == "devices.camera.format" && p[0].fix.contains("mjpeg"), "{p:?}");
    }

    #[test]
    fn an_alsa_speaker_has_a_device_and_a_volume() {
        let c = Config::parse(&format!("{MINIMAL}[devices.speaker]\nkind = \"alsa\"\nvolume = 0.5\n"), "t", Path::new("/etc")).unwrap();
        assert_eq!(c.devices.speaker, SpeakerConfig::Alsa { device: "default".into(), volume: 0.5 });
        let p = problems(&format!("{MINIMAL}[devices.speaker]\nkind = \"alsa\"\nvolume = 3\n"));
        assert!(p.len() == 1 && p[0].key == "devices.speaker.volume" && p[0].fix.contains("0 silent"), "{p:?}");
    }

    #[test]
    fn missing_keys_are_all_reported() {
        let p = problems("[memorial]\nlanguage = \"en\"\n");
        let k: Vec<_> = p.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(k, ["memorial.name", "memorial.message", "server.url"]);
        assert!(p.iter().all(|p| p.problem == "is missing" && p.fix.starts_with("add ")));
    }

    #[test]
    fn wrong_types_name_the_key_and_the_type() {
        let p = problems(&format!("{MINIMAL}[timeouts]\nreview = \"eight\"\n[screen]\nwidth = \"720\"\n"));
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].key, "screen.width");
        assert!(p[0].problem.contains("must be a number, found a string"), "{:?}", p[0]);
        assert_eq!(p[1].key, "timeouts.review");
        let p = problems("[memorial]\nname = 5\nmessage = \"m\"\n[server]\nurl = \"https://x\"\n");
        assert_eq!(p[0].key, "memorial.name");
        assert!(p[0].problem.contains("found a integer"), "{:?}", p[0]);
    }

    #[test]
    fn the_api_section_is_checked() {
        let c = Config::parse(MINIMAL, "t", Path::new("/etc/keepsake")).unwrap();
        assert!(!c.api.enabled);
        assert_eq!((c.api.listen.to_string().as_str(), c.api.max_side, c.api.token.as_deref()), ("127.0.0.1:7860", 1024, None));
        let api = |body: &str| format!("{MINIMAL}[api]\nenabled = true\n{body}");
        let c = Config::parse(&api("lora_dir = \"loras\"\nmax_steps = 30"), "t", Path::new("/etc/keepsake")).unwrap();
        assert_eq!((c.api.enabled, c.api.max_steps, c.api.lora_dir), (true, 30, Some(PathBuf::from("/etc/keepsake/loras"))));
        assert_eq!(keys(&api("listen = \"0.0.0.0:7860\"")), ["api.token"]);
        assert!(Config::parse(&api("listen = \"0.0.0.0:7860\"\ntoken = \"0123456789abcdef\""), "t", Path::new("/")).is_ok());
        assert_eq!(keys(&api("listen = \"anywhere\"")), ["api.listen"]);
        assert_eq!(keys(&api("token = \"short\"")), ["api.token"]);
        assert_eq!(keys(&api("max_side = 10000")), ["api.max_side"]);
    }

    #[test]
    fn unknown_device_lists_the_choices() {
        let p = problems(&format!("{MINIMAL}[devices.camera]\nkind = \"gopro\"\n[devices.printer]\nkind = \"laser\"\n"));
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].key, "devices.camera.kind");
        assert!(p[0].problem.contains("unknown camera \"gopro\"") && p[0].fix.contains("synthetic, folder, v4l2"), "{:?}", p[0]);
        assert_eq!(p[1].key, "devices.printer.kind");
    }

    #[test]
    fn bad_language_says_which_are_supported() {
        let p = problems(&MINIMAL.replace("[server]", "language = \"fr\"\n[server]"));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].key, "memorial.language");
        assert!(p[0].fix.contains("\"ko\"") && p[0].fix.contains("\"en\""));
    }

    #[test]
    fn typos_and_ranges_and_syntax() {
        assert_eq!(keys(&format!("{MINIMAL}[timeouts]\nreveiw = 3\n")), ["timeouts.reveiw"]);
        let p = problems(&format!("{MINIMAL}[timeouts]\nreveiw = 3\n"));
        assert!(p[0].fix.contains("did you mean timeouts.review"), "{:?}", p[0]);
        assert_eq!(keys(&format!("{MINIMAL}[paper]\nsize = \"letter\"\n")), ["paper.size"]);
        assert_eq!(keys(&format!("{MINIMAL}[screen]\nwidth = 10\n")), ["screen.width"]);
        assert_eq!(keys(&MINIMAL.replace("https://m.example", "m.example")), ["server.url"]);
        let sync = |extra: &str| keys(&MINIMAL.replace("url = \"https://m.example\"", &format!("url = \"https://m.example\"\n{extra}")));
        assert_eq!(sync("retry_max = -1"), ["server.retry_max"]);
        assert_eq!(sync("upload_chunk_kib = \"big\""), ["server.upload_chunk_kib"]);
        assert_eq!(sync("token = 5"), ["server.token"]);
        let c = Config::parse(
            &MINIMAL.replace("url = \"https://m.example\"", "url = \"https://m.example/\"\ntoken = \"ksb_x\"\nupload_chunk_kib = 64"),
            "t",
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(
            (c.server.url.as_str(), c.server.token.as_deref(), c.server.upload_chunk),
            ("https://m.example", Some("ksb_x"), 64 << 10)
        );
        assert_eq!(keys("[memorial\nname = 1"), ["(syntax)"]);
        assert_eq!(keys(&format!("{MINIMAL}[devices.camera]\nkind = \"folder\"\n")), ["devices.camera.path"]);
    }
}
