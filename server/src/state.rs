//! The server's shared state (database, pictures, limits, counters) and the error an API client
//! is answered with.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::blobs::Blobs;
use crate::db::Db;

pub struct Limits {
    /// The largest picture accepted, in bytes.
    pub max_upload: u64,
    /// The largest piece of a resumable upload in one request.
    pub max_chunk: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_upload: 25 << 20, max_chunk: 8 << 20 }
    }
}

#[derive(Default)]
pub struct Metrics {
    pub keepsakes_received: AtomicU64,
    pub keepsakes_repeated: AtomicU64,
    pub upload_bytes: AtomicU64,
    pub uploads_rejected: AtomicU64,
    pub auth_refused: AtomicU64,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }
}

pub struct AppState {
    pub db: Db,
    pub blobs: Blobs,
    /// Partial uploads wait here (local disk, whatever the picture store is).
    pub staging: PathBuf,
    pub limits: Limits,
    pub metrics: Metrics,
    /// One writer per partial upload at a time.
    pub upload_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Cookies get `Secure` when the public address is https.
    pub secure_cookies: bool,
    /// The zone pages show times in for a memorial without its own.
    pub time_zone: chrono_tz::Tz,
}

pub type App = Arc<AppState>;

impl AppState {
    pub fn new(
        db: Db,
        blobs: Blobs,
        staging: PathBuf,
        limits: Limits,
        secure_cookies: bool,
        time_zone: chrono_tz::Tz,
    ) -> std::io::Result<App> {
        std::fs::create_dir_all(&staging)?;
        let upload_locks = Mutex::default();
        Ok(Arc::new(AppState { db, blobs, staging, limits, metrics: Metrics::default(), upload_locks, secure_cookies, time_zone }))
    }

    /// The zone `memorial`'s pages show times in: its own, else the server's.
    pub fn zone_of(&self, memorial: &crate::db::Memorial) -> chrono_tz::Tz {
        memorial.time_zone.as_deref().and_then(|z| crate::time_zone::parse(z).ok()).unwrap_or(self.time_zone)
    }

    /// Tidies the uploads folder at start: pieces of pictures that are complete (the server
    /// stopped between storing one and removing its pieces) and pieces nobody resumed for a week.
    pub async fn tidy_uploads(&self) {
        let Ok(mut dir) = tokio::fs::read_dir(&self.staging).await else { return };
        let week = std::time::Duration::from_secs(7 * 24 * 3600);
        while let Ok(Some(entry)) = dir.next_entry().await {
            let path = entry.path();
            let Some(sha) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".part")) else { continue };
            let complete = crate::tokens::is_sha256(sha) && matches!(self.db.blob(sha).await, Ok(Some(_)));
            let stale =
                entry.metadata().await.ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok()).is_some_and(|age| age > week);
            if complete || stale {
                tracing::info!(path = %path.display(), complete, stale, "removing a leftover partial upload");
                let _ = tokio::fs::remove_file(&path).await;
            }
        }
    }

    pub fn upload_lock(&self, sha256: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.upload_locks.lock().entry(sha256.to_string()).or_default().clone()
    }
}

/// An error answered to an API client as `{"error": "..."}`, naming the field and the fix.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.0, axum::Json(serde_json::json!({ "error": self.1 }))).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"keepsake\""));
        }
        r
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        tracing::error!(%e, "database");
        ApiError(StatusCode::SERVICE_UNAVAILABLE, "the database is not answering; try again later".into())
    }
}

impl From<crate::blobs::BlobError> for ApiError {
    fn from(e: crate::blobs::BlobError) -> Self {
        tracing::error!(%e, "picture store");
        ApiError(StatusCode::SERVICE_UNAVAILABLE, "the picture store is not answering; try again later".into())
    }
}
