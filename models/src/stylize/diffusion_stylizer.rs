//! The booth's illustration by Stable Diffusion img2img: a style preset (prompt, negative,
//! strength, steps, scheduler, cfg, seed policy) applied to the visitor's photo.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use image::{imageops, RgbImage};

use crate::components::controlnet::{ControlNetModel, ControlSettings};
use crate::noise::NoiseSource;
use crate::pipeline::{to_image, ControlUnit, Img2ImgParams, Origin, PipelineError, StableDiffusion};
use crate::preprocessors::control_image::{fit, ResizeMode};
use crate::preprocessors::Preprocessor;
use crate::schedulers::SchedulerKind;
use crate::stylize::shared_pipeline::{Priority, SharedPipeline};
use crate::stylize::stylizer::{Progress, StylizeError, Stylizer};

/// How each visit's seed is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedPolicy {
    /// A new random seed per visit (recorded with the keepsake).
    Random,
    /// The same seed every time: the same photo gives the same picture.
    Fixed(u64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DiffusionPreset {
    pub prompt: String,
    pub negative_prompt: String,
    pub strength: f64,
    pub steps: usize,
    pub scheduler: SchedulerKind,
    pub cfg: f32,
    pub seed: SeedPolicy,
    /// Longest side of the generated picture (rounded down to a multiple of 8).
    pub max_side: u32,
}

impl DiffusionPreset {
    /// The warm hand-painted animation look of the thesis (with its style LoRA baked into the model).
    pub fn warm_animation() -> Self {
        Self {
            prompt: "warm hand-painted animation style illustration of a person, soft light, gentle colors, detailed face, masterpiece"
                .into(),
            negative_prompt: "lowres, blurry, bad anatomy, extra fingers, deformed face, text, watermark".into(),
            strength: 0.55,
            steps: 20,
            scheduler: SchedulerKind::EulerAncestral,
            cfg: 7.0,
            seed: SeedPolicy::Random,
            max_side: 768,
        }
    }
}

impl DiffusionPreset {
    /// The same look in 4 LCM steps at cfg 1.5, for a model with an LCM-LoRA merged (seconds
    /// instead of tens of seconds). img2img runs the last `strength` of the schedule: 7 steps at
    /// 0.6 run 4.
    pub fn warm_animation_lcm() -> Self {
        Self { strength: 0.6, steps: 7, scheduler: SchedulerKind::Lcm, cfg: 1.5, ..Self::warm_animation() }
    }

    /// The preset a model is made for: the LCM one when an LCM-LoRA is merged into it.
    pub fn for_model(sd: &StableDiffusion) -> Self {
        if sd.origin.lcm {
            Self::warm_animation_lcm()
        } else {
            Self::warm_animation()
        }
    }
}

/// One ControlNet unit of the booth's style: the net, the preprocessor that makes its control
/// image from each visitor's photo (A1111's module, at its processor resolution), and the unit's
/// weight and guidance window. The thesis keeps the person recognisable with three: openpose,
/// depth and M-LSD lines.
pub struct BoothControl {
    pub model: ControlNetModel,
    pub preprocessor: Preprocessor,
    pub resolution: u32,
    pub settings: ControlSettings,
}

pub struct DiffusionStylizer {
    /// The model, shared with the A1111-compatible API when it runs beside the booth (visitors
    /// go first).
    shared: Arc<SharedPipeline>,
    /// What the model was made of (for the name; the model itself may be in use).
    origin: Origin,
    pub preset: DiffusionPreset,
    /// ControlNet units applied to every visit (none: plain img2img).
    pub controls: Vec<BoothControl>,
    /// Bumped by `cancel`: a run stops when it changes after the run began, so cancelling an
    /// abandoned run never stops the next visitor's.
    cancellations: Arc<AtomicU64>,
    /// The seed of the latest picture, so the keepsake records how to make it again.
    pub last_seed: AtomicU64,
}

impl DiffusionStylizer {
    pub fn new(sd: StableDiffusion, preset: DiffusionPreset) -> Self {
        Self {
            origin: sd.origin.clone(),
            shared: Arc::new(SharedPipeline::new(sd)),
            preset,
            controls: Vec::new(),
            cancellations: Default::default(),
            last_seed: AtomicU64::new(u64::MAX),
        }
    }

    /// The model, for others to take turns on (the booth's visitors always go first).
    pub fn shared(&self) -> Arc<SharedPipeline> {
        self.shared.clone()
    }

    pub fn with_controls(mut self, controls: Vec<BoothControl>) -> Self {
        self.controls = controls;
        self
    }
}

impl DiffusionStylizer {
    fn size_for(&self, w: u32, h: u32) -> (u32, u32) {
        let scale = (self.preset.max_side as f32 / w.max(h) as f32).min(1.0);
        (((w as f32 * scale) as u32 / 8 * 8).max(8), ((h as f32 * scale) as u32 / 8 * 8).max(8))
    }
}

impl Stylizer for DiffusionStylizer {
    fn name(&self) -> String {
        let mut base = format!(
            "Stable Diffusion img2img ({} {} steps",
            self.preset.scheduler.a1111_name(crate::schedulers::Schedule::Automatic),
            self.preset.steps
        );
        if !self.origin.loras.is_empty() {
            base.push_str(&format!(", LoRA {}", self.origin.loras.join(" + ")));
        }
        if !self.controls.is_empty() {
            let units: Vec<String> = self.controls.iter().map(|c| format!("{} {}", c.preprocessor.module(), c.settings.weight)).collect();
            base.push_str(&format!(", ControlNet {}", units.join(" + ")));
        }
        match self.last_seed.load(Ordering::SeqCst) {
            u64::MAX => format!("{base})"),
            seed => format!("{base}, seed {seed})"),
        }
    }

    fn steps(&self) -> u32 {
        // img2img runs the last steps of the schedule.
        (self.preset.steps - crate::schedulers::img2img_start(self.preset.steps, self.preset.strength)) as u32
    }

    fn cancel(&self) {
        self.cancellations.fetch_add(1, Ordering::SeqCst);
    }

    fn stylize(&self, photo: &RgbImage, progress: &mut dyn FnMut(Progress)) -> Result<RgbImage, StylizeError> {
        let seed = match self.preset.seed {
            SeedPolicy::Fixed(s) => s,
            SeedPolicy::Random => {
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u32 as u64).unwrap_or(0)
            }
        };
        self.last_seed.store(seed, Ordering::SeqCst);
        self.paint(photo, seed, Priority::Visitor, progress)
    }
}

