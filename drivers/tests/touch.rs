//! Recorded evdev streams (evemu-record's format) become the right taps after calibration and
//! rotation, through the decoder the live touchscreen uses.

use std::path::PathBuf;
use std::time::Duration;

use keepsake_drivers::fbdev::Rotation;
use keepsake_drivers::input::{Input, InputEvent};
use keepsake_drivers::touch::{self, Calibration, TapDetector, TouchMapping, TouchSettings};

fn recording(name: &str) -> touch::Recording {
    touch::read_recording(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/touch").join(name)).unwrap()
}

fn tap(x: i32, y: i32) -> InputEvent {
    InputEvent::Touch { x, y }
}

#[test]
fn a_multitouch_panel_taps_with_the_first_finger_and_ignores_bounce() {
    let rec = recording("ilitek-mt.evemu");
    let calibration = Calibration::from_axes(&rec.axes).unwrap();
    assert_eq!(calibration, Calibration { x: (0, 16383), y: (0, 9599) });
    // Mounted as wired: a 1280x800 landscape screen.
    let upright = TouchMapping { calibration, swap_xy: false, rotation: Rotation::R0, screen: (1280, 800) };
    let taps = rec.taps(&mut TapDetector::new(upright, Duration::from_millis(50)));
    assert_eq!(taps, [tap(128, 80), tap(640, 400), tap(1279, 799)]);
    // The same panel turned a quarter clockwise for a portrait booth (800x1280 upright): the
    // panel's top-left is the upright screen's bottom-left.
    let portrait = TouchMapping { calibration, swap_xy: false, rotation: Rotation::R90, screen: (800, 1280) };
    let taps = rec.taps(&mut TapDetector::new(portrait, Duration::from_millis(50)));
    assert_eq!(taps, [tap(80, 1279 - 128), tap(400, 1279 - 640), tap(799, 0)]);
    // Without debouncing the bounce is a fourth tap (at the last known position).
    let taps = rec.taps(&mut TapDetector::new(upright, Duration::ZERO));
    assert_eq!(taps.len(), 4, "{taps:?}");
}

#[test]
fn a_resistive_panel_uses_the_measured_calibration() {
    let rec = recording("resistive-st.evemu");
    let measured = Calibration { x: (3900, 200), y: (300, 3800) };
    let mapping = TouchMapping { calibration: measured, swap_xy: false, rotation: Rotation::R180, screen: (800, 480) };
    let taps = rec.taps(&mut TapDetector::new(mapping, Duration::from_millis(150)));
    // Raw (3900, 300) is the panel's top-left; turned 180° it is the upright bottom-right.
    assert_eq!(taps, [tap(799, 479), tap(799 - 400, 0)]);
    // With the kernel's uncalibrated 0..4095 ranges the first tap lands on the wrong side.
    let raw = TouchMapping { calibration: Calibration::from_axes(&rec.axes).unwrap(), ..mapping };
    let taps = rec.taps(&mut TapDetector::new(raw, Duration::from_millis(150)));
    assert!(matches!(taps[0], InputEvent::Touch { x, .. } if x < 100), "{taps:?}");
}

#[test]
fn a_missing_or_wrong_device_is_named_and_the_booth_keeps_looking() {
    let dir = tempfile::tempdir().unwrap();
    let settings = |path: PathBuf| TouchSettings {
        path,
        calibration: None,
        swap_xy: false,
        rotation: Rotation::R0,
        debounce: Duration::from_millis(150),
    };
    let err = touch::TouchInput::open(settings(dir.path().join("event7")), (800, 480)).err().unwrap();
    assert!(err.problem.contains("cannot open") && err.fix.contains("input group"), "{err}");
    let not_evdev = dir.path().join("plain");
    std::fs::write(&not_evdev, b"hello").unwrap();
    assert!(touch::TouchInput::open(settings(not_evdev.clone()), (800, 480)).is_err());
    // A panel that is not there yet does not stop the booth: polls are quiet until it appears.
    let mut waiting = touch::open_or_wait(settings(not_evdev), (800, 480));
    assert_eq!(waiting.poll("attract").unwrap(), None);
    let err = touch::read_recording(&dir.path().join("nope.evemu")).err().unwrap();
    assert!(err.fix.contains("evemu-record"), "{err}");
}
