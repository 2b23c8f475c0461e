//! The memorial server: keeps every booth's keepsakes exactly once, shows them to the family,
//! and hands each visitor theirs by the QR code on their card.

pub mod api;
pub mod app;
pub mod blobs;
pub mod cookies;
pub mod db;
pub mod i18n;
pub mod images;
pub mod pages;
pub mod state;
pub mod store;
pub mod time_zone;
pub mod tokens;
