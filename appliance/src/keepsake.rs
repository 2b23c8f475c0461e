//! One visitor's keepsake: the photo, the illustration and what is said and printed with them.

use std::sync::Arc;

use image::RgbImage;
use serde::{Deserialize, Serialize};

/// What the archive stores beside the pictures (`meta.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeepsakeMeta {
    pub id: String,
    /// RFC 3339, local time of the booth.
    pub created_at: String,
    pub memorial_name: String,
    pub caption: String,
    pub message: String,
    pub language: String,
    pub share_url: String,
    /// The visitor said yes on the consent screen: the original photo may go to the memorial
    /// server for the family. Without it only the illustration leaves the booth.
    #[serde(default)]
    pub share_photo: bool,
    /// The visitor said yes to the slideshow question: the illustration may appear in this
    /// booth's idle slideshow. Entries from before the question was asked are never shown.
    #[serde(default)]
    pub in_slideshow: bool,
    /// Which stylizer made the illustration (e.g. "illustration filter on CPU").
    pub made_by: String,
    pub style: String,
    pub photo: FileInfo,
    pub illustration: FileInfo,
}

/// A file of the entry with its size and checksum, so a reader can tell it is whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub file: String,
    pub bytes: u64,
    pub crc32: u32,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone)]
pub struct Keepsake {
    pub meta: KeepsakeMeta,
    pub photo: Arc<RgbImage>,
    pub illustration: Arc<RgbImage>,
}

/// A new keepsake id: 128 random bits, so a share link cannot be guessed.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The link a visitor scans to fetch their keepsake from the memorial server.
pub fn share_url(server_url: &str, id: &str) -> String {
    keepsake_protocol::share_url(server_url, id)
}
