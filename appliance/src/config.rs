//! The booth's one TOML config, validated at start: every problem is listed at once, each with
//! its key and the fix, so a technician fixes the file in one pass.

use std::path::{Path, PathBuf};
use std::time::Duration;

use keepsake_drivers::paper::PaperSize;
use keepsake_models::components::controlnet::{ControlMode, ControlSettings};
use keepsake_models::preprocessors::Module;
use keepsake_models::stylize::toon::ToonStyle;

use crate::config_reader::{config_kinds, type_name, Reader};
pub use crate::config_reader::{ConfigError, Problem};
use crate::devices::DevicesConfig;

/// The memorial's language (screens, voice, card), as the memorial server knows it too.
pub use keepsake_protocol::Language;

#[derive(Debug, Clone, PartialEq)]
pub struct Memorial {
    pub name: String,
    pub dates: String,
    pub message: String,
    pub caption: String,
    pub language: Language,
    /// The portrait of the person remembered, shown on the attract screen (`memorial.portrait`).
    pub portrait: Option<PathBuf>,
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
    pub compute: crate::backend::Backend,
}

/// One `[[style.controlnet]]`: the net, the preprocessor that makes its control image from the
/// photo, and A1111's weight, guidance window and processor resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlNetUnit {
    pub model: PathBuf,
    pub module: Module,
    pub resolution: u32,
    pub settings: ControlSettings,
}

/// What the screens tell visitors about this box (`[guidance]`), in the memorial's language:
/// where its print button is and where the card comes out. Unset, they say it without a place.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Guidance {
    pub press_print: Option<String>,
    pub take_card: Option<String>,
}

