//! A sandboxed cupsd of the tests' own: config, spool and logs under one folder, listening only
//! on 127.0.0.1, with queues whose device is a file. Shared by the driver tests and the
//! appliance's command-line tests (which include this file by path).
//!
//! `cupsd` is found on PATH, so the same tests run against another CUPS: e.g. the older
//! scheduler that still created missing file devices, `apt-get download cups-daemon=2.4.2-3+deb12u9`,
//! `dpkg -x` it into a folder and put its `usr/sbin` first on PATH.
// Each test binary uses only some of these helpers.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Cupsd {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Drop for Cupsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool}")).stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts cupsd with everything under `dir`. `None` (a skip) only where CUPS or poppler is
/// missing and strict tests are not asked for.
pub fn start(dir: &Path) -> Option<Cupsd> {
    let missing: Vec<_> = ["cupsd", "lpadmin", "cupsdisable", "lp", "pdftoppm"].into_iter().filter(|t| !have(t)).collect();
    if !missing.is_empty() {
        assert!(std::env::var("KEEPSAKE_STRICT_TESTS").as_deref() != Ok("1"), "KEEPSAKE_STRICT_TESTS=1 but {missing:?} missing");
        eprintln!("skipping: {missing:?} not installed (scripts/system-packages.sh installs them)");
        return None;
    }
    for sub in ["spool", "tmp", "cache", "state", "out"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    // File devices are written by cupsd (and its filters by CUPS' unprivileged user).
    std::fs::set_permissions(dir, PermissionsExt::from_mode(0o755)).unwrap();
    for sub in ["out", "tmp"] {
        std::fs::set_permissions(dir.join(sub), PermissionsExt::from_mode(0o777)).unwrap();
    }
    let port = free_port();
    let allow = "  Order allow,deny\n  Allow all\n";
    std::fs::write(
        dir.join("cupsd.conf"),
        format!(
            "Listen 127.0.0.1:{port}\nLogLevel warn\nDefaultAuthType None\nWebInterface No\n<Location />\n{allow}</Location>\n<Location /admin>\n{allow}</Location>\n<Policy default>\n  <Limit All>\n{allow}  </Limit>\n</Policy>\n"
        ),
    )
    .unwrap();
    let d = dir.display();
    std::fs::write(
        dir.join("cups-files.conf"),
        format!("ServerRoot {d}\nRequestRoot {d}/spool\nTempDir {d}/tmp\nCacheDir {d}/cache\nStateDir {d}/state\nErrorLog {d}/error_log\nAccessLog {d}/access_log\nPageLog {d}/page_log\nFileDevice Yes\nSandboxing Relaxed\n"),
    )
    .unwrap();
    let child = Command::new("cupsd")
        .args(["-f", "-c"])
        .arg(dir.join("cupsd.conf"))
        .arg("-s")
        .arg(dir.join("cups-files.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let cupsd = Cupsd { child, port, dir: dir.to_path_buf() };
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "cupsd did not start: {}", cupsd.error_log());
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(cupsd)
}

impl Cupsd {
    /// Runs a CUPS command-line tool against this cupsd; it must succeed.
    pub fn admin(&self, tool: &str, args: &[&str]) {
        let out = Command::new(tool).arg("-h").arg(format!("127.0.0.1:{}", self.port)).args(args).output().unwrap();
        assert!(out.status.success(), "{tool} {args:?}: {}\n{}", String::from_utf8_lossy(&out.stderr), self.error_log());
    }

    /// The IPP address of one of its queues, as a booth is configured with it.
    pub fn uri(&self, queue: &str) -> String {
        format!("ipp://127.0.0.1:{}/printers/{queue}", self.port)
    }

    /// A file for a queue's device, made before the queue prints: CUPS 2.4.2-3+deb12u10 and
    /// later only open an existing one (older ones also created it), so this works with both.
    /// `name` may name folders under `out/` too; they are made, open to cupsd.
    pub fn device_file(&self, name: &str) -> PathBuf {
        let path = self.dir.join("out").join(name);
        let folder = path.parent().unwrap();
        std::fs::create_dir_all(folder).unwrap();
        std::fs::set_permissions(folder, PermissionsExt::from_mode(0o777)).unwrap();
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, PermissionsExt::from_mode(0o666)).unwrap();
        path
    }

    /// A queue with cups-filters' PDF printer driver: CUPS runs its real filter chain
    /// (pdftopdf) and writes the printer's PDF to the file device at `device`.
    pub fn add_pdf_queue(&self, queue: &str, device: &Path) {
        let ppd = "lsb/usr/cupsfilters/Generic-PDF_Printer-PDF.ppd";
        self.admin("lpadmin", &["-p", queue, "-E", "-v", &format!("file://{}", device.display()), "-m", ppd]);
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error_log")).unwrap_or_default()
    }
}

/// Whether a queue's device file has had a page written to it.
pub fn printed(device: &Path) -> bool {
    std::fs::metadata(device).is_ok_and(|m| m.len() > 0)
}
