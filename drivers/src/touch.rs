//! Touchscreens through evdev (`/dev/input/eventN`): single- and multi-touch panels.
//!
//! A finger going down is a tap at once (a visitor expects the screen to answer the touch, not
//! the lift). Raw panel coordinates are mapped through the calibration (the axis ranges the kernel
//! reports, or ones measured by the technician, swapped or reversed as the panel is wired) and the
//! panel's rotation to the upright screen the booth draws. A second touch-down within the debounce
//! time of the last lift is contact bounce and ignored. The decoding is the same for a live device
//! and for a recording (evemu-record's text format), which is how it is tested.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use crate::error::{DeviceError, DeviceResult};
use crate::fbdev::Rotation;
use crate::input::{Input, InputEvent};
use crate::reconnect::{Reconnecting, Reopen};

const EV_SYN: u16 = 0x00;
const EV_KEY: u16 = 0x01;
const EV_ABS: u16 = 0x03;
const SYN_REPORT: u16 = 0x00;
const BTN_TOUCH: u16 = 0x14a;
const ABS_X: u16 = 0x00;
const ABS_Y: u16 = 0x01;
const ABS_MT_SLOT: u16 = 0x2f;
const ABS_MT_POSITION_X: u16 = 0x35;
const ABS_MT_POSITION_Y: u16 = 0x36;
const ABS_MT_TRACKING_ID: u16 = 0x39;

/// Raw coordinates at the panel's left/right and top/bottom edges (as wired, before rotation).
/// `x.0 > x.1` means the axis runs right to left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    pub x: (i32, i32),
    pub y: (i32, i32),
}

impl Calibration {
    /// The ranges the device reports for its axes.
    pub fn from_axes(axes: &HashMap<u16, (i32, i32)>) -> Option<Calibration> {
        let x = axes.get(&ABS_X).or_else(|| axes.get(&ABS_MT_POSITION_X))?;
        let y = axes.get(&ABS_Y).or_else(|| axes.get(&ABS_MT_POSITION_Y))?;
        Some(Calibration { x: *x, y: *y })
    }
}

/// From raw touch coordinates to the upright screen's pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TouchMapping {
    pub calibration: Calibration,
    /// For panels whose X wire runs along the screen's height.
    pub swap_xy: bool,
    pub rotation: Rotation,
    /// The upright screen the booth draws (the display's size).
    pub screen: (u32, u32),
}

impl TouchMapping {
    pub fn map(&self, raw_x: i32, raw_y: i32) -> (i32, i32) {
        let c = &self.calibration;
        let (raw_x, raw_y) = if self.swap_xy { (raw_y, raw_x) } else { (raw_x, raw_y) };
        let unit = |v: i32, (lo, hi): (i32, i32)| if hi == lo { 0.0 } else { ((v - lo) as f64 / (hi - lo) as f64).clamp(0.0, 1.0) };
        let (pw, ph) = self.rotation.upright_size(self.screen);
        let px = (unit(raw_x, c.x) * (pw - 1) as f64).round() as u32;
        let py = (unit(raw_y, c.y) * (ph - 1) as f64).round() as u32;
        let (x, y) = self.rotation.source_of(px, py, self.screen);
        (x as i32, y as i32)
    }
}

/// Turns a stream of evdev events into taps.
pub struct TapDetector {
    mapping: TouchMapping,
    debounce: Duration,
    slot: i32,
    x: Option<i32>,
    y: Option<i32>,
    down: bool,
    reported_down: bool,
    last_up: Option<Duration>,
}

impl TapDetector {
    pub fn new(mapping: TouchMapping, debounce: Duration) -> Self {
        Self { mapping, debounce, slot: 0, x: None, y: None, down: false, reported_down: false, last_up: None }
    }

