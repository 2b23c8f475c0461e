//! An AUTOMATIC1111-compatible REST API on the booth: the same routes, fields and answers as
//! A1111's web UI API with the ControlNet extension, so scripts and clients written for it
//! (webuiapi, photobooth software) drive the booth's model unchanged. It runs beside the booth
//! (`api.enabled`), where visitors always go first, or alone as `keepsake serve`.

pub mod engine;
pub mod images;
pub mod request;
pub mod routes;
pub mod units;

use std::net::SocketAddr;
use std::sync::Arc;

pub use engine::{Engine, EngineSettings, Limits};
pub use routes::{router, AppState};

/// Serves the API on `listen` until the future is dropped.
pub async fn serve(engine: Arc<Engine>, token: Option<String>, listen: SocketAddr) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("the API cannot listen on {listen}: {e} (fix: choose a free port with --listen / api.listen)"))?;
    let at = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| listen.to_string());
    tracing::info!(at = %at, token = token.is_some(), "A1111-compatible API listening");
    // Printed for scripts and tests that start it on port 0.
    println!("listening on http://{at}");
    axum::serve(listener, router(AppState { engine, token })).await.map_err(|e| format!("the API stopped: {e}"))
}
