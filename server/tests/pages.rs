//! The family's and visitors' pages over plain HTTP (what a browser is sent, not how it draws
//! it: that is browser.rs).

use crate::common;

use common::*;

/// `?lang=` is the language of that page only: no cookie keeps it, the next page follows the
/// phone's language again, and the year-long `lang` cookie earlier versions set is cleared.
#[test]
fn a_language_chosen_by_link_is_for_that_page_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Backends::default());
    let url = server.url();
    let get = |path: &str, cookie: Option<&str>| {
        let mut request = agent().get(&format!("{url}{path}")).header("Accept-Language", "ko-KR,ko;q=0.9,en;q=0.8");
        if let Some(c) = cookie {
            request = request.header("Cookie", c);
        }
        let mut r = request.call().unwrap();
        let cookies: Vec<String> = r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
        (r.body_mut().read_to_string().unwrap(), cookies)
    };
    let (english, cookies) = get("/?lang=en", None);
    assert!(english.contains("<html lang=\"en\""), "{english}");
    assert!(!cookies.iter().any(|c| c.starts_with("lang=")), "the choice is not kept: {cookies:?}");
    let (next, _) = get("/", None);
    assert!(next.contains("<html lang=\"ko\""), "the next page follows the phone: {next}");
    let (stale, cookies) = get("/", Some("lang=en"));
    assert!(stale.contains("<html lang=\"ko\""), "an old cookie is not read: {stale}");
    assert!(cookies.iter().any(|c| c.starts_with("lang=;") && c.contains("Max-Age=0")), "and is cleared: {cookies:?}");
}

fn get_page(url: &str, path: &str, cookie: &str) -> (u16, String) {
    let mut r = agent().get(&format!("{url}{path}")).header("Accept-Language", "ko-KR").header("Cookie", cookie).call().unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

fn post_form(url: &str, path: &str, cookie: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().max_redirects(0).http_status_as_error(false).build().into();
    let mut r = agent
        .post(&format!("{url}{path}"))
        .header("Accept-Language", "ko-KR")
        .header("Cookie", cookie)
        .send_form(form.iter().copied())
        .unwrap();
    let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_string()).unwrap_or_default();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap(), location)
}

/// The memorial's own time zone, with its name, on the family's pages; the admin labels each
/// visit by its time and booth (and what the visitor agreed to), not by the deceased's name.
#[test]
fn visits_are_shown_in_the_memorial_s_time_zone_and_labelled_by_time_and_booth() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Backends::default());
    let url = server.url();
    let memorial = server.memorial("김영희");
    let token = server.cli(&["booth", "add", "--memorial", &memorial, "--name", "1층 로비"]).trim().to_string();
    // Recorded by the booth at 10:05 in Seoul (+09:00), with the original photo.
    let (_, _) = add_keepsake(&url, &token, 5, "김영희 (1941 - 2026)", true);
    let id = server.cli(&["keepsakes", "list", "--memorial", &memorial]).split(' ').next().unwrap().to_string();
    let cookie = family_cookie(&url, &server, &memorial);

    let said = server.cli(&["memorial", "set-time-zone", "--memorial", &memorial, "--zone", "Asia/Seoul"]);
    assert!(said.contains("Asia/Seoul"), "{said}");
    let (_, page) = get_page(&url, &format!("/m/{memorial}/k/{id}"), &cookie);
    assert!(page.contains("2026-11-26 10:05 KST"), "{page}");
    server.cli(&["memorial", "set-time-zone", "--memorial", &memorial, "--zone", "Europe/London"]);
    let (_, page) = get_page(&url, &format!("/m/{memorial}/k/{id}"), &cookie);
    assert!(page.contains("2026-11-26 01:05 GMT"), "{page}");
    let (_, admin) = get_page(&url, &format!("/m/{memorial}/admin"), &cookie);
    let row = admin.split("<tr").nth(1).unwrap();
    assert!(row.contains("2026-11-26 01:05 GMT") && row.contains("1층 로비") && row.contains("원본 사진 포함"), "{row}");
    assert!(!row.contains("김영희"), "the row is the visit's, not the deceased's: {row}");
    let e = server.cli_fails(&["memorial", "set-time-zone", "--memorial", &memorial, "--zone", "Seoul"]);
    assert!(e.contains("Asia/Seoul") && e.contains("timedatectl"), "{e}");
}

