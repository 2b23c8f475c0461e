//! The HTTP side: A1111's routes under /sdapi/v1 and the ControlNet extension's under
//! /controlnet, an optional token, and the OpenAPI document at /openapi.json.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use keepsake_models::schedulers::{Schedule, SchedulerKind};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::engine::Engine;
use super::extras::Upscaler;
use super::request::{ApiError, Body, ErrorBody, GenerationRequest, GenerationResponse, HttpValidationError};
use super::state::{blocking, AppState};
use super::{controlnet, extras, options};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/sdapi/v1/txt2img", post(txt2img))
        .route("/sdapi/v1/img2img", post(img2img))
        .route("/sdapi/v1/options", get(get_options).post(set_options))
        .route("/sdapi/v1/sd-models", get(sd_models))
        .route("/sdapi/v1/samplers", get(samplers))
        .route("/sdapi/v1/schedulers", get(schedulers))
        .route("/sdapi/v1/loras", get(loras))
        .route("/sdapi/v1/embeddings", get(embeddings))
        .route("/sdapi/v1/scripts", get(scripts))
        .route("/sdapi/v1/progress", get(progress))
        .route("/sdapi/v1/interrupt", post(interrupt))
        .route("/sdapi/v1/cmd-flags", get(cmd_flags))
        .route("/sdapi/v1/upscalers", get(upscalers))
        .route("/sdapi/v1/hypernetworks", get(empty_list))
        .route("/sdapi/v1/face-restorers", get(empty_list))
        .route("/sdapi/v1/realesrgan-models", get(empty_list))
        .route("/sdapi/v1/prompt-styles", get(empty_list))
        .route("/sdapi/v1/extra-single-image", post(extras::extra_single_image))
        .route("/sdapi/v1/png-info", post(extras::png_info))
        .route("/sdapi/v1/interrogate", post(extras::interrogate))
        .route("/controlnet/version", get(controlnet::version))
        .route("/controlnet/settings", get(controlnet::settings))
        .route("/controlnet/model_list", get(controlnet::model_list))
        .route("/controlnet/module_list", get(controlnet::module_list))
        .route("/controlnet/control_types", get(controlnet::control_types))
        .route("/controlnet/detect", post(controlnet::detect))
        .route("/openapi.json", get(openapi))
        // FastAPI's answer to a route it does not have, which clients parse.
        .fallback(|| async { (StatusCode::NOT_FOUND, Json(json!({"detail": "Not Found"}))) })
        .layer(axum::middleware::from_fn_with_state(state.clone(), authorize))
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
        .with_state(state)
}

/// The token, as `Authorization: Bearer TOKEN` or Basic auth with TOKEN as the password (what
/// A1111's --api-auth clients such as webuiapi's set_auth send).
async fn authorize(State(state): State<AppState>, headers: HeaderMap, request: axum::extract::Request, next: Next) -> Response {
    let Some(token) = &state.token else { return next.run(request).await };
    let given = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| {
        if let Some(t) = v.strip_prefix("Bearer ") {
            return Some(t.trim().to_string());
        }
        let decoded = base64::engine::general_purpose::STANDARD.decode(v.strip_prefix("Basic ")?.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        Some(text.split_once(':')?.1.to_string())
    });
    // Compared in constant time: the token guards the booth's GPU.
    let matches = given.is_some_and(|g| g.len() == token.len() && g.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0);
    if matches {
        next.run(request).await
    } else {
        ApiError::status(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "send the booth's API token (Authorization: Bearer TOKEN, or as the Basic-auth password)",
        )
        .into_response()
    }
}

