//! `keepsake doctor`: what this machine has for the booth, and what is missing, with the fix.

use std::path::Path;

use keepsake_drivers::discover;
use keepsake_drivers::narrator::{EspeakNarrator, ESPEAK_INSTALL_FIX};
use keepsake_drivers::text;

use crate::config::Config;
use crate::devices::Devices;
use keepsake_models::formats;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Works, but not as well as it could.
    Warn,
    /// Configured (or required) and not there.
    Missing,
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub what: String,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
}

fn finding(what: &str, status: Status, detail: impl Into<String>, fix: Option<&str>) -> Finding {
    Finding { what: what.to_string(), status, detail: detail.into(), fix: fix.map(str::to_string) }
}

/// What `style.model` (which exists) is, and how well it suits the booth.
fn model_finding(p: &std::path::Path) -> Finding {
    const BAKE: &str = "bake it for the booth: keepsake models bake --model MODEL --lcm-lora LCM --taesd TAESD --out booth.safetensors";
    if p.join("unet").is_dir() && p.join("tokenizer").is_dir() {
        return finding("model", Status::Warn, format!("diffusers folder {} (f32, full VAE)", p.display()), Some(BAKE));
    }
    if let Ok(contents) = formats::booth_file::BoothFile::open(p).and_then(|f| f.contents()) {
        let origin = &contents.origin;
        let detail = format!(
            "booth file {}: {}, {:.0} MB, {}{}{}",
            p.display(),
            contents.precision,
            contents.file_bytes as f64 / 1e6,
            if origin.lcm { "LCM 4 steps" } else { "Euler a 20 steps" },
            if contents.tiny_vae { ", TAESD" } else { "" },
            if origin.loras.is_empty() { String::new() } else { format!(", LoRAs {}", origin.loras.join(",")) },
        );
        return finding("model", Status::Ok, detail, None);
    }
    if p.is_file() && p.extension().is_some_and(|e| e == "safetensors") {
        return finding("model", Status::Warn, format!("single-file checkpoint {} (f32 in memory, full VAE)", p.display()), Some(BAKE));
    }
    finding(
        "model",
        Status::Missing,
        format!(
            "{} is neither a booth file, a diffusers folder (unet/, vae/, text_encoder/, tokenizer/) nor a .safetensors checkpoint",
            p.display()
        ),
        Some("point style.model at an SD 1.x model"),
    )
}

/// Whether a `[[style.controlnet]]` unit's net and its preprocessor's weights are there.
fn controlnet_finding(i: usize, unit: &crate::config::ControlNetUnit, annotators: &Path) -> Finding {
    use keepsake_models::preprocessors::{depth_anything, leres, mlsd, openpose, Module};
    let what = format!("ControlNet {i} ({})", unit.module);
    if !unit.model.exists() {
        return finding(
            &what,
            Status::Missing,
            format!("{} does not exist", unit.model.display()),
            Some("copy the ControlNet there or correct its model"),
        );
    }
    let weights = match unit.module {
        Module::Openpose => Some(openpose::WEIGHTS),
        Module::Mlsd => Some(mlsd::WEIGHTS),
        Module::Depth => Some(leres::WEIGHTS),
        Module::DepthAnything => Some(depth_anything::WEIGHTS),
        Module::Canny { .. } | Module::None => None,
    };
    if let Some(file) = weights {
        let path = annotators.join(file);
        if !path.is_file() {
            return finding(
                &what,
                Status::Missing,
                format!("the preprocessor's weights {} are missing: the unit is left out", path.display()),
                Some("copy the file from lllyasviel/Annotators into style.annotators"),
            );
        }
    }
    finding(&what, Status::Ok, format!("{} at weight {}", unit.model.display(), unit.settings.weight), None)
}

