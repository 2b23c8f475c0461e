//! The ControlNet extension's units as A1111 clients send them:
//! `alwayson_scripts: {"ControlNet": {"args": [unit, ...]}}`, script name and unit keys in any
//! case, old aliases (input_image, guidance, lowvram) accepted, modes as names or numbers.

use image::RgbImage;
use keepsake_models::components::controlnet::{ControlMode, ControlSettings};
use keepsake_models::preprocessors::control_image::ResizeMode;
use keepsake_models::preprocessors::{Module, DEFAULT_RESOLUTION};
use serde_json::{Map, Value};

use super::images::decode_image;
use super::request::ApiError;

/// One enabled unit, read and checked (the model is resolved by the engine).
#[derive(Debug, Clone)]
pub struct UnitArgs {
    /// Where it came from, for error messages: `alwayson_scripts.ControlNet.args.0`.
    pub at: String,
    pub module: Module,
    pub model: String,
    /// The unit's own picture (None: the img2img photo).
    pub image: Option<RgbImage>,
    pub resize: ResizeMode,
    /// The processor resolution; None with pixel_perfect (worked out from the picture sizes).
    pub resolution: Option<u32>,
    pub settings: ControlSettings,
    /// The extension's `save_detected_map` (default true): the control image is sent back after
    /// the pictures.
    pub save_detected_map: bool,
}

/// The enabled units of a request (units that are disabled or name no model are skipped, as
/// the extension does).
pub fn read_units(scripts: Option<&Map<String, Value>>) -> Result<Vec<UnitArgs>, ApiError> {
    let Some(scripts) = scripts else { return Ok(Vec::new()) };
    let mut units = Vec::new();
    for (name, script) in scripts {
        if !name.eq_ignore_ascii_case("controlnet") {
            continue; // other always-on scripts are not installed here; A1111 ignores unknown ones too
        }
        let at = format!("alwayson_scripts.{name}");
        let args = match script {
            Value::Object(o) => match find(o, &["args"]) {
                Some(Value::Array(a)) => a,
                None | Some(Value::Null) => continue,
                Some(_) => return Err(ApiError::field(&format!("{at}.args"), "must be a list of ControlNet units")),
            },
            Value::Null => continue,
            _ => return Err(ApiError::field(&at, "must be an object with \"args\": [ControlNet units]")),
        };
        for (i, unit) in args.iter().enumerate() {
            let at = format!("{at}.args.{i}");
            let Value::Object(unit) = unit else {
                return Err(ApiError::field(&at, "a ControlNet unit is an object (module, model, weight, image, ...)"));
            };
            if let Some(u) = read_unit(unit, &at)? {
                units.push(u);
            }
        }
    }
    Ok(units)
}

/// The value of the first of `keys` present, keys compared in any case.
fn find<'a>(o: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| o.iter().find(|(name, _)| name.eq_ignore_ascii_case(k)).map(|(_, v)| v))
}

