//! A1111's "parameters" text (the infotext) and the PNG that carries it, so the settings travel
//! with the picture: written by `keepsake generate` and the API, read back by PNG Info tools.

use std::io::Write;
use std::path::Path;

use atomic_write_file::AtomicWriteFile;
use image::RgbImage;
use keepsake_models::pipeline::Img2ImgParams;

/// A1111's infotext: prompt, negative prompt, then the settings line (with the denoising
/// strength for img2img only).
pub fn infotext(p: &Img2ImgParams, model_name: &str, img2img: bool) -> String {
    let mut text = p.prompt.clone();
    if !p.negative_prompt.is_empty() {
        text.push_str(&format!("\nNegative prompt: {}", p.negative_prompt));
    }
    text.push_str(&format!(
        "\nSteps: {}, Sampler: {}, CFG scale: {}, Seed: {}, Size: {}x{}, Model: {}",
        p.steps,
        p.scheduler.a1111_name(),
        p.cfg,
        p.seed,
        p.width,
        p.height,
        model_name,
    ));
    if img2img {
        text.push_str(&format!(", Denoising strength: {}", p.strength));
    }
    if p.clip_skip > 1 {
        text.push_str(&format!(", Clip skip: {}", p.clip_skip));
    }
    text
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

/// Reads the `parameters` text of a PNG (tEXt or iTXt).
pub fn read_png_parameters(path: &Path) -> std::io::Result<Option<String>> {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path)?));
    let reader = decoder.read_info().map_err(std::io::Error::other)?;
    let info = reader.info();
    if let Some(t) = info.uncompressed_latin1_text.iter().find(|t| t.keyword == "parameters") {
        return Ok(Some(t.text.clone()));
    }
    Ok(info.utf8_text.iter().find(|t| t.keyword == "parameters").and_then(|t| t.get_text().ok()))
}