/// Each GPU adapter with what the diffusion model gets from it (compiler, f16, tensor cores,
/// memory), and where the model will run.
pub fn gpu_findings(reports: &[keepsake_models::compute::gpu_adapter::AdapterReport]) -> Vec<Finding> {
    use keepsake_models::compute::gpu_adapter::Compiler;
    const DRIVER_FIX: &str = "install the GPU's own Vulkan driver (NVIDIA/Jetson: the L4T or NVIDIA driver; AMD/Intel: mesa-vulkan-drivers) so `vulkaninfo` lists it";
    let mut out = Vec::new();
    if reports.is_empty() {
        out.push(finding(
            "GPU (wgpu)",
            Status::Warn,
            "no adapter: the illustration filter and the diffusion model run on the CPU",
            Some("install the GPU's Vulkan driver (CPU-only machines: `sudo apt-get install mesa-vulkan-drivers libvulkan1`)"),
        ));
    }
    for r in reports {
        let (status, note, fix) = match (r.is_software(), r.compiler, r.cooperative_matrix) {
            (true, _, _) => {
                (Status::Ok, "software rasterizer: runs the filter; the diffusion model runs on the CPU, which is faster", None)
            }
            (false, Compiler::SpirV, true) => (Status::Ok, "tensor-core path", None),
            (false, Compiler::SpirV, false) => {
                (Status::Warn, "SPIR-V without cooperative matrix: matmuls and convolutions run without tensor cores", Some(DRIVER_FIX))
            }
            (false, Compiler::Wgsl, _) => (
                Status::Warn,
                "the driver lacks the Vulkan memory model or buffer device addresses: WGSL only, no tensor cores",
                Some(DRIVER_FIX),
            ),
        };
        out.push(finding("GPU (wgpu)", status, format!("{}: {note}", r.describe()), fix));
    }
    let place = match reports.iter().find(|r| !r.is_software()) {
        Some(r) => format!("GPU {} ({})", r.name, if r.shader_f16 { "f16" } else { "f32" }),
        None => "CPU (f32)".to_string(),
    };
    out.push(finding("diffusion compute", Status::Ok, format!("with style.compute = auto the booth's model runs on the {place}"), None));
    out
}

/// Which CPU kernels the model's int8 layers run (the whole model on a box without a usable GPU).
pub fn cpu_finding(kernel: keepsake_models::kernels::int8::Kernel, packer: keepsake_models::kernels::int8::Packer) -> Finding {
    use keepsake_models::kernels::int8::{Kernel, Packer};
    let note = match kernel {
        Kernel::Vnni => "int8 layers on AVX-512 VNNI (8-bit activations, 64 multiply-adds an instruction)",
        Kernel::Dotprod => "int8 layers on Arm's dot product (sdot, 8-bit activations)",
        Kernel::Portable if Kernel::fastest() != Kernel::Portable => {
            "int8 layers on the portable kernel because KEEPSAKE_INT8_KERNEL=portable is set (this CPU has a faster one)"
        }
        Kernel::Portable => {
            "int8 layers on the portable kernel (plain Rust): this CPU has neither AVX-512 VNNI nor Arm's dot product, which would run them several times faster"
        }
    };
    // Weights are packed for the kernel at every forward: a 3x3 layer's packing is about three
    // times slower without VBMI.
    let packing = match packer {
        Packer::Avx512 => "weights packed with AVX-512 VBMI",
        Packer::Portable => "weights packed by plain loops (no AVX-512 VBMI)",
    };
    finding("CPU kernels", Status::Ok, format!("{note}; {packing}"), None)
}

