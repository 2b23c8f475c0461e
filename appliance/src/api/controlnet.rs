//! The ControlNet extension's own routes (/controlnet/...), answered as its API version 3 does:
//! the models and preprocessors here, each preprocessor with the sliders a client builds its form
//! from, the control types that group them, and `detect`.

use axum::extract::{Query, State};
use axum::Json;
use keepsake_models::preprocessors::Module;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::request::{ApiError, Body, ErrorBody, HttpValidationError};
use super::state::{blocking, AppState};

/// The extension's API version that these routes follow.
pub const API_VERSION: u32 = 3;

/// One slider of a preprocessor's form, as the extension's `module_detail` lists it.
struct Slider {
    name: &'static str,
    value: f64,
    min: f64,
    max: f64,
    step: f64,
}

impl Slider {
    fn json(&self) -> Value {
        json!({"name": self.name, "value": self.value, "min": self.min, "max": self.max, "step": self.step})
    }
}

/// processor_res: what `units::processor_resolution` takes.
const RESOLUTION: Slider = Slider { name: "Resolution", value: 512.0, min: 64.0, max: 2048.0, step: 8.0 };

/// A preprocessor as the extension describes it to clients.
struct Described {
    /// The UI name (`alias_names=true`); the same as the module's name for every module here.
    label: &'static str,
    /// The control type it belongs to (None: "none" belongs to every type).
    control_type: Option<&'static str>,
    /// The sliders that change its result here (threshold_a, threshold_b in order after the
    /// resolution). MLSD's and LeReS's thresholds are read with their defaults only, so they
    /// list none.
    sliders: Vec<Slider>,
}

fn describe(module: Module) -> Described {
    match module {
        Module::None => Described { label: "none", control_type: None, sliders: vec![] },
        Module::Canny { .. } => Described {
            label: "canny",
            control_type: Some("Canny"),
            sliders: vec![
                RESOLUTION,
                Slider { name: "Low Threshold", value: 100.0, min: 1.0, max: 255.0, step: 1.0 },
                Slider { name: "High Threshold", value: 200.0, min: 1.0, max: 255.0, step: 1.0 },
            ],
        },
        Module::Openpose => Described { label: "openpose", control_type: Some("OpenPose"), sliders: vec![RESOLUTION] },
        Module::Depth => Described { label: "depth_leres", control_type: Some("Depth"), sliders: vec![RESOLUTION] },
        Module::DepthAnything => Described { label: "depth_anything_v2", control_type: Some("Depth"), sliders: vec![RESOLUTION] },
        Module::Mlsd => Described { label: "mlsd", control_type: Some("MLSD"), sliders: vec![RESOLUTION] },
    }
}

/// The modules this booth can run, described: "none" first, then by name (the extension's order).
fn described_modules(s: &AppState) -> Vec<(&'static str, Described)> {
    let mut list: Vec<(&'static str, Described)> =
        s.engine.modules().into_iter().filter_map(|name| Some((name, describe(name.parse::<Module>().ok()?)))).collect();
    list.sort_by_key(|(name, _)| (*name != "none", *name));
    list
}

/// The ControlNet API version.
#[utoipa::path(get, path = "/controlnet/version", responses((status = 200, body = Object), (status = 401, body = ErrorBody)))]
pub async fn version() -> Json<Value> {
    Json(json!({"version": API_VERSION}))
}

/// How many units a request may carry (the extension's `control_net_unit_count`).
#[utoipa::path(get, path = "/controlnet/settings", responses((status = 200, body = Object), (status = 401, body = ErrorBody)))]
pub async fn settings() -> Json<Value> {
    Json(json!({"control_net_unit_count": super::options::CONTROLNET_UNITS}))
}

/// The ControlNet models a unit can name.
#[utoipa::path(get, path = "/controlnet/model_list", responses((status = 200, body = Object), (status = 401, body = ErrorBody)))]
pub async fn model_list(State(s): State<AppState>) -> Json<Value> {
    let names: Vec<String> = s.engine.controlnets().into_iter().map(|(n, _)| n).collect();
    Json(json!({"model_list": names}))
}

#[derive(Deserialize, IntoParams)]
pub struct ModuleListQuery {
    /// List the names the extension's UI shows instead of the module keys.
    alias_names: Option<bool>,
}

/// The preprocessors a unit can name (those whose weights this booth has), each with its
/// sliders; `model_free` is true for a preprocessor that needs no ControlNet model (none here).
#[utoipa::path(get, path = "/controlnet/module_list", params(ModuleListQuery), responses(
    (status = 200, body = Object), (status = 401, body = ErrorBody)))]
