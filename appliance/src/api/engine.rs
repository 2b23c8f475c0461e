//! What the API's generation endpoints do: read an A1111 request into a generation, wait for a
//! turn on the shared model (booth visitors first), run it with progress and a live preview,
//! and answer as A1111 does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::Instant;

use axum::http::StatusCode;
use image::RgbImage;
use keepsake_models::components::controlnet::{ControlMode, ControlNetModel};
use keepsake_models::edits::extra_networks::LoraFolder;
use keepsake_models::formats;
use keepsake_models::pipeline::{to_image, ControlUnit, Flow, Img2ImgParams, PipelineError, Start};
use keepsake_models::preprocessors::control_image::{fit, ResizeMode};
use keepsake_models::preprocessors::{Annotators, Module, Preprocessor};
use keepsake_models::stylize::shared_pipeline::{Priority, SharedPipeline};
use keepsake_models::torch_rng::NormalKernel;
use serde_json::{json, Map, Value};

use super::images::{decode_image, encode_base64, png_base64};
use super::options::RandnSource;
use super::request::{ApiError, GenerationRequest, GenerationResponse};
use super::samplers::resolve_sampler;
use super::units::{apply_thresholds, pixel_perfect_resolution, processor_resolution, read_units, UnitArgs};

/// What remote clients may ask of the booth (a request over them is answered 422).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest picture side, px.
    pub max_side: u32,
    pub max_steps: u32,
    /// Pictures per request (batch_size × n_iter).
    pub max_images: u32,
    /// Remote requests waiting for a turn before new ones are answered 503.
    pub max_waiting: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_side: 1024, max_steps: 150, max_images: 8, max_waiting: 8 }
    }
}

/// Where the engine finds what requests name.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// The model's file or folder (its name is the checkpoint's title).
    pub model_path: PathBuf,
    /// More checkpoints `sd_model_checkpoint` may switch to (files and diffusers folders).
    pub models_dir: Option<PathBuf>,
    /// Whether requests may switch the checkpoint (not beside the booth: its model is the booth's).
    pub switchable: bool,
    /// `<lora:NAME:W>` reads NAME.safetensors here.
    pub lora_dir: Option<PathBuf>,
    /// ControlNet models: diffusers folders or single .safetensors files, named by folder or file stem.
    pub controlnet_dir: Option<PathBuf>,
    pub annotators: Annotators,
    pub limits: Limits,
    /// The CPU generator's Box-Muller arithmetic (see [`NormalKernel`]).
    pub noise_kernel: NormalKernel,
    /// Where the noise comes from unless a request's settings say otherwise.
    pub randn_source: RandnSource,
}

/// The generation under way, for /progress.
#[derive(Default)]
struct Running {
    started: Option<Instant>,
    timestamp: String,
    image: usize,
    images: usize,
    step: usize,
    steps: usize,
    preview: Option<String>,
    interrupted: bool,
}

pub struct Engine {
    shared: Arc<SharedPipeline>,
    pub settings: EngineSettings,
    /// The loaded checkpoint.
    checkpoint: Mutex<Checkpoint>,
    /// Textual-inversion words the model knows, with their vector counts.
    pub embeddings: Mutex<Vec<(String, usize)>>,
    cross_attention_dim: usize,
    device: burn::tensor::Device,
    nets: Mutex<HashMap<String, Arc<ControlNetModel>>>,
    preprocessors: Mutex<HashMap<String, Arc<Preprocessor>>>,
    pub options: Mutex<Map<String, Value>>,
    running: Mutex<Running>,
    /// Bumped by /interrupt: the generation running then stops at its next step.
    interrupts: AtomicU64,
    waiting: AtomicUsize,
}

/// A request read and checked, ready to run.
struct Job {
    img2img: bool,
    photos: Vec<RgbImage>,
    params: Img2ImgParams,
    loras: Vec<(PathBuf, f32)>,
    units: Vec<(Arc<ControlNetModel>, RgbImage, UnitArgs)>,
    seeds: Vec<u64>,
    sampler: String,
    scheduler: String,
    send_images: bool,
}

/// A checkpoint as A1111 names it: the title is the file name (a folder's name for a diffusers
/// folder), the model name the same without its extension.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub title: String,
    pub model_name: String,
    pub path: PathBuf,
}