/// Checks the machine, and the config's devices when a config is given.
pub fn examine(config: Option<&Config>) -> Vec<Finding> {
    let mut out = Vec::new();

    out.extend(gpu_findings(&keepsake_models::compute::gpu_adapter::adapter_reports()));
    out.push(cpu_finding(keepsake_models::kernels::int8::Kernel::detect(), keepsake_models::kernels::int8::Packer::detect()));

    for (lang, label) in [("ko", "Korean"), ("en", "English")] {
        match EspeakNarrator::has_voice(lang) {
            Ok(true) => out.push(finding("voice", Status::Ok, format!("espeak-ng {label}"), None)),
            Ok(false) => out.push(finding(
                "voice",
                Status::Missing,
                format!("espeak-ng has no {label} voice"),
                Some("sudo apt-get install espeak-ng-data"),
            )),
            Err(e) => out.push(finding("voice", Status::Missing, e.problem, Some(ESPEAK_INSTALL_FIX))),
        }
    }

    // The face the booth will set its text in: the configured font, else the system's.
    let face = match config.and_then(|c| c.font.as_ref()) {
        Some(path) => match text::Face::load(path) {
            Ok(f) => f,
            Err(e) => {
                out.push(finding("font", Status::Missing, format!("{}: {}", e.device, e.problem), Some(&e.fix)));
                text::Face::Unifont
            }
        },
        None => text::Face::system(),
    };
    out.push(match &face {
        text::Face::Ttf(..) => finding("font", Status::Ok, face.describe(), None),
        text::Face::Unifont => finding(
            "font",
            Status::Warn,
            face.describe(),
            Some("for large anti-aliased type install a Korean font: sudo apt-get install fonts-nanum"),
        ),
    });
    text::set_face(face);

    out.extend(found_devices());

    if let Some(cfg) = config {
        let missing_glyphs: String = [&cfg.memorial.name, &cfg.memorial.caption, &cfg.memorial.message]
            .iter()
            .flat_map(|s| s.chars())
            .filter(|c| !c.is_whitespace() && !text::has_glyph(*c))
            .collect();
        if !missing_glyphs.is_empty() {
            out.push(finding(
                "font",
                Status::Warn,
                format!("memorial text has characters the font lacks: {missing_glyphs}"),
                Some("they show as '?'; rephrase, or set screen.font to a font that has them"),
            ));
        }
        match &cfg.style.model {
            None => out.push(finding(
                "model",
                Status::Warn,
                "no diffusion model configured: the illustration filter makes keepsakes",
                Some("set style.model once a model is baked"),
            )),
            Some(p) if !p.exists() => out.push(finding(
                "model",
                Status::Missing,
                format!("{} does not exist", p.display()),
                Some("copy the model there or correct style.model"),
            )),
            Some(p) => out.push(model_finding(p)),
        }
        for (i, unit) in cfg.style.controlnets.iter().enumerate() {
            out.push(controlnet_finding(i, unit, &cfg.style.annotators));
        }
        out.extend(configured_devices(cfg));
        out.push(writable("archive", &cfg.archive_dir));
        out.push(sync_finding(cfg));
    }
    out
}

/// The memorial server: is a token set, and what waits in the outbox.
fn sync_finding(cfg: &Config) -> Finding {
    if cfg.server.token.is_none() {
        return finding(
            "memorial server",
            Status::Warn,
            format!("{}: no server.token, keepsakes wait in the outbox", cfg.server.url),
            Some("on the server: keepsake-server booth add --memorial ID; put the token in server.token"),
        );
    }
    match crate::archive::Archive::open(&cfg.archive_dir).and_then(|a| a.outbox().summary().map_err(Into::into)) {
        Ok(s) if s.refused > 0 => finding(
            "memorial server",
            Status::Warn,
            format!("{}: {} waiting, {} sent, {} refused", cfg.server.url, s.pending, s.sent, s.refused),
            Some("see why with `keepsake sync status --config FILE`; send again with `keepsake sync push --config FILE`"),
        ),
        Ok(s) => finding("memorial server", Status::Ok, format!("{}: {} waiting, {} sent", cfg.server.url, s.pending, s.sent), None),
        Err(e) => finding("memorial server", Status::Warn, e.to_string(), Some(e.fix)),
    }
}

/// The configured devices, each opened for real (what each family checks: `DevicesConfig::probes`),
/// then the whole set as the booth would open it at start.
fn configured_devices(cfg: &Config) -> Vec<Finding> {
    let mut out: Vec<Finding> = cfg
        .devices
        .probes(cfg.screen)
        .into_iter()
        .map(|(what, probe)| match probe {
            Ok(name) => finding(what, Status::Ok, name, None),
            Err(e) => finding(what, Status::Missing, format!("{}: {}", e.device, e.problem), Some(&e.fix)),
        })
        .collect();
    // What the booth itself would open at start (absent cameras, panels' touch and buttons are
    // waited for; these must open).
    match Devices::open(&cfg.devices, cfg.screen) {
        Ok(d) => {
            let names = [d.camera.name(), d.display.name(), d.input.name(), d.speaker.name(), d.narrator.name()];
            out.push(finding("devices", Status::Ok, format!("the booth starts with: {}", names.join("; ")), None));
        }
        Err(e) => out.push(finding(&e.device, Status::Missing, e.problem, Some(&e.fix))),
    }
    out
}

/// Every device of the kinds the booth uses that this machine has, configured or not.
pub fn found_devices() -> Vec<Finding> {
    let cups = std::env::var("CUPS_SERVER").map(|s| format!("http://{s}")).unwrap_or_else(|_| "http://127.0.0.1:631".into());
    discover::scan(&cups)
        .into_iter()
        .map(|f| {
            let what = format!("found {}", f.kind);
            if f.items.is_empty() {
                finding(&what, Status::Ok, "none on this machine", None)
            } else {
                finding(&what, Status::Ok, f.items.join("; "), None)
            }
        })
        .collect()
}

