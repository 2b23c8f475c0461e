//! What hardware this machine has, for `keepsake doctor`: cameras with their formats, panels
//! with their layouts, touchscreens with their axes, GPIO chips, serial ports, sound outputs
//! and printer queues. Each kind is listed even when nothing is found, so the technician sees
//! that it was looked for.

use std::path::PathBuf;

use rodio::cpal::traits::{DeviceTrait, HostTrait};

/// One kind of device and what was found of it (empty: none).
#[derive(Debug, Clone)]
pub struct Found {
    pub kind: &'static str,
    pub items: Vec<String>,
}

fn dev_nodes(prefix: &str) -> Vec<PathBuf> {
    let mut nodes: Vec<PathBuf> = std::fs::read_dir("/dev")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)))
                .collect()
        })
        .unwrap_or_default();
    nodes.sort();
    nodes
}

fn cameras() -> Vec<String> {
    dev_nodes("video")
        .into_iter()
        .filter_map(|p| {
            let index: u32 = p.file_name()?.to_string_lossy().trim_start_matches("video").parse().ok()?;
            Some(match crate::v4l_camera::offered_formats(index) {
                Ok(formats) if formats.is_empty() => return None, // metadata nodes of UVC cameras
                Ok(mut formats) => {
                    formats.sort_by_key(|f| std::cmp::Reverse((f.width() * f.height(), f.frame_rate())));
                    let best: Vec<String> = formats.iter().take(4).map(|f| f.to_string()).collect();
                    format!("{} (index {index}): {}", p.display(), best.join(", "))
                }
                Err(e) => format!("{} (index {index}): cannot open: {e}", p.display()),
            })
        })
        .collect()
}

fn panels() -> Vec<String> {
    dev_nodes("fb")
        .into_iter()
        .map(|p| match crate::fbdev::FbDisplay::open(&p, crate::fbdev::Rotation::R0, None) {
            Ok(fb) => {
                let l = fb.layout();
                format!("{}: {}x{} at {} bpp", p.display(), l.width, l.height, l.format.bits_per_pixel)
            }
            Err(e) => format!("{}: {}", p.display(), e.problem),
        })
        .collect()
}

fn kms_cards() -> Vec<String> {
    std::fs::read_dir("/dev/dri")
        .map(|d| {
            let mut cards: Vec<String> = d
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("card")))
                .map(|p| p.display().to_string())
                .collect();
            cards.sort();
            cards
        })
        .unwrap_or_default()
}

fn touchscreens() -> Vec<String> {
    evdev::enumerate()
        .filter_map(|(path, dev)| {
            let axes = dev.supported_absolute_axes()?;
            let touch = axes.contains(evdev::AbsoluteAxisCode::ABS_MT_POSITION_X) || axes.contains(evdev::AbsoluteAxisCode::ABS_X);
            touch.then(|| format!("{}: {}", path.display(), dev.name().unwrap_or("unnamed")))
        })
        .collect()
}

fn gpio_chips() -> Vec<String> {
    dev_nodes("gpiochip")
        .into_iter()
        .map(|p| match gpio_cdev::Chip::new(&p) {
            Ok(chip) => format!("{}: {} ({} lines)", p.display(), chip.label(), chip.num_lines()),
            Err(e) => format!("{}: cannot open: {e}", p.display()),
        })
        .collect()
}

fn serial_ports() -> Vec<String> {
    serialport::available_ports().map(|ports| ports.into_iter().map(|p| p.port_name).collect()).unwrap_or_default()
}

fn sound_outputs() -> Vec<String> {
    let host = rodio::cpal::default_host();
    host.output_devices().map(|devices| devices.filter_map(|d| d.id().ok().map(|id| id.to_string())).collect()).unwrap_or_default()
}

/// The queues of the CUPS at `server` (e.g. `http://127.0.0.1:631`).
pub fn printer_queues(server: &str) -> Vec<String> {
    use ipp::prelude::*;
    let Ok(uri) = server.parse::<Uri>() else { return Vec::new() };
    let client = IppClient::builder(uri).request_timeout(std::time::Duration::from_secs(3)).build();
    let Ok(resp) = client.send(ipp::operation::cups::CupsGetPrinters::new()) else { return Vec::new() };
    resp.attributes()
        .groups_of(DelimiterTag::PrinterAttributes)
        .map(|g| {
            let get = |k: &str| g.get(k).map(|a| a.value().to_string()).unwrap_or_default();
            format!("{} ({}, {})", get("printer-name"), get("printer-make-and-model"), get("printer-uri-supported"))
        })
        .collect()
}

/// Everything found. `cups` is the CUPS server to ask for queues.
pub fn scan(cups: &str) -> Vec<Found> {
    vec![
        Found { kind: "camera", items: cameras() },
        Found { kind: "framebuffer", items: panels() },
        Found { kind: "DRM/KMS card", items: kms_cards() },
        Found { kind: "touchscreen", items: touchscreens() },
        Found { kind: "GPIO chip", items: gpio_chips() },
        Found { kind: "serial port", items: serial_ports() },
        Found { kind: "sound output", items: sound_outputs() },
        Found { kind: "printer queue", items: printer_queues(cups) },
    ]
}