fn read_unit(unit: &Map<String, Value>, at: &str) -> Result<Option<UnitArgs>, ApiError> {
    let field = |k: &str| format!("{at}.{k}");
    let number = |keys: &[&str], default: f64| -> Result<f64, ApiError> {
        match find(unit, keys) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(n)) => {
                n.as_f64().filter(|v| v.is_finite()).ok_or_else(|| ApiError::field(&field(keys[0]), "not a finite number"))
            }
            Some(_) => Err(ApiError::field(&field(keys[0]), "must be a number")),
        }
    };
    let flag = |keys: &[&str], default: bool| -> Result<bool, ApiError> {
        match find(unit, keys) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(ApiError::field(&field(keys[0]), "must be true or false")),
        }
    };
    let text = |key: &str| -> Result<Option<&str>, ApiError> {
        match find(unit, &[key]) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(ApiError::field(&field(key), "must be a string")),
        }
    };
    let model = text("model")?.unwrap_or("None").trim().to_string();
    if !flag(&["enabled"], true)? || model.is_empty() || model.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let module_name = text("module")?.unwrap_or("none").trim().to_ascii_lowercase();
    let mut module: Module = module_name.parse().map_err(|e: String| ApiError::field(&field("module"), e))?;
    let weight = number(&["weight"], 1.0)?;
    if !(0.0..=2.0).contains(&weight) {
        return Err(ApiError::field(&field("weight"), format!("{weight}: use a weight from 0 to 2")));
    }
    let start = number(&["guidance_start"], 0.0)?;
    let end = number(&["guidance_end", "guidance"], 1.0)?;
    if !ControlSettings::is_window(start, end) {
        return Err(ApiError::field(&field("guidance_start"), format!("{start}..{end}: use 0 <= guidance_start < guidance_end <= 1")));
    }
    let processor_res = processor_resolution(number(&["processor_res"], -1.0)?, &field("processor_res"))?;
    let resolution = if flag(&["pixel_perfect"], false)? { None } else { Some(processor_res) };
    apply_thresholds(&mut module, number(&["threshold_a"], -1.0)?, number(&["threshold_b"], -1.0)?);
    let resize = match find(unit, &["resize_mode"]) {
        None | Some(Value::Null) => ResizeMode::CropAndResize,
        Some(v) => {
            let name = match v {
                Value::String(s) => s.to_ascii_lowercase(),
                Value::Number(n) => {
                    ["just resize", "crop and resize", "resize and fill"].get(n.as_u64().unwrap_or(9) as usize).unwrap_or(&"").to_string()
                }
                _ => String::new(),
            };
            match name.as_str() {
                "just resize" => ResizeMode::JustResize,
                // The extension's older names.
                "crop and resize" | "inner fit (scale to fit)" => ResizeMode::CropAndResize,
                "resize and fill" | "envelope (outer fit)" => ResizeMode::ResizeAndFill,
                _ => {
                    return Err(ApiError::field(
                        &field("resize_mode"),
                        "use \"Just Resize\", \"Crop and Resize\" or \"Resize and Fill\" (or 0, 1, 2)",
                    ))
                }
            }
        }
    };
    let mode = match find(unit, &["control_mode"]) {
        None | Some(Value::Null) => ControlMode::Balanced,
        Some(Value::String(s)) => s.to_ascii_lowercase().parse().map_err(|e: String| ApiError::field(&field("control_mode"), e))?,
        Some(Value::Number(n)) => n.to_string().parse().map_err(|e: String| ApiError::field(&field("control_mode"), e))?,
        Some(_) => {
            return Err(ApiError::field(
                &field("control_mode"),
                "use \"Balanced\", \"My prompt is more important\" or \"ControlNet is more important\" (or 0, 1, 2)",
            ))
        }
    };
    let image = match find(unit, &["image", "input_image"]) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(decode_image(s).map_err(|e| ApiError::field(&field("image"), e.to_string()))?),
        Some(Value::Object(o)) => match find(o, &["image"]) {
            Some(Value::String(s)) if !s.is_empty() => {
                Some(decode_image(s).map_err(|e| ApiError::field(&field("image.image"), e.to_string()))?)
            }
            _ => None,
        },
        Some(_) => return Err(ApiError::field(&field("image"), "a base64 picture (raw or a data URL)")),
    };
    Ok(Some(UnitArgs {
        at: at.to_string(),
        module,
        model,
        image,
        resize,
        resolution,
        settings: ControlSettings { weight: weight as f32, start, end, mode },
        save_detected_map: flag(&["save_detected_map"], true)?,
    }))
}

/// A processor resolution as the extension takes it: -1 (or any value up to 0) for 512.
pub fn processor_resolution(value: f64, field: &str) -> Result<u32, ApiError> {
    if value <= 0.0 {
        Ok(DEFAULT_RESOLUTION)
    } else if (64.0..=2048.0).contains(&value) {
        Ok(value as u32)
    } else {
        Err(ApiError::field(field, format!("{value}: use 64 to 2048 (or -1 for 512)")))
    }
}

/// threshold_a/threshold_b are canny's low/high thresholds (values up to 0 keep the defaults).
pub fn apply_thresholds(module: &mut Module, a: f64, b: f64) {
    if let Module::Canny { low, high } = module {
        if a > 0.0 {
            *low = a.min(255.0) as u32;
        }
        if b > 0.0 {
            *high = b.min(255.0) as u32;
        }
    }
}

