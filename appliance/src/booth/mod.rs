//! The booth: the visitor's journey ([`state`]) driven over the devices ([`runner`]).

pub mod runner;
pub mod state;

pub use runner::{Booth, RunReport, StopWhen};
pub use state::{Event, PrintStatus, State};
