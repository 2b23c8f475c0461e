//! An AUTOMATIC1111-compatible REST API on the booth: the same routes, fields and answers as
//! A1111's web UI API with the ControlNet extension, so scripts and clients written for it
//! (webuiapi, photobooth software) drive the booth's model unchanged. It runs beside the booth
//! (`api.enabled`), where visitors always go first, or alone as `keepsake serve`.

pub mod controlnet;
pub mod engine;
pub mod extras;
pub mod images;
pub mod infotext;
pub mod options;
pub mod request;
pub mod routes;
pub mod samplers;
pub mod state;
pub mod units;

use std::net::SocketAddr;
use std::sync::Arc;

use keepsake_models::preprocessors::Annotators;
use keepsake_models::stylize::shared_pipeline::SharedPipeline;

use crate::config::Config;

pub use engine::{Engine, EngineSettings, Limits};

use crate::error::Error;
pub use routes::router;
pub use state::AppState;

/// Serves the API on `listen` until the future is dropped.
pub async fn serve(engine: Arc<Engine>, token: Option<String>, listen: SocketAddr) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        Error::new(format!("the API on {listen}"), format!("cannot listen: {e}"), "choose a free port with --listen / api.listen")
    })?;
    let at = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| listen.to_string());
    tracing::info!(at = %at, token = token.is_some(), "A1111-compatible API listening");
    // Printed for scripts and tests that start it on port 0.
    println!("listening on http://{at}");
    axum::serve(listener, router(AppState { engine, token })).await.map_err(|e| {
        Error::new(format!("the API on {at}"), format!("stopped: {e}"), "see the log above for what stopped it; the booth goes on")
    })
}

/// The A1111-compatible API beside the booth, on the booth's model, when `api.enabled`; None
/// (said on the log) when it is off or there is no diffusion model to share. Its annotators run
/// on the model's device.
pub fn beside_the_booth(config: &Config, shared: Option<Arc<SharedPipeline>>) -> Option<Arc<Engine>> {
    if !config.api.enabled {
        return None;
    }
    let (Some(shared), Some(model)) = (shared, config.style.model.clone()) else {
        tracing::error!("api.enabled, but no diffusion model is loaded (style.model): the API is not started");
        return None;
    };
    let device = shared.device().clone();
    let settings = EngineSettings {
        model_path: model,
        models_dir: None,
        switchable: false,
        lora_dir: config.api.lora_dir.clone(),
        controlnet_dir: config.api.controlnet_dir.clone(),
        annotators: Annotators { dir: config.style.annotators.clone(), device },
        limits: Limits {
            max_side: config.api.max_side,
            max_steps: config.api.max_steps,
            max_images: config.api.max_images,
            ..Default::default()
        },
        noise_kernel: keepsake_models::torch_rng::NormalKernel::native(),
        randn_source: options::RandnSource::Cpu,
    };
    Some(Arc::new(Engine::new(shared, settings)))
}
