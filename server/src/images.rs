//! What the server accepts as a picture: a PNG or a baseline JPEG that decodes whole, within
//! size limits, and carries nothing but the picture. The type comes from the bytes, never from
//! a name or a header. A file that is also something else (a ZIP or HTML page appended after the
//! image's end, or script hidden in a comment or text chunk: a "polyglot") is refused, so nothing
//! the server hands out can be read by a browser or an unzipper as anything but a picture.

use std::io::Cursor;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct Rejected(pub String);

/// Pictures larger than this on a side are refused before decoding (a booth makes ~1000 px).
pub const MAX_SIDE: u32 = 8192;

fn reject<T>(why: impl Into<String>) -> Result<T, Rejected> {
    Err(Rejected(why.into()))
}

pub fn check(bytes: &[u8]) -> Result<Checked, Rejected> {
    let content_type = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        check_png_structure(bytes)?;
        "image/png"
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        check_jpeg_structure(bytes)?;
        "image/jpeg"
    } else {
        return reject("not a PNG or JPEG picture");
    };
    if let Some(pos) = markup_in(bytes) {
        return reject(format!("the file carries markup at byte {pos} (not only a picture)"));
    }
    let format = if content_type == "image/png" { image::ImageFormat::Png } else { image::ImageFormat::Jpeg };
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(512 << 20);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| Rejected(format!("the picture does not decode: {e}")))?;
    if img.width() < 16 || img.height() < 16 {
        return reject(format!("the picture is only {}x{} pixels", img.width(), img.height()));
    }
    Ok(Checked { content_type, width: img.width(), height: img.height() })
}

/// Active content anywhere in the bytes (case-insensitive): what an HTML polyglot hides in a
/// stored deflate block or in entropy-coded data to run script. Only words of 7 or more bytes are
/// looked for: compressed picture data spells a given 7-byte word by chance about once in 10^15
/// positions, while a short one such as `<svg` turns up in roughly one of ten thousand ordinary
/// illustrations, which would refuse a real keepsake.
fn markup_in(bytes: &[u8]) -> Option<usize> {
    const NEEDLES: &[&[u8]] = &[b"<script", b"<iframe", b"<object", b"<!doctype", b"javascript:", b"onerror=", b"<?php "];
    let lower: Vec<u8> = bytes.iter().map(|b| b.to_ascii_lowercase()).collect();
    NEEDLES.iter().filter_map(|n| lower.windows(n.len()).position(|w| w == *n)).min()
}

/// Chunks a picture needs; text chunks and unknown ancillary chunks (where payloads hide) are not
/// among them.
const PNG_CHUNKS: &[&[u8; 4]] =
    &[b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"pHYs", b"sBIT", b"bKGD"];

