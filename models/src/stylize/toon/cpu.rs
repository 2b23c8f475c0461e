//! The CPU path of `shaders/toon.wgsl`: the same arithmetic in the same order, rows split over
//! the cores.

use super::{ToonParams, WorkImage};

fn luma(c: [f32; 4]) -> f32 {
    0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

fn soft(x: f32) -> f32 {
    x.clamp(-10.0, 10.0).tanh()
}

fn texel(src: &[[f32; 4]], p: &ToonParams, x: i32, y: i32) -> [f32; 4] {
    let cx = x.clamp(0, p.width as i32 - 1);
    let cy = y.clamp(0, p.height as i32 - 1);
    src[cy as usize * p.width as usize + cx as usize]
}

fn bilateral_px(src: &[[f32; 4]], p: &ToonParams, x: i32, y: i32) -> [f32; 4] {
    let center = texel(src, p, x, y);
    let inv_s = -0.5 / (p.sigma_space * p.sigma_space);
    let inv_r = -0.5 / (p.sigma_range * p.sigma_range);
    let mut sum = [0.0f32; 3];
    let mut weight = 0.0f32;
    for dy in -p.radius..=p.radius {
        for dx in -p.radius..=p.radius {
            let c = texel(src, p, x + dx, y + dy);
            let d = [c[0] - center[0], c[1] - center[1], c[2] - center[2]];
            let dd = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
            let w = ((dx * dx + dy * dy) as f32 * inv_s + dd * inv_r).exp();
            for i in 0..3 {
                sum[i] += c[i] * w;
            }
            weight += w;
        }
    }
    [sum[0] / weight, sum[1] / weight, sum[2] / weight, 1.0]
}

fn stylize_px(src: &[[f32; 4]], p: &ToonParams, x: i32, y: i32) -> [f32; 4] {
    let s1 = p.dog_sigma;
    let s2 = p.dog_sigma * 1.6;
    let inv1 = -0.5 / (s1 * s1);
    let inv2 = -0.5 / (s2 * s2);
    let (mut g1, mut w1, mut g2, mut w2) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
    for dy in -p.radius..=p.radius {
        for dx in -p.radius..=p.radius {
            let l = luma(texel(src, p, x + dx, y + dy));
            let r2 = (dx * dx + dy * dy) as f32;
            let k1 = (r2 * inv1).exp();
            let k2 = (r2 * inv2).exp();
            g1 += l * k1;
            w1 += k1;
            g2 += l * k2;
            w2 += k2;
        }
    }
    let dog = g1 / w1 - p.dog_tau * (g2 / w2);
    let edge = if dog < 0.0 { 1.0 + soft(p.dog_phi * dog) } else { 1.0 };

    let c = texel(src, p, x, y);
    let yl = luma(c);
    let cb = (c[2] - yl) * 0.564 * p.saturation;
    let cr = (c[0] - yl) * 0.713 * p.saturation + p.warmth;
    // Terraces at whole bands joined by tanh ramps that meet them exactly: flat paint areas,
    // and no step anywhere, so smooth light stays smooth (no rings).
    let step = 1.0 / p.bands;
    let t = yl / step;
    let band = t.floor();
    let phi = p.band_phi.max(0.01);
    let yq = (band + 0.5 + 0.5 * soft(phi * (t - band - 0.5)) / soft(0.5 * phi)) * step;
    let rgb = [(yq + 1.403 * cr).clamp(0.0, 1.0), (yq - 0.344 * cb - 0.714 * cr).clamp(0.0, 1.0), (yq + 1.773 * cb).clamp(0.0, 1.0)];
    let ink = [p.ink_r, p.ink_g, p.ink_b];
    let a = (1.0 - edge) * p.ink_strength;
    [rgb[0] * (1.0 - a) + ink[0] * a, rgb[1] * (1.0 - a) + ink[1] * a, rgb[2] * (1.0 - a) + ink[2] * a, 1.0]
}

/// Applies `kernel` to every pixel of `src`, rows shared among the available cores.
fn map_pixels(src: &[[f32; 4]], p: &ToonParams, kernel: fn(&[[f32; 4]], &ToonParams, i32, i32) -> [f32; 4]) -> Vec<[f32; 4]> {
    let (w, h) = (p.width as usize, p.height as usize);
    let mut dst = vec![[0.0f32; 4]; w * h];
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(h.max(1));
    let rows_per = h.div_ceil(threads);
    std::thread::scope(|s| {
        for (chunk_index, chunk) in dst.chunks_mut(rows_per * w).enumerate() {
            s.spawn(move || {
                let y0 = chunk_index * rows_per;
                for (i, out) in chunk.iter_mut().enumerate() {
                    *out = kernel(src, p, (i % w) as i32, (y0 + i / w) as i32);
                }
            });
        }
    });
    dst
}

pub fn run(p: &ToonParams, iterations: u32, mut img: WorkImage, report: &mut dyn FnMut(u32, &WorkImage)) -> WorkImage {
    for i in 0..iterations {
        img.pixels = map_pixels(&img.pixels, p, bilateral_px);
        report(i + 1, &img);
    }
    img.pixels = map_pixels(&img.pixels, p, stylize_px);
    report(iterations + 1, &img);
    img
}