    /// One event; `time` is its timestamp. Returns a tap when a frame (SYN_REPORT) completes a
    /// new touch-down.
    pub fn feed(&mut self, time: Duration, type_: u16, code: u16, value: i32) -> Option<InputEvent> {
        match (type_, code) {
            (EV_ABS, ABS_X) => self.x = Some(value),
            (EV_ABS, ABS_Y) => self.y = Some(value),
            (EV_ABS, ABS_MT_SLOT) => self.slot = value,
            // Multi-touch panels: only the first finger taps.
            (EV_ABS, ABS_MT_POSITION_X) if self.slot == 0 => self.x = Some(value),
            (EV_ABS, ABS_MT_POSITION_Y) if self.slot == 0 => self.y = Some(value),
            (EV_ABS, ABS_MT_TRACKING_ID) if self.slot == 0 => self.down = value >= 0,
            (EV_KEY, BTN_TOUCH) => self.down = value != 0,
            (EV_SYN, SYN_REPORT) => return self.frame(time),
            _ => {}
        }
        None
    }

    fn frame(&mut self, time: Duration) -> Option<InputEvent> {
        if !self.down {
            if self.reported_down {
                self.last_up = Some(time);
            }
            self.reported_down = false;
            return None;
        }
        if self.reported_down {
            return None; // a finger resting or sliding is one tap
        }
        let (x, y) = (self.x?, self.y?);
        self.reported_down = true;
        if self.last_up.is_some_and(|up| time.saturating_sub(up) < self.debounce) {
            tracing::debug!("touch bounce ignored");
            return None;
        }
        let (x, y) = self.mapping.map(x, y);
        Some(InputEvent::Touch { x, y })
    }
}

/// A recorded event stream in evemu-record's text format: `A:` lines give axis ranges, `E:` lines
/// the events (`E: <sec>.<usec> <type hex> <code hex> <value>`).
#[derive(Debug, Clone, Default)]
pub struct Recording {
    pub axes: HashMap<u16, (i32, i32)>,
    pub events: Vec<(Duration, u16, u16, i32)>,
}

impl Recording {
    pub fn parse(text: &str) -> Result<Recording, String> {
        let mut rec = Recording::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            let bad = |what: &str| format!("line {}: {what}: {line:?}", i + 1);
            if let Some(rest) = line.strip_prefix("A:") {
                let f: Vec<&str> = rest.split_whitespace().collect();
                let (Some(code), Some(min), Some(max)) = (f.first(), f.get(1), f.get(2)) else {
                    return Err(bad("an axis needs code, min and max"));
                };
                let code = u16::from_str_radix(code, 16).map_err(|_| bad("axis code is not hex"))?;
                let min = min.parse().map_err(|_| bad("axis min is not a number"))?;
                let max = max.parse().map_err(|_| bad("axis max is not a number"))?;
                rec.axes.insert(code, (min, max));
            } else if let Some(rest) = line.strip_prefix("E:") {
                let f: Vec<&str> = rest.split_whitespace().collect();
                if f.len() != 4 {
                    return Err(bad("an event needs time, type, code and value"));
                }
                let (sec, usec) = f[0].split_once('.').ok_or_else(|| bad("time is not sec.usec"))?;
                let sec: u64 = sec.parse().map_err(|_| bad("time is not sec.usec"))?;
                let usec: u64 = usec.parse().map_err(|_| bad("time is not sec.usec"))?;
                let type_ = u16::from_str_radix(f[1], 16).map_err(|_| bad("type is not hex"))?;
                let code = u16::from_str_radix(f[2], 16).map_err(|_| bad("code is not hex"))?;
                let value = f[3].parse().map_err(|_| bad("value is not a number"))?;
                rec.events.push((Duration::from_secs(sec) + Duration::from_micros(usec), type_, code, value));
            }
        }
        Ok(rec)
    }

    /// The taps this recording makes through `detector`.
    pub fn taps(&self, detector: &mut TapDetector) -> Vec<InputEvent> {
        self.events.iter().filter_map(|&(t, ty, code, v)| detector.feed(t, ty, code, v)).collect()
    }
}