fn check_png_structure(bytes: &[u8]) -> Result<(), Rejected> {
    let mut at = 8;
    loop {
        let Some(head) = bytes.get(at..at + 8) else { return reject("the PNG ends inside a chunk header") };
        let len = u32::from_be_bytes(head[..4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = head[4..8].try_into().unwrap();
        let Some(data_and_crc) = bytes.get(at + 8..at + 8 + len + 4) else { return reject("the PNG ends inside a chunk") };
        if !PNG_CHUNKS.contains(&&kind) {
            return reject(format!("the PNG has a {:?} chunk (only picture chunks are accepted)", String::from_utf8_lossy(&kind)));
        }
        let crc = u32::from_be_bytes(data_and_crc[len..].try_into().unwrap());
        let mut h = crc32fast::Hasher::new();
        h.update(&kind);
        h.update(&data_and_crc[..len]);
        if h.finalize() != crc {
            return reject(format!("the PNG's {} chunk fails its checksum", String::from_utf8_lossy(&kind)));
        }
        at += 12 + len;
        if &kind == b"IEND" {
            return if at == bytes.len() { Ok(()) } else { reject(format!("{} bytes follow the PNG's end", bytes.len() - at)) };
        }
    }
}

fn check_jpeg_structure(bytes: &[u8]) -> Result<(), Rejected> {
    let mut at = 2;
    loop {
        // Fill bytes (0xFF runs) may precede a marker.
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (bytes.get(at), bytes.get(at + 1)) else {
            return reject("the JPEG's segments are broken");
        };
        at += 2;
        match marker {
            0xD9 => {
                return if at == bytes.len() { Ok(()) } else { reject(format!("{} bytes follow the JPEG's end", bytes.len() - at)) };
            }
            0xD0..=0xD7 | 0x01 => continue,
            0xFE => return reject("the JPEG has a comment segment"),
            0xE0..=0xEF if !matches!(marker, 0xE0 | 0xE1 | 0xE2 | 0xEE) => {
                return reject(format!("the JPEG has an APP{} segment", marker - 0xE0));
            }
            _ => {}
        }
        let Some(len) = bytes.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]) as usize) else {
            return reject("the JPEG ends inside a segment");
        };
        if len < 2 || at + len > bytes.len() {
            return reject("the JPEG ends inside a segment");
        }
        at += len;
        if marker == 0xDA {
            // Entropy-coded data runs to the next marker that is not a stuffed 0xFF00 or a restart.
            loop {
                match (bytes.get(at), bytes.get(at + 1)) {
                    (Some(0xFF), Some(0x00)) | (Some(0xFF), Some(0xD0..=0xD7)) => at += 2,
                    (Some(0xFF), Some(_)) => break,
                    (Some(_), _) => at += 1,
                    (None, _) => return reject("the JPEG ends inside its picture data"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png() -> Vec<u8> {
        let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn jpeg() -> Vec<u8> {
        let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]));
        let mut out = Cursor::new(Vec::new());
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92).encode_image(&img).unwrap();
        out.into_inner()
    }

    #[test]
    fn accepts_what_the_booth_makes() {
        assert_eq!(check(&png()).unwrap(), Checked { content_type: "image/png", width: 64, height: 48 });
        assert_eq!(check(&jpeg()).unwrap(), Checked { content_type: "image/jpeg", width: 64, height: 48 });
    }

    #[test]
    fn refuses_polyglots_and_non_pictures() {
        let mut zip_after = png();
        zip_after.extend_from_slice(b"PK\x03\x04 rest of a zip");
        assert!(check(&zip_after).unwrap_err().0.contains("follow the PNG's end"));
        let mut html_after = jpeg();
        html_after.extend_from_slice(b"<html><script>alert(1)</script>");
        assert!(check(&html_after).is_err());
        // Script in a text chunk before IEND.
        let p = png();
        let iend = p.len() - 12;
        let mut with_text = p[..iend].to_vec();
        let data = b"Comment\0<script>alert(1)</script>";
        with_text.extend_from_slice(&(data.len() as u32).to_be_bytes());
        with_text.extend_from_slice(b"tEXt");
        with_text.extend_from_slice(data);
        let mut h = crc32fast::Hasher::new();
        h.update(b"tEXt");
        h.update(data);
        with_text.extend_from_slice(&h.finalize().to_be_bytes());
        with_text.extend_from_slice(&p[iend..]);
        assert!(check(&with_text).unwrap_err().0.contains("tEXt"));
        // A JPEG comment segment.
        let j = jpeg();
        let mut with_comment = j[..2].to_vec();
        with_comment.extend_from_slice(&[0xFF, 0xFE, 0x00, 0x07, b'h', b'e', b'l', b'l', b'o']);
        with_comment.extend_from_slice(&j[2..]);
        assert!(check(&with_comment).unwrap_err().0.contains("comment"));
        assert!(check(b"<svg xmlns='http://www.w3.org/2000/svg'/>").is_err());
        // Script hidden inside the picture data itself (where a stored deflate block would put it).
        let mut inside = jpeg();
        let n = inside.len();
        inside.splice(n - 2..n - 2, b"<SCRIPT>alert(1)</SCRIPT>".iter().copied());
        assert!(check(&inside).unwrap_err().0.contains("markup"));
        assert!(check(b"GIF89a").is_err());
        assert!(check(&png()[..200]).is_err());
        let mut flipped = png();
        let n = flipped.len();
        flipped[n / 2] ^= 0x55;
        assert!(check(&flipped).is_err(), "a corrupted IDAT fails its CRC");
    }

    #[test]
    fn refuses_huge_declared_sizes_before_decoding() {
        // A PNG header claiming 100000 x 100000 pixels.
        let mut p = png();
        p[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        p[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let mut h = crc32fast::Hasher::new();
        h.update(&p[12..29]);
        let crc = h.finalize().to_be_bytes();
        p[29..33].copy_from_slice(&crc);
        let e = check(&p).unwrap_err().0;
        assert!(e.contains("does not decode"), "{e}");
    }
}