pub async fn module_list(State(s): State<AppState>, Query(q): Query<ModuleListQuery>) -> Json<Value> {
    let aliases = q.alias_names.unwrap_or(false);
    let modules = described_modules(&s);
    let name = |(key, d): &(&'static str, Described)| if aliases { d.label } else { key };
    let detail: Map<String, Value> = modules
        .iter()
        .map(|m| (name(m).to_string(), json!({"model_free": false, "sliders": m.1.sliders.iter().map(Slider::json).collect::<Vec<_>>()})))
        .collect();
    Json(json!({"module_list": modules.iter().map(name).collect::<Vec<_>>(), "module_detail": detail}))
}

/// The control types ("All", then one per kind of control here), each with its preprocessors,
/// the models whose names say that kind, and the defaults the extension's UI picks.
#[utoipa::path(get, path = "/controlnet/control_types", responses((status = 200, body = Object), (status = 401, body = ErrorBody)))]
pub async fn control_types(State(s): State<AppState>) -> Json<Value> {
    let modules = described_modules(&s);
    let models: Vec<String> = std::iter::once("None".to_string()).chain(s.engine.controlnets().into_iter().map(|(n, _)| n)).collect();
    let mut kinds: Vec<&str> = modules.iter().filter_map(|(_, d)| d.control_type).collect();
    kinds.sort();
    kinds.dedup();
    let mut types = Map::new();
    types.insert(
        "All".into(),
        json!({"module_list": modules.iter().map(|(_, d)| d.label).collect::<Vec<_>>(), "model_list": models,
               "default_option": "none", "default_model": "None"}),
    );
    for kind in kinds {
        let pattern = kind.to_ascii_lowercase();
        let module_list: Vec<&str> =
            modules.iter().filter(|(_, d)| d.control_type.is_none_or(|t| t == kind)).map(|(_, d)| d.label).collect();
        // The first preprocessor after "none" is the one the UI selects.
        let default_option = module_list.get(1).or(module_list.first()).copied().unwrap_or("none");
        let matching: Vec<&String> = models.iter().filter(|m| m.to_ascii_lowercase().contains(&pattern) || *m == "None").collect();
        let (model_list, default_model) = if matching.len() > 1 {
            // The extension prefers a ControlNet 1.1 model ("11" in its name).
            let preferred = matching[1..].iter().find(|m| m.contains("11")).unwrap_or(&matching[1]);
            (matching.clone(), preferred.to_string())
        } else {
            (models.iter().collect(), "None".to_string())
        };
        types.insert(
            kind.into(),
            json!({"module_list": module_list, "model_list": model_list, "default_option": default_option, "default_model": default_model}),
        );
    }
    Json(json!({"control_types": types}))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct DetectRequest {
    controlnet_module: Option<String>,
    controlnet_input_images: Option<Vec<String>>,
    /// What webuiapi calls controlnet_input_images.
    controlnet_images: Option<Vec<String>>,
    controlnet_processor_res: Option<f64>,
    controlnet_threshold_a: Option<f64>,
    controlnet_threshold_b: Option<f64>,
    /// Masks: no preprocessor here takes one (the extension ignores them for such modules too).
    controlnet_masks: Option<Vec<String>>,
    low_vram: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct DetectResponse {
    images: Vec<String>,
    info: String,
}

/// Runs a preprocessor on pictures (the control images a unit would use).
#[utoipa::path(post, path = "/controlnet/detect", request_body = DetectRequest, responses(
    (status = 200, body = DetectResponse), (status = 422, body = HttpValidationError), (status = 401, body = ErrorBody)))]
pub async fn detect(State(s): State<AppState>, Body(r): Body<DetectRequest>) -> Result<Json<DetectResponse>, ApiError> {
    let engine = s.engine.clone();
    let images = blocking(move || {
        let pictures = r.controlnet_input_images.or(r.controlnet_images).unwrap_or_default();
        engine.detect(
            r.controlnet_module.as_deref().unwrap_or("none"),
            &pictures,
            r.controlnet_processor_res,
            r.controlnet_threshold_a,
            r.controlnet_threshold_b,
        )
    })
    .await?;
    Ok(Json(DetectResponse { images, info: "Success".into() }))
}
