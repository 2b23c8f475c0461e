//! The subcommands beside `keepsake run` (the booth): each reads its arguments, does its one job
//! through the layers below and says what it did. Nothing else in the crate imports this module.

pub mod bench;
pub mod control_args;
pub mod demo;
pub mod doctor;
pub mod generate;
pub mod models;
pub mod preprocess;
pub mod serve;
pub mod sync;
