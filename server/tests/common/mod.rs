//! Real server processes for the server's tests: a fresh data folder, the operator CLI, and a
//! small booth-side client speaking the upload API.
#![allow(dead_code)]

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub const BIN: &str = env!("CARGO_BIN_EXE_keepsake-server");

/// Where the server keeps things: SQLite in the data folder, or a PostgreSQL URL and/or an S3 bucket.
#[derive(Clone, Default)]
pub struct Backends {
    pub database: Option<String>,
    pub s3: Option<(String, String)>, // (endpoint, bucket)
}

pub struct Server {
    pub data: PathBuf,
    pub backends: Backends,
    pub port: u16,
    pub child: Option<Child>,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Server {
    pub fn cli(&self, args: &[&str]) -> String {
        self.cli_with_stdin(args, "")
    }

    fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--data").arg(&self.data);
        if let Some(db) = &self.backends.database {
            c.arg("--database").arg(db);
        }
        if let Some((endpoint, bucket)) = &self.backends.s3 {
            c.args(["--s3-endpoint", endpoint, "--s3-bucket", bucket]);
            c.env("AWS_ACCESS_KEY_ID", "keepsake-test").env("AWS_SECRET_ACCESS_KEY", "keepsake-test-secret");
        }
        c.env("KEEPSAKE_LOG", "warn");
        c
    }

    pub fn cli_with_stdin(&self, args: &[&str], stdin: &str) -> String {
        use std::io::Write;
        let mut child = self.command().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "keepsake-server {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// A command that must fail: what it said on stderr.
    pub fn cli_fails(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().unwrap();
        assert!(!out.status.success(), "keepsake-server {args:?} succeeded");
        String::from_utf8(out.stderr).unwrap()
    }

    pub fn start(data: &Path, backends: Backends) -> Server {
        let mut s = Server { data: data.to_path_buf(), backends, port: free_port(), child: None };
        s.restart();
        s
    }

    pub fn restart(&mut self) {
        let child = self
            .command()
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port), "--max-upload-mib", "4"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if ureq::get(&format!("{}/healthz", self.url())).call().is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("keepsake-server did not answer /healthz within 20 s");
    }

    /// kill -9: no chance to finish anything.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn memorial(&self, name: &str) -> String {
        self.cli(&["memorial", "create", "--name", name, "--dates", "1941 – 2026", "--message", "늘 기억하겠습니다"]).trim().to_string()
    }

    pub fn booth(&self, memorial: &str) -> String {
        self.cli(&["booth", "add", "--memorial", memorial]).trim().to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into()
}

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn png(seed: u8, w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x as u8).wrapping_mul(seed), (y as u8).wrapping_add(seed), seed]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

pub fn jpeg(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(80, 60, |x, y| image::Rgb([(x as u8).wrapping_mul(seed), y as u8, seed]));
    let mut out = Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&img).unwrap();
    out.into_inner()
}

/// One PATCH of a whole picture; the status.
pub fn upload(url: &str, token: &str, bytes: &[u8]) -> u16 {
    agent()
        .patch(&format!("{url}/api/v1/blobs/{}", sha256(bytes)))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Upload-Offset", "0")
        .header("Upload-Length", &bytes.len().to_string())
        .send(bytes)
        .unwrap()
        .status()
        .as_u16()
}

pub fn put_keepsake(url: &str, token: &str, share: &str, body: &serde_json::Value) -> (u16, String) {
    let mut r = agent()
        .put(&format!("{url}/api/v1/keepsakes/{share}"))
        .header("Authorization", &format!("Bearer {token}"))
        .send_json(body)
        .unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default())
}

/// Uploads a picture (and optionally a photo) and records a keepsake; returns the share token.
pub fn add_keepsake(url: &str, token: &str, seed: u8, caption: &str, photo: bool) -> (String, Vec<u8>) {
    let ill = png(seed, 96, 128);
    assert_eq!(upload(url, token, &ill), 201);
    let photo_sha = photo.then(|| {
        let p = jpeg(seed);
        assert_eq!(upload(url, token, &p), 201);
        sha256(&p)
    });
    let share = format!("{:032x}", u128::from(seed) * 0x1234_5678_9abc_def1 + 7);
    let (status, body) = put_keepsake(
        url,
        token,
        &share,
        &serde_json::json!({
            "illustration_sha256": sha256(&ill), "photo_sha256": photo_sha, "caption": caption,
            "language": "ko", "created_at": format!("2026-11-26T10:{:02}:00+09:00", seed % 60),
        }),
    );
    assert_eq!(status, 201, "{body}");
    (share, ill)
}

