//! The ESC/POS thermal printer through a real pseudo-terminal pair (socat): a simulated printer
//! at the far end answers status queries as a real one does (DLE EOT n, one byte) and keeps the
//! job's bytes, which decode back into the dithered keepsake.

use crate::common;

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use keepsake_drivers::paper::PaperSize;
use keepsake_drivers::printer::{Printer, PrinterState, Unavailable};
use keepsake_drivers::thermal::{decode_raster, dither, EscPosPrinter};

/// What the simulated printer reports: (roll paper sensor byte, offline cause byte).
#[derive(Clone, Copy)]
struct Status {
    paper: u8,
    offline: u8,
}

const FINE: Status = Status { paper: 0x12, offline: 0x12 };
const PAPER_END: Status = Status { paper: 0x12 | 0x60, offline: 0x12 | 0x20 };
const COVER_OPEN: Status = Status { paper: 0x12, offline: 0x12 | 0x04 };

/// A printer on the device end of the pty: answers DLE EOT 4 / 2, records everything else.
fn simulated_printer(path: &Path, status: Arc<Mutex<Option<Status>>>, received: Arc<Mutex<Vec<u8>>>) {
    let mut port = serialport::new(path.to_string_lossy(), 115_200).timeout(Duration::from_millis(50)).open().unwrap();
    std::thread::spawn(move || {
        let mut pending: Vec<u8> = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match port.read(&mut buf) {
                Ok(n) => pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return,
            }
            // A status query between jobs (the driver never asks mid-job: the bytes 10 04 can
            // occur inside raster data).
            while pending.starts_with(&[0x10, 0x04]) && pending.len() >= 3 {
                let n = pending[2];
                pending.drain(..3);
                if let Some(s) = *status.lock().unwrap() {
                    let _ = port.write_all(&[if n == 4 { s.paper } else { s.offline }]);
                }
            }
            if !(pending.starts_with(&[0x10]) && pending.len() < 3) {
                received.lock().unwrap().append(&mut pending);
            }
        }
    });
}

fn keepsake_page(paper: PaperSize) -> RgbImage {
    let (w, h) = paper.pixels();
    RgbImage::from_fn(w, h, |x, y| {
        let d = ((x as f32 - w as f32 / 2.0).powi(2) + (y as f32 - h as f32 / 3.0).powi(2)).sqrt();
        if d < w as f32 / 3.0 {
            Rgb([230, 180, 150])
        } else {
            Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, 200])
        }
    })
}

#[test]
fn prints_the_dithered_keepsake_and_reports_paper_out_and_cover_open() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut socat) = common::pty_pair(dir.path(), "printer", "host") else { return };
    let status = Arc::new(Mutex::new(Some(FINE)));
    let received = Arc::new(Mutex::new(Vec::new()));
    simulated_printer(&dir.path().join("printer"), status.clone(), received.clone());

    let mut printer = EscPosPrinter::new(&dir.path().join("host"), 115_200, true);
    assert_eq!(printer.state().unwrap(), PrinterState::Ready);
    for paper in [PaperSize::Thermal58, PaperSize::Thermal80] {
        received.lock().unwrap().clear();
        let page = keepsake_page(paper);
        let job = printer.print(&page, paper, "session-001").unwrap();
        assert!(job.contains("session-001"), "{job}");
        let started = Instant::now();
        let expected_len = (paper.pixels().0 / 8 * paper.pixels().1) as usize;
        while received.lock().unwrap().len() < expected_len && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200));
        let bytes = received.lock().unwrap().clone();
        let raster = decode_raster(&bytes).unwrap();
        assert_eq!(raster.dimensions(), paper.pixels(), "{paper}: the head's dots across");
        assert_eq!(raster, dither(&page), "{paper}: the printer gets the dithered keepsake, dot for dot");
        assert!(bytes.ends_with(&[0x1d, 0x56, 0x41, 1]), "{paper}: ends with a partial cut");
    }

    *status.lock().unwrap() = Some(PAPER_END);
    assert_eq!(printer.state().unwrap(), PrinterState::Unavailable(Unavailable::OutOfPaper));
    *status.lock().unwrap() = Some(COVER_OPEN);
    assert_eq!(printer.state().unwrap(), PrinterState::Unavailable(Unavailable::CoverOpen));
    *status.lock().unwrap() = None;
    match printer.state().unwrap() {
        PrinterState::Unavailable(Unavailable::Offline(why)) => assert!(why.contains("does not answer"), "{why}"),
        s => panic!("a silent printer is not ready: {s:?}"),
    }
    *status.lock().unwrap() = Some(FINE);
    assert_eq!(printer.state().unwrap(), PrinterState::Ready, "back when it answers again");

    // A photo-paper page is refused with the fix.
    let err = printer.print(&RgbImage::new(1200, 1800), PaperSize::FourBySix, "x").unwrap_err();
    assert!(err.fix.contains("58mm or 80mm"), "{err}");

    // Unplugged: a clear state, not a panic; printing names the device.
    socat.kill().unwrap();
    socat.wait().unwrap();
    assert!(matches!(printer.state().unwrap(), PrinterState::Unavailable(_)));
    let err = printer.print(&keepsake_page(PaperSize::Thermal58), PaperSize::Thermal58, "y").unwrap_err();
    assert!(err.device.contains("thermal printer") && err.fix.contains("/dev/serial/by-id"), "{err}");
}
