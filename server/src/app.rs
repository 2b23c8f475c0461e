//! The server's routes: the booths' upload API, the family's and visitors' pages, health and
//! metrics.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::DefaultBodyLimit;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, head, post, put};
use axum::Router;

use crate::state::App;

pub fn router(app: App) -> Router {
    let api = Router::new()
        .route("/api/v1/blobs/{sha256}", head(crate::api::head_blob).patch(crate::api::patch_blob))
        .route("/api/v1/keepsakes/{share_token}", put(crate::api::put_keepsake))
        .route(keepsake_protocol::MEMORIAL_COVER_PATH, get(crate::api::memorial_cover))
        .layer(DefaultBodyLimit::max(app.limits.max_chunk));
    let pages = Router::new()
        .route("/", get(crate::pages::home))
        .route(keepsake_protocol::SHARE_ROUTE, get(crate::pages::share_page))
        .route(&format!("{}/illustration", keepsake_protocol::SHARE_ROUTE), get(crate::pages::share_picture))
        .route("/m/{memorial}", get(crate::pages::gallery))
        .route("/m/{memorial}/slideshow", get(crate::pages::slideshow))
        .route("/m/{memorial}/cover", get(crate::pages::cover))
        .route("/m/{memorial}/k/{id}", get(crate::pages::keepsake_page))
        .route("/m/{memorial}/k/{id}/{which}", get(crate::pages::keepsake_picture))
        .route("/m/{memorial}/login", get(crate::pages::login_form).post(crate::pages::login))
        .route("/m/{memorial}/join/{invite}", get(crate::pages::join))
        .route("/m/{memorial}/logout", post(crate::pages::logout))
        .route("/m/{memorial}/admin", get(crate::pages::admin))
        .route("/m/{memorial}/admin/k/{id}/{action}", post(crate::pages::admin_action))
        .route("/m/{memorial}/admin/all.zip", get(crate::pages::download_all))
        .layer(DefaultBodyLimit::max(64 << 10))
        .layer(axum::middleware::from_fn(crate::pages::error_as_page))
        .layer(axum::middleware::from_fn(crate::cookies::forget_language_choice));
    Router::new()
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
        .merge(api)
        .merge(pages)
        .fallback(crate::pages::not_found)
        .with_state(app)
}

async fn health(axum::extract::State(app): axum::extract::State<App>) -> Response {
    let db = app.db.ping().await;
    let blobs = app.blobs.ping().await;
    let ok = db.is_ok() && blobs.is_ok();
    let body = serde_json::json!({
        "status": if ok { "ok" } else { "degraded" },
        "database": db.map(|_| "ok".to_string()).unwrap_or_else(|e| e.to_string()),
        "pictures": blobs.map(|_| "ok".to_string()).unwrap_or_else(|e| e.to_string()),
    });
    (if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, axum::Json(body)).into_response()
}

async fn metrics(axum::extract::State(app): axum::extract::State<App>) -> Response {
    let m = &app.metrics;
    let stored = app.db.count_keepsakes().await.unwrap_or(-1);
    let line = |name: &str, help: &str, kind: &str, v: i128| format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n");
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed) as i128;
    let text = [
        line("keepsake_keepsakes_stored", "Keepsakes on the server (not deleted).", "gauge", stored as i128),
        line("keepsake_keepsakes_received_total", "New keepsakes received since start.", "counter", get(&m.keepsakes_received)),
        line(
            "keepsake_keepsakes_repeated_total",
            "Uploads of keepsakes the server already had (booth retries).",
            "counter",
            get(&m.keepsakes_repeated),
        ),
        line("keepsake_upload_bytes_total", "Picture bytes received since start.", "counter", get(&m.upload_bytes)),
        line("keepsake_uploads_rejected_total", "Uploads refused (size, type, hash).", "counter", get(&m.uploads_rejected)),
        line(
            "keepsake_auth_refused_total",
            "Requests refused for a missing, wrong or revoked booth token.",
            "counter",
            get(&m.auth_refused),
        ),
    ]
    .concat();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
