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
