//! The booth: the visitor's journey ([`state`]) driven over the devices ([`runner`]), drawn
//! and touched through its screens ([`screens`]).

pub mod narration;
pub mod runner;
pub mod screens;
pub mod state;

pub use runner::{Booth, RunReport, StopWhen};
pub use state::{Event, PrintStatus, State};
