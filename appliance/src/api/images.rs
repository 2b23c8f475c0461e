//! Pictures in and out of the API: base64 (raw or a data URL) to pixels, with limits so a
//! request cannot make the booth allocate without bound; pixels to base64 PNG.

use base64::Engine as _;
use image::RgbImage;

/// The largest picture side accepted (A1111's own limit is 2048 for generation; photos from
/// phones are larger).
const MAX_SIDE: u32 = 8192;

/// Why a picture sent to the API cannot be used; each says what to send instead.
#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    #[error("not base64 ({0}): send the picture as base64 PNG or JPEG, raw or as a data URL")]
    NotBase64(base64::DecodeError),
    #[error("cannot read the picture: {0}")]
    Unreadable(std::io::Error),
    #[error("not a picture this booth reads ({0}): use PNG or JPEG up to {MAX_SIDE} px a side")]
    NotAPicture(image::ImageError),
    #[error("the picture is empty")]
    Empty,
}

/// The bytes of base64 text: raw, or a data URL (`data:image/png;base64,...`).
pub fn decode_base64(text: &str) -> Result<Vec<u8>, PictureError> {
    let data = match text.split_once(";base64,") {
        Some((head, data)) if head.starts_with("data:") => data,
        _ => text,
    };
    base64::engine::general_purpose::STANDARD.decode(data.trim().as_bytes()).map_err(PictureError::NotBase64)
}

/// A picture from base64 text: raw, or a data URL (`data:image/png;base64,...`).
pub fn decode_image(text: &str) -> Result<RgbImage, PictureError> {
    let bytes = decode_base64(text)?;
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format().map_err(PictureError::Unreadable)?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(512 << 20);
    reader.limits(limits);
    let picture = reader.decode().map_err(PictureError::NotAPicture)?;
    if picture.width() == 0 || picture.height() == 0 {
        return Err(PictureError::Empty);
    }
    Ok(picture.to_rgb8())
}

/// Base64 of PNG bytes.
pub fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A picture as base64 PNG without text.
pub fn png_base64(image: &RgbImage) -> String {
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).expect("PNG encoding into memory");
    encode_base64(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_come_raw_or_as_data_urls_and_junk_is_named() {
        let picture = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 40, y as u8 * 80, 7]));
        let raw = png_base64(&picture);
        assert_eq!(decode_image(&raw).unwrap(), picture);
        assert_eq!(decode_image(&format!("data:image/png;base64,{raw}")).unwrap(), picture);
        assert!(decode_image("%%%").unwrap_err().to_string().contains("not base64"));
        assert!(decode_image(&encode_base64(b"<svg></svg>")).unwrap_err().to_string().contains("not a picture"));
    }
}
