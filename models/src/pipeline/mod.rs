//! Stable Diffusion 1.5 img2img, step for step as diffusers' `StableDiffusionImg2ImgPipeline`:
//! text embeddings (with A1111 emphasis and 75-token chunks), VAE posterior sample and the
//! img2img noise from a ported `torch.Generator("cpu")`, classifier-free guidance with a negative
//! prompt, any scheduler of [`SchedulerKind`], decode.

pub mod latent_preview;
pub mod prompt;
pub mod text_encoder_slot;

use std::path::PathBuf;

use burn::tensor::{Device, Int, Tensor, TensorData};
use image::RgbImage;

use crate::components::autoencoder::{Vae, VaeConfig};
use crate::components::clip::{ClipTextConfig, ClipTextModel};
use crate::components::controlnet::{ControlMode, ControlNetModel, ControlSettings};
use crate::components::tokenizer::{ClipTokenizer, TokenizerError};
use crate::components::unet_2d_condition::{ControlResiduals, UNet2DConditionConfig, UNet2DConditionModel};
use crate::noise::{NoiseGenerator, NoiseSource};
use crate::pipeline::prompt::{chunks, Chunk};
use crate::pipeline::text_encoder_slot::{PromptKey, TextEncoderSlot};
use crate::schedulers::{Sample, Schedule, SchedulerConfig, SchedulerKind};
use crate::weights::WeightsError;

