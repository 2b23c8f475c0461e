//! The booths' upload API.
//!
//! A picture is uploaded resumably by its SHA-256 (the key that makes every retry idempotent):
//! `HEAD /api/v1/blobs/{sha256}` answers 200 when the server has it, else 404 with
//! `Upload-Offset` (how many bytes of a partial upload arrived); `PATCH` with `Upload-Offset` and
//! `Upload-Length` appends the next piece. The last piece is checked (hash, real decoding, size,
//! nothing but a picture) before the picture is stored. Then
//! `PUT /api/v1/keepsakes/{share_token}` records the keepsake under the id its booth minted (the
//! QR code's token); sending it again answers with the same keepsake instead of a second one. Every request carries `Authorization: Bearer <booth token>`.

use std::io::Write;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use keepsake_protocol::KeepsakeRecord;

use crate::db::{Booth, NewKeepsake, Stored};
use crate::state::{ApiError, App, Metrics};
use crate::tokens;

/// The booth a request comes from, from its bearer token.
pub struct BoothAuth(pub Booth);

impl FromRequestParts<App> for BoothAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let refuse = |why: &str| {
            Metrics::inc(&app.metrics.auth_refused, 1);
            ApiError(
                StatusCode::UNAUTHORIZED,
                format!("{why} (fix: set server.token in the booth's config to the token `keepsake-server booth add` printed)"),
            )
        };
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else { return Err(refuse("no booth token")) };
        let token = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim).unwrap_or("");
        if token.is_empty() || token.len() > 200 {
            return Err(refuse("no booth token"));
        }
        match app.db.booth_by_token(&tokens::sha256_hex(token.as_bytes())).await? {
            Some(booth) => Ok(BoothAuth(booth)),
            None => Err(refuse("this booth token is unknown or revoked")),
        }
    }
}

fn offset_header(n: u64) -> [(&'static str, HeaderValue); 1] {
    [("upload-offset", HeaderValue::from(n))]
}

fn check_sha(sha256: &str) -> Result<(), ApiError> {
    if tokens::is_sha256(sha256) {
        Ok(())
    } else {
        Err(ApiError(StatusCode::BAD_REQUEST, "the path must end in the picture's SHA-256 as 64 lowercase hex digits".into()))
    }
}

fn part_path(app: &App, sha256: &str) -> std::path::PathBuf {
    app.staging.join(format!("{sha256}.part"))
}

async fn received(app: &App, sha256: &str) -> u64 {
    tokio::fs::metadata(part_path(app, sha256)).await.map(|m| m.len()).unwrap_or(0)
}

pub async fn head_blob(State(app): State<App>, _booth: BoothAuth, Path(sha256): Path<String>) -> Result<Response, ApiError> {
    check_sha(&sha256)?;
    if let Some(blob) = app.db.blob(&sha256).await? {
        return Ok((StatusCode::OK, offset_header(blob.bytes as u64)).into_response());
    }
    Ok((StatusCode::NOT_FOUND, offset_header(received(&app, &sha256).await)).into_response())
}

fn number_header(headers: &HeaderMap, name: &str) -> Result<u64, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| ApiError(StatusCode::BAD_REQUEST, format!("the {name} header must be a whole number of bytes")))
}

pub async fn patch_blob(
    State(app): State<App>,
    _booth: BoothAuth,
    Path(sha256): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_sha(&sha256)?;
    let offset = number_header(&headers, "upload-offset")?;
    let length = number_header(&headers, "upload-length")?;
    if let Some(blob) = app.db.blob(&sha256).await? {
        return Ok((StatusCode::OK, offset_header(blob.bytes as u64)).into_response());
    }
    if length > app.limits.max_upload {
        Metrics::inc(&app.metrics.uploads_rejected, 1);
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a picture may have at most {} bytes; this one has {length}", app.limits.max_upload),
        ));
    }
    if length == 0 || offset + body.len() as u64 > length {
        return Err(ApiError(StatusCode::BAD_REQUEST, "Upload-Offset plus this piece is beyond Upload-Length".into()));
    }
    let lock = app.upload_lock(&sha256);
    let _guard = lock.lock().await;
    let have = received(&app, &sha256).await;
    if offset != have {
        return Ok((
            StatusCode::CONFLICT,
            offset_header(have),
            Json(serde_json::json!({ "error": format!("the server has {have} bytes of this picture; continue from there") })),
        )
            .into_response());
    }
    let path = part_path(&app, &sha256);
    let piece = body.clone();
    let p = path.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&p)?;
        f.write_all(&piece)?;
        f.sync_data()
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| {
        tracing::error!(%e, path = %path.display(), "cannot write an upload");
        ApiError(StatusCode::SERVICE_UNAVAILABLE, "the server cannot write the upload (disk full?); try again later".into())
    })?;
    Metrics::inc(&app.metrics.upload_bytes, body.len() as u64);
    let now_have = offset + body.len() as u64;
    if now_have < length {
        return Ok((StatusCode::NO_CONTENT, offset_header(now_have)).into_response());
    }
    finish_upload(&app, &sha256, &path).await
}