/// Text to image.
#[utoipa::path(post, path = "/sdapi/v1/txt2img", request_body = GenerationRequest, responses(
    (status = 200, body = GenerationResponse), (status = 422, body = HttpValidationError), (status = 401, body = ErrorBody), (status = 404, description = "a sampler A1111 does not know", body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn txt2img(State(s): State<AppState>, Body(r): Body<GenerationRequest>) -> Result<Json<GenerationResponse>, ApiError> {
    let engine = s.engine.clone();
    blocking(move || engine.generate(r, false)).await.map(Json)
}

/// Image to image (ControlNet units in alwayson_scripts).
#[utoipa::path(post, path = "/sdapi/v1/img2img", request_body = GenerationRequest, responses(
    (status = 200, body = GenerationResponse), (status = 422, body = HttpValidationError), (status = 401, body = ErrorBody), (status = 404, description = "a sampler A1111 does not know", body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn img2img(State(s): State<AppState>, Body(r): Body<GenerationRequest>) -> Result<Json<GenerationResponse>, ApiError> {
    let engine = s.engine.clone();
    blocking(move || engine.generate(r, true)).await.map(Json)
}

/// The settings (sd_model_checkpoint, CLIP_stop_at_last_layers, ...).
#[utoipa::path(get, path = "/sdapi/v1/options", responses((status = 200, body = Object), (status = 401, body = ErrorBody)))]
async fn get_options(State(s): State<AppState>) -> Json<Value> {
    Json(Value::Object(s.engine.options.lock().clone()))
}

/// Changes settings; sd_model_checkpoint loads that checkpoint (from /sdapi/v1/sd-models).
#[utoipa::path(post, path = "/sdapi/v1/options", request_body = Object, responses(
    (status = 200, description = "null, as A1111 answers", body = Value), (status = 422, body = HttpValidationError), (status = 401, body = ErrorBody)))]
async fn set_options(State(s): State<AppState>, Body(changes): Body<Map<String, Value>>) -> Result<Json<Value>, ApiError> {
    // Every value is checked before any is kept: a request with one bad value changes nothing.
    let mut kept = Vec::new();
    for (key, value) in &changes {
        if let Some(value) = options::check(key, value, key)? {
            kept.push((key.clone(), value));
        }
    }
    if let Some(Value::String(name)) = changes.get("sd_model_checkpoint") {
        let (engine, name) = (s.engine.clone(), name.clone());
        blocking(move || engine.switch_checkpoint(&name)).await?;
    }
    let mut settings = s.engine.options.lock();
    for (key, value) in kept {
        if key != "sd_model_checkpoint" {
            settings.insert(key, value); // the checkpoint's stays the loaded model's title
        }
    }
    Ok(Json(Value::Null))
}

#[derive(Serialize, ToSchema)]
struct SdModel {
    title: String,
    model_name: String,
    hash: Option<String>,
    sha256: Option<String>,
    filename: String,
    config: Option<String>,
}

/// The checkpoints: the loaded one first (hashes are not computed: null, as A1111 before it has).
#[utoipa::path(get, path = "/sdapi/v1/sd-models", responses((status = 200, body = Vec<SdModel>), (status = 401, body = ErrorBody)))]
async fn sd_models(State(s): State<AppState>) -> Json<Vec<SdModel>> {
    Json(
        s.engine
            .checkpoints()
            .into_iter()
            .map(|c| SdModel {
                title: c.title,
                model_name: c.model_name,
                hash: None,
                sha256: None,
                filename: c.path.display().to_string(),
                config: None,
            })
            .collect(),
    )
}

#[derive(Serialize, ToSchema)]
struct Sampler {
    name: String,
    aliases: Vec<String>,
    #[schema(value_type = Object)]
    options: Value,
}

/// The samplers, named as A1111 names them.
#[utoipa::path(get, path = "/sdapi/v1/samplers", responses((status = 200, body = Vec<Sampler>), (status = 401, body = ErrorBody)))]
async fn samplers() -> Json<Vec<Sampler>> {
    Json(
        SchedulerKind::ALL
            .map(|k| k.a1111())
            .into_iter()
            .map(|a| Sampler {
                name: a.name.to_string(),
                aliases: a.aliases.iter().map(|n| n.to_string()).collect(),
                options: a.schedule.map_or(json!({}), |s| json!({"scheduler": s.name()})),
            })
            .collect(),
    )
}

