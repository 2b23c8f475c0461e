//! What the booth and the memorial server say to each other, in one place so the two cannot
//! drift apart: the keepsake record a booth sends, the paths it sends it to and the share link
//! it prints, and the languages a memorial is kept in.

use serde::{Deserialize, Serialize};

/// The language of a memorial: the booth's screens, voice and card, and the server's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Ko,
    En,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::Ko, Language::En];

    /// The ISO 639-1 code (`ko`, `en`), as configs, records and `?lang=` write it.
    pub fn code(self) -> &'static str {
        match self {
            Language::Ko => "ko",
            Language::En => "en",
        }
    }

    /// The one of two translations in this language (a screen's words, a page's texts): one
    /// exhaustive match, so a third language is added where the compiler lists.
    pub fn choose<'a, T: ?Sized>(self, ko: &'a T, en: &'a T) -> &'a T {
        match self {
            Language::Ko => ko,
            Language::En => en,
        }
    }

    /// Exactly a code [`Language::code`] gives.
    pub fn from_code(code: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.code() == code)
    }

    /// A language tag as browsers send it (`ko-KR`, `EN`, ` en-GB`): its primary subtag.
    pub fn from_tag(tag: &str) -> Option<Language> {
        let primary = tag.trim().split(['-', '_']).next()?;
        Language::ALL.into_iter().find(|l| l.code().eq_ignore_ascii_case(primary))
    }
}

/// The record of one keepsake, sent by its booth once its pictures are on the server:
/// `PUT` [`keepsake_path`] with this as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepsakeRecord {
    /// SHA-256 (64 lowercase hex digits) of the illustration, uploaded first to [`blob_path`].
    pub illustration_sha256: String,
    /// The visitor's photo, only when they agreed to share it with the family.
    #[serde(default)]
    pub photo_sha256: Option<String>,
    /// The visitor agreed that the illustration may appear in the booth's public slideshow
    /// (asked only where the booth's config says so; older booths never send it: no).
    #[serde(default)]
    pub in_slideshow: bool,
    #[serde(default)]
    pub caption: String,
    /// A [`Language::code`]; older booths may send others, which the server keeps as text.
    #[serde(default)]
    pub language: String,
    /// RFC 3339, the booth's local time with its offset.
    pub created_at: String,
}

/// Where a booth fetches its memorial's cover portrait (GET, booth token), for its attract
/// screen; 404 when the memorial has none.
pub const MEMORIAL_COVER_PATH: &str = "/api/v1/memorial/cover";

/// Where a booth uploads a picture, by its SHA-256 (resumable, in pieces).
pub fn blob_path(sha256: &str) -> String {
    format!("/api/v1/blobs/{sha256}")
}

/// Where a booth records a keepsake, by the share token it minted for it.
pub fn keepsake_path(share_token: &str) -> String {
    format!("/api/v1/keepsakes/{share_token}")
}

/// The visitor's own page, behind the QR code: its path on the server.
pub fn share_path(share_token: &str) -> String {
    format!("/k/{share_token}")
}

/// [`share_path`] as a route pattern (axum's `{name}` captures).
pub const SHARE_ROUTE: &str = "/k/{token}";

/// The full share link for a server at `server_url` (a trailing slash or not).
pub fn share_url(server_url: &str, share_token: &str) -> String {
    format!("{}{}", server_url.trim_end_matches('/'), share_path(share_token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_read_back_by_code_and_from_browser_tags() {
        for l in Language::ALL {
            assert_eq!(Language::from_code(l.code()), Some(l));
            assert_eq!(serde_json::to_string(&l).unwrap(), format!("\"{}\"", l.code()));
        }
        assert_eq!(Language::from_tag(" ko-KR"), Some(Language::Ko));
        assert_eq!(Language::from_tag("EN_gb"), Some(Language::En));
        assert_eq!(Language::from_tag("kok"), None, "Konkani is not Korean");
        assert_eq!(Language::from_code("KO"), None);
        assert_eq!(Language::from_tag(""), None);
    }

    #[test]
    fn the_share_route_matches_the_share_path_and_the_record_keeps_its_fields() {
        assert_eq!(SHARE_ROUTE.replace("{token}", "abc"), share_path("abc"));
        assert_eq!(share_url("https://m.example/", "abc"), "https://m.example/k/abc");
        let record: KeepsakeRecord =
            serde_json::from_str(r#"{"illustration_sha256":"aa","created_at":"2026-11-26T14:03:00+09:00"}"#).unwrap();
        assert_eq!((record.photo_sha256, record.caption.as_str(), record.language.as_str()), (None, "", ""));
    }
}
