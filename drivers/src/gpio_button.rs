//! A print button wired to a GPIO line (gpio-cdev, `/dev/gpiochipN`).
//!
//! The line is requested with edge events, so a press is never missed between polls; a press is
//! the line becoming active (`active_low` for the usual button to ground with a pull-up). Edges
//! closer than the debounce time to the last press are contact bounce. A chip that disappears is
//! logged and reopened every second, never a fault the visitor sees.

use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gpio_cdev::{Chip, EventRequestFlags, EventType, LineEventHandle, LineRequestFlags};

use crate::error::{DeviceError, DeviceResult};
use crate::input::{Input, InputEvent};
use crate::reconnect::{Reconnecting, Reopen};

/// Presses from edge timestamps: one press per `debounce`.
#[derive(Debug, Clone)]
pub struct Debouncer {
    debounce: Duration,
    last: Option<Duration>,
}

impl Debouncer {
    pub fn new(debounce: Duration) -> Self {
        Self { debounce, last: None }
    }

    /// Whether an activating edge at `time` is a new press.
    pub fn press(&mut self, time: Duration) -> bool {
        if self.last.is_some_and(|last| time.saturating_sub(last) < self.debounce) {
            return false;
        }
        self.last = Some(time);
        true
    }
}

pub struct GpioButton {
    chip: PathBuf,
    line: u32,
    active_low: bool,
    debouncer: Debouncer,
    events: Reconnecting<LineEventHandle>,
}

impl GpioButton {
    pub fn open(chip: &Path, line: u32, active_low: bool, debounce: Duration) -> DeviceResult<Self> {
        let events = Self::request(chip, line, active_low)?;
        Ok(Self { chip: chip.to_path_buf(), line, active_low, debouncer: Debouncer::new(debounce), events: Reconnecting::open(events) })
    }

    /// Opens the line if it is there; otherwise the booth starts and picks it up when it appears.
    pub fn open_or_wait(chip: &Path, line: u32, active_low: bool, debounce: Duration) -> Self {
        Self::open(chip, line, active_low, debounce).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "print button not there yet; the booth starts and keeps looking");
            Self { chip: chip.to_path_buf(), line, active_low, debouncer: Debouncer::new(debounce), events: Reconnecting::absent() }
        })
    }

    fn request(chip: &Path, line: u32, active_low: bool) -> DeviceResult<LineEventHandle> {
        let device = format!("print button on {} line {line}", chip.display());
        let fail = |e: gpio_cdev::Error, what: &str| {
            DeviceError::new(
                &device,
                format!("{what}: {e}"),
                "check devices.button.chip and line (gpioinfo lists them), that no other program holds the line, and that the booth's user may open the chip",
            )
        };
        let mut c = Chip::new(chip).map_err(|e| fail(e, "cannot open the chip"))?;
        let l = c.get_line(line).map_err(|e| fail(e, "no such line"))?;
        let mut flags = LineRequestFlags::INPUT;
        if active_low {
            flags |= LineRequestFlags::ACTIVE_LOW;
        }
        l.events(flags, EventRequestFlags::RISING_EDGE, "keepsake-print-button").map_err(|e| fail(e, "cannot watch the line"))
    }

    /// Whether an event is waiting (never blocks).
    fn readable(events: &LineEventHandle) -> bool {
        let mut fd = libc::pollfd { fd: events.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd, zero timeout.
        unsafe { libc::poll(&mut fd, 1, 0) > 0 }
    }
}

impl Input for GpioButton {
    fn name(&self) -> String {
        format!("print button on {} line {}{}", self.chip.display(), self.line, if self.active_low { " (active low)" } else { "" })
    }

    fn poll(&mut self, _screen: &str) -> DeviceResult<Option<InputEvent>> {
        match self.events.reopen_if_due(|| Self::request(&self.chip, self.line, self.active_low)) {
            Reopen::AlreadyOpen | Reopen::NotDue => {}
            Reopen::Reopened => tracing::info!(button = %self.name(), "print button connected"),
            Reopen::StillAbsent(e) => tracing::debug!(error = %e, "print button still absent"),
        }
        let Some(events) = self.events.get_mut() else { return Ok(None) };
        while Self::readable(events) {
            match events.get_event() {
                Ok(ev) if ev.event_type() == EventType::RisingEdge => {
                    if self.debouncer.press(Duration::from_nanos(ev.timestamp())) {
                        return Ok(Some(InputEvent::PrintButton));
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(button = %self.name(), error = %e, "print button lost; reconnecting");
                    self.events.lost();
                    break;
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounces_are_one_press() {
        let mut d = Debouncer::new(Duration::from_millis(200));
        let ms = Duration::from_millis;
        assert!(d.press(ms(1000)));
        assert!(!d.press(ms(1003)));
        assert!(!d.press(ms(1150)));
        assert!(d.press(ms(1300)));
    }

    #[test]
    fn a_missing_chip_is_named_and_the_booth_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let chip = dir.path().join("gpiochip9");
        let err = GpioButton::open(&chip, 17, true, Duration::from_millis(200)).err().unwrap();
        assert!(err.device.contains("line 17") && err.problem.contains("cannot open the chip") && err.fix.contains("gpioinfo"), "{err}");
        let mut waiting = GpioButton::open_or_wait(&chip, 17, true, Duration::from_millis(200));
        assert_eq!(waiting.poll("result").unwrap(), None);
    }
}