/// How a touchscreen is set up in the config.
#[derive(Debug, Clone, PartialEq)]
pub struct TouchSettings {
    pub path: PathBuf,
    /// Measured edges; `None` takes the ranges the device reports.
    pub calibration: Option<Calibration>,
    pub swap_xy: bool,
    pub rotation: Rotation,
    pub debounce: Duration,
}

/// A live evdev touchscreen. An unplugged panel is logged and reopened every second; it is
/// never a fault the visitor sees.
pub struct TouchInput {
    settings: TouchSettings,
    screen: (u32, u32),
    device: Reconnecting<(evdev::Device, TapDetector)>,
    taps: VecDeque<InputEvent>,
}

impl TouchInput {
    /// Opens the panel now; an error names the device and the fix.
    pub fn open(settings: TouchSettings, screen: (u32, u32)) -> DeviceResult<Self> {
        let device = Self::connect(&settings, screen)?;
        Ok(Self { settings, screen, device: Reconnecting::open(device), taps: VecDeque::new() })
    }

    fn connect(s: &TouchSettings, screen: (u32, u32)) -> DeviceResult<(evdev::Device, TapDetector)> {
        let name = format!("touchscreen {}", s.path.display());
        let dev = evdev::Device::open(&s.path).map_err(|e| {
            DeviceError::new(
                &name,
                format!("cannot open: {e}"),
                "check the panel's USB/I2C cable, the path (ls -l /dev/input/by-id) and that the booth's user is in the input group",
            )
        })?;
        let axes: HashMap<u16, (i32, i32)> =
            dev.get_absinfo().map(|it| it.map(|(code, info)| (code.0, (info.minimum(), info.maximum()))).collect()).unwrap_or_default();
        let calibration = match s.calibration.or_else(|| Calibration::from_axes(&axes)) {
            Some(c) => c,
            None => {
                return Err(DeviceError::new(
                    &name,
                    format!("{} has no X/Y axes: it is not a touchscreen", dev.name().unwrap_or("the device")),
                    "pick the panel's event device (evtest lists them)",
                ))
            }
        };
        dev.set_nonblocking(true).map_err(|e| DeviceError::new(&name, format!("cannot set non-blocking: {e}"), "check the device"))?;
        tracing::info!(device = %name, panel = dev.name().unwrap_or("?"), ?calibration, "touchscreen opened");
        let mapping = TouchMapping { calibration, swap_xy: s.swap_xy, rotation: s.rotation, screen };
        Ok((dev, TapDetector::new(mapping, s.debounce)))
    }

    fn read(&mut self) {
        let Some((dev, detector)) = self.device.get_mut() else { return };
        let failed = match dev.fetch_events() {
            Ok(events) => {
                for ev in events {
                    let t = ev.timestamp().duration_since(UNIX_EPOCH).unwrap_or_default();
                    if let Some(tap) = detector.feed(t, ev.event_type().0, ev.code(), ev.value()) {
                        self.taps.push_back(tap);
                    }
                }
                None
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
            Err(e) => Some(e),
        };
        match failed {
            None => {}
            Some(e) => {
                tracing::warn!(path = %self.settings.path.display(), error = %e, "touchscreen lost; reconnecting");
                self.device.lost();
            }
        }
    }
}

impl Input for TouchInput {
    fn name(&self) -> String {
        format!("touchscreen {}", self.settings.path.display())
    }

