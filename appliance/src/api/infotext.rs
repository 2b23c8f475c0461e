//! A1111's "parameters" text (the infotext) and the PNG that carries it, so the settings travel
//! with the picture: written by `keepsake generate` and the API, read back by PNG Info tools.

use std::io::Write;
use std::path::Path;

use atomic_write_file::AtomicWriteFile;
use image::RgbImage;
use keepsake_models::noise::NoiseSource;
use keepsake_models::pipeline::Img2ImgParams;

/// A1111's infotext: prompt, negative prompt, then the settings line (with the denoising
/// strength for img2img only).
pub fn infotext(p: &Img2ImgParams, model_name: &str, img2img: bool) -> String {
    let mut text = p.prompt.clone();
    if !p.negative_prompt.is_empty() {
        text.push_str(&format!("\nNegative prompt: {}", p.negative_prompt));
    }
    let sampler = p.scheduler.a1111();
    // As A1111 1.9 and later write it: the schedule apart from the sampler's name.
    let schedule =
        super::samplers::schedule_type(p.scheduler, p.schedule).map_or(String::new(), |s| format!(", Schedule type: {}", s.label()));
    text.push_str(&format!(
        "\nSteps: {}, Sampler: {}{schedule}, CFG scale: {}, Seed: {}, Size: {}x{}, Model: {}",
        p.steps, sampler.name, p.cfg, p.seed, p.width, p.height, model_name,
    ));
    if img2img {
        text.push_str(&format!(", Denoising strength: {}", p.strength));
    }
    if p.clip_skip > 1 {
        text.push_str(&format!(", Clip skip: {}", p.clip_skip));
    }
    // A1111 reads a missing RNG as its GPU default: say which generator drew the noise.
    text.push_str(match p.noise {
        NoiseSource::Cpu(_) => ", RNG: CPU",
        NoiseSource::Nv => ", RNG: NV",
    });
    text
}

/// An infotext read back into its fields as A1111's `parse_generation_parameters` reads it:
/// "Prompt", "Negative prompt", then every "Key: value" of the settings line (quoted values
/// unquoted; "Size: 512x768" as "Size-1" and "Size-2"); a missing "Clip skip" is "1" and a
/// missing "RNG" is A1111's default, "GPU".
pub fn parse(text: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut lines: Vec<&str> = text.trim().split('\n').collect();
    let last = lines.pop().unwrap_or_default();
    let settings = settings_line(last);
    // A last line with fewer than three settings is part of the prompt.
    let settings = if settings.len() < 3 {
        lines.push(last);
        Vec::new()
    } else {
        settings
    };
    let (mut prompt, mut negative, mut in_negative) = (String::new(), String::new(), false);
    for line in lines {
        let mut line = line.trim();
        if let Some(rest) = line.strip_prefix("Negative prompt:") {
            in_negative = true;
            line = rest.trim();
        }
        let target = if in_negative { &mut negative } else { &mut prompt };
        if !target.is_empty() {
            target.push('\n');
        }
        target.push_str(line);
    }
    let mut fields = serde_json::Map::new();
    fields.insert("Prompt".into(), prompt.into());
    fields.insert("Negative prompt".into(), negative.into());
    for (key, value) in settings {
        match value.split_once('x').filter(|(w, h)| [w, h].iter().all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))) {
            Some((w, h)) => {
                fields.insert(format!("{key}-1"), w.into());
                fields.insert(format!("{key}-2"), h.into());
            }
            None => {
                fields.insert(key, value.into());
            }
        }
    }
    fields.entry("Clip skip").or_insert("1".into());
    fields.entry("RNG").or_insert("GPU".into());
    fields
}

/// The "Key: value, Key: \"quoted, value\"" pairs of a settings line, in order.
fn settings_line(line: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = line;
    while let Some((key, after)) = rest.split_once(':') {
        let key = key.trim().trim_start_matches(',').trim();
        let after = after.trim_start();
        let (value, next) = if after.starts_with('"') {
            // A quoted value runs to the next unescaped quote; it is JSON-unquoted.
            let bytes = after.as_bytes();
            let mut end = 1;
            while end < bytes.len() && bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            let quoted = &after[..(end + 1).min(after.len())];
            let value = serde_json::from_str::<String>(quoted).unwrap_or_else(|_| quoted.to_string());
            (value, after[(end + 1).min(after.len())..].trim_start().trim_start_matches(','))
        } else {
            match after.split_once(',') {
                Some((v, next)) => (v.trim().to_string(), next),
                None => (after.trim().to_string(), ""),
            }
        };
        if key.is_empty() || !key.chars().next().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            break;
        }
        pairs.push((key.to_string(), value));
        rest = next;
    }
    pairs
}

