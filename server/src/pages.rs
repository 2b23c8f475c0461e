//! The family's and visitors' pages: the memorial gallery (grid and slideshow), one keepsake
//! with its download, the family admin (hide, delete, download all), and the page a visitor's
//! QR code opens. Plain HTML forms and links: everything works without JavaScript.

use std::io::Write;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;

use crate::cookies::cookie;
use crate::db::{Keepsake, Memorial};
use crate::i18n::{self, Language};
use crate::state::App;
use crate::tokens;

const CSS: &str = "
*{box-sizing:border-box}body{margin:0;font-family:'Noto Sans KR','Nanum Gothic',system-ui,sans-serif;background:#faf6f0;color:#3b322c;line-height:1.6}
main{max-width:1100px;margin:0 auto;padding:1rem}header.m{text-align:center;padding:1rem 0}h1{font-weight:500;margin:.2rem 0}
.dates{color:#7a6a5e}.msg{max-width:40rem;margin:.5rem auto;white-space:pre-line}nav{display:flex;flex-wrap:wrap;gap:.6rem;justify-content:center;margin:1rem 0}
nav a,button,.btn{display:inline-block;padding:.55rem 1rem;border-radius:.5rem;background:#8b5e3c;color:#fff;text-decoration:none;border:0;font-size:1rem;cursor:pointer}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:.6rem}.grid img{width:100%;aspect-ratio:3/4;object-fit:cover;border-radius:.4rem;display:block}
.one{text-align:center}.one img{max-width:100%;max-height:75vh;border-radius:.5rem}.cap{font-size:1.2rem;margin:.6rem 0}
.cover{max-width:260px;border-radius:.5rem}form.inline{display:inline}.admin td{padding:.3rem;vertical-align:middle}.admin img{width:72px;border-radius:.3rem}
.hidden{opacity:.5}.warn{color:#a33}footer{text-align:center;padding:2rem 0;color:#7a6a5e}footer a{color:#7a6a5e}
body{word-break:keep-all;overflow-wrap:anywhere}nav form{display:flex;margin:0}nav a,nav button{line-height:1.6;font-family:inherit}
button.danger,.btn.danger{background:#fff;color:#a33;border:2px solid #a33}.btn.quiet{background:#fff;color:#8b5e3c;border:2px solid #8b5e3c}
.when{color:#7a6a5e;font-size:.9rem}.confirm img{max-width:240px;border-radius:.5rem}
body.show{background:#2b2320;color:#f4ead8}.show .one img{max-height:85vh}input[type=password]{font-size:1rem;padding:.5rem;border:1px solid #bba;border-radius:.4rem}
";

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub lang: Option<String>,
    pub i: Option<usize>,
    pub download: Option<String>,
}

fn session_cookie_name(memorial_id: &str) -> String {
    format!("ks_{memorial_id}")
}

/// The page shell, with headers that keep the page to itself: no scripts, no framing, and no
/// referrer (share links are secrets in the address).
fn page(lang: Language, status: StatusCode, title: &str, body_class: &str, head: Markup, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) }
                style { (PreEscaped(CSS)) }
                (head)
            }
            body class=(body_class) {
                main { (body) }
                footer { a href="?lang=ko" { "한국어" } " · " a href="?lang=en" { "English" } }
            }
        }
    };
    let mut r = (status, markup).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    r
}

fn message_page(lang: Language, status: StatusCode, title: &str, text: &str) -> Response {
    page(lang, status, title, "", html! {}, html! { header.m { h1 { (title) } p { (text) } } })
}

fn unavailable(lang: Language, e: impl std::fmt::Display) -> Response {
    tracing::error!(%e, "a page could not be made");
    let text = match lang {
        Language::Ko => "잠시 후 다시 시도해 주세요.",
        Language::En => "Please try again in a moment.",
    };
    message_page(lang, StatusCode::SERVICE_UNAVAILABLE, text, "")
}

/// A browser that asked for a page gets one, in its language, whatever refused it: the
/// framework's own answers (a wrong method, a form too large or unreadable) are plain text.
pub async fn error_as_page(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let wants_page = request.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    let lang = i18n::pick(None, request.headers());
    let response = next.run(request).await;
    let is_page = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|c| c.starts_with("text/html"));
    let status = response.status();
    if !wants_page || is_page || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let t = i18n::words(lang);
    message_page(lang, status, t.cannot_do_title, t.cannot_do_text)
}