    fn poll(&mut self, _screen: &str) -> DeviceResult<Option<InputEvent>> {
        match self.device.reopen_if_due(|| Self::connect(&self.settings, self.screen)) {
            Reopen::AlreadyOpen | Reopen::NotDue | Reopen::Reopened => {}
            Reopen::StillAbsent(e) => tracing::debug!(error = %e, "touchscreen still absent"),
        }
        self.read();
        Ok(self.taps.pop_front())
    }
}

/// Opens a touchscreen if it is there; otherwise the booth starts and picks it up when it appears.
pub fn open_or_wait(settings: TouchSettings, screen: (u32, u32)) -> TouchInput {
    TouchInput::open(settings.clone(), screen).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "touchscreen not there yet; the booth starts and keeps looking");
        TouchInput { settings, screen, device: Reconnecting::absent(), taps: VecDeque::new() }
    })
}

/// Reads a recording file.
pub fn read_recording(path: &Path) -> DeviceResult<Recording> {
    let device = format!("touch recording {}", path.display());
    let text = std::fs::read_to_string(path)
        .map_err(|e| DeviceError::new(&device, format!("cannot read: {e}"), "record one with evemu-record"))?;
    Recording::parse(&text).map_err(|e| DeviceError::new(&device, e, "use evemu-record's text format"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_calibrates_swaps_and_rotates() {
        let m = |x: (i32, i32), y: (i32, i32), swap_xy, rotation| TouchMapping {
            calibration: Calibration { x, y },
            swap_xy,
            rotation,
            screen: (101, 201),
        };
        let plain = m((0, 1000), (0, 2000), false, Rotation::R0);
        assert_eq!(plain.map(0, 0), (0, 0));
        assert_eq!(plain.map(1000, 2000), (100, 200));
        assert_eq!(plain.map(500, 500), (50, 50));
        assert_eq!(plain.map(-40, 9999), (0, 200), "outside the calibrated edges clamps");
        let reversed = m((1000, 0), (0, 2000), false, Rotation::R0);
        assert_eq!(reversed.map(1000, 0), (0, 0));
        let swapped = m((0, 1000), (0, 2000), true, Rotation::R0);
        assert_eq!(swapped.map(2000, 0), (0, 200), "raw y runs along the screen's x");
        // A landscape panel (201 wide, 101 high) turned 90° clockwise shows a 101x201 upright screen:
        // the upright top-left sits at the panel's top-right corner.
        let turned = m((0, 2000), (0, 1000), false, Rotation::R90);
        assert_eq!(turned.map(2000, 0), (0, 0));
        assert_eq!(turned.map(0, 0), (0, 200));
        assert_eq!(turned.map(0, 1000), (100, 200));
    }

    #[test]
    fn debounce_ignores_a_bounce_but_not_a_second_tap() {
        let mapping = TouchMapping {
            calibration: Calibration { x: (0, 100), y: (0, 100) },
            swap_xy: false,
            rotation: Rotation::R0,
            screen: (101, 101),
        };
        let mut d = TapDetector::new(mapping, Duration::from_millis(100));
        let ms = Duration::from_millis;
        let mut touch = |t: u64, down: i32, x: i32| {
            d.feed(ms(t), EV_ABS, ABS_X, x);
            d.feed(ms(t), EV_ABS, ABS_Y, 10);
            d.feed(ms(t), EV_KEY, BTN_TOUCH, down);
            d.feed(ms(t), EV_SYN, SYN_REPORT, 0)
        };
        assert_eq!(touch(0, 1, 5), Some(InputEvent::Touch { x: 5, y: 10 }));
        assert_eq!(touch(10, 1, 7), None, "a finger sliding is the same tap");
        assert_eq!(touch(50, 0, 7), None);
        assert_eq!(touch(80, 1, 7), None, "30 ms after the lift: bounce");
        assert_eq!(touch(90, 0, 7), None);
        assert_eq!(touch(400, 1, 9), Some(InputEvent::Touch { x: 9, y: 10 }));
    }

    #[test]
    fn bad_recordings_name_the_line() {
        assert!(Recording::parse("E: 0.1 0003 zz 5\n").unwrap_err().contains("line 1"));
        assert!(Recording::parse("A: 00 0\n").unwrap_err().contains("min and max"));
    }
}
