use std::fmt;

/// A device fault: which device, what went wrong, and what the technician can do about it.
///
/// The booth shows visitors a calm message and logs this one; `fix` is written for the person who
/// installs the box, never for the visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceError {
    pub device: String,
    pub problem: String,
    pub fix: String,
}

impl DeviceError {
    pub fn new(device: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { device: device.into(), problem: problem.into(), fix: fix.into() }
    }
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (fix: {})", self.device, self.problem, self.fix)
    }
}

impl std::error::Error for DeviceError {}

pub type DeviceResult<T> = Result<T, DeviceError>;
