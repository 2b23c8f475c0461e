//! OpenCV's raster rules for the few shapes the annotators draw (`cv2.line`, `cv2.circle` filled,
//! `cv2.ellipse2Poly` + `cv2.fillConvexPoly`), reproduced so the control images are OpenCV's pixel
//! for pixel: the ellipse outline from OpenCV's one-degree sine table, the convex fill with its
//! 16.16 fixed-point edge walk and its Bresenham outline, its midpoint disc, and its 8-connected
//! line walk with clipping.

use image::{Rgb, RgbImage};

const XY_SHIFT: u32 = 16;
const XY_ONE: i64 = 1 << XY_SHIFT;

/// OpenCV's sine table: sin of whole degrees 0..=450, to 7 decimals, as f32.
fn sin_table(degrees: i32) -> f32 {
    format!("{:.7}", (degrees as f64).to_radians().sin()).parse().expect("a number")
}

/// cvRound: to nearest, ties to even.
fn cv_round(v: f64) -> i64 {
    v.round_ties_even() as i64
}

/// cv::ellipse2Poly for a whole ellipse with one-degree steps.
pub fn ellipse_polygon(center: (i32, i32), axes: (i32, i32), angle: i32) -> Vec<(i64, i64)> {
    let mut angle = angle;
    while angle < 0 {
        angle += 360;
    }
    while angle > 360 {
        angle -= 360;
    }
    let (alpha, beta) = (sin_table(450 - angle) as f64, sin_table(angle) as f64);
    let mut points: Vec<(i64, i64)> = Vec::new();
    for a in 0..=360 {
        let x = axes.0 as f64 * sin_table(450 - a) as f64;
        let y = axes.1 as f64 * sin_table(a) as f64;
        let p = (cv_round(center.0 as f64 + x * alpha - y * beta), cv_round(center.1 as f64 + x * beta + y * alpha));
        if points.last() != Some(&p) {
            points.push(p);
        }
    }
    if points.len() == 1 {
        points = vec![(center.0 as i64, center.1 as i64); 2];
    }
    points
}

fn hline(img: &mut RgbImage, y: i64, x1: i64, x2: i64, color: Rgb<u8>) {
    for x in x1..=x2 {
        img.put_pixel(x as u32, y as u32, color);
    }
}

/// cv::clipLine: `false` when the segment misses the picture.
fn clip_line(w: i64, h: i64, p1: &mut (i64, i64), p2: &mut (i64, i64)) -> bool {
    let (right, bottom) = (w - 1, h - 1);
    let code = |p: (i64, i64)| (p.0 < 0) as i32 + (p.0 > right) as i32 * 2 + (p.1 < 0) as i32 * 4 + (p.1 > bottom) as i32 * 8;
    let (mut c1, mut c2) = (code(*p1), code(*p2));
    if (c1 & c2) == 0 && (c1 | c2) != 0 {
        if c1 & 12 != 0 {
            let a = if c1 < 8 { 0 } else { bottom };
            p1.0 += (a - p1.1) * (p2.0 - p1.0) / (p2.1 - p1.1);
            p1.1 = a;
            c1 = (p1.0 < 0) as i32 + (p1.0 > right) as i32 * 2;
        }
        if c2 & 12 != 0 {
            let a = if c2 < 8 { 0 } else { bottom };
            p2.0 += (a - p2.1) * (p2.0 - p1.0) / (p2.1 - p1.1);
            p2.1 = a;
            c2 = (p2.0 < 0) as i32 + (p2.0 > right) as i32 * 2;
        }
        if (c1 & c2) == 0 && (c1 | c2) != 0 {
            if c1 != 0 {
                let a = if c1 == 1 { 0 } else { right };
                p1.1 += (a - p1.0) * (p2.1 - p1.1) / (p2.0 - p1.0);
                p1.0 = a;
                c1 = 0;
            }
            if c2 != 0 {
                let a = if c2 == 1 { 0 } else { right };
                p2.1 += (a - p2.0) * (p2.1 - p1.1) / (p2.0 - p1.0);
                p2.0 = a;
                c2 = 0;
            }
        }
    }
    (c1 | c2) == 0
}

/// An 8-connected line as cv::LineIterator walks it (left to right).
pub fn line(img: &mut RgbImage, mut p1: (i64, i64), mut p2: (i64, i64), color: Rgb<u8>) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let outside = |p: (i64, i64)| p.0 < 0 || p.0 >= w || p.1 < 0 || p.1 >= h;
    if (outside(p1) || outside(p2)) && !clip_line(w, h, &mut p1, &mut p2) {
        return;
    }
    let (mut dx, mut dy) = (p2.0 - p1.0, p2.1 - p1.1);
    if dx < 0 {
        dx = -dx;
        dy = -dy;
        p1 = p2;
    }
    // Steps: `major` every pixel, `minor` when the error says so.
    let mut major = (1i64, 0i64);
    let mut minor = (0i64, if dy < 0 { -1 } else { 1 });
    dy = dy.abs();
    if dy > dx {
        std::mem::swap(&mut dx, &mut dy);
        std::mem::swap(&mut major, &mut minor);
    }
    let mut err = dx - (dy + dy);
    let (plus_delta, minus_delta) = (dx + dx, -(dy + dy));
    let mut p = p1;
    for _ in 0..=dx {
        img.put_pixel(p.0 as u32, p.1 as u32, color);
        let step = err < 0;
        err += minus_delta + if step { plus_delta } else { 0 };
        p = (p.0 + major.0 + if step { minor.0 } else { 0 }, p.1 + major.1 + if step { minor.1 } else { 0 });
    }
}

