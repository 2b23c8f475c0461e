//! What the server refuses: strangers, revoked booths, pictures that are not only pictures,
//! names that try to leave their folder, and SQL in every field.

use crate::common;

use common::*;

#[test]
fn booth_tokens_wrong_missing_or_revoked_get_401() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Backends::default());
    let url = server.url();
    let memorial = server.memorial("김영희");
    let token = server.booth(&memorial);
    let bytes = png(1, 64, 64);
    assert_eq!(upload(&url, "ksb_not-a-real-token", &bytes), 401);
    let r = agent().patch(&format!("{url}/api/v1/blobs/{}", sha256(&bytes))).send(&bytes[..]).unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().get("www-authenticate").is_some());
    assert_eq!(upload(&url, &token, &bytes), 201);

    let booth_id = server.cli(&["booth", "list", "--memorial", &memorial]).split_whitespace().next().unwrap().to_string();
    server.cli(&["booth", "revoke", "--booth", &booth_id]);
    assert!(server.cli(&["booth", "list", "--memorial", &memorial]).contains("revoked"));
    assert_eq!(upload(&url, &token, &png(2, 64, 64)), 401);
    let (s, body) = put_keepsake(
        &url,
        &token,
        "0123456789abcdef0123456789abcdef",
        &serde_json::json!({"illustration_sha256": sha256(&bytes), "created_at": "2026-11-26T10:00:00+09:00"}),
    );
    assert_eq!(s, 401);
    assert!(body.contains("server.token"), "the answer names the fix: {body}");
}

#[test]
fn only_pictures_of_a_sane_size_are_taken() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Backends::default());
    let url = server.url();
    let token = server.booth(&server.memorial("김영희"));
    // Over --max-upload-mib 4: refused before a byte is stored.
    let r = agent()
        .patch(&format!("{url}/api/v1/blobs/{}", "ab".repeat(32)))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Upload-Offset", "0")
        .header("Upload-Length", &(5u64 << 20).to_string())
        .send(&b"x"[..])
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    // One request body over the piece limit (8 MiB).
    let big = vec![0u8; 9 << 20];
    let r = agent()
        .patch(&format!("{url}/api/v1/blobs/{}", sha256(&big)))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Upload-Offset", "0")
        .header("Upload-Length", &big.len().to_string())
        .send(&big[..]);
    assert!(r.map(|r| r.status().as_u16() == 413).unwrap_or(true), "an oversize body is refused (or the connection closed)");

    assert_eq!(upload(&url, &token, b"#!/bin/sh\nrm -rf /\n and some more text to pass any small-size checks"), 415);
    let mut zip_polyglot = png(4, 64, 64);
    zip_polyglot.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x08\x00 a zip archive hides here");
    assert_eq!(upload(&url, &token, &zip_polyglot), 415);
    let mut html_polyglot = jpeg(5);
    let n = html_polyglot.len();
    html_polyglot.splice(n - 2..n - 2, b"<html><script>alert(document.cookie)</script></html>".iter().copied());
    assert_eq!(upload(&url, &token, &html_polyglot), 415);
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="100" height="100"/></svg>"#;
    assert_eq!(upload(&url, &token, svg), 415);
    // Bytes that do not hash to the name they were sent under.
    let bytes = png(6, 64, 64);
    let r = agent()
        .patch(&format!("{url}/api/v1/blobs/{}", sha256(b"something else")))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Upload-Offset", "0")
        .header("Upload-Length", &bytes.len().to_string())
        .send(&bytes[..])
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let list = std::fs::read_dir(dir.path().join("uploads")).unwrap().count();
    assert_eq!(list, 0, "refused uploads leave nothing behind");
    let metrics = agent().get(&format!("{url}/metrics")).call().unwrap().body_mut().read_to_string().unwrap();
    assert!(metrics.contains("keepsake_uploads_rejected_total 6"), "{metrics}");
}