impl Checkpoint {
    pub fn of(path: &Path) -> Self {
        let title = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
        let model_name =
            if path.is_dir() { title.clone() } else { path.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default() };
        Self { title, model_name, path: path.to_path_buf() }
    }
}

impl Engine {
    pub fn new(shared: Arc<SharedPipeline>, settings: EngineSettings) -> Self {
        let (embeddings, cross_attention_dim, device) = {
            let turn = shared.turn(Priority::Remote);
            (turn.sd.origin.embeddings.clone(), turn.sd.unet_config.cross_attention_dim, turn.sd.device.clone())
        };
        let checkpoint = Checkpoint::of(&settings.model_path);
        let options = super::options::defaults(&checkpoint.title, settings.randn_source);
        Self {
            shared,
            settings,
            checkpoint: Mutex::new(checkpoint),
            embeddings: Mutex::new(embeddings),
            cross_attention_dim,
            device,
            nets: Mutex::default(),
            preprocessors: Mutex::default(),
            options: Mutex::new(options),
            running: Mutex::default(),
            interrupts: AtomicU64::new(0),
            waiting: AtomicUsize::new(0),
        }
    }

    /// The LoRA files of the LoRA folder: (name, path).
    pub fn loras(&self) -> Vec<(String, PathBuf)> {
        self.settings.lora_dir.as_deref().map(|dir| LoraFolder(dir).list()).unwrap_or_default()
    }

    /// The ControlNet models of the ControlNet folder: (name, path).
    pub fn controlnets(&self) -> Vec<(String, PathBuf)> {
        list_dir(self.settings.controlnet_dir.as_deref(), |p| {
            p.join("config.json").is_file() || p.extension().is_some_and(|e| e == "safetensors")
        })
    }

