//! The uploader: a thread that empties the outbox into the memorial server.
//!
//! For each pending keepsake it uploads the illustration (and the original photo, only when the
//! visitor said yes) by content hash, resuming a cut upload where the server stopped, then
//! records the keepsake under its share token. Every step is idempotent on the server, so a
//! retry after a timeout, a crash or kill -9 never makes a second copy. Failures wait with
//! exponential backoff and jitter (so a hall's booths do not all return at once) up to
//! `server.retry_max`; a refusal no retry can fix (too large, not a picture) is kept as
//! `refused` for the technician.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use sha2::{Digest, Sha256};

use crate::archive::outbox::{now_ms, Item};
use keepsake_protocol::KeepsakeRecord;

use crate::archive::Archive;
use crate::config::Server;

#[derive(Debug, Clone)]
pub struct Settings {
    pub url: String,
    pub token: String,
    pub chunk: usize,
    pub retry_max: Duration,
}

impl Settings {
    /// The booth's settings, or `None` when no token is configured (keepsakes then wait).
    pub fn from_config(server: &Server) -> Option<Settings> {
        let token = server.token.clone()?;
        Some(Settings { url: server.url.clone(), token, chunk: server.upload_chunk, retry_max: server.retry_max })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Try again later (server away, network down, token refused, server busy).
    Retry(String),
    /// The server refused it for good, or the entry is damaged: kept for the technician.
    Refused(String),
}

/// The wait before try number `attempts + 1`: doubling from one second up to `max`, then a
/// random point in its upper half.
pub fn backoff(attempts: u32, max: Duration) -> Duration {
    let base = Duration::from_secs(1).min(max);
    let full = base.saturating_mul(1u32 << attempts.min(20)).min(max);
    let jitter = rand::rng().random_range(0.5..=1.0);
    full.mul_f64(jitter)
}

pub struct Client {
    agent: ureq::Agent,
    settings: Settings,
}

fn classify(what: &str, status: u16, body: String) -> Outcome {
    let said = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(String::from))
        .unwrap_or(body);
    let said: String = said.chars().take(300).collect();
    match status {
        401 | 403 => Outcome::Retry(format!(
            "{what}: the server refused the booth token ({status}: {said}); fix: set server.token to a token from `keepsake-server booth add`"
        )),
        408 | 409 | 423 | 425 | 429 | 500..=599 => Outcome::Retry(format!("{what}: the server answered {status}: {said}")),
        _ => Outcome::Refused(format!("{what}: the server refused it ({status}: {said})")),
    }
}

impl Client {
    pub fn new(settings: Settings) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(120)))
            .user_agent(concat!("keepsake-booth/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client { agent, settings }
    }

    /// GET `path` on the memorial server with the booth's token: the status and the body.
    pub fn get(&self, path: &str) -> Result<(u16, Vec<u8>), String> {
        let url = format!("{}{path}", self.settings.url);
        let mut r = self.agent.get(&url).header("Authorization", self.auth()).call().map_err(|e| format!("cannot reach {url}: {e}"))?;
        let body = r.body_mut().with_config().limit(32 << 20).read_to_vec().map_err(|e| format!("{url}: {e}"))?;
        Ok((r.status().as_u16(), body))
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.settings.token)
    }

    fn unreachable(&self, e: ureq::Error) -> Outcome {
        Outcome::Retry(format!("cannot reach the memorial server at {}: {e}", self.settings.url))
    }

    fn offset_of(resp: &ureq::http::Response<ureq::Body>) -> Option<u64> {
        resp.headers().get("upload-offset")?.to_str().ok()?.parse().ok()
    }

    /// Uploads one picture by its hash, continuing any partial upload the server holds.
    pub fn upload_blob(&self, what: &str, bytes: &[u8]) -> Outcome {
        let sha = hex::encode(Sha256::digest(bytes));
        let url = format!("{}{}", self.settings.url, keepsake_protocol::blob_path(&sha));
        let resp = match self.agent.head(&url).header("Authorization", self.auth()).call() {
            Ok(r) => r,
            Err(e) => return self.unreachable(e),
        };
        let mut offset = match resp.status().as_u16() {
            200 => return Outcome::Sent,
            404 => Self::offset_of(&resp).unwrap_or(0).min(bytes.len() as u64),
            s => return classify(what, s, String::new()),
        };
        loop {
            let end = (offset as usize + self.settings.chunk).min(bytes.len());
            let piece = &bytes[offset as usize..end];
            let resp = self
                .agent
                .patch(&url)
                .header("Authorization", self.auth())
                .header("Upload-Offset", offset.to_string())
                .header("Upload-Length", bytes.len().to_string())
                .header("Content-Type", "application/offset+octet-stream")
                .send(piece);
            let mut resp = match resp {
                Ok(r) => r,
                Err(e) => return self.unreachable(e),
            };
            match resp.status().as_u16() {
                200 | 201 => return Outcome::Sent,
                // 204: the piece is in; 409: the server has a different amount (an earlier try
                // got further than we knew): continue from what it has.
                204 | 409 => match Self::offset_of(&resp) {
                    Some(o) if o <= bytes.len() as u64 => offset = o,
                    _ => return Outcome::Retry(format!("{what}: the server did not say how much it has")),
                },
                s => return classify(what, s, resp.body_mut().read_to_string().unwrap_or_default()),
            }
        }
    }

    /// Sends one archived keepsake: its pictures, then its record.
    pub fn send(&self, archive: &Archive, item: &Item) -> Outcome {
        let dir = archive.root().join(&item.entry);
        if !dir.is_dir() {
            return Outcome::Refused(format!("the archive entry {} is gone", dir.display()));
        }
        let files = match archive.read_files(&dir) {
            Ok(f) => f,
            Err(e) => return Outcome::Refused(e.to_string()),
        };
        match self.upload_blob("illustration", &files.illustration) {
            Outcome::Sent => {}
            other => return other,
        }
        let photo_sha = if files.meta.share_photo {
            match self.upload_blob("photo", &files.photo) {
                Outcome::Sent => Some(hex::encode(Sha256::digest(&files.photo))),
                other => return other,
            }
        } else {
            None
        };
        let record = KeepsakeRecord {
            illustration_sha256: hex::encode(Sha256::digest(&files.illustration)),
            photo_sha256: photo_sha,
            in_slideshow: files.meta.in_slideshow,
            caption: files.meta.caption.clone(),
            language: files.meta.language.clone(),
            created_at: files.meta.created_at.clone(),
        };
        let url = format!("{}{}", self.settings.url, keepsake_protocol::keepsake_path(&files.meta.id));
        match self.agent.put(&url).header("Authorization", self.auth()).send_json(&record) {
            Ok(mut r) => match r.status().as_u16() {
                200 | 201 => Outcome::Sent,
                s => classify("keepsake", s, r.body_mut().read_to_string().unwrap_or_default()),
            },
            Err(e) => self.unreachable(e),
        }
    }
}

