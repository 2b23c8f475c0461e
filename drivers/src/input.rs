//! Touch and button input.
//!
//! The booth polls input once per frame and tells it which screen is showing; real devices ignore
//! that, a scripted visitor uses it to act like a person who looks at the screen before touching.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::error::{DeviceError, DeviceResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum InputEvent {
    /// A touch at screen coordinates.
    Touch { x: i32, y: i32 },
    /// The physical print button.
    PrintButton,
}

pub trait Input: Send {
    fn name(&self) -> String;
    /// The next pending event, if any. `screen` is the name of the screen being shown.
    fn poll(&mut self, screen: &str) -> DeviceResult<Option<InputEvent>>;
}

/// Several input devices as one (a touchscreen and a print button): each is polled in turn, so
/// neither starves the other.
pub struct Inputs {
    devices: Vec<Box<dyn Input>>,
    next: usize,
}

impl Inputs {
    pub fn new(devices: Vec<Box<dyn Input>>) -> Self {
        Self { devices, next: 0 }
    }
}

impl Input for Inputs {
    fn name(&self) -> String {
        if self.devices.is_empty() {
            return "no input".into();
        }
        self.devices.iter().map(|d| d.name()).collect::<Vec<_>>().join(" + ")
    }

    fn poll(&mut self, screen: &str) -> DeviceResult<Option<InputEvent>> {
        for _ in 0..self.devices.len() {
            let i = self.next;
            self.next = (self.next + 1) % self.devices.len();
            if let Some(event) = self.devices[i].poll(screen)? {
                return Ok(Some(event));
            }
        }
        Ok(None)
    }
}

/// One step of a scripted visitor: once screen `on` is showing (or one of `a|b`), wait
/// `after_ms`, then do `event`.
// (serde cannot deny unknown fields together with `flatten`.)
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ScriptStep {
    pub on: String,
    #[serde(default)]
    pub after_ms: u64,
    #[serde(flatten)]
    pub event: InputEvent,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptFile {
    step: Vec<ScriptStep>,
}

/// Plays a list of steps in order. When the list is done it stays silent (the booth idles).
pub struct ScriptedInput {
    steps: Vec<ScriptStep>,
    next: usize,
    /// When the awaited screen first appeared.
    seen_at: Option<Instant>,
}

impl ScriptedInput {
    pub fn new(steps: Vec<ScriptStep>) -> Self {
        Self { steps, next: 0, seen_at: None }
    }

    /// Reads a script file: `[[step]]` tables with `on`, `after_ms` and `event` (`touch` with `x`
    /// and `y`, or `print_button`).
    pub fn from_file(path: &Path) -> DeviceResult<Self> {
        let device = format!("input script {}", path.display());
        let text = std::fs::read_to_string(path)
            .map_err(|e| DeviceError::new(&device, format!("cannot read: {e}"), "set devices.input.script to an existing file"))?;
        let file: ScriptFile = toml::from_str(&text).map_err(|e| {
            DeviceError::new(
                &device,
                format!("not a valid script: {e}"),
                "write [[step]] tables with on, after_ms and event = \"touch\" (x, y) or \"print_button\"",
            )
        })?;
        Ok(Self::new(file.step))
    }

    pub fn finished(&self) -> bool {
        self.next >= self.steps.len()
    }
}

impl Input for ScriptedInput {
    fn name(&self) -> String {
        format!("scripted input ({} steps)", self.steps.len())
    }

    fn poll(&mut self, screen: &str) -> DeviceResult<Option<InputEvent>> {
        let Some(step) = self.steps.get(self.next) else { return Ok(None) };
        if !step.on.split('|').any(|on| on == screen) {
            self.seen_at = None;
            return Ok(None);
        }
        let seen = *self.seen_at.get_or_insert_with(Instant::now);
        if seen.elapsed() < Duration::from_millis(step.after_ms) {
            return Ok(None);
        }
        self.next += 1;
        self.seen_at = None;
        Ok(Some(step.event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_its_screen_then_fires_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("visitor.toml");
        std::fs::write(
            &path,
            "[[step]]\non = \"attract\"\nevent = \"touch\"\nx = 5\ny = 6\n\n[[step]]\non = \"result\"\nafter_ms = 30\nevent = \"print_button\"\n",
        )
        .unwrap();
        let mut input = ScriptedInput::from_file(&path).unwrap();
        assert_eq!(input.poll("review").unwrap(), None);
        assert_eq!(input.poll("attract").unwrap(), Some(InputEvent::Touch { x: 5, y: 6 }));
        assert_eq!(input.poll("result").unwrap(), None, "waits after_ms first");
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(input.poll("result").unwrap(), Some(InputEvent::PrintButton));
        assert!(input.finished());
        assert_eq!(input.poll("result").unwrap(), None);
    }

    #[test]
    fn a_step_may_wait_for_one_of_several_screens() {
        let mut s = ScriptedInput::new(vec![ScriptStep { on: "result|print_share".into(), after_ms: 0, event: InputEvent::PrintButton }]);
        assert_eq!(s.poll("result_and_more").unwrap(), None);
        assert_eq!(s.poll("print_share").unwrap(), Some(InputEvent::PrintButton));
    }

    #[test]
    fn several_inputs_take_turns() {
        let touch = ScriptedInput::new(vec![
            ScriptStep { on: "a".into(), after_ms: 0, event: InputEvent::Touch { x: 1, y: 1 } },
            ScriptStep { on: "a".into(), after_ms: 0, event: InputEvent::Touch { x: 2, y: 2 } },
        ]);
        let button = ScriptedInput::new(vec![ScriptStep { on: "a".into(), after_ms: 0, event: InputEvent::PrintButton }]);
        let mut both = Inputs::new(vec![Box::new(touch), Box::new(button)]);
        let events: Vec<_> = (0..4).map(|_| both.poll("a").unwrap()).collect();
        assert_eq!(
            events,
            [Some(InputEvent::Touch { x: 1, y: 1 }), Some(InputEvent::PrintButton), Some(InputEvent::Touch { x: 2, y: 2 }), None]
        );
        assert_eq!(Inputs::new(vec![]).poll("a").unwrap(), None);
    }

    #[test]
    fn bad_script_names_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[[step]]\non = \"attract\"\nevent = \"wave\"\n").unwrap();
        let err = ScriptedInput::from_file(&path).err().unwrap();
        assert!(err.device.contains("bad.toml") && err.fix.contains("print_button"), "{err}");
    }
}
