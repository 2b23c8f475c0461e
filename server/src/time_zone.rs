//! Times on the family's pages in the memorial's time zone: a booth records each visit in its
//! own local time with its offset (RFC 3339); the pages show it in the zone the memorial is set
//! to (`memorial set-time-zone`), else the server's own, always with the zone's name, so
//! "17:36 KST" is never mistaken for UTC.

use chrono::DateTime;
use chrono_tz::Tz;

use crate::i18n::Language;

/// A zone by its IANA name (`Asia/Seoul`, `Europe/London`), or why not with the fix.
pub fn parse(name: &str) -> Result<Tz, String> {
    name.trim().parse::<Tz>().map_err(|_| {
        format!("{name:?} is not a time zone name (fix: an IANA name such as Asia/Seoul or Europe/London; `timedatectl list-timezones` lists them)")
    })
}

/// The server machine's own zone, else UTC.
pub fn server_default() -> Tz {
    iana_time_zone::get_timezone().ok().and_then(|name| parse(&name).ok()).unwrap_or(Tz::UTC)
}

/// When a visit was, as a family reads it: `2026-12-03 17:36 KST`. A time the booth did not
/// write as RFC 3339 is shown as it came.
pub fn visit_time(created_at: &str, zone: Tz) -> String {
    match DateTime::parse_from_rfc3339(created_at) {
        Ok(t) => t.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z").to_string(),
        Err(_) => created_at.to_string(),
    }
}

/// The day of a visit in `lang`: `2026년 12월 3일`, `3 December 2026`.
pub fn visit_date(created_at: &str, zone: Tz, lang: Language) -> String {
    match DateTime::parse_from_rfc3339(created_at) {
        Ok(t) => {
            let local = t.with_timezone(&zone);
            match lang {
                Language::Ko => local.format("%Y년 %-m월 %-d일").to_string(),
                Language::En => local.format("%-d %B %Y").to_string(),
            }
        }
        Err(_) => created_at.get(..10).unwrap_or(created_at).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visit_is_shown_in_the_memorial_s_zone_with_its_name() {
        let seoul = parse("Asia/Seoul").unwrap();
        // A booth in Seoul, and one that sent UTC: the same moment, the same local time.
        assert_eq!(visit_time("2026-12-03T17:36:10+09:00", seoul), "2026-12-03 17:36 KST");
        assert_eq!(visit_time("2026-12-03T08:36:10Z", seoul), "2026-12-03 17:36 KST");
        let london = parse("Europe/London").unwrap();
        assert_eq!(visit_time("2026-07-03T17:36:10+09:00", london), "2026-07-03 09:36 BST");
        assert_eq!(visit_date("2026-12-31T23:30:00+00:00", seoul, Language::Ko), "2027년 1월 1일");
        assert_eq!(visit_date("2026-12-03T17:36:10+09:00", seoul, Language::En), "3 December 2026");
        assert_eq!(visit_time("yesterday", seoul), "yesterday");
        let e = parse("Seoul").unwrap_err();
        assert!(e.contains("Asia/Seoul") && e.contains("timedatectl"), "{e}");
    }
}
