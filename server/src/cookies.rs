//! Cookies a browser sends: the family's session and the chosen language.

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The value of a cookie from the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Earlier versions kept a `?lang=` choice for a year in a `lang` cookie, which then overrode the
/// phone's own language on every page. It is not read any more; a browser that still sends it
/// is told to drop it.
pub async fn forget_language_choice(request: Request, next: Next) -> Response {
    let had = cookie(request.headers(), "lang").is_some();
    let mut response = next.run(request).await;
    if had {
        response.headers_mut().append(header::SET_COOKIE, HeaderValue::from_static("lang=; Path=/; Max-Age=0; SameSite=Lax"));
    }
    response
}
