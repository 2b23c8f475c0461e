//! The A1111 request and response bodies, field for field as its FastAPI models name them, and
//! the JSON reading that answers a wrong type with 422 naming the field (FastAPI's shape:
//! `{"detail": [{"loc": ["body", "steps"], "msg": ..., "type": ...}]}`). Every field may be
//! left out or null (clients send nulls for what they do not set); unknown fields are ignored.

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// txt2img and img2img (img2img reads the image fields too; txt2img ignores them).
#[derive(Debug, Default, Clone, Deserialize, Serialize, ToSchema)]
pub struct GenerationRequest {
    pub prompt: Option<String>,
    pub negative_prompt: Option<String>,
    /// Prompt styles (A1111's saved styles); none are defined here, so they are ignored.
    pub styles: Option<Vec<String>>,
    /// -1 (or any negative number) picks a random seed; `info` says which.
    pub seed: Option<i64>,
    pub subseed: Option<i64>,
    /// Variation seeds are not supported: only 0 is accepted.
    pub subseed_strength: Option<f64>,
    /// As A1111 spells it: "Euler a", "Euler", "DDIM", "DPM++ 2M", "LCM" (or "DPM++ 2M Karras").
    pub sampler_name: Option<String>,
    /// Deprecated alias of sampler_name.
    pub sampler_index: Option<String>,
    /// "automatic" (the sampler's own) or "karras".
    pub scheduler: Option<String>,
    pub batch_size: Option<u32>,
    pub n_iter: Option<u32>,
    pub steps: Option<u32>,
    pub cfg_scale: Option<f64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub restore_faces: Option<bool>,
    pub tiling: Option<bool>,
    pub eta: Option<f64>,
    /// Settings for this request only: `CLIP_stop_at_last_layers`, `sd_model_checkpoint`.
    pub override_settings: Option<serde_json::Map<String, Value>>,
    pub override_settings_restore_afterwards: Option<bool>,
    pub send_images: Option<bool>,
    pub save_images: Option<bool>,
    /// Selectable scripts are not available (only the always-on ControlNet).
    pub script_name: Option<String>,
    pub script_args: Option<Vec<Value>>,
    /// `{"controlnet": {"args": [unit, ...]}}`, the key in any case.
    #[schema(value_type = Object)]
    pub alwayson_scripts: Option<serde_json::Map<String, Value>>,
    /// txt2img's hires fix is not supported: only false is accepted.
    pub enable_hr: Option<bool>,
    /// img2img: the pictures to start from, raw base64 or data URLs (the first is used).
    pub init_images: Option<Vec<String>>,
    /// img2img: 0 just resize, 1 crop and resize, 2 resize and fill (3, latent upscale, is read as 0).
    pub resize_mode: Option<u32>,
    /// img2img: how much is repainted, 0..1.
    pub denoising_strength: Option<f64>,
    /// img2img: inpainting masks are not supported.
    pub mask: Option<String>,
    pub include_init_images: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GenerationResponse {
    /// Base64 PNGs (with A1111's `parameters` text in each).
    pub images: Vec<String>,
    /// The request as it was read.
    #[schema(value_type = Object)]
    pub parameters: Value,
    /// A JSON string: seed, all_seeds, prompt, sampler_name, steps, ...
    pub info: String,
}

/// One field problem, as FastAPI reports it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationError {
    /// Where: "body" then the field names and list positions.
    pub loc: Vec<Value>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// 422: every problem with the request.
#[derive(Debug, Serialize, ToSchema)]
pub struct HttpValidationError {
    pub detail: Vec<ValidationError>,
}

/// Any other error: what went wrong and what to do.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    pub detail: String,
}

/// An answer that is not a success.
#[derive(Debug)]
pub enum ApiError {
    /// 422 with the field named.
    Invalid(Vec<ValidationError>),
    /// Another status with a message.
    Status(StatusCode, String, String),
}

