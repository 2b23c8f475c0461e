//! The booth: the visitor's journey ([`state`]) driven over the devices ([`runner`]).

pub mod devices;
pub mod runner;
pub mod state;

pub use devices::Devices;
pub use runner::{Booth, RunReport, StopWhen};
pub use state::{Event, PrintStatus, State};