/// Delete asks once more on its own page, in the family's language, with the picture; only the
/// second, confirmed post deletes. A stale form is answered as a page in their language too.
#[test]
fn delete_is_confirmed_on_its_own_page_and_every_refusal_is_a_page_in_the_family_s_language() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Backends::default());
    let url = server.url();
    let memorial = server.memorial("김영희");
    let token = server.booth(&memorial);
    add_keepsake(&url, &token, 7, "김영희", false);
    let id = server.cli(&["keepsakes", "list", "--memorial", &memorial]).split(' ').next().unwrap().to_string();
    let cookie = family_cookie(&url, &server, &memorial);
    let (_, admin) = get_page(&url, &format!("/m/{memorial}/admin"), &cookie);
    let csrf = admin.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    assert!(admin.contains("class=\"danger\""), "Delete looks destructive");
    let delete = format!("/m/{memorial}/admin/k/{id}/delete");

    let (status, asked, _) = post_form(&url, &delete, &cookie, &[("csrf", &csrf)]);
    assert_eq!(status, 200);
    assert!(
        asked.contains("<html lang=\"ko\"") && asked.contains("이 사진을 삭제할까요?") && asked.contains("되살릴 수 없습니다"),
        "{asked}"
    );
    assert!(asked.contains(&format!("/m/{memorial}/k/{id}/illustration")), "the picture in question is shown");
    assert_eq!(server.cli(&["keepsakes", "list", "--memorial", &memorial]).lines().count(), 1, "asking deletes nothing");

    let (status, stale, _) = post_form(&url, &delete, &cookie, &[("csrf", "from an old page"), ("confirm", "yes")]);
    assert_eq!(status, 403);
    assert!(stale.contains("<html lang=\"ko\"") && stale.contains("화면이 오래되었습니다"), "{stale}");
    assert_eq!(server.cli(&["keepsakes", "list", "--memorial", &memorial]).lines().count(), 1);

    let (status, _, location) = post_form(&url, &delete, &cookie, &[("csrf", &csrf), ("confirm", "yes")]);
    assert_eq!((status, location.as_str()), (303, format!("/m/{memorial}/admin").as_str()));
    assert_eq!(server.cli(&["keepsakes", "list", "--memorial", &memorial]), "");
    let (status, gone, _) = post_form(&url, &delete, &cookie, &[("csrf", &csrf), ("confirm", "yes")]);
    assert_eq!(status, 404);
    assert!(gone.contains("찾는 페이지가 없습니다"), "{gone}");
}

/// The visitor's page: the memorial's message and the day of the visit (in the memorial's
/// zone), and Korean set with whole words.
#[test]
fn the_share_page_has_the_message_and_the_day_of_the_visit() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Backends::default());
    let url = server.url();
    let memorial = server.memorial("김영희");
    let token = server.booth(&memorial);
    let (share, _) = add_keepsake(&url, &token, 9, "김영희 (1941 – 2026)", false);
    server.cli(&["memorial", "set-time-zone", "--memorial", &memorial, "--zone", "Asia/Seoul"]);
    let (status, page) = get_page(&url, &format!("/k/{share}"), "");
    assert_eq!(status, 200);
    assert!(page.contains("늘 기억하겠습니다") && page.contains("방문한 날 2026년 11월 26일"), "{page}");
    assert!(page.contains("word-break:keep-all"), "Korean breaks between words");
}

/// What the framework itself refuses (a wrong method, a form too large) reaches a browser as a
/// page in its language; a picture request keeps its bare status.
#[test]
fn refusals_reach_a_browser_as_pages_in_its_language() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Backends::default());
    let url = server.url();
    let memorial = server.memorial("김영희");
    let browser = |r: ureq::RequestBuilder<ureq::typestate::WithoutBody>| {
        let mut r = r.header("Accept", "text/html,application/xhtml+xml").header("Accept-Language", "ko-KR").call().unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    let (status, page) = browser(agent().get(&format!("{url}/m/{memorial}/logout")));
    assert_eq!(status, 405);
    assert!(page.contains("<html lang=\"ko\"") && page.contains("요청을 처리하지 못했습니다"), "{page}");
    let mut big = agent()
        .post(&format!("{url}/m/{memorial}/login"))
        .header("Accept", "text/html")
        .header("Accept-Language", "en")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(vec![b'a'; 100 << 10])
        .unwrap();
    assert_eq!(big.status().as_u16(), 413);
    assert!(big.body_mut().read_to_string().unwrap().contains("This could not be done"));
    let mut picture =
        agent().get(&format!("{url}/m/{memorial}/k/{}/illustration", "ab".repeat(16))).header("Accept", "image/*").call().unwrap();
    assert_eq!(picture.status().as_u16(), 403);
    assert!(!picture.body_mut().read_to_string().unwrap_or_default().contains("<html"));
}
