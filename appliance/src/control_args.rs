//! `--controlnet model=DIR,module=none,image=FILE,weight=W,start=S,end=E,resize=crop`: one
//! ControlNet unit on the command line, and fitting its control image to the picture as A1111's
//! resize modes do.

use std::path::PathBuf;

use image::{imageops, RgbImage};

/// How a control image of another shape is fitted to the picture (A1111's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeMode {
    /// Stretched to the picture's size.
    JustResize,
    /// Scaled to cover the picture, the overflow cut off evenly (A1111's default).
    CropAndResize,
    /// Scaled to fit inside, the rest filled black (no control there).
    ResizeAndFill,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ControlSpec {
    pub model: PathBuf,
    pub image: PathBuf,
    pub weight: f32,
    pub start: f64,
    pub end: f64,
    pub resize: ResizeMode,
}

/// Parses one `--controlnet` value.
pub fn parse_controlnet(s: &str) -> Result<ControlSpec, String> {
    let mut model = None;
    let mut image = None;
    let mut module = "none".to_string();
    let (mut weight, mut start, mut end, mut resize) = (1.0f32, 0.0f64, 1.0f64, ResizeMode::CropAndResize);
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').ok_or_else(|| format!("{part:?}: write key=value (model=DIR,image=FILE,weight=0.8)"))?;
        let number = |v: &str| v.parse::<f64>().map_err(|_| format!("{key}={v}: not a number"));
        match key {
            "model" => model = Some(PathBuf::from(value)),
            "image" => image = Some(PathBuf::from(value)),
            "module" => module = value.to_string(),
            "weight" => weight = number(value)? as f32,
            "start" => start = number(value)?,
            "end" => end = number(value)?,
            "resize" => {
                resize = match value {
                    "just" | "just-resize" => ResizeMode::JustResize,
                    "crop" | "crop-and-resize" => ResizeMode::CropAndResize,
                    "fill" | "resize-and-fill" => ResizeMode::ResizeAndFill,
                    other => return Err(format!("resize={other}: use just, crop or fill")),
                }
            }
            "mode" if value == "balanced" => {}
            "mode" => return Err(format!("mode={value}: only balanced is supported so far")),
            other => return Err(format!("unknown key {other:?} (use model, image, module, weight, start, end, resize, mode)")),
        }
    }
    if module != "none" {
        return Err(format!(
            "module={module}: the built-in preprocessors are not there yet; make the control image elsewhere and pass it with module=none,image=FILE"
        ));
    }
    if !(0.0..=1.0).contains(&start) || !(0.0..=1.0).contains(&end) || start >= end {
        return Err(format!("start={start},end={end}: use fractions of the steps with 0 <= start < end <= 1"));
    }
    let model = model.ok_or("model=DIR is missing (a diffusers ControlNet folder)")?;
    let image = image.ok_or("image=FILE is missing (module=none uses the control image as it is)")?;
    Ok(ControlSpec { model, image, weight, start, end, resize })
}

/// `control` fitted to `width` x `height` as `mode` says.
pub fn fit(control: &RgbImage, width: u32, height: u32, mode: ResizeMode) -> RgbImage {
    let (w, h) = control.dimensions();
    if (w, h) == (width, height) {
        return control.clone();
    }
    let filter = imageops::FilterType::Lanczos3;
    match mode {
        ResizeMode::JustResize => imageops::resize(control, width, height, filter),
        ResizeMode::CropAndResize | ResizeMode::ResizeAndFill => {
            let (sx, sy) = (width as f64 / w as f64, height as f64 / h as f64);
            let scale = if mode == ResizeMode::CropAndResize { sx.max(sy) } else { sx.min(sy) };
            let (nw, nh) = (((w as f64 * scale).round() as u32).max(1), ((h as f64 * scale).round() as u32).max(1));
            let scaled = imageops::resize(control, nw, nh, filter);
            let mut out = RgbImage::new(width, height);
            // Centred: a negative offset crops, a positive one leaves a black border.
            let (ox, oy) = ((width as i64 - nw as i64) / 2, (height as i64 - nh as i64) / 2);
            imageops::overlay(&mut out, &scaled, ox, oy);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_spec_is_read_with_defaults_and_checked() {
        let s = parse_controlnet("model=/m/cn,image=pose.png,weight=0.7,start=0.1,end=0.9,resize=fill").unwrap();
        assert_eq!(
            s,
            ControlSpec {
                model: "/m/cn".into(),
                image: "pose.png".into(),
                weight: 0.7,
                start: 0.1,
                end: 0.9,
                resize: ResizeMode::ResizeAndFill
            }
        );
        let d = parse_controlnet("model=cn,image=p.png").unwrap();
        assert_eq!((d.weight, d.start, d.end, d.resize), (1.0, 0.0, 1.0, ResizeMode::CropAndResize));
        assert!(parse_controlnet("model=cn,image=p.png,module=openpose").unwrap_err().contains("module=none"));
        assert!(parse_controlnet("model=cn,image=p.png,start=0.8,end=0.2").unwrap_err().contains("start < end"));
        assert!(parse_controlnet("image=p.png").unwrap_err().contains("model=DIR"));
        assert!(parse_controlnet("model=cn,image=p.png,colour=red").unwrap_err().contains("unknown key"));
        assert!(parse_controlnet("model=cn,image=p.png,mode=prompt").unwrap_err().contains("balanced"));
    }

    #[test]
    fn resize_modes_crop_stretch_or_pad_like_a1111() {
        // A 40x10 white bar onto a 20x20 picture.
        let bar = RgbImage::from_pixel(40, 10, image::Rgb([255, 255, 255]));
        let just = fit(&bar, 20, 20, ResizeMode::JustResize);
        assert_eq!(just.get_pixel(10, 0)[0], 255);
        let crop = fit(&bar, 20, 20, ResizeMode::CropAndResize);
        assert!(crop.pixels().all(|p| p[0] > 250), "covers the whole picture");
        let fill = fit(&bar, 20, 20, ResizeMode::ResizeAndFill);
        assert_eq!(fill.get_pixel(10, 0)[0], 0, "black above");
        assert!(fill.get_pixel(10, 10)[0] > 250, "the bar in the middle");
        assert_eq!(fill.get_pixel(10, 19)[0], 0, "black below");
    }
}
