//! systemd notifications: READY when the devices are up, WATCHDOG from the booth loop (so a hung
//! loop is restarted), STATUS with the current screen. Without NOTIFY_SOCKET these do nothing.

use std::time::{Duration, Instant};

use sd_notify::NotifyState;

pub struct Notifier {
    last_ping: Option<Instant>,
    interval: Duration,
}

impl Notifier {
    pub fn new() -> Self {
        // Ping at a third of the watchdog period systemd asked for.
        let interval = sd_notify::watchdog_enabled().map(|d| d / 3).unwrap_or(Duration::from_secs(10));
        Self { last_ping: None, interval }
    }

    fn send(&self, states: &[NotifyState]) {
        if let Err(e) = sd_notify::notify(states) {
            tracing::debug!(%e, "sd_notify failed");
        }
    }

    pub fn ready(&self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    pub fn status(&self, status: &str) {
        self.send(&[NotifyState::Status(status)]);
    }

    /// Called every loop turn; pings when due.
    pub fn alive(&mut self) {
        if self.last_ping.is_none_or(|t| t.elapsed() >= self.interval) {
            self.send(&[NotifyState::Watchdog]);
            self.last_ping = Some(Instant::now());
        }
    }

    pub fn stopping(&self) {
        self.send(&[NotifyState::Stopping]);
    }
}

impl Default for Notifier {
    fn default() -> Self {
        Self::new()
    }
}