config_kinds! {
    /// Whether visitors' illustrations may appear in the booth's idle slideshow
    /// (`privacy.slideshow`): never, or for those who say yes when asked.
    pub enum SlideshowPolicy { Off = "off", Ask = "ask" }
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
    /// How long the "temporarily unavailable" screen stays before the booth tries again.
    pub out_of_service: Duration,
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
    pub devices: DevicesConfig,
    pub paper: PaperSize,
    pub server: Server,
    pub api: Api,
    pub timeouts: Timeouts,
    pub slideshow: SlideshowPolicy,
    pub guidance: Guidance,
    pub archive_dir: PathBuf,
}

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
        let mut r = Reader::new(&root, base);

        let name = r.string("memorial.name", None, "\"김영희\"");
        let dates = r.string("memorial.dates", Some(""), "\"1941 – 2026\"");
        let message = r.string("memorial.message", None, "\"함께한 모든 순간을 기억합니다.\"");
        let code = r.string("memorial.language", Some("ko"), "\"ko\"");
        let language = Language::from_code(&code).unwrap_or_else(|| {
            if !code.is_empty() {
                r.problem("memorial.language", format!("{code:?} is not a supported language"), "use \"ko\" (Korean) or \"en\" (English)");
            }
            Language::Ko
        });
        let default_caption = if dates.is_empty() { name.clone() } else { format!("{name} ({dates})") };
        let caption = r.string("memorial.caption", Some(&default_caption), "\"김영희 (1941 – 2026)\"");
        let portrait = r.opt_path("memorial.portrait", "\"/var/lib/keepsake/portrait.jpg\"");
        if let Some(path) = &portrait {
            // Its header only: enough to know it is a picture the booth can show.
            if let Err(e) = image::image_dimensions(path) {
                r.problem("memorial.portrait", format!("{}: {e}", path.display()), "give a JPEG or PNG photo of the person remembered");
            }
        }

        let preset = r.kind("style.preset", "warm-animation", &ToonStyle::PRESETS, "style preset");
        let model = r.opt_path("style.model", "\"/var/lib/keepsake/models/booth.safetensors\"");
        let annotators = r.path("style.annotators", Some("/var/lib/keepsake/annotators"), "\"/var/lib/keepsake/annotators\"");
        let gpu_cache = r.path("style.gpu_cache", Some("gpu-cache"), "\"/var/lib/keepsake/gpu-cache\"");
        let compute = r.choice("style.compute", crate::backend::Backend::Auto, "compute backend");
        let controlnets = read_controlnet_units(&mut r, "style.controlnet");
        let loras = read_loras(&mut r, "style.loras");

        let screen_w = r.number("screen.width", 720.0, 240.0, 7680.0, "pixels") as u32;
        let screen_h = r.number("screen.height", 1280.0, 240.0, 7680.0, "pixels") as u32;
        let font = r.opt_path("screen.font", "\"/usr/share/fonts/truetype/nanum/NanumGothic.ttf\"");

        let devices = DevicesConfig::read(&mut r, (screen_w, screen_h));

        let paper_name = r.string("paper.size", Some("4x6"), "\"4x6\"");
        let paper = paper_name.parse::<PaperSize>().unwrap_or_else(|e| {
            r.problem("paper.size", e, "pick the size loaded in the printer");
            PaperSize::FourBySix
        });
        if let Some((problem, fix)) = devices.printer.paper_problem(paper) {
            r.problem("paper.size", problem, fix);
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
            out_of_service: r.seconds("timeouts.out_of_service", 60.0, 1.0, 3600.0),
        };
        let slideshow = r.choice("privacy.slideshow", SlideshowPolicy::Off, "slideshow policy");
        let guidance = Guidance {
            press_print: r.opt_string("guidance.press_print", "\"Press the round button below the screen for your card\""),
            take_card: r.opt_string("guidance.take_card", "\"Your card comes out of the slot on the right\""),
        };
        let archive_dir = r.path("archive.dir", Some("archive"), "\"/var/lib/keepsake/archive\"");

        r.unknown_keys();
        if r.has_problems() {
            return Err(ConfigError { source_name: source_name.to_string(), problems: r.into_problems() });
        }
        Ok(Config {
            memorial: Memorial { name, dates, message, caption, language, portrait },
            style: Style { preset, model, loras, controlnets, annotators, gpu_cache, compute },
            screen: (screen_w, screen_h),
            font,
            devices,
            paper,
            server: Server { url: url.trim_end_matches('/').to_string(), token, upload_chunk, retry_max },
            api,
            timeouts,
            slideshow,
            guidance,
            archive_dir,
        })
    }
}

/// A list of `"FILE:WEIGHT"` LoRAs (paths relative to the config file).
fn read_loras(r: &mut Reader, key: &str) -> Vec<(PathBuf, f32)> {
    let items = match r.get(key) {
        None => return Vec::new(),
        Some(toml::Value::Array(a)) => a.clone(),
        Some(v) => {
            r.problem(key, format!("must be a list, found a {}", type_name(v)), format!("write {key} = [\"warm-style.safetensors:0.8\"]"));
            return Vec::new();
        }
    };
    let mut loras = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let parsed = item
            .as_str()
            .ok_or_else(|| format!("entry {i} is a {}, not a string", type_name(item)))
            .and_then(|s| crate::extras::parse_lora(s).map_err(|e| e.to_string()));
        match parsed {
            Ok((path, weight)) => loras.push((r.resolve(&path.to_string_lossy()), weight)),
            Err(e) => r.problem(key, e, format!("write {key} = [\"warm-style.safetensors:0.8\"] (file, colon, weight)")),
        }
    }
    loras
}

/// `[[key]]` ControlNet units, each read (and its unknown keys reported) as its own table.
fn read_controlnet_units(r: &mut Reader, key: &str) -> Vec<ControlNetUnit> {
    let entries = match r.get(key) {
        None => return Vec::new(),
        Some(toml::Value::Array(a)) if a.iter().all(|v| v.is_table()) => a.clone(),
        Some(v) => {
            r.problem(key, format!("must be a list of tables, found a {}", type_name(v)), format!("write [[{key}]] sections"));
            return Vec::new();
        }
    };
    entries.iter().enumerate().map(|(i, entry)| r.entry(key, i, entry.as_table().expect("checked above"), read_controlnet_unit)).collect()
}