pub async fn not_found(headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let lang = i18n::pick(q.lang.as_deref(), &headers);
    message_page(lang, StatusCode::NOT_FOUND, i18n::words(lang).not_found, "")
}

pub async fn home(headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let lang = i18n::pick(q.lang.as_deref(), &headers);
    message_page(lang, StatusCode::OK, i18n::words(lang).home_title, i18n::words(lang).home_text)
}

/// A picture answered as exactly the bytes stored, typed from the server's own check of them.
async fn picture(app: &App, sha256: &str, download_name: Option<String>, private: bool) -> Response {
    let Ok(Some(blob)) = app.db.blob(sha256).await else { return StatusCode::NOT_FOUND.into_response() };
    let bytes = match app.blobs.get(sha256).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(%e, "picture missing from the store");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&blob.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(if private { "private, max-age=86400" } else { "public, max-age=86400" }));
    h.insert(header::ETAG, HeaderValue::from_str(&format!("\"{sha256}\"")).unwrap());
    if let Some(name) = download_name {
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    r
}

fn extension(k: &Keepsake, which: &str) -> &'static str {
    if which == "photo" || (which == "illustration" && k.illustration_sha256.is_empty()) {
        "jpg"
    } else {
        "png"
    }
}

fn file_name(k: &Keepsake, which: &str) -> String {
    let date: String = k.created_at.chars().take(10).filter(|c| c.is_ascii_digit() || *c == '-').collect();
    format!("keepsake-{date}-{}-{which}.{}", &k.id[..8], extension(k, which))
}

// ---- the visitor's page (the QR target) ----

pub async fn share_page(State(app): State<App>, headers: HeaderMap, Path(token): Path<String>, Query(q): Query<PageQuery>) -> Response {
    let lang = i18n::pick(q.lang.as_deref(), &headers);
    let t = i18n::words(lang);
    if !tokens::is_share_token(&token) {
        return message_page(lang, StatusCode::NOT_FOUND, t.not_found, "");
    }
    let k = match app.db.keepsake_by_share_token(&token).await {
        Ok(Some(k)) if !k.hidden => k,
        // Hidden by the family: not shown, and not promised either.
        Ok(Some(_)) => return message_page(lang, StatusCode::NOT_FOUND, t.not_found, ""),
        Ok(None) => return message_page(lang, StatusCode::NOT_FOUND, t.not_yet_title, t.not_yet_text),
        Err(e) => return unavailable(lang, e),
    };
    let memorial = match app.db.memorial(&k.memorial_id).await {
        Ok(Some(m)) => m,
        Ok(None) => return message_page(lang, StatusCode::NOT_FOUND, t.not_found, ""),
        Err(e) => return unavailable(lang, e),
    };
    page(
        lang,
        StatusCode::OK,
        &format!("{} · {}", memorial.name, t.your_keepsake),
        "",
        html! {},
        html! {
            header.m { h1 { (memorial.name) } p.dates { (memorial.dates) } }
            div.one {
                img src={ "/k/" (token) "/illustration" } alt=(k.caption);
                p.when { (t.visited_on) " " (crate::time_zone::visit_date(&k.created_at, app.zone_of(&memorial), lang)) }
                a.btn id="download" href={ "/k/" (token) "/illustration?download=1" } { (t.download) }
                @if !memorial.message.is_empty() { p.msg { (memorial.message) } }
            }
        },
    )
}

