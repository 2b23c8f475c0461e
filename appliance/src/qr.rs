//! QR codes of share links, for the screen and the printed card.

use image::{Luma, Rgb, RgbImage};
use qrcode::{EcLevel, QrCode};

/// The QR code of `text` as an RGB image, `module_px` pixels per module, with the standard
/// 4-module quiet zone. Medium error correction survives a smudged print.
pub fn qr_image(text: &str, module_px: u32) -> Result<RgbImage, qrcode::types::QrError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)?;
    let luma = code.render::<Luma<u8>>().module_dimensions(module_px.max(1), module_px.max(1)).quiet_zone(true).build();
    Ok(RgbImage::from_fn(luma.width(), luma.height(), |x, y| {
        let v = luma.get_pixel(x, y)[0];
        Rgb([v, v, v])
    }))
}

/// Modules per side (without the quiet zone) for `text`, to size the picture.
pub fn modules(text: &str) -> usize {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map(|c| c.width()).unwrap_or(0)
}
