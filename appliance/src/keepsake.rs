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

/// The long side a keepsake picture has at least: printed at 300 dpi it fills the card's
/// picture area, and a phone shows it sharp.
pub const MIN_LONG_SIDE: u32 = 1024;

/// `picture` at [`MIN_LONG_SIDE`] at least: a smaller one (a diffusion model's 768 px, a small
/// camera's photo) is enlarged with a Lanczos filter, aspect kept; a larger one is kept as it is.
pub fn full_size(picture: RgbImage) -> RgbImage {
    let (w, h) = picture.dimensions();
    let long = w.max(h);
    if long >= MIN_LONG_SIDE || long == 0 {
        return picture;
    }
    let scale = MIN_LONG_SIDE as f64 / long as f64;
    let (tw, th) = (((w as f64 * scale).round() as u32).max(1), ((h as f64 * scale).round() as u32).max(1));
    image::imageops::resize(&picture, tw, th, image::imageops::FilterType::Lanczos3)
}

/// A new keepsake id: 128 random bits, so a share link cannot be guessed.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The link a visitor scans to fetch their keepsake from the memorial server.
pub fn share_url(server_url: &str, id: &str) -> String {
    keepsake_protocol::share_url(server_url, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keepsake_picture_is_at_least_1024_on_its_long_side() {
        let small = full_size(RgbImage::from_pixel(576, 768, image::Rgb([200, 100, 50])));
        assert_eq!(small.dimensions(), (768, 1024));
        assert!(small.pixels().all(|p| p.0.iter().zip([200, 100, 50]).all(|(a, b)| a.abs_diff(b) <= 1)), "a flat picture stays flat");
        let wide = full_size(RgbImage::new(640, 480));
        assert_eq!(wide.dimensions(), (1024, 768));
        let large = RgbImage::from_pixel(1200, 1600, image::Rgb([1, 2, 3]));
        assert_eq!(full_size(large.clone()), large, "never made smaller");
    }
}
