//! The serial button box through a real pseudo-terminal pair (socat): lines written at one end
//! become print-button events at the other; unplugging (socat gone) is survived and the box is
//! found again when it comes back.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use keepsake_drivers::button_box::SerialButtonBox;
use keepsake_drivers::input::{Input, InputEvent};

use crate::common;

/// A socat pty pair: the box's end at `dir/box`, ours at `dir/host`.
fn pty_pair(dir: &Path) -> Option<Child> {
    common::pty_pair(dir, "box", "host")
}

fn send(path: &PathBuf, text: &str) {
    let mut port = serialport::new(path.to_string_lossy(), 9600).timeout(Duration::from_millis(100)).open().unwrap();
    port.write_all(text.as_bytes()).unwrap();
    port.flush().unwrap();
}

/// Polls until the box is connected (or 5 s passed); whether it is.
fn wait_for_connection(b: &mut SerialButtonBox) -> bool {
    let started = Instant::now();
    while !b.connected() && started.elapsed() < Duration::from_secs(5) {
        assert_eq!(b.poll("home").unwrap(), None);
        std::thread::sleep(Duration::from_millis(50));
    }
    b.connected()
}

/// Polls until `n` events came or `within` passed.
fn events(b: &mut SerialButtonBox, n: usize, within: Duration) -> Vec<InputEvent> {
    let started = Instant::now();
    let mut out = Vec::new();
    while out.len() < n && started.elapsed() < within {
        if let Some(e) = b.poll("home").unwrap() {
            out.push(e);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    out
}

#[test]
fn lines_become_print_button_presses_and_an_unplugged_box_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut socat) = pty_pair(dir.path()) else { return };
    let mut b = SerialButtonBox::open(&dir.path().join("box"), 9600).unwrap();
    assert!(b.name().contains("9600 baud"));
    // A greeting, a press, noise, a press split across two writes, a CRLF press.
    send(&dir.path().join("host"), "# keepsake buttons v1\nPRINT\nHELLO\nbtn pr");
    send(&dir.path().join("host"), "int\r\nPRINT\r\n");
    assert_eq!(events(&mut b, 3, Duration::from_secs(5)), vec![InputEvent::PrintButton; 3]);
    assert_eq!(events(&mut b, 1, Duration::from_millis(200)), vec![], "nothing else was pressed");

    // Unplugged: no error reaches the booth, the driver notices.
    socat.kill().unwrap();
    socat.wait().unwrap();
    let started = Instant::now();
    while b.connected() && started.elapsed() < Duration::from_secs(5) {
        assert_eq!(b.poll("home").unwrap(), None);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!b.connected(), "the lost box was not noticed");
    let _ = std::fs::remove_file(dir.path().join("box"));
    let _ = std::fs::remove_file(dir.path().join("host"));

    // Plugged in again (a new pty behind the same name): presses arrive again.
    let mut socat = pty_pair(dir.path()).unwrap();
    assert!(wait_for_connection(&mut b), "the box was not found again");
    send(&dir.path().join("host"), "PRINT\n");
    assert_eq!(events(&mut b, 1, Duration::from_secs(5)), vec![InputEvent::PrintButton]);
    socat.kill().unwrap();
    let _ = socat.wait();
}

#[test]
fn a_missing_box_is_named_with_the_fix_and_waited_for() {
    let err = SerialButtonBox::open(Path::new("/dev/serial/by-id/nonexistent-box"), 9600).err().unwrap().to_string();
    assert!(err.contains("nonexistent-box") && err.contains("dialout"), "{err}");
    // The booth's way: start without it, and pick it up once it is there.
    let dir = tempfile::tempdir().unwrap();
    let mut b = SerialButtonBox::open_or_wait(&dir.path().join("box"), 9600);
    assert!(!b.connected() && b.name().contains("not connected"));
    assert_eq!(b.poll("home").unwrap(), None);
    let Some(mut socat) = pty_pair(dir.path()) else { return };
    assert!(wait_for_connection(&mut b), "the box was not picked up");
    send(&dir.path().join("host"), "PRINT\n");
    assert_eq!(events(&mut b, 1, Duration::from_secs(5)), vec![InputEvent::PrintButton]);
    socat.kill().unwrap();
    let _ = socat.wait();
}