impl Sample for Tensor<4> {
    fn add(&self, other: &Self) -> Self {
        self.clone() + other.clone()
    }
    fn sub(&self, other: &Self) -> Self {
        self.clone() - other.clone()
    }
    fn mul_scalar(&self, a: f32) -> Self {
        self.clone().mul_scalar(a)
    }
    fn div_scalar(&self, a: f32) -> Self {
        self.clone().div_scalar(a)
    }
    fn clamp(&self, min: f32, max: f32) -> Self {
        self.clone().clamp(min, max)
    }
    fn numel(&self) -> usize {
        self.dims().iter().product()
    }
    fn like(&self, values: Vec<f32>) -> Self {
        Tensor::<4>::from_data(TensorData::new(values, self.dims()), &self.device())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    #[error("{path}: {problem} (fix: {fix})")]
    Model { path: PathBuf, problem: String, fix: &'static str },
    #[error("{what} {value} is not a multiple of {multiple} (fix: use e.g. {suggestion})")]
    Size { what: &'static str, value: u32, multiple: u32, suggestion: u32 },
    #[error("generation was cancelled")]
    Cancelled,
}

/// One img2img request.
#[derive(Debug, Clone)]
pub struct Img2ImgParams {
    pub prompt: String,
    pub negative_prompt: String,
    pub strength: f64,
    pub steps: usize,
    pub scheduler: SchedulerKind,
    /// The noise schedule the sampler runs with (A1111's `scheduler`).
    pub schedule: Schedule,
    pub cfg: f32,
    pub seed: u64,
    pub width: u32,
    pub height: u32,
    /// A1111's clip skip: 1 = last layer.
    pub clip_skip: usize,
    /// Where the noise comes from (A1111's randn_source; see [`NoiseSource`]).
    pub noise: NoiseSource,
}

/// Progress after each denoising step.
pub struct StepProgress {
    pub step: usize,
    pub total: usize,
    /// The latents after this step (a handle: reading them waits for the device).
    pub latents: Tensor<4>,
}

/// The four components of SD 1.5 on one device.
pub struct StableDiffusion {
    pub tokenizer: ClipTokenizer,
    /// The text encoder (or the booth file it is read from) and the encodings already made.
    pub text_encoder: TextEncoderSlot,
    pub unet: UNet2DConditionModel,
    pub vae: Vae,
    /// The shapes the components were built with (a booth file records them).
    pub text_encoder_config: ClipTextConfig,
    pub unet_config: UNet2DConditionConfig,
    pub vae_config: VaeConfig,
    /// Where the weights came from and what was merged into them (a booth file records it).
    pub origin: Origin,
    /// The model's scheduler config (a diffusers folder's own, else SD 1.5's), which every
    /// sampler is built from (a booth file records it).
    pub scheduler_config: SchedulerConfig,
    /// Decode pictures larger than the VAE's training size in tiles (diffusers' `enable_tiling`):
    /// bounded memory for large keepsakes, at the cost of faint seams' worth of difference.
    pub vae_tiling: bool,
    pub device: Device,
}

/// Where a pipeline's weights came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Origin {
    /// The checkpoint or folder first loaded.
    pub source: String,
    /// `file-name:weight` of each LoRA merged, in merge order.
    pub loras: Vec<String>,
    /// An LCM-LoRA is merged: 4 LCM steps at cfg 1-2 make the picture.
    pub lcm: bool,
    /// Textual-inversion words added, with their number of vectors, in order (their ids follow
    /// the vocabulary in this order).
    pub embeddings: Vec<(String, usize)>,
}

impl StableDiffusion {
    /// Text embeddings of a prompt: A1111 chunks, each encoded, weighted and concatenated.
    /// `min_chunks` pads with empty chunks so the positive and negative prompts line up.
    pub fn encode_prompt(&self, prompt: &str, min_chunks: usize, clip_skip: usize) -> Result<Tensor<3>, PipelineError> {
        Ok(self.encode_prompts(&[prompt], min_chunks, clip_skip)?.remove(0))
    }

    /// [`Self::encode_prompt`] of several prompts, reading a text encoder that is not resident
    /// (see [`TextEncoderSlot`]) at most once, and only for prompts not encoded before.
    pub fn encode_prompts(&self, prompts: &[&str], min_chunks: usize, clip_skip: usize) -> Result<Vec<Tensor<3>>, PipelineError> {
        let key = |prompt: &str| PromptKey { prompt: prompt.to_string(), min_chunks, clip_skip };
        let mut encoder = None;
        let mut out = Vec::with_capacity(prompts.len());
        for prompt in prompts {
            if let Some(z) = self.text_encoder.remembered(&key(prompt)) {
                out.push(z);
                continue;
            }
            if encoder.is_none() {
                encoder = Some(self.text_encoder.get(&self.text_encoder_config, &self.device)?);
            }
            let encoder = encoder.as_deref().expect("read above");
            let (mut cs, _) = chunks(&self.tokenizer, prompt);
            while cs.len() < min_chunks {
                cs.push(chunks(&self.tokenizer, "").0.remove(0));
            }
            let encoded: Vec<Tensor<3>> = cs.iter().map(|c| self.encode_chunk(encoder, c, clip_skip)).collect();
            let z = Tensor::cat(encoded, 1);
            self.text_encoder.remember(key(prompt), z.clone());
            out.push(z);
        }
        Ok(out)
    }

    fn encode_chunk(&self, encoder: &ClipTextModel, chunk: &Chunk, clip_skip: usize) -> Tensor<3> {
        let ids: Vec<i64> = chunk.tokens.iter().map(|t| *t as i64).collect();
        let n = ids.len();
        let z = encoder.forward(Tensor::<2, Int>::from_data(TensorData::new(ids, [1, n]), &self.device), clip_skip);
        if chunk.weights.iter().all(|w| *w == 1.0) {
            return z;
        }
        // A1111: scale each token's embedding by its weight, then restore the original mean.
        let original_mean: f32 = z.clone().cast(burn::tensor::DType::F32).mean().into_scalar();
        let weights: Vec<f32> = chunk.weights.iter().map(|w| *w as f32).collect();
        let weighted = z * Tensor::<1>::from_data(TensorData::new(weights, [n]), &self.device).reshape([1, n, 1]);
        let new_mean: f32 = weighted.clone().cast(burn::tensor::DType::F32).mean().into_scalar();
        weighted.mul_scalar(original_mean / new_mean)
    }

    /// img2img of `image` (already at the requested size) with `params`.
    pub fn img2img(
        &self,
        image: &RgbImage,
        p: &Img2ImgParams,
        progress: &mut dyn FnMut(StepProgress) -> bool,
    ) -> Result<RgbImage, PipelineError> {
        Ok(to_image(self.img2img_decoded(image, p, progress)?))
    }

    /// img2img up to the decoded image in about [-1, 1], NCHW (before 8-bit rounding).
    pub fn img2img_decoded(
        &self,
        image: &RgbImage,
        p: &Img2ImgParams,
        progress: &mut dyn FnMut(StepProgress) -> bool,
    ) -> Result<Tensor<4>, PipelineError> {
        self.img2img_controlled(image, p, &[], progress)
    }

    /// img2img guided by ControlNet units (diffusers' StableDiffusionControlNetImg2ImgPipeline;
    /// several units are summed as its MultiControlNetModel does), up to the decoded image.
    pub fn img2img_controlled(
        &self,
        image: &RgbImage,
        p: &Img2ImgParams,
        control: &[ControlUnit],
        progress: &mut dyn FnMut(StepProgress) -> bool,
    ) -> Result<Tensor<4>, PipelineError> {
        self.generate(Start::Photo(image), p, control, &mut |s| if progress(s) { Flow::Continue } else { Flow::Cancel })
    }

    /// One picture from a photo (img2img) or from noise (txt2img: diffusers'
    /// StableDiffusionPipeline and StableDiffusionControlNetPipeline, `strength` unused), up to
    /// the decoded image. `progress` sees every step and may end the run early: `Flow::Finish`
    /// decodes the picture as far as it got (A1111's interrupt), `Flow::Cancel` gives nothing.
    pub fn generate(
        &self,
        start: Start<'_>,
        p: &Img2ImgParams,
        control: &[ControlUnit],
        progress: &mut dyn FnMut(StepProgress) -> Flow,
    ) -> Result<Tensor<4>, PipelineError> {
        for (what, v) in [("width", p.width), ("height", p.height)] {
            let m = self.vae_config.scale_factor().max(8);
            if v == 0 || v % m != 0 {
                return Err(PipelineError::Size { what, value: v, multiple: m, suggestion: ((v / m).max(1)) * m });
            }
        }
        let device = &self.device;
        let mut generator = NoiseGenerator::new(p.noise, p.seed);

        // Text: [negative, positive] for classifier-free guidance.
        let guidance = p.cfg > 1.0;
        let positive_chunks = chunks(&self.tokenizer, &p.prompt).0.len();
        let negative_chunks = chunks(&self.tokenizer, &p.negative_prompt).0.len();
        let n_chunks = positive_chunks.max(negative_chunks);
        let context = if guidance {
            Tensor::cat(self.encode_prompts(&[&p.negative_prompt, &p.prompt], n_chunks, p.clip_skip)?, 0)
        } else {
            self.encode_prompt(&p.prompt, n_chunks, p.clip_skip)?
        };

        let scaling = self.vae_config.scaling_factor();
        let mut scheduler =
            p.scheduler.build::<Tensor<4>>(&self.scheduler_config, p.schedule, p.steps).map_err(|problem| PipelineError::Model {
                path: PathBuf::from(&self.scheduler_config.source),
                problem,
                fix: "choose another sampler, or give the model a scheduler config it can follow (--scheduler-config FILE)",
            })?;
        let (first, mut latents) = match start {
            Start::Photo(image) => {
                if image.dimensions() != (p.width, p.height) {
                    return Err(PipelineError::Model {
                        path: PathBuf::from("(photo)"),
                        problem: format!("the photo is {}x{}, the picture {}x{}", image.width(), image.height(), p.width, p.height),
                        fix: "resize the photo to the picture's size first",
                    });
                }
                // The photo to latents (the KL VAE samples its posterior: the generator's first
                // draw), then noise to the start step (the next draw).
                let input = unit_tensor(image, device).mul_scalar(2.0).sub_scalar(1.0);
                let init = self.vae.encode_latents(input, scaling, &mut generator);
                let dims = init.dims();
                let first = scheduler.img2img_start(p.strength);
                let noise = Tensor::<4>::from_data(TensorData::new(generator.randn(dims.iter().product()), dims), device);
                (first, scheduler.add_noise(&init, &noise, first))
            }
            Start::Noise => {
                let f = self.vae_config.scale_factor() as usize;
                let dims = [1, self.unet_config.in_channels, p.height as usize / f, p.width as usize / f];
                let noise = Tensor::<4>::from_data(TensorData::new(generator.randn(dims.iter().product()), dims), device);
                (0, noise.mul_scalar(scheduler.init_noise_sigma()))
            }
        };
        // A sampler that draws from its own noise process (A1111's Brownian tree) seeds it here.
        scheduler.seed_noise(p.seed, p.noise);
        let dims = latents.dims();
        let numel: usize = dims.iter().product();
        let timesteps = scheduler.timesteps().to_vec();
        let total = timesteps.len() - first;
        let control_images: Vec<Tensor<4>> = control
            .iter()
            .map(|unit| {
                let x = unit_tensor(&unit.image, device);
                if guidance {
                    Tensor::cat(vec![x.clone(), x], 0)
                } else {
                    x
                }
            })
            .collect();
        for (done, (index, t)) in timesteps.iter().enumerate().skip(first).enumerate() {
            let model_input = if guidance { Tensor::cat(vec![latents.clone(), latents.clone()], 0) } else { latents.clone() };
            let model_input = scheduler.scale_model_input(&model_input, index);
            // A unit works inside its guidance window (fractions of the steps that run).
            let residuals = control
                .iter()
                .zip(&control_images)
                .filter(|(unit, _)| unit.settings.active(done, total))
                .map(|(unit, image)| {
                    let r = unit.model.forward(model_input.clone(), *t, context.clone(), image.clone(), unit.settings.weight);
                    match unit.settings.mode {
                        ControlMode::Balanced => r,
                        ControlMode::Prompt => r.soft(),
                        ControlMode::Control if guidance => r.soft().prompt_half_only(),
                        ControlMode::Control => r.soft(),
                    }
                })
                .reduce(ControlResiduals::add);
            let out = self.unet.forward(model_input, *t, context.clone(), residuals);
            let eps = if guidance {
                let [b, c, h, w] = out.dims();
                let uncond = out.clone().slice([0..b / 2, 0..c, 0..h, 0..w]);
                let text = out.slice([b / 2..b, 0..c, 0..h, 0..w]);
                uncond.clone() + (text - uncond).mul_scalar(p.cfg)
            } else {
                out
            };
            latents = scheduler
                .step(&eps, index, &latents, &mut || Tensor::<4>::from_data(TensorData::new(generator.randn(numel), dims), device));
            match progress(StepProgress { step: done + 1, total, latents: latents.clone() }) {
                Flow::Continue => {}
                Flow::Finish => break,
                Flow::Cancel => return Err(PipelineError::Cancelled),
            }
        }

        let tiled = self.vae_tiling.then(|| self.vae_config.tile_latent());
        Ok(self.vae.decode_latents(latents, scaling, tiled))
    }
}

/// What a generation starts from.
#[derive(Clone, Copy)]
pub enum Start<'a> {
    /// img2img: the photo, already at the picture's size.
    Photo(&'a RgbImage),
    /// txt2img: noise only.
    Noise,
}

/// What the progress callback wants after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Stop here and decode the picture as far as it got.
    Finish,
    /// Stop and give nothing.
    Cancel,
}

/// One ControlNet unit of a generation.
pub struct ControlUnit<'a> {
    pub model: &'a ControlNetModel,
    /// The control image (pose skeleton, depth map, lines) at the picture's size.
    pub image: RgbImage,
    pub settings: ControlSettings,
}