/// A signed-in family session: the cookie header value.
pub fn family_cookie(url: &str, server: &Server, memorial: &str) -> String {
    let invite = server.cli(&["family", "invite", "--memorial", memorial]).trim().to_string();
    let r = agent().get(&format!("{url}{invite}")).call().unwrap();
    assert_eq!(r.status().as_u16(), 303, "the invite link signs in");
    let set = r.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    set.split(';').next().unwrap().to_string()
}

/// A tool a test needs is missing: skip (saying so), or fail under KEEPSAKE_STRICT_TESTS=1.
pub fn missing(what: &str) -> bool {
    if std::env::var("KEEPSAKE_STRICT_TESTS").as_deref() == Ok("1") {
        panic!("{what} is missing (scripts/test.sh installs it)");
    }
    eprintln!("skipping: {what} is missing (scripts/test.sh installs it)");
    true
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn test_venv_bin(tool: &str) -> Option<PathBuf> {
    let p = repo_root().join(".venv-tests/bin").join(tool);
    p.exists().then_some(p)
}

/// A private PostgreSQL cluster on 127.0.0.1, started for one test and stopped after it.
pub struct Postgres {
    _dir: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
    pub port: u16,
    as_postgres: bool,
}

impl Postgres {
    pub fn start() -> Option<Postgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").exists())
            .max()?;
        let dir = tempfile::tempdir().unwrap();
        // PostgreSQL will not run as root: the cluster then belongs to the postgres user.
        let as_postgres = unsafe { libc::geteuid() } == 0;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let data = dir.path().join("pg");
        std::fs::create_dir(&data).unwrap();
        if as_postgres {
            assert!(Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().unwrap().success());
        }
        let port = free_port();
        let pg = Postgres { _dir: dir, data, bin, port, as_postgres };
        pg.run("initdb", &["-D", pg.data.to_str().unwrap(), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"]);
        let opts = format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", pg.data.display());
        let log = pg.data.join("log.txt");
        pg.run("pg_ctl", &["-D", pg.data.to_str().unwrap(), "-o", &opts, "-l", log.to_str().unwrap(), "-w", "start"]);
        Some(pg)
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let out = if self.as_postgres {
            Command::new("runuser").args(["-u", "postgres", "--"]).arg(&exe).args(args).output().unwrap()
        } else {
            Command::new(&exe).args(args).output().unwrap()
        };
        assert!(out.status.success(), "{tool}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let exe = self.bin.join("pg_ctl");
        let args = ["-D", self.data.to_str().unwrap(), "-m", "immediate", "stop"];
        let _ = if self.as_postgres {
            Command::new("runuser").args(["-u", "postgres", "--"]).arg(&exe).args(args).output()
        } else {
            Command::new(&exe).args(args).output()
        };
    }
}

/// A standalone S3-compatible server (moto's) on 127.0.0.1 with one empty bucket.
pub struct S3 {
    child: Child,
    pub endpoint: String,
    pub bucket: String,
}

impl S3 {
    pub fn start() -> Option<S3> {
        let exe = test_venv_bin("moto_server")?;
        let port = free_port();
        let child = Command::new(exe)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let endpoint = format!("http://127.0.0.1:{port}");
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = agent().put(&format!("{endpoint}/keepsake-pictures")).send(&[][..]) {
                assert!(r.status().is_success(), "creating the bucket: {}", r.status());
                break;
            }
            assert!(Instant::now() < until, "the S3 server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(S3 { child, endpoint, bucket: "keepsake-pictures".into() })
    }

    /// The objects in the bucket (their keys).
    pub fn keys(&self) -> Vec<String> {
        let xml =
            agent().get(&format!("{}/{}?list-type=2", self.endpoint, self.bucket)).call().unwrap().body_mut().read_to_string().unwrap();
        xml.split("<Key>").skip(1).map(|s| s.split("</Key>").next().unwrap().to_string()).collect()
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
