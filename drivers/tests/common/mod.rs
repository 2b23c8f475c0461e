//! Helpers shared by the driver tests.
// Each test binary uses only some of these helpers.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A socat pty pair: one end at `dir/<device>` (what the device would be), the other at
/// `dir/<host>` (what the booth opens). `None` (a skip) only where socat is missing and strict
/// tests are not asked for.
pub fn pty_pair(dir: &Path, device: &str, host: &str) -> Option<Child> {
    let spawn = Command::new("socat")
        .arg(format!("pty,raw,echo=0,link={}", dir.join(device).display()))
        .arg(format!("pty,raw,echo=0,link={}", dir.join(host).display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(child) = spawn else {
        assert!(std::env::var("KEEPSAKE_STRICT_TESTS").as_deref() != Ok("1"), "KEEPSAKE_STRICT_TESTS=1 but socat is missing");
        eprintln!("skipping: socat is not installed");
        return None;
    };
    let started = Instant::now();
    while !(dir.join(device).exists() && dir.join(host).exists()) {
        assert!(started.elapsed() < Duration::from_secs(10), "socat made no ptys");
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(child)
}

/// Polls `done` until it holds; fails the test naming `what` after `within`.
pub fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub mod cupsd;