#[derive(Serialize, ToSchema)]
struct Scheduler {
    name: String,
    label: String,
    aliases: Option<Vec<String>>,
    default_rho: f64,
    need_inner_model: bool,
}

/// The noise schedules.
#[utoipa::path(get, path = "/sdapi/v1/schedulers", responses((status = 200, body = Vec<Scheduler>), (status = 401, body = ErrorBody)))]
async fn schedulers() -> Json<Vec<Scheduler>> {
    Json(
        Schedule::ALL
            .iter()
            .map(|s| Scheduler {
                name: s.name().to_string(),
                label: s.label().to_string(),
                aliases: (!s.aliases().is_empty()).then(|| s.aliases().iter().map(|a| a.to_string()).collect()),
                default_rho: if *s == Schedule::Karras { 7.0 } else { -1.0 },
                // A1111's: Uniform and SGM Uniform read the model's own timestep mapping.
                need_inner_model: matches!(s, Schedule::Uniform | Schedule::SgmUniform),
            })
            .collect(),
    )
}

#[derive(Serialize, ToSchema)]
struct LoraEntry {
    name: String,
    alias: String,
    path: String,
    #[schema(value_type = Object)]
    metadata: Value,
}

/// The LoRAs a prompt can name as `<lora:NAME:WEIGHT>`.
#[utoipa::path(get, path = "/sdapi/v1/loras", responses((status = 200, body = Vec<LoraEntry>), (status = 401, body = ErrorBody)))]
async fn loras(State(s): State<AppState>) -> Json<Vec<LoraEntry>> {
    Json(
        s.engine
            .loras()
            .into_iter()
            .map(|(name, path)| LoraEntry { alias: name.clone(), name, path: path.display().to_string(), metadata: json!({}) })
            .collect(),
    )
}

/// The textual-inversion words the model knows.
#[utoipa::path(get, path = "/sdapi/v1/embeddings", responses((status = 200, body = Object), (status = 401, body = ErrorBody)))]
async fn embeddings(State(s): State<AppState>) -> Json<Value> {
    let loaded: Map<String, Value> = s
        .engine
        .embeddings
        .lock()
        .iter()
        .map(|(word, vectors)| {
            (word.clone(), json!({"step": null, "sd_checkpoint": null, "sd_checkpoint_name": null, "shape": 768, "vectors": vectors}))
        })
        .collect();
    Json(json!({"loaded": loaded, "skipped": {}}))
}

#[derive(Serialize, ToSchema)]
struct ScriptsList {
    txt2img: Vec<String>,
    img2img: Vec<String>,
}

/// The scripts: ControlNet (always on; "controlnet m2m" is listed so that clients which look for
/// it, like webuiapi, send their units).
#[utoipa::path(get, path = "/sdapi/v1/scripts", responses((status = 200, body = ScriptsList), (status = 401, body = ErrorBody)))]
async fn scripts() -> Json<ScriptsList> {
    let list = vec!["controlnet".to_string(), "controlnet m2m".to_string()];
    Json(ScriptsList { txt2img: list.clone(), img2img: list })
}

#[derive(Deserialize, IntoParams)]
struct ProgressQuery {
    /// Leave the preview picture out.
    skip_current_image: Option<bool>,
}

/// The generation under way: fraction done, steps, and a preview of the picture so far.
#[utoipa::path(get, path = "/sdapi/v1/progress", params(ProgressQuery), responses((status = 200, body = Object), (status = 401, body = ErrorBody)))]
async fn progress(State(s): State<AppState>, Query(q): Query<ProgressQuery>) -> Json<Value> {
    Json(s.engine.progress(!q.skip_current_image.unwrap_or(false)))
}