    /// The preprocessors a unit may name: those whose annotator weights are here.
    pub fn modules(&self) -> Vec<&'static str> {
        let dir = &self.settings.annotators.dir;
        let mut list = vec!["none", "canny"];
        for (name, file) in [
            ("openpose", keepsake_models::preprocessors::openpose::WEIGHTS),
            ("depth_leres", keepsake_models::preprocessors::leres::WEIGHTS),
            ("mlsd", keepsake_models::preprocessors::mlsd::WEIGHTS),
            ("depth_anything_v2", keepsake_models::preprocessors::depth_anything::WEIGHTS),
        ] {
            if dir.join(file).is_file() {
                list.push(name);
            }
        }
        list
    }

    fn clip_skip(&self, overrides: Option<&Map<String, Value>>) -> Result<usize, ApiError> {
        let options = self.options.lock();
        let value = overrides.and_then(|o| o.get("CLIP_stop_at_last_layers")).or(options.get("CLIP_stop_at_last_layers"));
        match value.and_then(Value::as_u64) {
            Some(n @ 1..=12) => Ok(n as usize),
            None if value.is_none_or(Value::is_null) => Ok(1),
            _ => Err(ApiError::field("override_settings.CLIP_stop_at_last_layers", "use a whole number from 1 to 12")),
        }
    }

    /// The loaded checkpoint.
    pub fn checkpoint(&self) -> Checkpoint {
        self.checkpoint.lock().clone()
    }

    /// Every checkpoint: the one started with, the loaded one, then those of the models folder.
    pub fn checkpoints(&self) -> Vec<Checkpoint> {
        let mut list = vec![Checkpoint::of(&self.settings.model_path), self.checkpoint()];
        let candidates =
            list_dir(self.settings.models_dir.as_deref(), |p| p.join("unet").is_dir() || p.extension().is_some_and(|e| e == "safetensors"));
        list.extend(candidates.into_iter().map(|(_, path)| Checkpoint::of(&path)));
        let mut seen = std::collections::HashSet::new();
        list.retain(|c| seen.insert(c.title.clone()));
        list
    }

    /// The checkpoint `name` names (title or model name, with or without " [hash]").
    fn find_checkpoint(&self, name: &str) -> Option<Checkpoint> {
        let bare = name.split(" [").next().unwrap_or(name).trim();
        let list = self.checkpoints();
        list.iter()
            .find(|c| c.title.eq_ignore_ascii_case(bare))
            .or_else(|| list.iter().find(|c| c.model_name.eq_ignore_ascii_case(bare)))
            .cloned()
    }

    /// Checks that `name` is the loaded checkpoint.
    pub fn check_checkpoint(&self, name: &str, field: &str) -> Result<(), ApiError> {
        let loaded = self.checkpoint();
        match self.find_checkpoint(name) {
            Some(c) if c.title == loaded.title => Ok(()),
            _ => {
                Err(ApiError::field(field, format!("{name:?} is not loaded: this booth runs {:?} (see /sdapi/v1/sd-models)", loaded.title)))
            }
        }
    }

    /// Loads checkpoint `name` in place of the current one (blocking: waits for a turn).
    pub fn switch_checkpoint(&self, name: &str) -> Result<(), ApiError> {
        let field = "sd_model_checkpoint";
        let Some(wanted) = self.find_checkpoint(name) else {
            let titles: Vec<String> = self.checkpoints().into_iter().map(|c| c.title).collect();
            return Err(ApiError::field(field, format!("{name:?} is not here; use one of {titles:?} (/sdapi/v1/sd-models)")));
        };
        if wanted.title == self.checkpoint().title {
            return Ok(());
        }
        if !self.settings.switchable {
            return Err(ApiError::field(field, "the booth's model is set in its config (style.model) and stays loaded for the visitors"));
        }
        let mut turn = self.shared.turn(Priority::Remote);
        let sd = formats::load(&wanted.path, &self.device)
            .map_err(|e| ApiError::field(field, format!("{} cannot be loaded: {e}", wanted.title)))?;
        if sd.unet_config.cross_attention_dim != self.cross_attention_dim {
            return Err(ApiError::field(field, format!("{} is not an SD 1.x model (its text width differs)", wanted.title)));
        }
        *self.embeddings.lock() = sd.origin.embeddings.clone();
        turn.replace_model(sd);
        tracing::info!(checkpoint = %wanted.title, "checkpoint switched");
        self.options.lock().insert(field.into(), Value::from(wanted.title.clone()));
        *self.checkpoint.lock() = wanted;
        Ok(())
    }

    /// Interrupts the generation under way (if any).
    pub fn interrupt(&self) {
        self.interrupts.fetch_add(1, Ordering::SeqCst);
        let mut running = self.running.lock();
        if running.started.is_some() {
            running.interrupted = true;
        }
    }

    /// A1111's /progress answer.
    pub fn progress(&self, with_image: bool) -> Value {
        let running = self.running.lock();
        let waiting = self.waiting.load(Ordering::SeqCst);
        let (fraction, eta) = match running.started {
            Some(started) if running.steps > 0 && running.images > 0 => {
                let f = (running.image as f64 + running.step as f64 / running.steps as f64) / running.images as f64;
                let elapsed = started.elapsed().as_secs_f64();
                (f, if f > 0.0 { elapsed / f - elapsed } else { 0.0 })
            }
            _ => (0.0, 0.0),
        };
        json!({
            "progress": fraction,
            "eta_relative": eta,
            "state": {
                "skipped": false,
                "interrupted": running.interrupted,
                "job": if running.started.is_some() { format!("Batch {} out of {}", running.image + 1, running.images) } else { String::new() },
                // Every request inside generate() counts, the running one too.
                "job_count": waiting,
                "job_timestamp": if running.timestamp.is_empty() { "0".to_string() } else { running.timestamp.clone() },
                "job_no": running.image,
                "sampling_step": running.step,
                "sampling_steps": running.steps,
            },
            "current_image": if with_image { running.preview.clone().map(Value::from).unwrap_or(Value::Null) } else { Value::Null },
            "textinfo": Value::Null,
        })
    }

    /// A txt2img or img2img request, start to finish (blocking: run it off the async runtime).
    pub fn generate(&self, request: GenerationRequest, img2img: bool) -> Result<GenerationResponse, ApiError> {
        let waiting = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _counted = Decrement(&self.waiting);
        if waiting >= self.settings.limits.max_waiting {
            return Err(ApiError::status(
                StatusCode::SERVICE_UNAVAILABLE,
                "Busy",
                format!("{waiting} requests are waiting already: try again in a little while"),
            ));
        }
        let echo = serde_json::to_value(&request).unwrap_or(Value::Null);
        let job = self.prepare(request, img2img)?;
        let mut images = Vec::with_capacity(job.seeds.len());
        let mut infotexts = Vec::new();
        let mut interrupted = false;
        // An interrupt stops the request running when it is sent, not the ones still waiting:
        // each request counts from when it first gets the model.
        let mut started_at = None;
        let model_name = self.checkpoint().model_name;
        // However the request ends, /progress stops showing it.
        let _idle_after = IdleAfter(&self.running);
        for (index, seed) in job.seeds.iter().enumerate() {
            if started_at.is_some_and(|at| self.interrupts.load(Ordering::SeqCst) != at) {
                interrupted = true;
                break;
            }
            let params = Img2ImgParams { seed: *seed, ..job.params.clone() };
            let picture = self.run_one(&job, &params, index, &mut started_at, &mut interrupted)?;
            let text = super::infotext::infotext(&params, &model_name, img2img);
            let png = super::infotext::png_with_parameters(&picture, &text)
                .map_err(|e| ApiError::status(StatusCode::INTERNAL_SERVER_ERROR, "EncodeError", e.to_string()))?;
            if job.send_images {
                images.push(encode_base64(&png));
            }
            infotexts.push(text);
            if interrupted {
                break;
            }
        }
        // The ControlNet extension appends each unit's control image (its "detected map") after
        // the pictures, unless the unit says save_detected_map: false.
        if job.send_images {
            images.extend(job.units.iter().filter(|(_, _, u)| u.save_detected_map).map(|(_, control, _)| png_base64(control)));
        }
        let p = &job.params;
        let info = json!({
            "prompt": p.prompt,
            "all_prompts": vec![&p.prompt; infotexts.len()],
            "negative_prompt": p.negative_prompt,
            "all_negative_prompts": vec![&p.negative_prompt; infotexts.len()],
            "seed": job.seeds[0],
            "all_seeds": &job.seeds[..infotexts.len()],
            "subseed": -1,
            "all_subseeds": vec![-1; infotexts.len()],
            "subseed_strength": 0,
            "width": p.width,
            "height": p.height,
            "sampler_name": job.sampler,
            "scheduler": job.scheduler,
            "cfg_scale": p.cfg,
            "steps": p.steps,
            "batch_size": infotexts.len(),
            "restore_faces": false,
            "sd_model_name": model_name,
            "sd_model_hash": Value::Null,
            "denoising_strength": if job.img2img { json!(p.strength) } else { Value::Null },
            "clip_skip": p.clip_skip,
            "extra_generation_params": extra_params(&job),
            "index_of_first_image": 0,
            "infotexts": infotexts,
            "styles": [],
            "job_timestamp": chrono::Utc::now().format("%Y%m%d%H%M%S").to_string(),
            "interrupted": interrupted,
            "version": concat!("keepsake ", env!("CARGO_PKG_VERSION")),
        });
        let mut parameters = echo;
        if let Some(o) = parameters.as_object_mut() {
            o.insert("init_images".into(), Value::Null);
            o.insert("mask".into(), Value::Null);
        }
        Ok(GenerationResponse { images, parameters, info: info.to_string() })
    }

    /// One picture; gives its turn up (and starts again) when a visitor is waiting.
    fn run_one(
        &self,
        job: &Job,
        params: &Img2ImgParams,
        index: usize,
        started_at: &mut Option<u64>,
        interrupted: &mut bool,
    ) -> Result<RgbImage, ApiError> {
        loop {
            let mut turn = self.shared.turn(Priority::Remote);
            let interrupts = *started_at.get_or_insert_with(|| self.interrupts.load(Ordering::SeqCst));
            turn.use_loras(&job.loras).map_err(|e| ApiError::field("prompt", e.to_string()))?;
            {
                let mut running = self.running.lock();
                if running.started.is_none() || index == 0 {
                    *running = Running {
                        started: Some(Instant::now()),
                        timestamp: chrono::Utc::now().format("%Y%m%d%H%M%S").to_string(),
                        ..Default::default()
                    };
                }
                running.image = index;
                running.images = job.seeds.len();
            }
            let units: Vec<ControlUnit> =
                job.units.iter().map(|(net, image, u)| ControlUnit { model: net, image: image.clone(), settings: u.settings }).collect();
            let start = if job.img2img { Start::Photo(&job.photos[index % job.photos.len()]) } else { Start::Noise };
            let mut preempted = false;
            let result = turn.sd.generate(start, params, &units, &mut |s| {
                let preview = png_base64(&keepsake_models::pipeline::latent_preview::approximate(&s.latents));
                let mut running = self.running.lock();
                running.step = s.step;
                running.steps = s.total;
                running.preview = Some(preview);
                if self.interrupts.load(Ordering::SeqCst) != interrupts {
                    *interrupted = true;
                    Flow::Finish
                } else if self.shared.visitor_waiting() {
                    preempted = true;
                    Flow::Cancel
                } else {
                    Flow::Continue
                }
            });
            match result {
                Ok(decoded) => return Ok(to_image(decoded)),
                Err(PipelineError::Cancelled) if preempted => {
                    tracing::info!("a visitor needs the model: the API request gives its turn up and starts again after");
                    continue;
                }
                Err(PipelineError::Size { what, value, multiple, .. }) => {
                    return Err(ApiError::field(what, format!("{value} is not a multiple of {multiple}")));
                }
                Err(e) => return Err(ApiError::status(StatusCode::INTERNAL_SERVER_ERROR, "GenerationError", e.to_string())),
            }
        }
    }

    /// Reads and checks a request; runs the ControlNet preprocessors.
    fn prepare(&self, r: GenerationRequest, img2img: bool) -> Result<Job, ApiError> {
        let limits = self.settings.limits;
        let prompt_text = r.prompt.clone().unwrap_or_default();
        let (prompt, tags) =
            keepsake_models::edits::extra_networks::take_lora_tags(&prompt_text).map_err(|e| ApiError::field("prompt", e))?;
        let mut loras = Vec::new();
        for tag in tags {
            match self.settings.lora_dir.as_deref().and_then(|dir| LoraFolder(dir).resolve(&tag.name)) {
                Some(path) => loras.push((path, tag.weight)),
                None => {
                    return Err(ApiError::field(
                        "prompt",
                        format!("<lora:{}> is not in this booth's LoRA folder (see /sdapi/v1/loras)", tag.name),
                    ))
                }
            }
        }
        if r.subseed_strength.is_some_and(|s| s != 0.0) {
            return Err(ApiError::field("subseed_strength", "variation seeds are not supported: send 0"));
        }
        if r.enable_hr == Some(true) {
            return Err(ApiError::field("enable_hr", "the hires fix is not supported: send false and ask for the size you want"));
        }
        if r.restore_faces == Some(true) {
            return Err(ApiError::field("restore_faces", "face restoration is not installed: send false"));
        }
        if r.tiling == Some(true) {
            return Err(ApiError::field("tiling", "tiling is not supported: send false"));
        }
        if r.mask.as_deref().is_some_and(|m| !m.is_empty()) {
            return Err(ApiError::field("mask", "inpainting is not supported: send no mask"));
        }
        if let Some(name) = r.script_name.as_deref().filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("none")) {
            return Err(ApiError::field(
                "script_name",
                format!("script {name:?} is not available here: ControlNet is always on (alwayson_scripts)"),
            ));
        }
        for (key, value) in r.override_settings.iter().flatten() {
            super::options::check(key, value, &format!("override_settings.{key}"))?;
        }
        if let Some(Value::String(name)) = r.override_settings.as_ref().and_then(|o| o.get("sd_model_checkpoint")) {
            self.check_checkpoint(name, "override_settings.sd_model_checkpoint")?;
        }
        let sampler = resolve_sampler(r.sampler_name.as_deref().or(r.sampler_index.as_deref()), r.scheduler.as_deref())?;
        // A1111's default, within what this booth allows.
        let steps = r.steps.unwrap_or(50.min(limits.max_steps));
        if steps == 0 || steps > limits.max_steps {
            return Err(ApiError::field("steps", format!("{steps}: use 1 to {} steps", limits.max_steps)));
        }
        let cfg = r.cfg_scale.unwrap_or(7.0);
        if !cfg.is_finite() || !(0.0..=30.0).contains(&cfg) {
            return Err(ApiError::field("cfg_scale", format!("{cfg}: use 0 to 30 (7 is usual)")));
        }
        let size = |field: &str, v: Option<u32>| -> Result<u32, ApiError> {
            // A1111's default, within what this booth allows.
            let v = v.unwrap_or(512.min(limits.max_side));
            if v < 8 || v > limits.max_side {
                return Err(ApiError::field(field, format!("{v}: use 8 to {} px (512 is SD 1.5's own size)", limits.max_side)));
            }
            Ok(v / 8 * 8)
        };
        let (width, height) = (size("width", r.width)?, size("height", r.height)?);
        let count = r.batch_size.unwrap_or(1).max(1).saturating_mul(r.n_iter.unwrap_or(1).max(1));
        if count > limits.max_images {
            return Err(ApiError::field(
                "batch_size",
                format!("{count} pictures (batch_size × n_iter): ask for at most {}", limits.max_images),
            ));
        }
        let strength = r.denoising_strength.unwrap_or(0.75);
        if img2img && !(0.0..=1.0).contains(&strength) {
            return Err(ApiError::field("denoising_strength", format!("{strength}: use 0 to 1")));
        }
        let originals: Vec<RgbImage> = if img2img {
            let list = r.init_images.as_deref().unwrap_or_default();
            if list.is_empty() {
                return Err(ApiError::field("init_images", "img2img needs a picture to start from (base64 PNG or JPEG)"));
            }
            list.iter()
                .enumerate()
                .map(|(i, s)| decode_image(s).map_err(|e| ApiError::field(&format!("init_images.{i}"), e.to_string())))
                .collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        let resize = match r.resize_mode.unwrap_or(0) {
            0 | 3 => ResizeMode::JustResize,
            1 => ResizeMode::CropAndResize,
            2 => ResizeMode::ResizeAndFill,
            other => {
                return Err(ApiError::field(
                    "resize_mode",
                    format!("{other}: use 0 (just resize), 1 (crop and resize) or 2 (resize and fill)"),
                ))
            }
        };
        let photos: Vec<RgbImage> = originals.iter().map(|p| fit(p, width, height, resize)).collect();
        let seed = match r.seed.unwrap_or(-1) {
            s if s < 0 => rand::random::<u32>() as u64,
            s => s as u64,
        };
        let seeds: Vec<u64> = (0..count as u64).map(|i| seed.wrapping_add(i)).collect();
        let clip_skip = self.clip_skip(r.override_settings.as_ref())?;
        let randn_source = r
            .override_settings
            .as_ref()
            .and_then(|o| o.get("randn_source"))
            .or(self.options.lock().get("randn_source"))
            .and_then(Value::as_str)
            .and_then(RandnSource::named)
            .unwrap_or(self.settings.randn_source);
        let mut units = Vec::new();
        for unit in read_units(r.alwayson_scripts.as_ref())? {
            let net = self.net(&unit)?;
            let source = match (&unit.image, originals.first()) {
                (Some(image), _) => image,
                (None, Some(photo)) => photo,
                (None, None) => return Err(ApiError::field(&format!("{}.image", unit.at), "txt2img units need their own image")),
            };
            let control = match unit.module {
                Module::None => source.clone(),
                module => {
                    let resolution =
                        unit.resolution.unwrap_or_else(|| pixel_perfect_resolution(source.dimensions(), (width, height), unit.resize));
                    self.preprocessor(module, &unit.at)?.run(source, resolution)
                }
            };
            let control = fit(&control, width, height, unit.resize);
            units.push((net, control, unit));
        }
        Ok(Job {
            img2img,
            photos,
            params: Img2ImgParams {
                prompt,
                negative_prompt: r.negative_prompt.unwrap_or_default(),
                strength,
                steps: steps as usize,
                scheduler: sampler.kind,
                schedule: sampler.schedule,
                cfg: cfg as f32,
                seed,
                width,
                height,
                clip_skip,
                noise: randn_source.noise(self.settings.noise_kernel),
            },
            loras,
            units,
            seeds,
            sampler: sampler.name,
            scheduler: sampler.schedule_name,
            send_images: r.send_images.unwrap_or(true),
        })
    }

    /// The unit's ControlNet, loaded once.
    fn net(&self, unit: &UnitArgs) -> Result<Arc<ControlNetModel>, ApiError> {
        let wanted = unit.model.split(" [").next().unwrap_or(&unit.model).trim();
        let available = self.controlnets();
        let Some((name, path)) = available.iter().find(|(name, _)| name.eq_ignore_ascii_case(wanted)) else {
            let names: Vec<&str> = available.iter().map(|(n, _)| n.as_str()).collect();
            return Err(ApiError::field(
                &format!("{}.model", unit.at),
                format!("{:?} is not installed here; use one of {names:?} (/controlnet/model_list)", unit.model),
            ));
        };
        let mut nets = self.nets.lock();
        if let Some(net) = nets.get(name) {
            return Ok(net.clone());
        }
        let net = Arc::new(
            formats::load_controlnet(path, self.cross_attention_dim, &self.device)
                .map_err(|e| ApiError::field(&format!("{}.model", unit.at), format!("{name} cannot be loaded: {e}")))?,
        );
        nets.insert(name.clone(), net.clone());
        Ok(net)
    }

    /// The module's preprocessor, loaded once (canny, with the request's thresholds, each time).
    fn preprocessor(&self, module: Module, at: &str) -> Result<Arc<Preprocessor>, ApiError> {
        let key = module.to_string();
        let cached = !matches!(module, Module::Canny { .. });
        if cached {
            if let Some(p) = self.preprocessors.lock().get(&key) {
                return Ok(p.clone());
            }
        }
        let loaded = Arc::new(
            Preprocessor::load(module, &self.settings.annotators)
                .map_err(|e| ApiError::field(&format!("{at}.module"), format!("{e} (this booth's modules: /controlnet/module_list)")))?,
        );
        if cached {
            self.preprocessors.lock().insert(key, loaded.clone());
        }
        Ok(loaded)
    }

    /// /controlnet/detect: the module's control image for each picture.
    pub fn detect(
        &self,
        module: &str,
        images: &[String],
        resolution: Option<f64>,
        low: Option<f64>,
        high: Option<f64>,
    ) -> Result<Vec<String>, ApiError> {
        let mut module: Module = module.trim().to_ascii_lowercase().parse().map_err(|e: String| ApiError::field("controlnet_module", e))?;
        apply_thresholds(&mut module, low.unwrap_or(-1.0), high.unwrap_or(-1.0));
        let resolution = processor_resolution(resolution.unwrap_or(-1.0), "controlnet_processor_res")?;
        if images.is_empty() {
            return Err(ApiError::field("controlnet_input_images", "send at least one picture (base64)"));
        }
        let pictures: Vec<RgbImage> = images
            .iter()
            .enumerate()
            .map(|(i, s)| decode_image(s).map_err(|e| ApiError::field(&format!("controlnet_input_images.{i}"), e.to_string())))
            .collect::<Result<_, _>>()?;
        if module == Module::None {
            return Ok(pictures.iter().map(png_base64).collect());
        }
        let preprocessor = self.preprocessor(module, "controlnet")?;
        Ok(pictures.iter().map(|p| png_base64(&preprocessor.run(p, resolution))).collect())
    }
}