/// Works through every item that is due now; returns how many were sent.
pub fn send_due(archive: &Archive, client: &Client, retry_max: Duration, stop: &AtomicBool) -> u64 {
    let mut sent = 0;
    while !stop.load(Ordering::Relaxed) {
        let item = match archive.outbox().next_due(now_ms()) {
            Ok((Some(item), _)) => item,
            Ok((None, _)) => break,
            Err(e) => {
                tracing::error!(%e, "cannot read the outbox");
                break;
            }
        };
        let outcome = client.send(archive, &item);
        let recorded = match &outcome {
            Outcome::Sent => {
                sent += 1;
                tracing::info!(keepsake = %item.id, "keepsake sent to the memorial server");
                archive.outbox().mark_sent(&item.id)
            }
            Outcome::Retry(why) => {
                let wait = backoff(item.attempts, retry_max);
                tracing::warn!(keepsake = %item.id, attempts = item.attempts + 1, retry_in = ?wait, %why, "keepsake not sent yet; it waits in the outbox");
                archive.outbox().mark_failed(&item.id, why, now_ms() + wait.as_millis() as i64)
            }
            Outcome::Refused(why) => {
                tracing::error!(keepsake = %item.id, %why, "the memorial server refused a keepsake; it stays in the archive (keepsake sync status)");
                archive.outbox().mark_refused(&item.id, why)
            }
        };
        if let Err(e) = recorded {
            tracing::error!(%e, "cannot update the outbox");
            break;
        }
    }
    sent
}

/// The background uploader; stops when dropped.
pub struct Uploader {
    stop: Arc<AtomicBool>,
    archive: Arc<Archive>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Uploader {
    pub fn start(archive: Arc<Archive>, settings: Settings) -> Uploader {
        let stop = Arc::new(AtomicBool::new(false));
        let (a, s) = (archive.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("uploader".into())
            .spawn(move || {
                let retry_max = settings.retry_max;
                let client = Client::new(settings);
                let mut cover_checked: Option<std::time::Instant> = None;
                while !s.load(Ordering::Relaxed) {
                    // The memorial's cover for the attract screen: at start, then hourly.
                    if cover_checked.is_none_or(|t| t.elapsed() >= super::cover::EVERY) {
                        match super::cover::refresh(|path| client.get(path), a.root()) {
                            Ok(what) => tracing::debug!(?what, "memorial cover checked"),
                            Err(e) => tracing::info!(%e, "the memorial cover could not be checked; the attract screen keeps what it has"),
                        }
                        cover_checked = Some(std::time::Instant::now());
                    }
                    send_due(&a, &client, retry_max, &s);
                    let next = a.outbox().next_due(now_ms()).ok().and_then(|(due, next)| if due.is_some() { Some(0) } else { next });
                    let wait = next.map(|t| (t - now_ms()).max(0) as u64).unwrap_or(60_000).min(60_000);
                    a.outbox().wait(Duration::from_millis(wait));
                }
            })
            .expect("spawning the uploader thread");
        Uploader { stop, archive, thread: Some(thread) }
    }
}

impl Drop for Uploader {
    /// Asks the thread to stop after the request in flight. It is not waited for: a request can
    /// take up to two minutes on a bad network, and stopping the booth must not; a request cut
    /// short by the process ending is simply sent again next time (every step is idempotent).
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.archive.outbox().ring();
        if let Some(t) = self.thread.take() {
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let max = Duration::from_secs(600);
        for attempts in 0..30 {
            let full = Duration::from_secs(1u64 << attempts.min(20)).min(max);
            let d = backoff(attempts, max);
            assert!(d >= full / 2 && d <= full, "{attempts}: {d:?} vs {full:?}");
        }
        let waits: std::collections::HashSet<_> = (0..20).map(|_| backoff(5, max).as_millis()).collect();
        assert!(waits.len() > 5, "jitter spreads the booths' retries");
    }

    #[test]
    fn what_can_be_retried() {
        assert!(matches!(classify("x", 503, String::new()), Outcome::Retry(_)));
        assert!(
            matches!(classify("x", 401, "{\"error\":\"unknown token\"}".into()), Outcome::Retry(m) if m.contains("server.token") && m.contains("unknown token"))
        );
        assert!(matches!(classify("x", 413, String::new()), Outcome::Refused(_)));
        assert!(matches!(classify("x", 415, "{\"error\":\"not a picture\"}".into()), Outcome::Refused(m) if m.contains("not a picture")));
    }
}