/// ControlNet's "pixel perfect" processor resolution: the raw picture scaled as the unit's resize
/// mode will scale it to the target size, read at its short side.
pub fn pixel_perfect_resolution(raw: (u32, u32), target: (u32, u32), resize: ResizeMode) -> u32 {
    let (raw_w, raw_h) = (raw.0 as f64, raw.1 as f64);
    let (k_h, k_w) = (target.1 as f64 / raw_h, target.0 as f64 / raw_w);
    let k = if resize == ResizeMode::ResizeAndFill { k_h.min(k_w) } else { k_h.max(k_w) };
    ((k * raw_h.min(raw_w)).round() as u32).clamp(64, 2048)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn units(v: Value) -> Result<Vec<UnitArgs>, ApiError> {
        read_units(v.as_object())
    }

    fn problem(e: ApiError) -> (Vec<Value>, String) {
        match e {
            ApiError::Invalid(p) => (p[0].loc.clone(), p[0].msg.clone()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn units_are_read_in_any_case_with_aliases_and_defaults() {
        let u = units(json!({"ControlNet": {"ARGS": [
            {"Module": "openpose", "model": "cn1 [abcd1234]", "WEIGHT": 0.5, "control_mode": 2, "resize_mode": "Just Resize", "processor_res": 384},
            {"module": "canny", "model": "cn2", "guidance": 0.6, "lowvram": true, "threshold_a": 50, "control_mode": "My prompt is more important"},
            {"model": "None", "module": "depth"},
            {"enabled": false, "model": "cn3"}
        ]}}))
        .unwrap();
        assert_eq!(u.len(), 2);
        assert_eq!((u[0].module, u[0].model.as_str(), u[0].settings.weight), (Module::Openpose, "cn1 [abcd1234]", 0.5));
        assert_eq!((u[0].settings.mode, u[0].resize, u[0].resolution), (ControlMode::Control, ResizeMode::JustResize, Some(384)));
        assert_eq!((u[1].module, u[1].settings.end, u[1].settings.mode), (Module::Canny { low: 50, high: 200 }, 0.6, ControlMode::Prompt));
        assert_eq!((u[1].resize, u[1].resolution, u[1].settings.start), (ResizeMode::CropAndResize, Some(512), 0.0));
        assert!(units(json!({"controlnet": {"args": []}})).unwrap().is_empty());
        assert!(units(json!({"other script": {"args": [1]}})).unwrap().is_empty());
    }

    #[test]
    fn a_bad_unit_is_answered_with_its_place() {
        let (loc, msg) =
            problem(units(json!({"controlnet": {"args": [{"model": "cn1"}, {"model": "cn1", "module": "hed"}]}})).unwrap_err());
        assert_eq!(loc, json!(["body", "alwayson_scripts", "controlnet", "args", 1, "module"]).as_array().unwrap().clone());
        assert!(msg.contains("unknown module"), "{msg}");
        let (loc, _) = problem(units(json!({"controlnet": {"args": [{"model": "cn1", "weight": "heavy"}]}})).unwrap_err());
        assert_eq!(loc.last().unwrap(), "weight");
        let (_, msg) =
            problem(units(json!({"controlnet": {"args": [{"model": "cn1", "guidance_start": 0.9, "guidance_end": 0.1}]}})).unwrap_err());
        assert!(msg.contains("guidance_start < guidance_end"), "{msg}");
        let (loc, _) = problem(units(json!({"controlnet": {"args": [{"model": "cn1", "image": "not base64!"}]}})).unwrap_err());
        assert_eq!(loc.last().unwrap(), "image");
        assert!(units(json!({"controlnet": 5})).is_err());
        assert!(units(json!({"controlnet": {"args": [true]}})).is_err());
        assert!(units(json!({"controlnet": {"args": [{"model": "cn1", "resize_mode": 7}]}})).is_err());
    }

    #[test]
    fn pixel_perfect_reads_the_picture_at_the_size_it_will_be_used() {
        // A 1024x768 photo for a 512x512 picture, cropped: scaled by 2/3 -> short side 512.
        assert_eq!(pixel_perfect_resolution((1024, 768), (512, 512), ResizeMode::CropAndResize), 512);
        // Fitted inside instead: scaled by 1/2 -> short side 384.
        assert_eq!(pixel_perfect_resolution((1024, 768), (512, 512), ResizeMode::ResizeAndFill), 384);
    }
}
