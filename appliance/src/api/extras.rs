//! A1111's picture tools that need no diffusion model: `extra-single-image` (resizing with the
//! built-in upscalers None, Lanczos and Nearest, as A1111 does them without ESRGAN weights),
//! `png-info` (the `parameters` text of a picture, read back into its fields) and `interrogate`
//! (which needs a captioning model this booth does not have: answered 422 saying so).

use axum::extract::State;
use axum::Json;
use image::imageops::FilterType;
use image::RgbImage;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::images::{decode_base64, decode_image, png_base64};
use super::request::{ApiError, Body, ErrorBody, HttpValidationError};
use super::state::{blocking, AppState};

/// The longest side extra-single-image makes (a 4096 x 4096 picture is 48 MiB of pixels).
pub const MAX_OUTPUT_SIDE: u32 = 4096;

/// A1111's ExtrasSingleImageRequest, field for field (its defaults in the comments).
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
pub struct ExtrasSingleImageRequest {
    /// The picture, base64 (raw or a data URL).
    image: Option<String>,
    /// 0: scale by upscaling_resize (default); 1: scale to upscaling_resize_w x _h.
    resize_mode: Option<u8>,
    show_extras_results: Option<bool>,
    /// Face restoration is not installed here: only 0 is taken.
    gfpgan_visibility: Option<f64>,
    codeformer_visibility: Option<f64>,
    codeformer_weight: Option<f64>,
    /// 1 to 8 (default 2).
    upscaling_resize: Option<f64>,
    /// Default 512.
    upscaling_resize_w: Option<u32>,
    /// Default 512.
    upscaling_resize_h: Option<u32>,
    /// Scale-to only: cut (or pad) the result to exactly w x h around its centre (default true).
    upscaling_crop: Option<bool>,
    /// "None" (the picture as it is), "Lanczos" or "Nearest".
    upscaler_1: Option<String>,
    upscaler_2: Option<String>,
    /// 0 to 1: how much of upscaler_2's result is blended in.
    extras_upscaler_2_visibility: Option<f64>,
    upscale_first: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExtrasSingleImageResponse {
    /// What was done, as A1111's HTML line.
    html_info: String,
    /// The result, base64 PNG.
    image: String,
}

/// The built-in upscalers, as /sdapi/v1/upscalers lists them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Upscaler {
    None,
    Lanczos,
    Nearest,
}

impl Upscaler {
    pub const ALL: [Upscaler; 3] = [Upscaler::None, Upscaler::Lanczos, Upscaler::Nearest];

    pub fn name(self) -> &'static str {
        match self {
            Upscaler::None => "None",
            Upscaler::Lanczos => "Lanczos",
            Upscaler::Nearest => "Nearest",
        }
    }

    fn named(name: Option<&str>, field: &str) -> Result<Self, ApiError> {
        let name = name.unwrap_or("None");
        Self::ALL.into_iter().find(|u| u.name().eq_ignore_ascii_case(name)).ok_or_else(|| {
            ApiError::field(
                field,
                format!("{name:?} is not here: use \"None\", \"Lanczos\" or \"Nearest\" (this booth has no ESRGAN models)"),
            )
        })
    }

    /// A1111's `Upscaler.upscale`: the upscaler's own step to `scale` times the size, then
    /// Lanczos to the size rounded down to a multiple of 8. "None" is no upscaler at all: A1111
    /// leaves the picture as it is.
    fn upscale(self, picture: &RgbImage, scale: f64) -> RgbImage {
        let filter = match self {
            Upscaler::None => return picture.clone(),
            Upscaler::Lanczos => FilterType::Lanczos3,
            Upscaler::Nearest => FilterType::Nearest,
        };
        let (w, h) = (picture.width() as f64, picture.height() as f64);
        let dest = (((w * scale) / 8.0).floor() as u32 * 8, ((h * scale) / 8.0).floor() as u32 * 8);
        let step = image::imageops::resize(picture, ((w * scale) as u32).max(1), ((h * scale) as u32).max(1), filter);
        if step.dimensions() == dest {
            step
        } else {
            image::imageops::resize(&step, dest.0.max(1), dest.1.max(1), FilterType::Lanczos3)
        }
    }
}

