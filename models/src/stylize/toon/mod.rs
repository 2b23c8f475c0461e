//! The illustration filter: edge-preserving smoothing, soft colour quantisation and soft ink lines.
//! The algorithm is written once in `shaders/toon.wgsl`; [`cpu`] mirrors it for machines without a
//! GPU adapter, and the two agree within [`CPU_GPU_TOLERANCE`].

pub mod cpu;
pub mod gpu;

use image::{imageops, RgbImage};

use crate::stylize::stylizer::{Progress, StylizeError, Stylizer};

/// The WGSL source of the filter.
pub const SHADER: &str = include_str!("../../../../shaders/toon.wgsl");

/// Largest per-channel difference (in 0..=255 levels) allowed between the CPU and GPU paths: both
/// compute in f32 with the same loop order, but `exp`/`tanh` may differ by a few ulps on a GPU and
/// an 8-bit rounding can then land one level apart; 2 levels leaves room for fused multiply-adds.
pub const CPU_GPU_TOLERANCE: u8 = 2;

/// Filter parameters; the layout matches `struct Params` in the shader.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ToonParams {
    pub width: u32,
    pub height: u32,
    pub radius: i32,
    pub sigma_space: f32,
    pub sigma_range: f32,
    pub dog_sigma: f32,
    pub dog_tau: f32,
    pub dog_phi: f32,
    pub bands: f32,
    pub band_phi: f32,
    pub saturation: f32,
    pub warmth: f32,
    pub ink_r: f32,
    pub ink_g: f32,
    pub ink_b: f32,
    pub ink_strength: f32,
}

/// A named look plus how much work to spend on it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToonStyle {
    pub params: ToonParams,
    /// Bilateral passes; more gives flatter, more painted areas.
    pub iterations: u32,
    /// Longest side the filter works at; the photo is scaled to fit (to a multiple of 8, like the
    /// diffusion model's sizes).
    pub max_side: u32,
}

impl ToonStyle {
    /// The booth's default: warm hand-painted animation.
    pub fn warm_animation() -> Self {
        Self {
            params: ToonParams {
                width: 0,
                height: 0,
                radius: 4,
                sigma_space: 3.0,
                sigma_range: 0.1,
                dog_sigma: 1.0,
                dog_tau: 0.98,
                dog_phi: 60.0,
                bands: 7.0,
                band_phi: 5.0,
                saturation: 1.25,
                warmth: 0.025,
                ink_r: 0.22,
                ink_g: 0.14,
                ink_b: 0.10,
                ink_strength: 0.85,
            },
            iterations: 2,
            // The keepsake's own size: a 4x6 card prints it at 300 dpi and a phone shows it sharp.
            max_side: 1024,
        }
    }

    /// Softer, paler, thinner lines: a watercolour keepsake.
    pub fn soft_watercolor() -> Self {
        let mut s = Self::warm_animation();
        s.params.sigma_range = 0.16;
        s.params.bands = 10.0;
        s.params.band_phi = 2.5;
        s.params.saturation = 0.95;
        s.params.warmth = 0.01;
        s.params.ink_strength = 0.45;
        s.iterations = 3;
        s
    }

    pub const PRESETS: [&'static str; 2] = ["warm-animation", "soft-watercolor"];

    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "warm-animation" => Some(Self::warm_animation()),
            "soft-watercolor" => Some(Self::soft_watercolor()),
            _ => None,
        }
    }
}

/// The photo scaled to the working size, as linear f32 RGBA (alpha unused).
pub struct WorkImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<[f32; 4]>,
}

impl WorkImage {
    pub fn from_photo(photo: &RgbImage, max_side: u32) -> Result<Self, StylizeError> {
        let (w, h) = photo.dimensions();
        if w == 0 || h == 0 {
            return Err(StylizeError::EmptyPhoto);
        }
        let scale = (max_side as f32 / w.max(h) as f32).min(1.0);
        let tw = (((w as f32 * scale) as u32) / 8 * 8).max(8);
        let th = (((h as f32 * scale) as u32) / 8 * 8).max(8);
        let resized = if (tw, th) == (w, h) { photo.clone() } else { imageops::resize(photo, tw, th, imageops::FilterType::Triangle) };
        let pixels = resized.pixels().map(|p| [p[0] as f32 / 255.0, p[1] as f32 / 255.0, p[2] as f32 / 255.0, 1.0]).collect();
        Ok(Self { width: tw, height: th, pixels })
    }

    pub fn to_rgb(&self) -> RgbImage {
        let to8 = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        let mut out = RgbImage::new(self.width, self.height);
        for (dst, src) in out.pixels_mut().zip(&self.pixels) {
            *dst = image::Rgb([to8(src[0]), to8(src[1]), to8(src[2])]);
        }
        out
    }
}

/// Where the filter runs.
pub enum Engine {
    Gpu(gpu::GpuToon),
    Cpu,
}

/// The illustration filter as a [`Stylizer`].
pub struct ToonStylizer {
    pub style: ToonStyle,
    engine: Engine,
}

impl ToonStylizer {
    /// Uses the GPU when a wgpu adapter exists, the CPU otherwise; says which on the log.
    pub fn new(style: ToonStyle) -> Self {
        match gpu::GpuToon::new() {
            Ok(g) => {
                tracing::info!(adapter = %g.adapter_name(), "illustration filter runs on the GPU");
                Self { style, engine: Engine::Gpu(g) }
            }
            Err(why) => {
                tracing::warn!(%why, "no usable GPU adapter: the illustration filter runs on the CPU");
                Self { style, engine: Engine::Cpu }
            }
        }
    }

    pub fn cpu(style: ToonStyle) -> Self {
        Self { style, engine: Engine::Cpu }
    }

    pub fn with_engine(style: ToonStyle, engine: Engine) -> Self {
        Self { style, engine }
    }

    pub fn engine_name(&self) -> String {
        match &self.engine {
            Engine::Gpu(g) => format!("GPU ({})", g.adapter_name()),
            Engine::Cpu => "CPU".to_string(),
        }
    }
}

impl Stylizer for ToonStylizer {
    fn name(&self) -> String {
        format!("illustration filter on {}", self.engine_name())
    }

    fn steps(&self) -> u32 {
        self.style.iterations + 1
    }

    fn stylize(&self, photo: &RgbImage, progress: &mut dyn FnMut(Progress)) -> Result<RgbImage, StylizeError> {
        let work = WorkImage::from_photo(photo, self.style.max_side)?;
        let mut params = self.style.params;
        params.width = work.width;
        params.height = work.height;
        let total = self.steps();
        let mut report = |step: u32, img: &WorkImage| progress(Progress { step, total, preview: Some(img.to_rgb()) });
        let out = match &self.engine {
            Engine::Gpu(g) => g.run(&params, self.style.iterations, work, &mut report)?,
            Engine::Cpu => cpu::run(&params, self.style.iterations, work, &mut report),
        };
        Ok(out.to_rgb())
    }
}