#[test]
fn names_cannot_leave_their_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret.txt"), "do not serve me").unwrap();
    let server = Server::start(&dir.path().join("data"), Backends::default());
    let url = server.url();
    let memorial = server.memorial("김영희");
    let token = server.booth(&memorial);
    let auth = format!("Bearer {token}");
    for path in ["/api/v1/blobs/..%2F..%2Fsecret.txt", "/api/v1/blobs/..%2f..%2f..%2fetc%2fpasswd", "/api/v1/blobs/%2e%2e"] {
        let s = agent().head(&format!("{url}{path}")).header("Authorization", &auth).call().unwrap().status().as_u16();
        assert!(s == 400 || s == 404, "{path}: {s}");
    }
    let (s, _) = put_keepsake(
        &url,
        &token,
        "..%2F..%2Fsecret.txt",
        &serde_json::json!({"illustration_sha256": "ab".repeat(32), "created_at": "2026-11-26T10:00:00Z"}),
    );
    assert!(s == 400 || s == 404, "{s}");
    let (s, _) = put_keepsake(
        &url,
        &token,
        "0123456789abcdef0123456789abcdef",
        &serde_json::json!({"illustration_sha256": "../../secret.txt", "created_at": "2026-11-26T10:00:00Z"}),
    );
    assert_eq!(s, 400);
    let cookie = family_cookie(&url, &server, &memorial);
    for path in [
        "/k/..%2F..%2Fsecret.txt/illustration".to_string(),
        "/k/../../secret.txt".to_string(),
        format!("/m/{memorial}/k/..%2F..%2F..%2Fsecret.txt/illustration"),
        format!("/m/{memorial}/k/00000000000000000000000000000000/..%2F..%2Fsecret.txt"),
        "/m/..%2F..%2F/cover".to_string(),
    ] {
        let mut r = agent().get(&format!("{url}{path}")).header("Cookie", &cookie).call().unwrap();
        let body = r.body_mut().read_to_string().unwrap_or_default();
        assert!(!body.contains("do not serve me"), "{path}");
        assert!(matches!(r.status().as_u16(), 400 | 403 | 404), "{path}: {}", r.status());
    }
}

#[test]
fn family_pages_need_access_and_a_share_link_opens_one_keepsake() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Backends::default());
    let url = server.url();
    let memorial = server.memorial("김영희");
    let other_memorial = server.memorial("Margaret Ellis");
    let token = server.booth(&memorial);
    let (share_a, ill_a) = add_keepsake(&url, &token, 11, "first visitor", true);
    let (_share_b, ill_b) = add_keepsake(&url, &token, 12, "second visitor", false);
    let ids: Vec<String> =
        server.cli(&["keepsakes", "list", "--memorial", &memorial]).lines().map(|l| l.split(' ').next().unwrap().to_string()).collect();

    // Without access: pages send to the sign-in page, pictures and admin actions are forbidden.
    for page in ["", "/slideshow", "/admin", &format!("/k/{}", ids[0])] {
        let r = agent().get(&format!("{url}/m/{memorial}{page}")).call().unwrap();
        assert_eq!(r.status().as_u16(), 303, "{page}");
        assert_eq!(r.headers()["location"], format!("/m/{memorial}/login").as_str());
    }
    for picture in [
        format!("/m/{memorial}/k/{}/illustration", ids[0]),
        format!("/m/{memorial}/k/{}/photo", ids[0]),
        format!("/m/{memorial}/admin/all.zip"),
    ] {
        assert_eq!(agent().get(&format!("{url}{picture}")).call().unwrap().status().as_u16(), 403, "{picture}");
    }
    let r = agent().post(&format!("{url}/m/{memorial}/admin/k/{}/delete", ids[0])).send_form([("csrf", "x"), ("confirm", "yes")]).unwrap();
    assert_eq!(r.status().as_u16(), 403);

    // A family session of another memorial opens nothing here.
    let other_cookie = family_cookie(&url, &server, &other_memorial);
    let r = agent().get(&format!("{url}/m/{memorial}")).header("Cookie", other_cookie.replace(&other_memorial, &memorial)).call().unwrap();
    assert_eq!(r.status().as_u16(), 303);
    // A made-up invite link is refused.
    let r = agent().get(&format!("{url}/m/{memorial}/join/{}", "ab".repeat(32))).call().unwrap();
    assert_eq!(r.status().as_u16(), 403);

    // The share link: that keepsake's illustration, never the photo, never the other keepsake.
    let mut page = agent().get(&format!("{url}/k/{share_a}")).call().unwrap();
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    let html = page.body_mut().read_to_string().unwrap();
    assert!(html.contains("first visitor") && !html.contains("second visitor"));
    assert!(!html.contains("/photo"), "the share page does not offer the original photo");
    assert!(!html.contains(&ids[1]) && !html.contains(&memorial), "no way from the share page to the rest");
    let mut got = agent().get(&format!("{url}/k/{share_a}/illustration")).call().unwrap();
    assert_eq!(got.headers()["x-content-type-options"], "nosniff");
    assert_eq!(sha256(&got.body_mut().read_to_vec().unwrap()), sha256(&ill_a));
    assert_ne!(sha256(&ill_a), sha256(&ill_b));
    assert_eq!(agent().get(&format!("{url}/k/{share_a}/photo")).call().unwrap().status().as_u16(), 404);
    assert_eq!(agent().get(&format!("{url}/k/{}", "0".repeat(32))).call().unwrap().status().as_u16(), 404);

    // Wrong password: 401 and the form again; the right one signs in.
    server.cli_with_stdin(&["family", "password", "--memorial", &memorial], "우리 가족 비밀번호\n");
    let r = agent().post(&format!("{url}/m/{memorial}/login")).send_form([("password", "guess")]).unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = agent().post(&format!("{url}/m/{memorial}/login")).send_form([("password", "우리 가족 비밀번호")]).unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let mut g = agent().get(&format!("{url}/m/{memorial}")).header("Cookie", &cookie).call().unwrap();
    assert_eq!(g.status().as_u16(), 200);
    let html = g.body_mut().read_to_string().unwrap();
    assert!(html.contains("first visitor") && html.contains("second visitor"));
    // An admin action with a forged CSRF token is refused.
    let r = agent()
        .post(&format!("{url}/m/{memorial}/admin/k/{}/hide", ids[0]))
        .header("Cookie", &cookie)
        .send_form([("csrf", "forged")])
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
}