/// The picture resized as A1111's extras tab resizes it without upscaling models.
fn extras(r: &ExtrasSingleImageRequest) -> Result<(RgbImage, String), ApiError> {
    let picture = decode_image(r.image.as_deref().unwrap_or_default()).map_err(|e| ApiError::field("image", e.to_string()))?;
    for (field, value) in [("gfpgan_visibility", r.gfpgan_visibility), ("codeformer_visibility", r.codeformer_visibility)] {
        if value.is_some_and(|v| v != 0.0) {
            return Err(ApiError::field(field, "face restoration is not installed on this booth: send 0"));
        }
    }
    let first = Upscaler::named(r.upscaler_1.as_deref(), "upscaler_1")?;
    let second = Upscaler::named(r.upscaler_2.as_deref(), "upscaler_2")?;
    let visibility = r.extras_upscaler_2_visibility.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&visibility) {
        return Err(ApiError::field("extras_upscaler_2_visibility", format!("{visibility}: use 0 to 1")));
    }
    let (w, h) = (picture.width() as f64, picture.height() as f64);
    let mut info = vec![];
    let (scale, crop_to) = match r.resize_mode.unwrap_or(0) {
        0 => {
            let by = r.upscaling_resize.unwrap_or(2.0);
            if !(1.0..=8.0).contains(&by) {
                return Err(ApiError::field("upscaling_resize", format!("{by}: use 1 to 8")));
            }
            info.push(format!("Postprocess upscale by: {by}"));
            (by, None)
        }
        1 => {
            let (tw, th) = (r.upscaling_resize_w.unwrap_or(512), r.upscaling_resize_h.unwrap_or(512));
            if tw == 0 || th == 0 || tw.max(th) > MAX_OUTPUT_SIDE {
                return Err(ApiError::field("upscaling_resize_w", format!("{tw}x{th}: use 1 to {MAX_OUTPUT_SIDE} px a side")));
            }
            info.push(format!("Postprocess upscale to: {tw}x{th}"));
            ((tw as f64 / w).max(th as f64 / h), r.upscaling_crop.unwrap_or(true).then_some((tw, th)))
        }
        other => return Err(ApiError::field("resize_mode", format!("{other}: use 0 (scale by) or 1 (scale to)"))),
    };
    if first == Upscaler::None {
        // A1111 runs no upscaler at all then (nor the second, nor the crop).
        return Ok((picture, String::new()));
    }
    if (w * scale).max(h * scale) > MAX_OUTPUT_SIDE as f64 {
        let field = if r.resize_mode.unwrap_or(0) == 0 { "upscaling_resize" } else { "upscaling_resize_w" };
        return Err(ApiError::field(
            field,
            format!("the result would be {:.0}x{:.0}: this booth makes pictures up to {MAX_OUTPUT_SIDE} px a side", w * scale, h * scale),
        ));
    }
    let mut out = first.upscale(&picture, scale);
    info.push(format!("Postprocess upscaler: {}", first.name()));
    if second != Upscaler::None && visibility > 0.0 {
        let other = second.upscale(&picture, scale);
        for (a, b) in out.pixels_mut().zip(other.pixels()) {
            for c in 0..3 {
                // PIL's Image.blend: a + (b - a) * alpha, rounded.
                a.0[c] = (a.0[c] as f64 + (b.0[c] as f64 - a.0[c] as f64) * visibility).round().clamp(0.0, 255.0) as u8;
            }
        }
        info.push(format!("Postprocess upscaler 2: {}", second.name()));
    }
    if let Some((tw, th)) = crop_to {
        // A1111 pastes the result centred on a black canvas of the asked size.
        let mut canvas = RgbImage::new(tw, th);
        let (x, y) = ((tw / 2) as i64 - (out.width() / 2) as i64, (th / 2) as i64 - (out.height() / 2) as i64);
        image::imageops::replace(&mut canvas, &out, x, y);
        out = canvas;
        info.push(format!("Postprocess crop to: {tw}x{th}"));
    }
    Ok((out, info.join(", ")))
}

/// Resizes a picture with A1111's built-in upscalers (None, Lanczos, Nearest).
#[utoipa::path(post, path = "/sdapi/v1/extra-single-image", request_body = ExtrasSingleImageRequest, responses(
    (status = 200, body = ExtrasSingleImageResponse), (status = 422, body = HttpValidationError), (status = 401, body = ErrorBody)))]
pub async fn extra_single_image(Body(r): Body<ExtrasSingleImageRequest>) -> Result<Json<ExtrasSingleImageResponse>, ApiError> {
    let (picture, info) = blocking(move || extras(&r)).await?;
    let html_info = if info.is_empty() { String::new() } else { format!("<p>{}</p>", html_escape(&info)) };
    Ok(Json(ExtrasSingleImageResponse { html_info, image: png_base64(&picture) }))
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct PngInfoRequest {
    /// The picture, base64 (raw or a data URL).
    image: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PngInfoResponse {
    /// The `parameters` text ("" when the picture has none).
    info: String,
    /// The picture's other text chunks.
    #[schema(value_type = Object)]
    items: Map<String, Value>,
    /// `info` read into its fields, as A1111 reads an infotext.
    #[schema(value_type = Object)]
    parameters: Map<String, Value>,
}

/// Reads the generation settings a PNG carries (A1111's `parameters` text).
#[utoipa::path(post, path = "/sdapi/v1/png-info", request_body = PngInfoRequest, responses(
    (status = 200, body = PngInfoResponse), (status = 422, body = HttpValidationError), (status = 401, body = ErrorBody)))]
pub async fn png_info(Body(r): Body<PngInfoRequest>) -> Result<Json<PngInfoResponse>, ApiError> {
    let bytes = decode_base64(r.image.as_deref().unwrap_or_default()).map_err(|e| ApiError::field("image", e.to_string()))?;
    if bytes.is_empty() {
        return Err(ApiError::field("image", "send a picture (base64 PNG)"));
    }
    // Anything but a PNG carries no text chunks here.
    let mut items = super::infotext::png_text_chunks(&bytes).unwrap_or_default();
    let info = match items.remove("parameters") {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    let parameters = if info.is_empty() { Map::new() } else { super::infotext::parse(&info) };
    Ok(Json(PngInfoResponse { info, items, parameters }))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct InterrogateRequest {
    image: Option<String>,
    /// "clip" or "deepdanbooru".
    model: Option<String>,
}

/// Captioning a picture needs CLIP or DeepDanbooru weights, which this booth does not have.
#[utoipa::path(post, path = "/sdapi/v1/interrogate", request_body = InterrogateRequest, responses(
    (status = 422, body = HttpValidationError), (status = 401, body = ErrorBody)))]
pub async fn interrogate(State(_): State<AppState>, Body(r): Body<InterrogateRequest>) -> ApiError {
    let model = r.model.unwrap_or_else(|| "clip".into());
    ApiError::field(
        "model",
        format!(
            "{model:?}: this booth has no interrogator (CLIP and DeepDanbooru captioning are not installed); write the prompt yourself"
        ),
    )
}