/// An 8-bit image as [1, 3, H, W] in [0, 1].
fn unit_tensor(image: &RgbImage, device: &Device) -> Tensor<4> {
    let (w, h) = image.dimensions();
    let mut v = vec![0.0f32; (3 * w * h) as usize];
    for (x, y, px) in image.enumerate_pixels() {
        for c in 0..3 {
            v[(c * h * w + y * w + x) as usize] = px[c as usize] as f32 / 255.0;
        }
    }
    Tensor::from_data(TensorData::new(v, [1, 3, h as usize, w as usize]), device)
}

/// x / 2 + 0.5 clamped to [0, 1], read back as f32 whatever the device computes in.
fn unit_values(x: Tensor<4>) -> Vec<f32> {
    x.cast(burn::tensor::DType::F32)
        .div_scalar(2.0)
        .add_scalar(0.5)
        .clamp(0.0, 1.0)
        .into_data()
        .try_to_vec::<f32>()
        .expect("f32 after cast")
}

/// [-1, 1] NCHW to an RGB image, as diffusers' postprocess (x / 2 + 0.5, clamped, * 255, rounded).
pub fn to_image(x: Tensor<4>) -> RgbImage {
    let [_, _, h, w] = x.dims();
    let v = unit_values(x);
    RgbImage::from_fn(w as u32, h as u32, |px, py| {
        let at = |c: usize| (v[c * h * w + py as usize * w + px as usize] * 255.0).round() as u8;
        image::Rgb([at(0), at(1), at(2)])
    })
}

/// The decoded image in [0, 1] HWC floats (for comparing against diffusers' `output_type="np"`).
pub fn to_unit_floats(x: Tensor<4>) -> Vec<f32> {
    let [_, c, h, w] = x.dims();
    let v = unit_values(x);
    let mut out = Vec::with_capacity(v.len());
    for y in 0..h {
        for xx in 0..w {
            for ch in 0..c {
                out.push(v[ch * h * w + y * w + xx]);
            }
        }
    }
    out
}
