//! Keepsake, the AI memorial photo booth: the appliance that composes the devices
//! (`keepsake-drivers`) and the illustration models (`keepsake-models`) into the visitor's journey.

pub mod allocator;
pub mod api;
pub mod archive;
pub mod backend;
pub mod booth;
pub mod card;
pub mod cli;
pub mod config;
mod config_reader;
pub mod devices;
pub mod error;
pub mod extras;
pub mod keepsake;
pub mod notify;
pub mod qr;
pub mod scene;
pub mod stylizers;
pub mod sync;

/// The async runtime the booth, its API and the subcommands run on.
pub fn runtime() -> Result<tokio::runtime::Runtime, error::Error> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| {
        error::Error::new(
            "the async runtime",
            format!("cannot start: {e}"),
            "check the unit's limits on threads and memory (TasksMax, MemoryMax)",
        )
    })
}

/// Resolves on SIGTERM or Ctrl-C (systemd's stop, a technician's Ctrl-C).
pub async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