/// The whole picture arrived: check it is what it claims and keep it.
async fn finish_upload(app: &App, sha256: &str, path: &std::path::Path) -> Result<Response, ApiError> {
    let bytes = tokio::fs::read(path).await.map_err(|e| ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    let sha = sha256.to_string();
    let (actual, checked) =
        tokio::task::spawn_blocking(move || (tokens::sha256_hex(&bytes), crate::images::check(&bytes).map(|c| (c, bytes))))
            .await
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let refuse = |status: StatusCode, why: String| async move {
        let _ = tokio::fs::remove_file(path).await;
        Metrics::inc(&app.metrics.uploads_rejected, 1);
        Err(ApiError(status, why))
    };
    if actual != sha {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the bytes received hash to {actual}, not {sha}; upload again from the start"),
        )
        .await;
    }
    let (checked, bytes) = match checked {
        Ok(c) => c,
        Err(e) => return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("not accepted as a picture: {e}")).await,
    };
    let len = bytes.len() as i64;
    app.blobs.put(&sha, Bytes::from(bytes)).await?;
    app.db.add_blob(&sha, len, checked.content_type, checked.width, checked.height).await?;
    let _ = tokio::fs::remove_file(path).await;
    app.upload_locks.lock().remove(&sha);
    Ok((StatusCode::CREATED, offset_header(len as u64)).into_response())
}

pub async fn put_keepsake(
    State(app): State<App>,
    BoothAuth(booth): BoothAuth,
    Path(share_token): Path<String>,
    body: Result<Json<KeepsakeRecord>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(k) = body.map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("the keepsake's JSON: {}", e.body_text())))?;
    let bad = |why: &str| Err(ApiError(StatusCode::BAD_REQUEST, why.to_string()));
    if !tokens::is_share_token(&share_token) {
        return bad("the share token must be 32 lowercase hex digits");
    }
    if !tokens::is_sha256(&k.illustration_sha256) || k.photo_sha256.as_deref().is_some_and(|p| !tokens::is_sha256(p)) {
        return bad("illustration_sha256 and photo_sha256 must be 64 lowercase hex digits");
    }
    if k.caption.chars().count() > 2000 || k.language.len() > 16 {
        return bad("caption may have at most 2000 characters and language 16");
    }
    if chrono::DateTime::parse_from_rfc3339(&k.created_at).is_err() {
        return bad("created_at must be an RFC 3339 time, e.g. 2026-11-26T14:03:00+09:00");
    }
    for (field, sha) in [("illustration_sha256", Some(&k.illustration_sha256)), ("photo_sha256", k.photo_sha256.as_ref())] {
        if let Some(sha) = sha {
            if app.db.blob(sha).await?.is_none() {
                return Err(ApiError(StatusCode::CONFLICT, format!("{field}: the server does not have this picture yet; upload it first")));
            }
        }
    }
    let stored = app
        .db
        .add_keepsake(&NewKeepsake {
            memorial_id: &booth.memorial_id,
            booth_id: &booth.id,
            share_token: &share_token,
            illustration_sha256: &k.illustration_sha256,
            photo_sha256: k.photo_sha256.as_deref(),
            in_slideshow: k.in_slideshow,
            caption: &k.caption,
            language: &k.language,
            created_at: &k.created_at,
        })
        .await?;
    let answer = |status, id: String| {
        (status, Json(serde_json::json!({ "id": id, "share_path": keepsake_protocol::share_path(&share_token) }))).into_response()
    };
    match stored {
        Stored::New(id) => {
            Metrics::inc(&app.metrics.keepsakes_received, 1);
            tracing::info!(booth = %booth.id, keepsake = %id, "keepsake received");
            Ok(answer(StatusCode::CREATED, id))
        }
        Stored::AlreadyThere(id) => {
            Metrics::inc(&app.metrics.keepsakes_repeated, 1);
            Ok(answer(StatusCode::OK, id))
        }
        Stored::Conflict => Err(ApiError(StatusCode::CONFLICT, "this keepsake id belongs to a different keepsake".into())),
    }
}

/// The cover portrait of the booth's memorial, for its attract screen: the picture as stored,
/// or 404 when the memorial has none (the booth then drops the copy it kept).
pub async fn memorial_cover(State(app): State<App>, BoothAuth(booth): BoothAuth) -> Result<Response, ApiError> {
    let none = || ApiError(StatusCode::NOT_FOUND, "the memorial has no cover picture".into());
    let memorial = app.db.memorial(&booth.memorial_id).await?.ok_or_else(none)?;
    let sha = memorial.cover_sha256.ok_or_else(none)?;
    let blob = app.db.blob(&sha).await?.ok_or_else(none)?;
    let bytes = app.blobs.get(&sha).await?;
    Ok(([(header::CONTENT_TYPE, blob.content_type), (header::CACHE_CONTROL, "private, no-cache".to_string())], bytes).into_response())
}