/// Stops the generation under way; its request answers with the picture as far as it got.
#[utoipa::path(post, path = "/sdapi/v1/interrupt", responses((status = 200, body = Object), (status = 401, body = ErrorBody)))]
async fn interrupt(State(s): State<AppState>) -> Json<Value> {
    s.engine.interrupt();
    Json(json!({}))
}

/// The command-line flags a client checks at start, as A1111 names them: the API is on, and
/// what this booth has no part of (no extensions to install, no Gradio UI) is off.
#[utoipa::path(get, path = "/sdapi/v1/cmd-flags", responses((status = 200, body = Object), (status = 401, body = ErrorBody)))]
async fn cmd_flags(State(s): State<AppState>) -> Json<Value> {
    Json(json!({
        "api": true,
        "nowebui": true,
        "api_auth": s.token.is_some(),
        "disable_extension_access": true,
        "enable_insecure_extension_access": false,
        "listen": false,
        "no_half": false,
        "no_half_vae": false,
        "lowvram": false,
        "medvram": false,
        "skip_version_check": true,
    }))
}

/// The upscalers: A1111's built-in ones that need no model (this booth has no ESRGAN weights).
#[utoipa::path(get, path = "/sdapi/v1/upscalers", responses((status = 200, body = [Object]), (status = 401, body = ErrorBody)))]
async fn upscalers() -> Json<Value> {
    let upscaler = |u: Upscaler| json!({"name": u.name(), "model_name": null, "model_path": null, "model_url": null, "scale": 4.0});
    Json(Value::Array(Upscaler::ALL.map(upscaler).to_vec()))
}

/// Hypernetworks, face restorers, Real-ESRGAN models and saved prompt styles: the booth has none,
/// which A1111 without them lists as an empty list.
#[utoipa::path(get, path = "/sdapi/v1/prompt-styles", responses((status = 200, body = [Object]), (status = 401, body = ErrorBody)))]
async fn empty_list() -> Json<Value> {
    Json(json!([]))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Keepsake booth: AUTOMATIC1111-compatible API",
        description = "Stable Diffusion 1.5 on the booth, with ControlNet and LoRA, spoken as AUTOMATIC1111's web UI API."
    ),
    paths(
        txt2img,
        img2img,
        get_options,
        set_options,
        sd_models,
        samplers,
        schedulers,
        loras,
        embeddings,
        scripts,
        progress,
        interrupt,
        controlnet::version,
        controlnet::settings,
        controlnet::model_list,
        controlnet::module_list,
        controlnet::control_types,
        controlnet::detect,
        cmd_flags,
        upscalers,
        empty_list,
        extras::extra_single_image,
        extras::png_info,
        extras::interrogate
    )
)]
struct ApiDoc;

/// The OpenAPI document, with this booth's limits in it.
pub fn document(engine: &Engine) -> Value {
    let mut doc = serde_json::to_value(<ApiDoc as utoipa::OpenApi>::openapi()).unwrap_or(Value::Null);
    let limits = engine.settings.limits;
    if let Some(props) = doc.pointer_mut("/components/schemas/GenerationRequest/properties") {
        for (field, min, max) in [
            ("steps", 1, limits.max_steps),
            ("width", 8, limits.max_side),
            ("height", 8, limits.max_side),
            ("batch_size", 1, limits.max_images),
            ("n_iter", 1, limits.max_images),
        ] {
            if let Some(Value::Object(p)) = props.get_mut(field) {
                p.insert("minimum".into(), json!(min));
                p.insert("maximum".into(), json!(max));
            }
        }
        for (field, min, max) in [("denoising_strength", 0.0, 1.0), ("cfg_scale", 0.0, 30.0)] {
            if let Some(Value::Object(p)) = props.get_mut(field) {
                p.insert("minimum".into(), json!(min));
                p.insert("maximum".into(), json!(max));
            }
        }
    }
    doc
}

async fn openapi(State(s): State<AppState>) -> Json<Value> {
    Json(document(&s.engine))
}
