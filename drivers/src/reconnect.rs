//! A hot-plugged device's handle: there, or absent with the time of the next try to open it.
//!
//! Booth hardware is unplugged and plugged back in while the booth runs (a cleaner's foot on a
//! USB cable, a panel's flaky connector). Every driver of such a device keeps its open handle in
//! a [`Reconnecting`], marks it [`lost`](Reconnecting::lost) on a read error, and calls
//! [`reopen_if_due`](Reconnecting::reopen_if_due) before using it: one try a second at most, so an
//! absent device costs nothing between tries and the booth never stops for it.

use std::time::{Duration, Instant};

/// How long an absent device is left alone between two tries to open it.
pub const RETRY_EVERY: Duration = Duration::from_secs(1);

pub struct Reconnecting<T> {
    handle: Option<T>,
    retry_at: Instant,
}

/// What [`Reconnecting::reopen_if_due`] did.
#[derive(Debug)]
pub enum Reopen<E> {
    /// The device was open already; nothing was tried.
    AlreadyOpen,
    /// Absent, and the last try was under [`RETRY_EVERY`] ago; nothing was tried.
    NotDue,
    /// Absent, tried and opened: the device is back.
    Reopened,
    /// Absent, tried and failed with this error; the next try is in [`RETRY_EVERY`].
    StillAbsent(E),
}

impl<T> Reconnecting<T> {
    /// An open device.
    pub fn open(handle: T) -> Self {
        Self { handle: Some(handle), retry_at: Instant::now() }
    }

    /// A device that just failed to open: the next try is in [`RETRY_EVERY`].
    pub fn absent() -> Self {
        Self { handle: None, retry_at: Instant::now() + RETRY_EVERY }
    }

    /// A device not opened yet whose first use should try at once (a camera is only needed when
    /// a visitor is there, and then it is worth a try).
    pub fn absent_try_at_once() -> Self {
        Self { handle: None, retry_at: Instant::now() }
    }

    /// Whether the device is open now.
    pub fn is_open(&self) -> bool {
        self.handle.is_some()
    }

    /// The open handle, if there is one.
    pub fn get(&self) -> Option<&T> {
        self.handle.as_ref()
    }

    /// The open handle, if there is one.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.handle.as_mut()
    }

    /// The device failed while in use: close it; the next try to open it is in [`RETRY_EVERY`].
    pub fn lost(&mut self) {
        self.handle = None;
        self.retry_at = Instant::now() + RETRY_EVERY;
    }

    /// Opens the device with `open` if it is absent and a try is due.
    pub fn reopen_if_due<E>(&mut self, open: impl FnOnce() -> Result<T, E>) -> Reopen<E> {
        if self.handle.is_some() {
            return Reopen::AlreadyOpen;
        }
        if Instant::now() < self.retry_at {
            return Reopen::NotDue;
        }
        match open() {
            Ok(handle) => {
                self.handle = Some(handle);
                Reopen::Reopened
            }
            Err(e) => {
                self.retry_at = Instant::now() + RETRY_EVERY;
                Reopen::StillAbsent(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_device_is_tried_once_a_second_and_kept_once_open() {
        let mut tries = 0;
        let mut device: Reconnecting<&str> = Reconnecting::absent();
        assert!(matches!(device.reopen_if_due(|| -> Result<&str, ()> { panic!("tried before it was due") }), Reopen::NotDue));

        let mut at_once: Reconnecting<&str> = Reconnecting::absent_try_at_once();
        assert!(matches!(
            at_once.reopen_if_due(|| {
                tries += 1;
                Err::<&str, _>("unplugged")
            }),
            Reopen::StillAbsent("unplugged")
        ));
        assert!(matches!(at_once.reopen_if_due(|| -> Result<&str, ()> { panic!("tried again at once") }), Reopen::NotDue));
        assert!(!at_once.is_open());

        std::thread::sleep(RETRY_EVERY);
        assert!(matches!(device.reopen_if_due(|| Ok::<_, ()>("panel")), Reopen::Reopened));
        assert!(device.is_open());
        assert!(matches!(device.reopen_if_due(|| -> Result<&str, ()> { panic!("reopened an open device") }), Reopen::AlreadyOpen));
        assert_eq!(device.get_mut().map(|h| *h), Some("panel"));

        device.lost();
        assert!(!device.is_open() && device.get_mut().is_none());
        assert!(matches!(device.reopen_if_due(|| -> Result<&str, ()> { panic!("tried at once after a loss") }), Reopen::NotDue));
        assert_eq!(tries, 1);
    }
}