pub async fn share_picture(State(app): State<App>, Path(token): Path<String>, Query(q): Query<PageQuery>) -> Response {
    if !tokens::is_share_token(&token) {
        return StatusCode::NOT_FOUND.into_response();
    }
    match app.db.keepsake_by_share_token(&token).await {
        Ok(Some(k)) if !k.hidden => {
            picture(&app, &k.illustration_sha256, q.download.is_some().then(|| file_name(&k, "illustration")), false).await
        }
        Ok(_) => StatusCode::NOT_FOUND.into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

// ---- family access ----

pub struct Family {
    pub memorial: Memorial,
    pub csrf: String,
}

/// The family session for this memorial, if the request carries one.
async fn family(app: &App, headers: &HeaderMap, memorial_id: &str) -> Result<Option<Family>, crate::db::DbError> {
    if !tokens::is_id(memorial_id) {
        return Ok(None);
    }
    let Some(token) = cookie(headers, &session_cookie_name(memorial_id)) else { return Ok(None) };
    let Some(csrf) = app.db.session(&tokens::sha256_hex(token.as_bytes()), memorial_id, chrono::Utc::now().timestamp()).await? else {
        return Ok(None);
    };
    Ok(app.db.memorial(memorial_id).await?.map(|memorial| Family { memorial, csrf }))
}

enum Access {
    Granted(Family),
    Refused(Response),
}

/// Pages answer a visitor without access with the sign-in page; pictures with 403.
async fn require_family(app: &App, headers: &HeaderMap, memorial_id: &str, lang: Language, is_page: bool) -> Access {
    match family(app, headers, memorial_id).await {
        Ok(Some(f)) => Access::Granted(f),
        Ok(None) if is_page && tokens::is_id(memorial_id) => {
            Access::Refused(Redirect::to(&format!("/m/{memorial_id}/login")).into_response())
        }
        Ok(None) if is_page => Access::Refused(message_page(lang, StatusCode::NOT_FOUND, i18n::words(lang).not_found, "")),
        Ok(None) => Access::Refused(StatusCode::FORBIDDEN.into_response()),
        Err(e) => Access::Refused(unavailable(lang, e)),
    }
}

macro_rules! family_or_return {
    ($app:expr, $headers:expr, $memorial:expr, $lang:expr, $is_page:expr) => {
        match require_family(&$app, &$headers, &$memorial, $lang, $is_page).await {
            Access::Granted(f) => f,
            Access::Refused(r) => return r,
        }
    };
}

/// A family page's session and the memorial's keepsakes (hidden ones only for the admin).
async fn family_keepsakes(
    app: &App,
    headers: &HeaderMap,
    memorial: &str,
    lang: Language,
    with_hidden: bool,
) -> Result<(Family, Vec<Keepsake>), Response> {
    let f = match require_family(app, headers, memorial, lang, true).await {
        Access::Granted(f) => f,
        Access::Refused(r) => return Err(r),
    };
    match app.db.keepsakes(memorial, with_hidden).await {
        Ok(k) => Ok((f, k)),
        Err(e) => Err(unavailable(lang, e)),
    }
}

fn memorial_header(m: &Memorial) -> Markup {
    html! {
        header.m {
            @if m.cover_sha256.is_some() { img.cover src={ "/m/" (m.id) "/cover" } alt=(m.name); }
            h1 { (m.name) }
            p.dates { (m.dates) }
            p.msg { (m.message) }
        }
    }
}

fn family_nav(m: &Memorial, f: &Family, lang: Language) -> Markup {
    let t = i18n::words(lang);
    html! {
        nav {
            a href={ "/m/" (m.id) } { (t.gallery) }
            a href={ "/m/" (m.id) "/slideshow" } { (t.slideshow) }
            a href={ "/m/" (m.id) "/admin" } { (t.admin) }
            form.inline method="post" action={ "/m/" (m.id) "/logout" } {
                input type="hidden" name="csrf" value=(f.csrf);
                button type="submit" { (t.sign_out) }
            }
        }
    }
}

pub async fn gallery(State(app): State<App>, headers: HeaderMap, Path(memorial): Path<String>, Query(q): Query<PageQuery>) -> Response {
    let lang = i18n::pick(q.lang.as_deref(), &headers);
    let (f, keepsakes) = match family_keepsakes(&app, &headers, &memorial, lang, false).await {
        Ok(both) => both,
        Err(r) => return r,
    };
    let t = i18n::words(lang);
    let m = &f.memorial;
    page(
        lang,
        StatusCode::OK,
        &m.name,
        "",
        html! {},
        html! {
            (memorial_header(m))
            (family_nav(m, &f, lang))
            p { (keepsakes.len()) " " (t.keepsakes_count) }
            @if keepsakes.is_empty() { p { (t.no_keepsakes) } }
            div.grid {
                @for k in keepsakes.iter().rev() {
                    a href={ "/m/" (m.id) "/k/" (k.id) } {
                        img src={ "/m/" (m.id) "/k/" (k.id) "/illustration" } alt=(k.caption) loading="lazy";
                    }
                }
            }
        },
    )
}

/// The slideshow moves on by itself with a meta refresh, so a hall's screen needs no script.
pub async fn slideshow(State(app): State<App>, headers: HeaderMap, Path(memorial): Path<String>, Query(q): Query<PageQuery>) -> Response {
    let lang = i18n::pick(q.lang.as_deref(), &headers);
    let (f, keepsakes) = match family_keepsakes(&app, &headers, &memorial, lang, false).await {
        Ok(both) => both,
        Err(r) => return r,
    };
    let t = i18n::words(lang);
    let m = &f.memorial;
    if keepsakes.is_empty() {
        return message_page(lang, StatusCode::OK, &m.name, t.no_keepsakes);
    }
    let n = keepsakes.len();
    let i = q.i.unwrap_or(0) % n;
    let k = &keepsakes[i];
    page(
        lang,
        StatusCode::OK,
        &m.name,
        "show",
        html! { meta http-equiv="refresh" content={ "6; url=/m/" (m.id) "/slideshow?i=" ((i + 1) % n) }; },
        html! {
            div.one {
                img src={ "/m/" (m.id) "/k/" (k.id) "/illustration" } alt=(k.caption);
                p.cap { (k.caption) }
                nav {
                    a href={ "/m/" (m.id) "/slideshow?i=" ((i + n - 1) % n) } { (t.previous) }
                    a href={ "/m/" (m.id) } { (t.back) }
                    a id="next" href={ "/m/" (m.id) "/slideshow?i=" ((i + 1) % n) } { (t.next) }
                }
            }
        },
    )
}

pub async fn keepsake_page(
    State(app): State<App>,
    headers: HeaderMap,
    Path((memorial, id)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> Response {
    let lang = i18n::pick(q.lang.as_deref(), &headers);
    let f = family_or_return!(app, headers, memorial, lang, true);
    let t = i18n::words(lang);
    let k = match app.db.keepsake(&memorial, &id).await {
        Ok(Some(k)) if tokens::is_id(&id) => k,
        Ok(_) => return message_page(lang, StatusCode::NOT_FOUND, t.not_found, ""),
        Err(e) => return unavailable(lang, e),
    };
    let m = &f.memorial;
    let base = format!("/m/{}/k/{}", m.id, k.id);
    page(
        lang,
        StatusCode::OK,
        &m.name,
        "",
        html! {},
        html! {
            (family_nav(m, &f, lang))
            div.one {
                img src={ (base) "/illustration" } alt=(k.caption);
                p.cap { (k.caption) }
                p.when { (crate::time_zone::visit_time(&k.created_at, app.zone_of(m))) }
                nav {
                    a id="download" href={ (base) "/illustration?download=1" } { (t.download) }
                    @if k.photo_sha256.is_some() { a href={ (base) "/photo?download=1" } { (t.download_photo) } }
                }
                @if k.photo_sha256.is_some() { h2 { (t.original_photo) } img src={ (base) "/photo" } alt=(t.original_photo); }
            }
        },
    )
}

pub async fn keepsake_picture(
    State(app): State<App>,
    headers: HeaderMap,
    Path((memorial, id, which)): Path<(String, String, String)>,
    Query(q): Query<PageQuery>,
) -> Response {
    let lang = i18n::pick(None, &headers);
    let _f = family_or_return!(app, headers, memorial, lang, false);
    let Ok(Some(k)) = app.db.keepsake(&memorial, &id).await else { return StatusCode::NOT_FOUND.into_response() };
    let sha = match which.as_str() {
        "illustration" => k.illustration_sha256.clone(),
        "photo" => match &k.photo_sha256 {
            Some(p) => p.clone(),
            None => return StatusCode::NOT_FOUND.into_response(),
        },
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    picture(&app, &sha, q.download.is_some().then(|| file_name(&k, &which)), true).await
}

pub async fn cover(State(app): State<App>, headers: HeaderMap, Path(memorial): Path<String>) -> Response {
    let lang = i18n::pick(None, &headers);
    let f = family_or_return!(app, headers, memorial, lang, false);
    match &f.memorial.cover_sha256 {
        Some(sha) => picture(&app, sha, None, true).await,
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

// ---- signing in ----

fn login_page(lang: Language, memorial: &str, status: StatusCode, problem: Option<&str>) -> Response {
    let t = i18n::words(lang);
    page(
        lang,
        status,
        t.login_title,
        "",
        html! {},
        html! {
            header.m { h1 { (t.login_title) } p { (t.ask_family) } }
            @if let Some(p) = problem { p.warn role="alert" { (p) } }
            form.one method="post" action={ "/m/" (memorial) "/login" } {
                label { (t.password) " " input type="password" name="password" required autocomplete="current-password"; }
                " "
                button type="submit" { (t.sign_in) }
            }
        },
    )
}

pub async fn login_form(headers: HeaderMap, Path(memorial): Path<String>, Query(q): Query<PageQuery>) -> Response {
    let lang = i18n::pick(q.lang.as_deref(), &headers);
    if !tokens::is_id(&memorial) {
        return message_page(lang, StatusCode::NOT_FOUND, i18n::words(lang).not_found, "");
    }
    login_page(lang, &memorial, StatusCode::OK, None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    password: String,
}

async fn start_session(app: &App, memorial_id: &str) -> Response {
    let token = tokens::secret();
    let expires = chrono::Utc::now().timestamp() + 30 * 24 * 3600;
    if let Err(e) = app.db.add_session(&tokens::sha256_hex(token.as_bytes()), memorial_id, &tokens::secret(), expires).await {
        return unavailable(Language::Ko, e);
    }
    let secure = if app.secure_cookies { "; Secure" } else { "" };
    let cookie =
        format!("{}={token}; Path=/m/{memorial_id}; Max-Age=2592000; HttpOnly; SameSite=Lax{secure}", session_cookie_name(memorial_id));
    let mut r = Redirect::to(&format!("/m/{memorial_id}")).into_response();
    r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("cookie text is ASCII"));
    r
}

pub async fn login(
    State(app): State<App>,
    headers: HeaderMap,
    Path(memorial): Path<String>,
    Query(q): Query<PageQuery>,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = i18n::pick(q.lang.as_deref(), &headers);
    if !tokens::is_id(&memorial) {
        return message_page(lang, StatusCode::NOT_FOUND, i18n::words(lang).not_found, "");
    }
    let hash = match app.db.memorial(&memorial).await {
        Ok(m) => m.and_then(|m| m.password_hash),
        Err(e) => return unavailable(lang, e),
    };
    let password = form.password;
    let ok = match hash {
        Some(h) => tokio::task::spawn_blocking(move || tokens::check_password(&password, &h)).await.unwrap_or(false),
        None => false,
    };
    if !ok {
        return login_page(lang, &memorial, StatusCode::UNAUTHORIZED, Some(i18n::words(lang).wrong_password));
    }
    start_session(&app, &memorial).await
}

pub async fn join(State(app): State<App>, headers: HeaderMap, Path((memorial, invite)): Path<(String, String)>) -> Response {
    let lang = i18n::pick(None, &headers);
    let valid = tokens::is_id(&memorial)
        && tokens::is_hex(&invite, 64)
        && matches!(app.db.memorial(&memorial).await, Ok(Some(m)) if constant_time_eq(m.invite_token.as_bytes(), invite.as_bytes()));
    if !valid {
        return message_page(lang, StatusCode::FORBIDDEN, i18n::words(lang).login_title, i18n::words(lang).ask_family);
    }
    start_session(&app, &memorial).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: Option<String>,
}

pub async fn logout(State(app): State<App>, headers: HeaderMap, Path(memorial): Path<String>, Form(form): Form<CsrfForm>) -> Response {
    let lang = i18n::pick(None, &headers);
    let f = family_or_return!(app, headers, memorial, lang, true);
    if !constant_time_eq(f.csrf.as_bytes(), form.csrf.as_bytes()) {
        return stale_form(lang);
    }
    let mut r = Redirect::to(&format!("/m/{memorial}/login")).into_response();
    let cookie = format!("{}=; Path=/m/{memorial}; Max-Age=0; HttpOnly; SameSite=Lax", session_cookie_name(&memorial));
    r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("cookie text is ASCII"));
    r
}

// ---- the family admin ----

pub async fn admin(State(app): State<App>, headers: HeaderMap, Path(memorial): Path<String>, Query(q): Query<PageQuery>) -> Response {
    let lang = i18n::pick(q.lang.as_deref(), &headers);
    let (f, keepsakes) = match family_keepsakes(&app, &headers, &memorial, lang, true).await {
        Ok(both) => both,
        Err(r) => return r,
    };
    let t = i18n::words(lang);
    let m = &f.memorial;
    let booths: std::collections::HashMap<String, String> = match app.db.booths(&memorial).await {
        Ok(b) => b.into_iter().map(|b| (b.id, b.name)).collect(),
        Err(e) => return unavailable(lang, e),
    };
    let zone = app.zone_of(&f.memorial);
    let action = |k: &Keepsake, what: &str, label: &str, class: &str| {
        html! {
            form.inline method="post" action={ "/m/" (m.id) "/admin/k/" (k.id) "/" (what) } {
                input type="hidden" name="csrf" value=(f.csrf);
                button class=(class) type="submit" name="do" value=(what) { (label) }
            }
        }
    };
    page(
        lang,
        StatusCode::OK,
        &format!("{} · {}", m.name, t.admin),
        "",
        html! {},
        html! {
            header.m { h1 { (m.name) " · " (t.admin) } }
            (family_nav(m, &f, lang))
            nav { a id="download-all" href={ "/m/" (m.id) "/admin/all.zip" } { (t.download_all) } }
            table.admin {
                @for k in keepsakes.iter().rev() {
                    tr class=[k.hidden.then_some("hidden")] id={ "k-" (k.id) } {
                        td { img src={ "/m/" (m.id) "/k/" (k.id) "/illustration" } alt=(crate::time_zone::visit_time(&k.created_at, zone)) loading="lazy"; }
                        // Each visit by its time and booth: the caption is the same on every row.
                        td {
                            (crate::time_zone::visit_time(&k.created_at, zone))
                            br;
                            small {
                                (booths.get(&k.booth_id).map(String::as_str).unwrap_or("?"))
                                @if k.photo_sha256.is_some() { " · " (t.photo_included) }
                                @if k.in_slideshow { " · " (t.in_booth_slideshow) }
                                @if k.hidden { " · " (t.hidden) }
                            }
                        }
                        td {
                            @if k.hidden { (action(k, "show", t.show, "")) } @else { (action(k, "hide", t.hide, "")) }
                            " "
                            (action(k, "delete", t.delete, "danger"))
                        }
                    }
                }
            }
        },
    )
}

/// A form from a page opened before the session changed: say so in the family's language.
fn stale_form(lang: Language) -> Response {
    let t = i18n::words(lang);
    message_page(lang, StatusCode::FORBIDDEN, t.stale_form_title, t.stale_form_text)
}

/// Asks once more before a keepsake is deleted, with the picture in question: a form without
/// script, the answer a second post with `confirm=yes`.
fn confirm_delete_page(lang: Language, f: &Family, k: &Keepsake, zone: chrono_tz::Tz) -> Response {
    let t = i18n::words(lang);
    let m = &f.memorial;
    page(
        lang,
        StatusCode::OK,
        t.confirm_delete,
        "",
        html! {},
        html! {
            header.m.confirm {
                h1 { (t.confirm_delete) }
                img src={ "/m/" (m.id) "/k/" (k.id) "/illustration" } alt=(crate::time_zone::visit_time(&k.created_at, zone));
                p.when { (crate::time_zone::visit_time(&k.created_at, zone)) }
                p { (t.cannot_undo) }
                nav {
                    a.btn.quiet id="cancel" href={ "/m/" (m.id) "/admin#k-" (k.id) } { (t.cancel) }
                    form method="post" action={ "/m/" (m.id) "/admin/k/" (k.id) "/delete" } {
                        input type="hidden" name="csrf" value=(f.csrf);
                        input type="hidden" name="confirm" value="yes";
                        button.danger id="confirm-delete" type="submit" { (t.delete) }
                    }
                }
            }
        },
    )
}

pub async fn admin_action(
    State(app): State<App>,
    headers: HeaderMap,
    Path((memorial, id, action)): Path<(String, String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let lang = i18n::pick(None, &headers);
    let f = family_or_return!(app, headers, memorial, lang, false);
    let t = i18n::words(lang);
    if !constant_time_eq(f.csrf.as_bytes(), form.csrf.as_bytes()) {
        return stale_form(lang);
    }
    if !tokens::is_id(&id) {
        return message_page(lang, StatusCode::NOT_FOUND, t.not_found, "");
    }
    let done = match action.as_str() {
        "hide" | "show" => app.db.set_hidden(&memorial, &id, action == "hide").await.map(|ok| ok.then_some(())),
        "delete" if form.confirm.as_deref() == Some("yes") => match app.db.delete_keepsake(&memorial, &id).await {
            Ok(Some(k)) => {
                for sha in [Some(k.illustration_sha256), k.photo_sha256].into_iter().flatten() {
                    if matches!(app.db.blob_in_use(&sha).await, Ok(false)) {
                        let _ = app.db.forget_blob(&sha).await;
                        if let Err(e) = app.blobs.delete(&sha).await {
                            tracing::warn!(%e, "a deleted keepsake's picture stays in the store");
                        }
                    }
                }
                Ok(Some(()))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        },
        // Not confirmed yet: ask, with the picture.
        "delete" => {
            return match app.db.keepsake(&memorial, &id).await {
                Ok(Some(k)) => confirm_delete_page(lang, &f, &k, app.zone_of(&f.memorial)),
                Ok(None) => message_page(lang, StatusCode::NOT_FOUND, t.not_found, ""),
                Err(e) => unavailable(lang, e),
            }
        }
        _ => return message_page(lang, StatusCode::NOT_FOUND, t.not_found, ""),
    };
    match done {
        Ok(Some(())) => Redirect::to(&format!("/m/{memorial}/admin")).into_response(),
        Ok(None) => message_page(lang, StatusCode::NOT_FOUND, t.not_found, ""),
        Err(e) => unavailable(lang, e),
    }
}

/// Every visible and hidden keepsake as one ZIP, built in a temporary file (a memorial can hold
/// more pictures than memory) and streamed out. Names are made here, never taken from input.
pub async fn download_all(State(app): State<App>, headers: HeaderMap, Path(memorial): Path<String>) -> Response {
    let lang = i18n::pick(None, &headers);
    let f = family_or_return!(app, headers, memorial, lang, false);
    let keepsakes = match app.db.keepsakes(&memorial, true).await {
        Ok(k) => k,
        Err(e) => return unavailable(lang, e),
    };
    let file = match tempfile::tempfile_in(&app.staging) {
        Ok(f) => f,
        Err(e) => return unavailable(lang, e),
    };
    let mut zip = zip::ZipWriter::new(file);
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut csv = String::from("number,created_at,caption,illustration,photo\n");
    for (n, k) in keepsakes.iter().enumerate() {
        let mut names = Vec::new();
        for (which, sha) in [("illustration", Some(&k.illustration_sha256)), ("photo", k.photo_sha256.as_ref())] {
            let Some(sha) = sha else {
                names.push(String::new());
                continue;
            };
            let bytes = match app.blobs.get(sha).await {
                Ok(b) => b,
                Err(e) => return unavailable(lang, e),
            };
            let name = format!("{:04}-{}", n + 1, file_name(k, which));
            if let Err(e) = zip.start_file(name.as_str(), stored).and_then(|_| zip.write_all(&bytes).map_err(Into::into)) {
                return unavailable(lang, e);
            }
            names.push(name);
        }
        csv.push_str(&format!("{},{},\"{}\",{},{}\n", n + 1, k.created_at, k.caption.replace('"', "\"\""), names[0], names[1]));
    }
    let file = match zip
        .start_file("keepsakes.csv", stored)
        .and_then(|_| zip.write_all(csv.as_bytes()).map_err(Into::into))
        .and_then(|_| zip.finish())
    {
        Ok(f) => f,
        Err(e) => return unavailable(lang, e),
    };
    let mut file = tokio::fs::File::from_std(file);
    use tokio::io::AsyncSeekExt;
    if let Err(e) = file.seek(std::io::SeekFrom::Start(0)).await {
        return unavailable(lang, e);
    }
    let name = format!("{}-keepsakes.zip", f.memorial.id);
    (
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        Body::from_stream(tokio_util::io::ReaderStream::new(file)),
    )
        .into_response()
}
