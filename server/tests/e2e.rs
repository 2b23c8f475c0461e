//! The memorial server as a family, a booth and an attacker meet it: real server processes on
//! 127.0.0.1, a real SQLite file, headless Chromium, systemd's own checks. One test binary (each
//! binary is a separate link of the whole server).

mod common;

mod api;
mod browser;
mod pages;
mod security;
mod systemd;