#[test]
fn sql_in_any_field_is_only_text() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Backends::default());
    let url = server.url();
    let memorial = server.memorial("Robert'); DROP TABLE keepsakes;--");
    let token = server.booth(&memorial);
    let nasty = "x'); DELETE FROM keepsakes; -- <script>alert(1)</script> \" OR 1=1";
    let (share, _) = add_keepsake(&url, &token, 21, nasty, false);
    // Injection through ids, tokens and the password.
    for path in
        [format!("/m/{memorial}' OR '1'='1"), format!("/k/{share}' OR '1'='1"), "/m/1%20OR%201=1/k/1%20OR%201=1/illustration".to_string()]
    {
        let s = agent().get(&format!("{url}{}", path.replace(' ', "%20").replace('\'', "%27"))).call().unwrap().status().as_u16();
        assert!(matches!(s, 400 | 403 | 404), "{path}: {s}");
    }
    server.cli_with_stdin(&["family", "password", "--memorial", &memorial], "a long family password\n");
    let r = agent().post(&format!("{url}/m/{memorial}/login")).send_form([("password", "' OR '1'='1")]).unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = agent()
        .put(&format!("{url}/api/v1/keepsakes/{share}"))
        .header("Authorization", &format!("Bearer {token}' OR '1'='1"))
        .send_json(serde_json::json!({}))
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // Everything is still there, stored verbatim and shown escaped.
    assert_eq!(server.cli(&["keepsakes", "list", "--memorial", &memorial]).lines().count(), 1);
    let html = agent().get(&format!("{url}/k/{share}")).call().unwrap().body_mut().read_to_string().unwrap();
    assert!(
        html.contains("Robert&#39;); DROP TABLE keepsakes;--") || html.contains("Robert'); DROP TABLE keepsakes;--"),
        "the name, as text"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the caption, escaped");
    assert!(!html.contains("<script>"));
}

#[test]
fn wrong_json_is_answered_422_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Backends::default());
    let url = server.url();
    let token = server.booth(&server.memorial("김영희"));
    let (s, body) =
        put_keepsake(&url, &token, "0123456789abcdef0123456789abcdef", &serde_json::json!({"illustration_sha256": 5, "created_at": "x"}));
    assert_eq!(s, 422);
    assert!(body.contains("illustration_sha256"), "{body}");
    let (s, body) = put_keepsake(
        &url,
        &token,
        "0123456789abcdef0123456789abcdef",
        &serde_json::json!({"illustration_sha256": "ab".repeat(32), "created_at": "yesterday"}),
    );
    assert_eq!(s, 400);
    assert!(body.contains("created_at"), "{body}");
}
