//! kill -9 at any moment while keepsakes are being archived leaves the archive consistent: every
//! entry that was reported finished is there and whole, and no half-written entry is visible.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use keepsake::archive::Archive;
use keepsake::keepsake::KeepsakeMeta;

const CHILD_ENV: &str = "KEEPSAKE_ARCHIVE_WRITER_DIR";

/// In the child process: store keepsakes forever, printing each id once `store` has returned.
/// In a normal test run (no env var) it returns at once.
#[test]
fn archive_writer_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let archive = Archive::open(Path::new(&dir)).unwrap();
    let meta: KeepsakeMeta = serde_json::from_str(include_str!("fixtures/meta.json")).unwrap();
    for n in 0u32.. {
        let mut m = meta.clone();
        m.id = format!("{n:08}{:024x}", std::process::id());
        m.created_at = format!("2026-11-26T10:{:02}:{:02}+09:00", (n / 60) % 60, n % 60);
        // Big enough pictures that a write takes a while and a kill lands inside it.
        let photo = Arc::new(RgbImage::from_fn(640, 480, |x, y| Rgb([(x * n) as u8, (y + n) as u8, (x ^ y) as u8])));
        let ill = Arc::new(RgbImage::from_fn(384, 512, |x, y| Rgb([(x + y + n) as u8, (x * 3) as u8, n as u8])));
        let k = archive.store(m, photo, ill).unwrap();
        println!("stored {}", k.meta.id);
    }
}

/// The child test's name as libtest lists it: its module path inside the test binary (the
/// binary's crate name left out), so the filter matches wherever this file is mounted.
fn child_test_name() -> String {
    match module_path!().split_once("::") {
        Some((_, module)) => format!("{module}::archive_writer_child"),
        None => "archive_writer_child".to_string(),
    }
}

#[test]
fn kill_9_while_archiving_loses_nothing_finished() {
    let exe = std::env::current_exe().unwrap();
    for (round, kill_after) in
        [Duration::from_millis(150), Duration::from_millis(420), Duration::from_millis(777), Duration::from_millis(1234)]
            .into_iter()
            .enumerate()
    {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(&exe)
            .args(["--exact", &child_test_name(), "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                // libtest prints "test archive_writer_child ... " without a newline before the
                // test runs, so the first report shares its line.
                .filter_map(|l| l.split_once("stored ").map(|(_, id)| id.trim().to_string()))
                .collect::<Vec<_>>()
        });
        // Wait for at least one finished entry, then kill at an arbitrary moment.
        let start = Instant::now();
        while !dir.path().read_dir().unwrap().any(|e| !e.unwrap().file_name().to_string_lossy().starts_with('.')) {
            assert!(start.elapsed() < Duration::from_secs(60), "the child never stored an entry");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(kill_after);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let reported = reader.join().unwrap();
        assert!(!reported.is_empty(), "round {round}: the child reported finished entries");

        // What a restarted booth sees.
        let incoming_before = std::fs::read_dir(dir.path().join(".incoming")).unwrap().count();
        let archive = Archive::open(dir.path()).unwrap();
        let entries = archive.entries().unwrap();
        for entry in &entries {
            archive.load(entry).unwrap_or_else(|e| panic!("round {round}: entry {} is damaged: {e}", entry.display()));
        }
        let ids: Vec<String> = entries.iter().map(|e| archive.load(e).unwrap().meta.id).collect();
        for id in &reported {
            assert!(ids.contains(id), "round {round}: finished entry {id} was lost");
        }
        // At most the one entry in flight may be whole but unreported.
        assert!(ids.len() <= reported.len() + 1, "round {round}: {} entries, {} reported", ids.len(), reported.len());
        assert_eq!(std::fs::read_dir(dir.path().join(".incoming")).unwrap().count(), 0, "half-written entries are cleared");
        eprintln!("round {round}: {} entries finished, {incoming_before} half-written entry cleared", ids.len());
    }
}