fn extra_params(job: &Job) -> Value {
    let mut extra = Map::new();
    for (i, (_, _, u)) in job.units.iter().enumerate() {
        let mode = match u.settings.mode {
            ControlMode::Balanced => "Balanced",
            ControlMode::Prompt => "My prompt is more important",
            ControlMode::Control => "ControlNet is more important",
        };
        extra.insert(
            format!("ControlNet {i}"),
            Value::from(format!(
                "Module: {}, Model: {}, Weight: {}, Guidance Start: {}, Guidance End: {}, Control Mode: {mode}",
                u.module, u.model, u.settings.weight, u.settings.start, u.settings.end
            )),
        );
    }
    if !job.loras.is_empty() {
        let names: Vec<String> = job
            .loras
            .iter()
            .map(|(p, w)| format!("{}: {w}", p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()))
            .collect();
        extra.insert("Lora weights".into(), Value::from(names.join(", ")));
    }
    Value::Object(extra)
}

fn list_dir(dir: Option<&Path>, keep: impl Fn(&Path) -> bool) -> Vec<(String, PathBuf)> {
    let Some(entries) = dir.and_then(|d| std::fs::read_dir(d).ok()) else { return Vec::new() };
    let mut list: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| keep(p))
        .filter_map(|p| {
            let name = if p.is_dir() { p.file_name() } else { p.file_stem() }?.to_string_lossy().into_owned();
            Some((name, p))
        })
        .collect();
    list.sort();
    list
}

struct IdleAfter<'a>(&'a Mutex<Running>);

impl Drop for IdleAfter<'_> {
    fn drop(&mut self) {
        let mut running = self.0.lock();
        running.started = None;
        running.step = 0;
    }
}

struct Decrement<'a>(&'a AtomicUsize);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
