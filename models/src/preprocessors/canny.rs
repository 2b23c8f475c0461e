//! Canny edges as A1111's and controlnet_aux's `canny` module makes them: OpenCV's `cv2.Canny`
//! (3x3 Sobel, L1 gradient magnitude, low/high hysteresis thresholds) run on the RGB photo.
//!
//! Reproduced operation for operation so the control image is the one OpenCV gives, pixel for
//! pixel: Sobel with replicated borders in integers; for colour input, per pixel, the channel with
//! the largest magnitude (the first on ties); non-maximum suppression with OpenCV's fixed-point
//! tangent test and its one-sided tie rules; hysteresis over 8-connected neighbours.

use image::{GrayImage, RgbImage};

/// tan(22.5°) in OpenCV's 15-bit fixed point.
const TG22: i64 = 13573;
const SHIFT: u32 = 15;

/// The thresholds A1111 and controlnet_aux default to.
pub const DEFAULT_LOW: u32 = 100;
pub const DEFAULT_HIGH: u32 = 200;

/// 3x3 Sobel x and y derivatives of one channel, borders replicated.
fn sobel(image: &RgbImage, channel: usize) -> (Vec<i32>, Vec<i32>) {
    let (w, h) = (image.width() as i64, image.height() as i64);
    let px = |x: i64, y: i64| image.get_pixel(x.clamp(0, w - 1) as u32, y.clamp(0, h - 1) as u32)[channel] as i32;
    let mut dx = Vec::with_capacity((w * h) as usize);
    let mut dy = Vec::with_capacity((w * h) as usize);
    for y in 0..h {
        for x in 0..w {
            dx.push(px(x + 1, y - 1) - px(x - 1, y - 1) + 2 * (px(x + 1, y) - px(x - 1, y)) + px(x + 1, y + 1) - px(x - 1, y + 1));
            dy.push(px(x - 1, y + 1) - px(x - 1, y - 1) + 2 * (px(x, y + 1) - px(x, y - 1)) + px(x + 1, y + 1) - px(x + 1, y - 1));
        }
    }
    (dx, dy)
}

/// The edge map (255 on edges, 0 elsewhere) of `image` with hysteresis thresholds `low`/`high`
/// (swapped if given the wrong way round, as OpenCV does).
pub fn canny(image: &RgbImage, low: u32, high: u32) -> GrayImage {
    let (low, high) = (low.min(high) as i32, low.max(high) as i32);
    let (w, h) = (image.width() as usize, image.height() as usize);
    // Per pixel the derivatives of the channel whose L1 magnitude is largest.
    let channels: Vec<(Vec<i32>, Vec<i32>)> = (0..3).map(|c| sobel(image, c)).collect();
    let mut dx = vec![0i32; w * h];
    let mut dy = vec![0i32; w * h];
    let mut mag = vec![0i32; w * h];
    for i in 0..w * h {
        for (cx, cy) in &channels {
            let m = cx[i].abs() + cy[i].abs();
            if m > mag[i] {
                mag[i] = m;
                dx[i] = cx[i];
                dy[i] = cy[i];
            }
        }
    }
    // Magnitude with a border of zeros, as OpenCV pads its row buffers.
    let m_at = |x: i64, y: i64| -> i32 {
        if x < 0 || y < 0 || x >= w as i64 || y >= h as i64 {
            0
        } else {
            mag[y as usize * w + x as usize]
        }
    };

    // 0: may be an edge, 1: not an edge, 2: an edge.
    let mut map = vec![1u8; w * h];
    let mut stack = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let m = mag[i];
            if m <= low {
                continue;
            }
            let (xs, ys) = (dx[i] as i64, dy[i] as i64);
            let ax = xs.abs();
            let ay = ys.abs() << SHIFT;
            let tg22x = ax * TG22;
            let (xi, yi) = (x as i64, y as i64);
            let local_max = if ay < tg22x {
                m > m_at(xi - 1, yi) && m >= m_at(xi + 1, yi)
            } else if ay > tg22x + (ax << (SHIFT + 1)) {
                m > m_at(xi, yi - 1) && m >= m_at(xi, yi + 1)
            } else {
                let s = if (xs ^ ys) < 0 { -1 } else { 1 };
                m > m_at(xi - s, yi - 1) && m > m_at(xi + s, yi + 1)
            };
            if local_max {
                if m > high {
                    map[i] = 2;
                    stack.push(i);
                } else {
                    map[i] = 0;
                }
            }
        }
    }
    // Hysteresis: weak candidates touching an edge become edges.
    while let Some(i) = stack.pop() {
        let (x, y) = ((i % w) as i64, (i / w) as i64);
        for (ox, oy) in [(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)] {
            let (nx, ny) = (x + ox, y + oy);
            if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                continue;
            }
            let n = ny as usize * w + nx as usize;
            if map[n] == 0 {
                map[n] = 2;
                stack.push(n);
            }
        }
    }
    GrayImage::from_fn(w as u32, h as u32, |x, y| image::Luma([if map[y as usize * w + x as usize] == 2 { 255 } else { 0 }]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vertical_step_gives_one_line_of_edge() {
        let image = RgbImage::from_fn(16, 8, |x, _| if x < 8 { image::Rgb([0, 0, 0]) } else { image::Rgb([200, 200, 200]) });
        let edges = canny(&image, DEFAULT_LOW, DEFAULT_HIGH);
        for y in 0..8 {
            let row: Vec<u8> = (0..16).map(|x| edges.get_pixel(x, y)[0]).collect();
            // Equal magnitudes at x = 7 and 8: the one-sided tie rule keeps the left one.
            assert_eq!(row.iter().filter(|v| **v == 255).count(), 1, "row {y}: {row:?}");
            assert_eq!(row[7], 255, "row {y}: {row:?}");
        }
    }

    #[test]
    fn flat_images_and_weak_steps_have_no_edges() {
        let flat = RgbImage::from_pixel(8, 8, image::Rgb([90, 90, 90]));
        assert!(canny(&flat, 100, 200).pixels().all(|p| p[0] == 0));
        // A step of 20 levels: Sobel magnitude 80, under the low threshold.
        let weak = RgbImage::from_fn(8, 8, |x, _| image::Rgb([if x < 4 { 100 } else { 120 }; 3]));
        assert!(canny(&weak, 100, 200).pixels().all(|p| p[0] == 0));
    }
}
