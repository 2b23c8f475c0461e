//! The print button on a serial button box: a small microcontroller on USB serial that sends one
//! line per press (`PRINT`), as photo-booth button boxes do.
//!
//! Lines are ASCII, ended by `\n` (a `\r` before it is ignored), case-insensitive, surrounding
//! blanks ignored. `PRINT` (or `BUTTON PRINT`, `BTN PRINT`) is the print button; empty lines and
//! `#` comments are skipped; anything else is logged once per kind and ignored, so a chatty or
//! misconfigured box never disturbs a visit. When the port disappears (the box unplugged) the
//! loss is logged, not raised: the touch screen still works and a visitor mid-visit is not sent
//! to a fault screen for a button they are not using. The port is tried again every second, so
//! the button works again as soon as the box is back.

use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{DeviceError, DeviceResult};
use crate::input::{Input, InputEvent};
use crate::reconnect::{Reconnecting, Reopen};

/// A line longer than this is noise (a wrong baud rate), not a command.
const MAX_LINE: usize = 256;

/// What one line of the box means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Event(InputEvent),
    Nothing,
    Unknown(String),
}

/// The box as errors and the log name it.
fn device(path: &Path) -> String {
    format!("button box {}", path.display())
}

/// Opens the port; reads wait at most 1 ms, so a poll never holds the booth's loop.
fn connect(path: &Path, baud: u32) -> DeviceResult<Box<dyn serialport::SerialPort>> {
    serialport::new(path.to_string_lossy(), baud).timeout(Duration::from_millis(1)).open().map_err(|e| {
        DeviceError::new(
            device(path),
            format!("cannot open: {e}"),
            "check the box is plugged in, devices.input.path names it (ls /dev/serial/by-id) and the booth user is in the dialout group",
        )
    })
}

/// Parses one line of the box's protocol.
pub fn parse_line(line: &str) -> Line {
    let words: Vec<String> = line.split_whitespace().map(str::to_ascii_uppercase).collect();
    match words.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => Line::Nothing,
        [first, ..] if first.starts_with('#') => Line::Nothing,
        ["PRINT"] | ["BUTTON", "PRINT"] | ["BTN", "PRINT"] => Line::Event(InputEvent::PrintButton),
        _ => Line::Unknown(line.trim().to_string()),
    }
}

pub struct SerialButtonBox {
    path: PathBuf,
    baud: u32,
    port: Reconnecting<Box<dyn serialport::SerialPort>>,
    pending: Vec<u8>,
    warned_unknown: bool,
}

impl SerialButtonBox {
    /// Whether the port is open now (false while the box is unplugged).
    pub fn connected(&self) -> bool {
        self.port.is_open()
    }

    /// Opens the box at `path` (e.g. /dev/ttyACM0 or a /dev/serial/by-id link) at `baud`.
    pub fn open(path: &Path, baud: u32) -> DeviceResult<Self> {
        Ok(Self::with_port(path, baud, Reconnecting::open(connect(path, baud)?)))
    }

    /// The box at `path`, open if it is there now; if not, the problem is logged and the box is
    /// looked for every second (the booth starts without it).
    pub fn open_or_wait(path: &Path, baud: u32) -> Self {
        let port = connect(path, baud).map(Reconnecting::open).unwrap_or_else(|e| {
            tracing::error!(%e, "the print-button box is not there yet: the booth starts without it and keeps looking");
            Reconnecting::absent()
        });
        Self::with_port(path, baud, port)
    }

    fn with_port(path: &Path, baud: u32, port: Reconnecting<Box<dyn serialport::SerialPort>>) -> Self {
        Self { path: path.to_path_buf(), baud, port, pending: Vec::new(), warned_unknown: false }
    }

    fn device(&self) -> String {
        device(&self.path)
    }

    /// Complete lines received so far, their bytes taken out of the buffer.
    fn take_lines(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let raw: Vec<u8> = self.pending.drain(..=end).collect();
            lines.push(String::from_utf8_lossy(&raw).trim_end_matches(['\n', '\r']).to_string());
        }
        if self.pending.len() > MAX_LINE {
            tracing::warn!(device = %self.device(), bytes = self.pending.len(), "a line too long to be a command: dropped (check the baud rate)");
            self.pending.clear();
        }
        lines
    }
}

impl Input for SerialButtonBox {
    fn name(&self) -> String {
        let state = if self.port.is_open() { "" } else { " (not connected: looking for it)" };
        format!("serial button box {} at {} baud{state}", self.path.display(), self.baud)
    }

    fn poll(&mut self, _screen: &str) -> DeviceResult<Option<InputEvent>> {
        // Events already received come first, one per poll.
        loop {
            let lines = self.take_lines();
            let mut event = None;
            for (i, line) in lines.iter().enumerate() {
                match parse_line(line) {
                    Line::Event(e) => {
                        // Keep the rest for the next polls.
                        let rest: Vec<u8> = lines[i + 1..].iter().flat_map(|l| format!("{l}\n").into_bytes()).collect();
                        self.pending.splice(0..0, rest);
                        event = Some(e);
                        break;
                    }
                    Line::Nothing => {}
                    Line::Unknown(text) => {
                        if !self.warned_unknown {
                            tracing::warn!(device = %self.device(), line = %text, "the button box sent a line it does not know (ignored; PRINT is the print button)");
                            self.warned_unknown = true;
                        }
                    }
                }
            }
            if event.is_some() {
                return Ok(event);
            }
            // Unplugged: try again now and then.
            match self.port.reopen_if_due(|| connect(&self.path, self.baud)) {
                Reopen::AlreadyOpen => {}
                Reopen::Reopened => tracing::info!(device = %self.device(), "button box back"),
                Reopen::NotDue | Reopen::StillAbsent(_) => return Ok(None),
            }
            let port = self.port.get_mut().expect("open: checked above");
            let mut buf = [0u8; 128];
            match port.read(&mut buf) {
                Ok(0) => return Ok(None),
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock | ErrorKind::Interrupted) => return Ok(None),
                Err(e) => {
                    self.port.lost();
                    self.pending.clear();
                    tracing::error!(device = %self.device(), %e, "button box lost: plug it back in, the booth reconnects by itself");
                    return Ok(None);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_protocol_is_forgiving() {
        assert_eq!(parse_line("PRINT"), Line::Event(InputEvent::PrintButton));
        assert_eq!(parse_line("  print \r"), Line::Event(InputEvent::PrintButton));
        assert_eq!(parse_line("BTN print"), Line::Event(InputEvent::PrintButton));
        assert_eq!(parse_line(""), Line::Nothing);
        assert_eq!(parse_line("# box v1.2 ready"), Line::Nothing);
        assert_eq!(parse_line("HELLO 3"), Line::Unknown("HELLO 3".into()));
    }
}
