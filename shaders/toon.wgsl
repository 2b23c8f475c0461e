// Keepsake's illustration filter ("toon"), the booth's instant preview and its fallback stylizer.
//
// Three ideas from Winnemöller et al., "Real-Time Video Abstraction" (2006):
//   1. edge-preserving smoothing: a bilateral filter, run `iterations` times (entry `bilateral`);
//   2. soft colour quantisation: luma in terraces joined by continuous tanh ramps, chroma kept (entry `stylize`);
//   3. soft ink lines: a thresholded difference of Gaussians on luma (entry `stylize`).
//
// models/src/toon/cpu.rs is the same function written in Rust, loop for loop, so the two paths agree
// to rounding (the tolerance is stated and tested there). Change both together.

struct Params {
    width: u32,
    height: u32,
    radius: i32,          // half-size of every window, in pixels
    sigma_space: f32,     // bilateral: spatial sigma
    sigma_range: f32,     // bilateral: colour-distance sigma
    dog_sigma: f32,       // DoG: inner Gaussian sigma (outer is 1.6x)
    dog_tau: f32,         // DoG: weight of the outer Gaussian
    dog_phi: f32,         // DoG: sharpness of the soft threshold
    bands: f32,           // colour quantisation: number of luma bands
    band_phi: f32,        // colour quantisation: steepness of the ramp between terraces (in bands)
    saturation: f32,      // chroma gain
    warmth: f32,          // shifts colour towards amber
    ink_r: f32,
    ink_g: f32,
    ink_b: f32,
    ink_strength: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

fn texel(x: i32, y: i32) -> vec4<f32> {
    // Clamp to the edge, as the CPU path does.
    let cx = clamp(x, 0, i32(params.width) - 1);
    let cy = clamp(y, 0, i32(params.height) - 1);
    return src[u32(cy) * params.width + u32(cx)];
}

fn luma(c: vec3<f32>) -> f32 {
    return 0.299 * c.x + 0.587 * c.y + 0.114 * c.z;
}

// tanh with its argument clamped: some drivers compute tanh through exp and overflow to NaN.
fn soft(x: f32) -> f32 {
    return tanh(clamp(x, -10.0, 10.0));
}

@compute @workgroup_size(8, 8, 1)
fn bilateral(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= params.width || id.y >= params.height) {
        return;
    }
    let x = i32(id.x);
    let y = i32(id.y);
    let center = texel(x, y).xyz;
    let inv_s = -0.5 / (params.sigma_space * params.sigma_space);
    let inv_r = -0.5 / (params.sigma_range * params.sigma_range);
    var sum = vec3<f32>(0.0, 0.0, 0.0);
    var weight = 0.0;
    for (var dy = -params.radius; dy <= params.radius; dy = dy + 1) {
        for (var dx = -params.radius; dx <= params.radius; dx = dx + 1) {
            let c = texel(x + dx, y + dy).xyz;
            let d = c - center;
            let w = exp(f32(dx * dx + dy * dy) * inv_s + dot(d, d) * inv_r);
            sum = sum + c * w;
            weight = weight + w;
        }
    }
    dst[id.y * params.width + id.x] = vec4<f32>(sum / weight, 1.0);
}

@compute @workgroup_size(8, 8, 1)
fn stylize(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= params.width || id.y >= params.height) {
        return;
    }
    let x = i32(id.x);
    let y = i32(id.y);

    // Difference of Gaussians on luma.
    let s1 = params.dog_sigma;
    let s2 = params.dog_sigma * 1.6;
    let inv1 = -0.5 / (s1 * s1);
    let inv2 = -0.5 / (s2 * s2);
    var g1 = 0.0;
    var w1 = 0.0;
    var g2 = 0.0;
    var w2 = 0.0;
    for (var dy = -params.radius; dy <= params.radius; dy = dy + 1) {
        for (var dx = -params.radius; dx <= params.radius; dx = dx + 1) {
            let l = luma(texel(x + dx, y + dy).xyz);
            let r2 = f32(dx * dx + dy * dy);
            let k1 = exp(r2 * inv1);
            let k2 = exp(r2 * inv2);
            g1 = g1 + l * k1;
            w1 = w1 + k1;
            g2 = g2 + l * k2;
            w2 = w2 + k2;
        }
    }
    let dog = g1 / w1 - params.dog_tau * (g2 / w2);
    var edge = 1.0;
    if (dog < 0.0) {
        edge = 1.0 + soft(params.dog_phi * dog);
    }

    // Soft luma quantisation in YCbCr; chroma kept, gained and warmed.
    let c = texel(x, y).xyz;
    let yl = luma(c);
    let cb = (c.z - yl) * 0.564 * params.saturation;
    let cr = (c.x - yl) * 0.713 * params.saturation + params.warmth;
    // Terraces at whole bands joined by tanh ramps that meet them exactly: flat paint areas,
    // and no step anywhere, so smooth light stays smooth (no rings).
    let step = 1.0 / params.bands;
    let t = yl / step;
    let band = floor(t);
    let phi = max(params.band_phi, 0.01);
    let yq = (band + 0.5 + 0.5 * soft(phi * (t - band - 0.5)) / soft(0.5 * phi)) * step;
    var rgb = vec3<f32>(yq + 1.403 * cr, yq - 0.344 * cb - 0.714 * cr, yq + 1.773 * cb);
    rgb = clamp(rgb, vec3<f32>(0.0), vec3<f32>(1.0));

    // Ink the lines.
    let ink = vec3<f32>(params.ink_r, params.ink_g, params.ink_b);
    let a = (1.0 - edge) * params.ink_strength;
    dst[id.y * params.width + id.x] = vec4<f32>(rgb * (1.0 - a) + ink * a, 1.0);
}
