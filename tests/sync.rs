//! Offline-first sync, end to end with real processes: booths (`keepsake demo`) send their
//! keepsakes to a real `keepsake-server` that is killed and restarted under them, and a booth
//! is itself killed with SIGKILL mid-upload. Every keepsake must arrive exactly once, byte for
//! byte, and every outbox must end empty.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

const BOOTH: &str = env!("CARGO_BIN_EXE_keepsake");

/// `keepsake-server` is built beside `keepsake` by `cargo test --workspace`.
fn server_bin() -> PathBuf {
    let p = Path::new(BOOTH).with_file_name("keepsake-server");
    assert!(
        p.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (or `cargo build -p keepsake-server` first)",
        p.display()
    );
    p
}

struct Server {
    data: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Server {
    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(server_bin()).arg("--data").arg(&self.data).args(args).output().unwrap();
        assert!(out.status.success(), "keepsake-server {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn start(data: &Path) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut s = Server { data: data.to_path_buf(), port, child: None };
        s.up();
        s
    }

    fn up(&mut self) {
        let child = Command::new(server_bin())
            .arg("--data")
            .arg(&self.data)
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .env("KEEPSAKE_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < until, "the server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The pictures the server stores (by sha256).
    fn blobs(&self) -> BTreeSet<String> {
        let mut all = BTreeSet::new();
        for shard in std::fs::read_dir(self.data.join("blobs")).unwrap().flatten() {
            if shard.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            all.extend(std::fs::read_dir(shard.path()).unwrap().flatten().map(|f| f.file_name().to_string_lossy().to_string()));
        }
        all
    }

    /// The server's keepsakes: id (the booth's) -> (sha256 of the illustration, the visitor's
    /// answers: photo shared, in the slideshow). Panics on an id listed twice.
    fn keepsakes(&self, memorial: &str) -> BTreeMap<String, (String, bool, bool)> {
        let mut all = BTreeMap::new();
        for line in self.cli(&["keepsakes", "list", "--memorial", memorial]).lines() {
            let f: Vec<&str> = line.split(' ').collect();
            let (id, sha, answers) = (f[0].to_string(), f[1].to_string(), &f[3..]);
            let record = (sha, answers.contains(&"photo"), answers.contains(&"slideshow"));
            assert!(all.insert(id.clone(), record).is_none(), "{id} is on the server twice");
        }
        all
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn demo(out: &Path, sessions: u32, server: &str, token: &str, sync_wait: u32) -> Command {
    let mut c = Command::new(BOOTH);
    c.args(["demo", "--fast", "--language", "en", "--sessions", &sessions.to_string()])
        .arg("--out")
        .arg(out)
        .args(["--server", server, "--token", token, "--sync-wait", &sync_wait.to_string()])
        .env("KEEPSAKE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Every archived keepsake of a booth: id -> (sha256 of the illustration, sha256 of the photo
/// if the visitor agreed to share it, whether they agreed to the slideshow).
fn archived(out: &Path) -> BTreeMap<String, (String, Option<String>, bool)> {
    let mut all = BTreeMap::new();
    for e in std::fs::read_dir(out.join("archive")).unwrap().flatten() {
        let p = e.path();
        if !p.is_dir() || e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(p.join("meta.json")).unwrap()).unwrap();
        let sha = |f: &str| hex::encode(Sha256::digest(std::fs::read(p.join(f)).unwrap()));
        let photo = meta["share_photo"].as_bool().unwrap().then(|| sha("photo.jpg"));
        all.insert(meta["id"].as_str().unwrap().to_string(), (sha("illustration.png"), photo, meta["in_slideshow"].as_bool().unwrap()));
    }
    all
}

fn outbox_status(out: &Path) -> String {
    let o = Command::new(BOOTH).args(["sync", "status", "--archive"]).arg(out.join("archive")).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// A small deterministic generator for the kill times (no extra crate, reproducible runs).
struct Lcg(u64);
impl Lcg {
    fn ms(&mut self, lo: u64, hi: u64) -> Duration {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        Duration::from_millis(lo + (self.0 >> 33) % (hi - lo))
    }
}

#[test]
fn two_hundred_visits_reach_a_server_that_keeps_dying_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&dir.path().join("server"));
    let memorial = server.cli(&["memorial", "create", "--name", "Margaret Ellis"]).trim().to_string();
    // Four booths in one hall, 50 visits each, all at once.
    let booths: Vec<(PathBuf, String)> = (0..4)
        .map(|i| (dir.path().join(format!("booth{i}")), server.cli(&["booth", "add", "--memorial", &memorial]).trim().to_string()))
        .collect();
    let mut running: Vec<Child> = booths.iter().map(|(out, token)| demo(out, 50, &server.url(), token, 180).spawn().unwrap()).collect();

    let mut rng = Lcg(0x6b656570);
    let mut kills = 0;
    let started = Instant::now();
    loop {
        std::thread::sleep(rng.ms(300, 2500));
        if running.iter_mut().all(|c| c.try_wait().unwrap().is_some()) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(1500), "the booths did not finish");
        server.kill9();
        kills += 1;
        std::thread::sleep(rng.ms(100, 1500));
        server.up();
    }
    for (c, (out, _)) in running.drain(..).zip(&booths) {
        let o = c.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{}: {stdout}\n{}", out.display(), String::from_utf8_lossy(&o.stderr));
        assert!(stdout.contains("all keepsakes are on the memorial server"), "{stdout}");
    }
    assert!(kills >= 5, "the server was killed only {kills} times");

    let mut expected = BTreeMap::new();
    let mut pictures = BTreeSet::new();
    let (mut shared, mut private, mut in_slideshow) = (0, 0, 0);
    for (out, _) in &booths {
        let a = archived(out);
        for (id, (sha, photo, slideshow)) in &a {
            expected.insert(id.clone(), (sha.clone(), photo.is_some(), *slideshow));
            in_slideshow += *slideshow as u32;
            pictures.insert(sha.clone());
            match photo {
                Some(p) => {
                    pictures.insert(p.clone());
                    shared += 1;
                }
                None => private += 1,
            }
        }
        let status = outbox_status(out);
        assert!(status.contains(": 0 waiting") && status.contains(", 0 refused"), "{status}");
    }
    assert_eq!(expected.len(), 200, "every visit made a keepsake");
    assert!(shared > 0 && private > 0, "some visitors shared their photo, some did not");
    assert!(in_slideshow > 0 && in_slideshow < 200, "some visitors agreed to the slideshow, some did not");
    let on_server = server.keepsakes(&memorial);
    assert_eq!(on_server.len(), 200, "exactly once each");
    assert_eq!(on_server, expected, "every keepsake, byte-identical, with its visitor's answers");
    assert_eq!(server.blobs(), pictures, "the photos of the visitors who agreed, and no others");
}

#[test]
fn a_booth_killed_mid_upload_loses_nothing_and_sends_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let memorial = server.cli(&["memorial", "create", "--name", "김영희"]).trim().to_string();
    let token = server.cli(&["booth", "add", "--memorial", &memorial]).trim().to_string();
    let out = dir.path().join("booth");
    let mut rng = Lcg(42);
    let mut caught_mid_upload = 0;
    // Visits while the hall is offline (no server at this address): the outbox fills up.
    let offline = "http://127.0.0.1:9";
    let o = demo(&out, 9, offline, &token, 0).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(outbox_status(&out).contains(": 9 waiting"));
    // The network comes back; the booth is killed again and again while it sends.
    for round in 0..12 {
        let mut child = Command::new(BOOTH)
            .args(["sync", "push", "--wait", "30", "--archive"])
            .arg(out.join("archive"))
            .args(["--server", &server.url(), "--token", &token, "--chunk-kib", "1"])
            .env("KEEPSAKE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let parts = || std::fs::read_dir(server.data.join("uploads")).map(|d| d.count()).unwrap_or(0);
        if round % 2 == 0 {
            // Anywhere: before, during or after an upload.
            std::thread::sleep(rng.ms(30, 250));
        } else {
            // Surely during one: once the server holds a part (a loaded machine can take longer
            // than any fixed sleep to start the process and its first upload).
            let waited = std::time::Instant::now();
            while parts() == 0 && waited.elapsed() < Duration::from_secs(10) && child.try_wait().unwrap().is_none() {
                std::thread::sleep(Duration::from_millis(2));
            }
            std::thread::sleep(rng.ms(0, 20));
        }
        let parts = parts();
        let _ = child.kill();
        let _ = child.wait();
        if parts > 0 {
            caught_mid_upload += 1;
        }
    }
    // And once more a whole booth, killed while it visits and sends, then restarted.
    let mut booth = demo(&out, 6, &server.url(), &token, 60).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let _ = booth.kill();
    let _ = booth.wait();
    let o = demo(&out, 2, &server.url(), &token, 120).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("all keepsakes are on the memorial server"), "{stdout}");

    let a = archived(&out);
    assert!(a.len() >= 11, "the finished visits are archived: {}", a.len());
    let on_server = server.keepsakes(&memorial);
    let expected: BTreeMap<String, (String, bool, bool)> =
        a.iter().map(|(id, (sha, photo, slideshow))| (id.clone(), (sha.clone(), photo.is_some(), *slideshow))).collect();
    assert_eq!(on_server, expected, "nothing lost, nothing twice, byte-identical");
    let pictures: BTreeSet<String> = a.values().flat_map(|(sha, photo, _)| [Some(sha.clone()), photo.clone()]).flatten().collect();
    assert_eq!(server.blobs(), pictures);
    assert!(outbox_status(&out).contains(": 0 waiting"));
    assert!(caught_mid_upload > 0, "no kill landed during an upload; the test proved nothing");
}

/// The memorial's cover, set by the family on the server, is kept by the booth beside its
/// archive (saved once, unchanged after, dropped when the memorial has none) and shown on the
/// attract screen when no portrait is configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_booth_keeps_the_memorial_s_cover_for_its_attract_screen() {
    use keepsake::sync::cover::{self, Refreshed};
    use keepsake::sync::uploader::{Client, Settings};

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let cover_file = dir.path().join("cover.png");
    image::RgbImage::from_pixel(300, 400, image::Rgb([30, 60, 220])).save(&cover_file).unwrap();
    let with_cover = server.cli(&["memorial", "create", "--name", "김영희", "--cover", cover_file.to_str().unwrap()]).trim().to_string();
    let without = server.cli(&["memorial", "create", "--name", "박철수"]).trim().to_string();
    let client = |memorial: &str| {
        let token = server.cli(&["booth", "add", "--memorial", memorial]).trim().to_string();
        Client::new(Settings { url: server.url(), token, chunk: 1 << 16, retry_max: Duration::from_secs(1) })
    };
    let out = tempfile::tempdir().unwrap();
    let mut config = keepsake::cli::demo::demo_config(out.path(), keepsake::config::Language::Ko);
    let archive = std::sync::Arc::new(keepsake::archive::Archive::open(&config.archive_dir).unwrap());
    let root = archive.root().to_path_buf();

    let booth_client = client(&with_cover);
    assert_eq!(cover::refresh(|p| booth_client.get(p), &root), Ok(Refreshed::Saved));
    assert_eq!(std::fs::read(cover::path(&root)).unwrap(), std::fs::read(&cover_file).unwrap(), "the family's picture, byte for byte");
    assert_eq!(cover::refresh(|p| booth_client.get(p), &root), Ok(Refreshed::Unchanged));
    assert!(archive.entries().unwrap().is_empty(), "the kept cover is no archive entry");

    // The attract screen shows it (no portrait configured).
    let frames = out.path().join("frames");
    config.devices.display = keepsake::devices::DisplayConfig::Png { record: Some(frames.clone()) };
    config.devices.camera = keepsake::devices::CameraConfig::Synthetic { width: 240, height: 320 };
    config.timeouts.slide = Duration::from_millis(300);
    let mut devices = keepsake::devices::Devices::open(&config.devices, config.screen).unwrap();
    let begin = keepsake_drivers::input::InputEvent::Touch { x: 10, y: 10 };
    let script = vec![keepsake_drivers::input::ScriptStep { on: "attract".into(), after_ms: 600, event: begin }];
    devices.input = Box::new(keepsake_drivers::input::ScriptedInput::new(script));
    let stylizer =
        std::sync::Arc::new(keepsake_models::stylize::toon::ToonStylizer::cpu(keepsake_models::stylize::toon::ToonStyle::warm_animation()));
    let booth = keepsake::booth::Booth::new(std::sync::Arc::new(config), devices, stylizer, archive.clone());
    // The visit begins and is left alone; what matters is the attract screen before it.
    let _ = booth.run(keepsake::booth::StopWhen { sessions: Some(1), within: Some(Duration::from_secs(4)) }).await;
    let attract = frames.join("session-001/00-attract.png");
    let shown = image::open(&attract).unwrap().to_rgb8();
    assert!(shown.pixels().filter(|p| p.0 == [30, 60, 220]).count() > 10_000, "the attract screen shows the cover");

    // A memorial without a cover: the kept copy goes.
    let other = client(&without);
    assert_eq!(cover::refresh(|p| other.get(p), &root), Ok(Refreshed::NoCover));
    assert!(!cover::path(&root).exists());
    // A refused token changes nothing and says why.
    let refused = Client::new(Settings { url: server.url(), token: "wrong".into(), chunk: 1 << 16, retry_max: Duration::from_secs(1) });
    let e = cover::refresh(|p| refused.get(p), &root).unwrap_err();
    assert!(e.contains("401"), "{e}");
}
