//! The appliance end to end: the real `keepsake` binary (CARGO_BIN_EXE_keepsake) and its library
//! through whole visits, faults, the CLI, sync with a real memorial server, the A1111 API, the
//! README's commands and the code's shape. One test binary for all of them: each binary links the
//! whole appliance (~200 MB and a long link apiece), and eleven of them filled a CI disk.

mod a1111_api;
mod archive_kill;
mod cli;
mod demo;
mod faults;
mod generate;
mod models_cli;
mod readme;
mod structure;
mod sync;
mod systemd;