/// One `[[style.controlnet]]` table.
fn read_controlnet_unit(r: &mut Reader) -> ControlNetUnit {
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
    if module == Module::None && !module_name.is_empty() && !r.has_problems() {
        r.problem(
            "module",
            "the booth makes each control image from the visitor's photo",
            "use canny, openpose, depth, depth_anything_v2 or mlsd",
        );
    }
    let weight = r.number("weight", 1.0, 0.0, 2.0, "(A1111's control weight)") as f32;
    let start = r.number("start", 0.0, 0.0, 1.0, "(fraction of the steps)");
    let end = r.number("end", 1.0, 0.0, 1.0, "(fraction of the steps)");
    if !ControlSettings::is_window(start, end) {
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
    ControlNetUnit { model, module, resolution, settings: ControlSettings { weight, start, end, mode } }
}

/// A complete, commented example config (`keepsake config example`).
pub const EXAMPLE: &str = include_str!("../../docs/booth.example.toml");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::{ButtonConfig, CameraConfig, DisplayConfig, InputConfig, PrinterConfig, SpeakerConfig};
    use keepsake_drivers::fbdev::Rotation;
    use keepsake_drivers::touch::{Calibration, TouchSettings};
    use keepsake_drivers::v4l_camera::{CameraSettings, Encoding};

    const MINIMAL: &str = "[memorial]\nname = \"Kim\"\nmessage = \"We remember.\"\n[server]\nurl = \"https://m.example\"\n";

    fn problems(text: &str) -> Vec<Problem> {
        Config::parse(text, "test.toml", Path::new("/etc/keepsake")).unwrap_err().problems
    }

    fn keys(text: &str) -> Vec<String> {
        problems(text).into_iter().map(|p| p.key).collect()
    }

    #[test]
    fn a_portrait_that_is_no_picture_is_a_problem_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("portrait.png");
        image::RgbImage::new(30, 40).save(&good).unwrap();
        let bad = dir.path().join("portrait.txt");
        std::fs::write(&bad, "not a picture").unwrap();
        let with = |p: &Path| {
            MINIMAL.replace("message = \"We remember.\"\n", &format!("message = \"We remember.\"\nportrait = \"{}\"\n", p.display()))
        };
        let c = Config::parse(&with(&good), "t", Path::new("/etc/keepsake")).unwrap();
        assert_eq!(c.memorial.portrait.as_deref(), Some(good.as_path()));
        for missing in [bad, dir.path().join("nothing.jpg")] {
            let p = problems(&with(&missing));
            assert!(p.iter().any(|p| p.key == "memorial.portrait" && p.fix.contains("JPEG or PNG")), "{p:?}");
        }
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
        assert_eq!((c.style.compute, c.style.gpu_cache), (crate::backend::Backend::Auto, PathBuf::from("/etc/keepsake/gpu-cache")));
        let text = format!("{MINIMAL}[style]\ncompute = \"gpu\"\ngpu_cache = \"/var/lib/keepsake/gpu-cache\"\n");
        let c = Config::parse(&text, "t", Path::new("/etc/keepsake")).unwrap();
        assert_eq!((c.style.compute, c.style.gpu_cache), (crate::backend::Backend::Gpu, PathBuf::from("/var/lib/keepsake/gpu-cache")));
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
                    resolution: 512,
                    settings: ControlSettings { weight: 0.8, start: 0.0, end: 0.9, mode: ControlMode::Balanced },
                },
                ControlNetUnit {
                    model: "/m/lines".into(),
                    module: Module::Mlsd,
                    resolution: 384,
                    settings: ControlSettings { mode: ControlMode::Control, ..Default::default() },
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
