//! Keepsake, the AI memorial photo booth: the appliance that composes the devices
//! (`keepsake-drivers`) and the illustration models (`keepsake-models`) into the visitor's journey.

pub mod allocator;
pub mod api;
pub mod archive;
pub mod bench;
pub mod booth;
pub mod card;
pub mod config;
mod config_reader;
pub mod control_args;
pub mod demo;
pub mod devices;
pub mod doctor;
pub mod generate;
pub mod i18n;
pub mod keepsake;
pub mod models_cli;
pub mod notify;
pub mod preprocess_cli;
pub mod qr;
pub mod serve_cli;
pub mod stylizers;
pub mod sync;
pub mod sync_cli;
pub mod ui;

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