fn writable(what: &str, dir: &Path) -> Finding {
    let probe = dir.join(".keepsake-doctor");
    match std::fs::create_dir_all(dir).and_then(|_| std::fs::write(&probe, b"ok")).and_then(|_| std::fs::remove_file(&probe)) {
        Ok(()) => finding(what, Status::Ok, format!("{} is writable", dir.display()), None),
        Err(e) => finding(
            what,
            Status::Missing,
            format!("{}: {e}", dir.display()),
            Some("create the folder and give the keepsake user write access"),
        ),
    }
}

pub fn print(findings: &[Finding]) {
    for f in findings {
        let mark = match f.status {
            Status::Ok => "ok     ",
            Status::Warn => "warn   ",
            Status::Missing => "MISSING",
        };
        println!("{mark} {:<12} {}", f.what, f.detail);
        if let Some(fix) = &f.fix {
            println!("        {:<12} fix: {fix}", "");
        }
    }
}

#[cfg(test)]
mod model_tests {
    use super::*;

    #[test]
    fn the_model_finding_says_what_the_file_is() {
        let tiny = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/sd-tiny"));
        let folder = model_finding(tiny);
        assert_eq!(folder.status, Status::Warn);
        assert!(folder.fix.unwrap().contains("models bake"));
        let dir = tempfile::tempdir().unwrap();
        let booth = dir.path().join("booth.safetensors");
        let mut sd = formats::load(tiny, &burn::tensor::Device::flex()).unwrap();
        sd.origin.lcm = true;
        formats::booth_file::write(&sd, formats::booth_file::Precision::Int8, &booth).unwrap();
        let baked = model_finding(&booth);
        assert_eq!(baked.status, Status::Ok, "{baked:?}");
        assert!(baked.detail.contains("booth file") && baked.detail.contains("int8") && baked.detail.contains("LCM"), "{baked:?}");
        let junk = dir.path().join("notes.txt");
        std::fs::write(&junk, "x").unwrap();
        assert_eq!(model_finding(&junk).status, Status::Missing);
    }

    #[test]
    fn the_cpu_finding_names_the_int8_kernel_and_packer() {
        use keepsake_models::kernels::int8::{Kernel, Packer};
        let portable = cpu_finding(Kernel::Portable, Packer::Portable);
        assert!(portable.detail.contains("portable kernel") && portable.detail.contains("plain loops"), "{portable:?}");
        let arm = cpu_finding(Kernel::Dotprod, Packer::Portable);
        assert!(arm.detail.contains("Arm's dot product") && arm.detail.contains("plain loops"), "{arm:?}");
        let fast = cpu_finding(Kernel::Vnni, Packer::Avx512);
        assert!(fast.detail.contains("AVX-512 VNNI") && fast.detail.contains("packed with AVX-512 VBMI"), "{fast:?}");
        let here = cpu_finding(Kernel::detect(), Packer::detect());
        assert_eq!(here.detail.contains("portable kernel"), Kernel::detect() == Kernel::Portable, "{here:?}");
        assert_eq!(here.detail.contains("plain loops"), Packer::detect() == Packer::Portable, "{here:?}");
    }

    #[test]
    fn each_controlnet_unit_is_checked_with_its_preprocessor_weights() {
        use crate::config::ControlNetUnit;
        use keepsake_models::preprocessors::Module;
        let fixtures = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures"));
        let unit = |model: &Path, module| ControlNetUnit {
            model: model.to_path_buf(),
            module,
            resolution: 512,
            settings: keepsake_models::components::controlnet::ControlSettings { weight: 0.8, ..Default::default() },
        };
        let cn = fixtures.join("controlnet/cn1");
        let annotators = fixtures.join("preprocessors/openpose");
        let ok = controlnet_finding(0, &unit(&cn, Module::Openpose), &annotators);
        assert_eq!(ok.status, Status::Ok, "{ok:?}");
        let no_weights = controlnet_finding(1, &unit(&cn, Module::Mlsd), &annotators);
        assert!(no_weights.status == Status::Missing && no_weights.detail.contains("mlsd_large_512_fp32.pth"), "{no_weights:?}");
        let no_net = controlnet_finding(2, &unit(Path::new("/nonexistent/cn"), Module::Canny { low: 100, high: 200 }), &annotators);
        assert!(no_net.status == Status::Missing && no_net.what == "ControlNet 2 (canny)", "{no_net:?}");
    }
}
