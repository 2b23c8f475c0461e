//! Fitting a control image to the picture's size as A1111's ControlNet resize modes do.

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