impl ApiError {
    /// 422 about `field` (a dotted path below the body; list positions as numbers).
    pub fn field(field: &str, msg: impl Into<String>) -> Self {
        let mut loc = vec![Value::from("body")];
        loc.extend(
            field.split('.').filter(|p| !p.is_empty()).map(|p| p.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::from(p))),
        );
        ApiError::Invalid(vec![ValidationError { loc, msg: msg.into(), kind: "value_error".into() }])
    }

    pub fn status(status: StatusCode, error: &str, detail: impl Into<String>) -> Self {
        ApiError::Status(status, error.into(), detail.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Invalid(detail) => (StatusCode::UNPROCESSABLE_ENTITY, Json(HttpValidationError { detail })).into_response(),
            ApiError::Status(status, error, detail) => {
                let mut response = (status, Json(ErrorBody { error, detail })).into_response();
                if status == StatusCode::UNAUTHORIZED {
                    response.headers_mut().insert("www-authenticate", axum::http::HeaderValue::from_static("Basic realm=\"keepsake\""));
                }
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    response.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("10"));
                }
                response
            }
        }
    }
}

/// A JSON body read with the path of any wrong field kept.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::status(StatusCode::PAYLOAD_TOO_LARGE, "RequestTooLarge", e.body_text()))?;
        let text = if bytes.is_empty() { &b"{}"[..] } else { &bytes[..] };
        parse(text).map(Body)
    }
}

/// `text` as a `T`, or 422 naming the field that is wrong.
pub fn parse<T: DeserializeOwned>(text: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let mut loc = vec![Value::from("body")];
        for segment in e.path().iter() {
            use serde_path_to_error::Segment;
            match segment {
                Segment::Seq { index } => loc.push(Value::from(*index)),
                Segment::Map { key } => loc.push(Value::from(key.as_str())),
                Segment::Enum { variant } => loc.push(Value::from(variant.as_str())),
                Segment::Unknown => {}
            }
        }
        let inner = e.into_inner();
        let kind = if inner.is_syntax() || inner.is_eof() { "json_invalid" } else { "type_error" };
        ApiError::Invalid(vec![ValidationError { loc, msg: inner.to_string(), kind: kind.into() }])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_type_is_answered_with_the_field_and_unknown_fields_are_ignored() {
        let ok: GenerationRequest = parse(br#"{"prompt": "a", "steps": null, "made_up": [1, 2]}"#).unwrap();
        assert_eq!((ok.prompt.as_deref(), ok.steps), (Some("a"), None));
        let Err(ApiError::Invalid(problems)) = parse::<GenerationRequest>(br#"{"steps": "twenty"}"#) else { panic!() };
        assert_eq!(problems[0].loc, [Value::from("body"), Value::from("steps")]);
        assert!(problems[0].msg.contains("invalid type"), "{}", problems[0].msg);
        let Err(ApiError::Invalid(problems)) = parse::<GenerationRequest>(br#"{"init_images": ["a", 5]}"#) else { panic!() };
        assert_eq!(problems[0].loc, [Value::from("body"), Value::from("init_images"), Value::from(1)]);
        let Err(ApiError::Invalid(problems)) = parse::<GenerationRequest>(b"{not json") else { panic!() };
        assert_eq!(problems[0].kind, "json_invalid");
        // serde reads a struct from a list by position: the first field (prompt) is wrong.
        let Err(ApiError::Invalid(problems)) = parse::<GenerationRequest>(b"[1]") else { panic!() };
        assert_eq!((problems[0].loc.clone(), problems[0].kind.as_str()), (vec![Value::from("body"), Value::from(0)], "type_error"));
        let ApiError::Invalid(p) = ApiError::field("alwayson_scripts.controlnet.args.2.model", "x") else { panic!() };
        assert_eq!(p[0].loc, serde_json::json!(["body", "alwayson_scripts", "controlnet", "args", 2, "model"]).as_array().unwrap().clone());
    }
}