/// The text chunks of a PNG (tEXt, zTXt and iTXt), by keyword.
pub fn png_text_chunks(bytes: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, png::DecodingError> {
    let mut chunks = serde_json::Map::new();
    let reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info()?;
    let info = reader.info();
    for t in &info.uncompressed_latin1_text {
        chunks.insert(t.keyword.clone(), t.text.clone().into());
    }
    for t in &info.compressed_latin1_text {
        if let Ok(text) = t.get_text() {
            chunks.insert(t.keyword.clone(), text.into());
        }
    }
    for t in &info.utf8_text {
        if let Ok(text) = t.get_text() {
            chunks.insert(t.keyword.clone(), text.into());
        }
    }
    Ok(chunks)
}

/// `image` as PNG with a `parameters` text chunk (iTXt when it is not Latin-1, as PIL does).
pub fn png_with_parameters(image: &RgbImage, parameters: &str) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, image.width(), image.height());
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    if parameters.chars().all(|c| (c as u32) < 256) {
        encoder.add_text_chunk("parameters".into(), parameters.into()).map_err(std::io::Error::other)?;
    } else {
        encoder.add_itxt_chunk("parameters".into(), parameters.into()).map_err(std::io::Error::other)?;
    }
    let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
    writer.write_image_data(image.as_raw()).map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)?;
    Ok(bytes)
}

/// Writes `image` as PNG with a `parameters` text chunk, atomically.
pub fn write_png_with_parameters(image: &RgbImage, parameters: &str, path: &Path) -> std::io::Result<()> {
    let bytes = png_with_parameters(image, parameters)?;
    let mut file = AtomicWriteFile::open(path)?;
    file.write_all(&bytes)?;
    file.commit()
}

/// Reads the `parameters` text of a PNG file.
pub fn read_png_parameters(path: &Path) -> std::io::Result<Option<String>> {
    let mut chunks = png_text_chunks(&std::fs::read(path)?).map_err(std::io::Error::other)?;
    Ok(chunks.remove("parameters").and_then(|v| v.as_str().map(str::to_string)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_infotext_reads_back_into_a1111s_fields() {
        let text = "a warm portrait, (smile:1.2)\nsecond line\nNegative prompt: blurry\nSteps: 20, Sampler: DPM++ 2M, \
                    Schedule type: Karras, CFG scale: 7, Seed: 42, Size: 512x768, Model: sd-tiny, \
                    Lora hashes: \"kohya: 0a1b, other: 2c3d\", Denoising strength: 0.6, RNG: CPU";
        let f = parse(text);
        assert_eq!(f["Prompt"], json!("a warm portrait, (smile:1.2)\nsecond line"));
        assert_eq!(f["Negative prompt"], json!("blurry"));
        assert_eq!((&f["Steps"], &f["Sampler"], &f["Schedule type"]), (&json!("20"), &json!("DPM++ 2M"), &json!("Karras")));
        assert_eq!((&f["Size-1"], &f["Size-2"]), (&json!("512"), &json!("768")));
        assert_eq!(f["Lora hashes"], json!("kohya: 0a1b, other: 2c3d"));
        assert_eq!((&f["Denoising strength"], &f["RNG"], &f["Clip skip"]), (&json!("0.6"), &json!("CPU"), &json!("1")));
        // A prompt alone: no settings line, A1111's defaults.
        let f = parse("just a prompt: with a colon");
        assert_eq!((&f["Prompt"], &f["RNG"]), (&json!("just a prompt: with a colon"), &json!("GPU")));
    }

    #[test]
    fn the_text_chunks_of_a_png_are_read_and_other_files_have_none() {
        let png = png_with_parameters(&RgbImage::new(2, 2), "a prompt\nSteps: 1, Seed: 2, Size: 2x2").unwrap();
        assert_eq!(png_text_chunks(&png).unwrap()["parameters"], json!("a prompt\nSteps: 1, Seed: 2, Size: 2x2"));
        let korean = png_with_parameters(&RgbImage::new(2, 2), "할머니의 정원").unwrap();
        assert_eq!(png_text_chunks(&korean).unwrap()["parameters"], json!("할머니의 정원"));
        assert!(png_text_chunks(b"GIF89a").is_err());
    }
}
