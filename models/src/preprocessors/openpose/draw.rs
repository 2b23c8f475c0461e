//! The OpenPose skeleton picture ControlNet's openpose models were trained on: limbs as filled
//! ellipses in 60% of their colour, joints as filled discs of radius 4, in OpenPose's 18 colours.
//!
//! Drawn with OpenCV's own raster rules (see [`crate::preprocessors::opencv_draw`]), so the
//! control image is the one A1111 makes.

use image::{Rgb, RgbImage};

use super::body::LIMBS;
use crate::preprocessors::opencv_draw::{ellipse_polygon, fill_circle, fill_convex_poly};

/// OpenPose's part colours (channel order as the picture's).
pub const COLORS: [[u8; 3]; 18] = [
    [255, 0, 0],
    [255, 85, 0],
    [255, 170, 0],
    [255, 255, 0],
    [170, 255, 0],
    [85, 255, 0],
    [0, 255, 0],
    [0, 255, 85],
    [0, 255, 170],
    [0, 255, 255],
    [0, 170, 255],
    [0, 85, 255],
    [0, 0, 255],
    [85, 0, 255],
    [170, 0, 255],
    [255, 0, 255],
    [255, 0, 170],
    [255, 0, 85],
];

const STICK_WIDTH: i32 = 4;
/// Draws one person's skeleton on `canvas`; `keypoints` are positions as fractions of the
/// picture's width and height (controlnet_aux's normalised keypoints).
pub fn draw_body(canvas: &mut RgbImage, keypoints: &[Option<(f64, f64)>; 18]) {
    let (w, h) = (canvas.width() as f64, canvas.height() as f64);
    for (limb, color) in LIMBS.iter().take(17).zip(COLORS) {
        let (Some(k1), Some(k2)) = (keypoints[limb[0] - 1], keypoints[limb[1] - 1]) else { continue };
        let (y0, y1) = (k1.0 * w, k2.0 * w);
        let (x0, x1) = (k1.1 * h, k2.1 * h);
        let (mx, my) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
        let length = ((x0 - x1).powi(2) + (y0 - y1).powi(2)).powf(0.5);
        let angle = (x0 - x1).atan2(y0 - y1).to_degrees();
        let polygon = ellipse_polygon((my as i32, mx as i32), ((length / 2.0) as i32, STICK_WIDTH), angle as i32);
        let dim = Rgb(color.map(|c| (c as f64 * 0.6) as u8));
        fill_convex_poly(canvas, &polygon, dim);
    }
    for (k, color) in keypoints.iter().zip(COLORS) {
        if let Some((x, y)) = k {
            fill_circle(canvas, ((x * w) as i64, (y * h) as i64), 4, Rgb(color));
        }
    }
}
