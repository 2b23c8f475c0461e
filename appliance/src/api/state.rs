//! What every route handler shares: the engine and the token, and running blocking work (a
//! generation, a resize) off the async runtime.

use std::sync::Arc;

use axum::http::StatusCode;

use super::engine::Engine;
use super::request::ApiError;

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    /// Clients must send it (Bearer, or as the password of Basic auth) when set.
    pub token: Option<String>,
}

pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        ApiError::status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", format!("the generation stopped unexpectedly: {e}"))
    })?
}