/// cv::fillConvexPoly (8-connected, no sub-pixel shift).
pub fn fill_convex_poly(img: &mut RgbImage, v: &[(i64, i64)], color: Rgb<u8>) {
    let (width, height) = (img.width() as i64, img.height() as i64);
    let n = v.len();
    let half = XY_ONE >> 1;
    let mut p0 = (v[n - 1].0 << XY_SHIFT, v[n - 1].1 << XY_SHIFT);
    let (mut xmin, mut xmax, mut ymin, mut ymax) = (v[0].0, v[0].0, v[0].1, v[0].1);
    let mut imin = 0;
    for (i, &(x, y)) in v.iter().enumerate() {
        if y < ymin {
            ymin = y;
            imin = i;
        }
        ymax = ymax.max(y);
        xmax = xmax.max(x);
        xmin = xmin.min(x);
        let p = (x << XY_SHIFT, y << XY_SHIFT);
        line(img, (p0.0 >> XY_SHIFT, p0.1 >> XY_SHIFT), (p.0 >> XY_SHIFT, p.1 >> XY_SHIFT), color);
        p0 = p;
    }
    if n < 3 || xmax < 0 || ymax < 0 || xmin >= width || ymin >= height {
        return;
    }
    let ymax = ymax.min(height - 1);
    struct Edge {
        idx: usize,
        di: usize,
        x: i64,
        dx: i64,
        ye: i64,
    }
    let mut edge = [Edge { idx: imin, di: 1, x: -XY_ONE, dx: 0, ye: ymin }, Edge { idx: imin, di: n - 1, x: -XY_ONE, dx: 0, ye: ymin }];
    let mut edges = n as i64;
    let mut y = ymin;
    loop {
        for e in edge.iter_mut() {
            if y >= e.ye {
                let mut idx0 = e.idx;
                let mut idx = (idx0 + e.di) % n;
                loop {
                    let more = edges > 0;
                    edges -= 1;
                    if !more {
                        break;
                    }
                    let ty = v[idx].1;
                    if ty > y {
                        let (xs, xe) = (v[idx0].0 << XY_SHIFT, v[idx].0 << XY_SHIFT);
                        e.ye = ty;
                        e.dx = ((xe - xs) * 2 + (ty - y)) / (2 * (ty - y));
                        e.x = xs;
                        e.idx = idx;
                        break;
                    }
                    idx0 = idx;
                    idx = (idx + e.di) % n;
                }
            }
        }
        if edges < 0 {
            break;
        }
        if y >= 0 {
            let (l, r) = if edge[0].x > edge[1].x { (1, 0) } else { (0, 1) };
            let x1 = (edge[l].x + half) >> XY_SHIFT;
            let x2 = (edge[r].x + half) >> XY_SHIFT;
            if x2 >= 0 && x1 < width {
                hline(img, y, x1.max(0), x2.min(width - 1), color);
            }
        }
        edge[0].x += edge[0].dx;
        edge[1].x += edge[1].dx;
        y += 1;
        if y > ymax {
            break;
        }
    }
}

/// cv::circle filled (thickness -1, 8-connected): OpenCV's midpoint disc.
pub fn fill_circle(img: &mut RgbImage, center: (i64, i64), radius: i64, color: Rgb<u8>) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (mut err, mut dx, mut dy, mut plus, mut minus) = (0i64, radius, 0i64, 1i64, (radius << 1) - 1);
    let row = |img: &mut RgbImage, y: i64, x1: i64, x2: i64| {
        if y >= 0 && y < h && x1 < w && x2 >= 0 {
            hline(img, y, x1.max(0), x2.min(w - 1), color);
        }
    };
    while dx >= dy {
        let (y11, y12, y21, y22) = (center.1 - dy, center.1 + dy, center.1 - dx, center.1 + dx);
        let (x11, x12, x21, x22) = (center.0 - dx, center.0 + dx, center.0 - dy, center.0 + dy);
        if x11 < w && x12 >= 0 && y21 < h && y22 >= 0 {
            row(img, y11, x11, x12);
            row(img, y12, x11, x12);
            if x21 < w && x22 >= 0 {
                row(img, y21, x21, x22);
                row(img, y22, x21, x22);
            }
        }
        dy += 1;
        err += plus;
        plus += 2;
        let mask = if err <= 0 { 0 } else { -1 };
        err -= minus & mask;
        dx += mask;
        minus -= mask & 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sine_table_is_opencvs() {
        assert_eq!(sin_table(1), 0.0174524f32);
        assert_eq!(sin_table(45), 0.7071068f32);
        assert_eq!(sin_table(90), 1.0);
        assert_eq!(sin_table(450), 1.0);
    }

    #[test]
    fn a_disc_of_radius_4_is_opencvs() {
        let mut img = RgbImage::new(11, 11);
        fill_circle(&mut img, (5, 5), 4, Rgb([255, 255, 255]));
        let rows: Vec<String> = (0..11).map(|y| (0..11).map(|x| if img.get_pixel(x, y)[0] > 0 { '#' } else { '.' }).collect()).collect();
        // cv2.circle(np.zeros((11, 11), np.uint8), (5, 5), 4, 255, -1)
        let expected = [
            "...........",
            ".....#.....",
            "...#####...",
            "..#######..",
            "..#######..",
            ".#########.",
            "..#######..",
            "..#######..",
            "...#####...",
            ".....#.....",
            "...........",
        ];
        assert_eq!(rows, expected);
    }
}