impl DiffusionStylizer {
    /// The booth's whole recipe (preprocessors, ControlNet units, every step) once, on `photo`,
    /// for what it leaves behind: compiled shaders and tuned kernels for these shapes. Takes the
    /// model's turn after any waiting visitor.
    pub fn warm_up(&self, photo: &RgbImage) -> Result<(), StylizeError> {
        self.paint(photo, 0, Priority::Remote, &mut |_| {}).map(|_| ())
    }

    fn paint(&self, photo: &RgbImage, seed: u64, priority: Priority, progress: &mut dyn FnMut(Progress)) -> Result<RgbImage, StylizeError> {
        if photo.width() == 0 || photo.height() == 0 {
            return Err(StylizeError::EmptyPhoto);
        }
        let cancellations = self.cancellations.clone();
        let started_at = cancellations.load(Ordering::SeqCst);
        let (width, height) = self.size_for(photo.width(), photo.height());
        let input = imageops::resize(photo, width, height, imageops::FilterType::Lanczos3);
        let p = Img2ImgParams {
            prompt: self.preset.prompt.clone(),
            negative_prompt: self.preset.negative_prompt.clone(),
            strength: self.preset.strength,
            steps: self.preset.steps,
            scheduler: self.preset.scheduler,
            schedule: crate::schedulers::Schedule::Automatic,
            cfg: self.preset.cfg,
            seed,
            width,
            height,
            clip_skip: 1,
            noise: NoiseSource::cpu(),
        };
        // Control images from the photo as it came (A1111 runs preprocessors at their own
        // resolution), fitted to the picture as its default "crop and resize" does.
        let units: Vec<ControlUnit> = self
            .controls
            .iter()
            .map(|c| ControlUnit {
                model: &c.model,
                image: fit(&c.preprocessor.run(photo, c.resolution), width, height, ResizeMode::CropAndResize),
                settings: c.settings,
            })
            .collect();
        tracing::info!(seed, width, height, controlnets = units.len(), "generating the illustration");
        let mut turn = self.shared.turn(priority);
        // The booth's look: the model as loaded, without any LoRA a remote request merged.
        turn.use_loras(&[]).map_err(|e| StylizeError::Model(e.to_string()))?;
        turn.sd
            .img2img_controlled(&input, &p, &units, &mut |s| {
                progress(Progress { step: s.step as u32, total: s.total as u32, preview: None });
                cancellations.load(Ordering::SeqCst) == started_at
            })
            .map(to_image)
            .map_err(|e| match e {
                PipelineError::Cancelled => StylizeError::Cancelled,
                other => StylizeError::Model(other.to_string()),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lora_a_remote_request_left_merged_never_reaches_a_visitors_picture() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
        let sd = crate::formats::load(&root.join("sd-tiny"), &burn::tensor::Device::flex()).unwrap();
        let preset = DiffusionPreset { seed: SeedPolicy::Fixed(7), steps: 3, max_side: 64, ..DiffusionPreset::warm_animation() };
        let booth = DiffusionStylizer::new(sd, preset);
        let photo = RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 90]));
        let before = booth.stylize(&photo, &mut |_| {}).unwrap();
        booth.shared().turn(Priority::Remote).use_loras(&[(root.join("lora/kohya.safetensors"), 0.8)]).unwrap();
        let after = booth.stylize(&photo, &mut |_| {}).unwrap();
        assert_eq!(before, after, "the visitor's picture is made without the remote request's LoRA");
    }
}
