//! The booths' upload API on a real server process: resumable, idempotent, exact.

use crate::common;

use common::*;

#[test]
fn uploads_resume_and_retries_never_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Backends::default());
    let url = server.url();
    let memorial = server.memorial("김영희");
    let token = server.booth(&memorial);
    let a = agent();
    let bytes = png(3, 300, 400);
    let sha = sha256(&bytes);
    let blob = format!("{url}/api/v1/blobs/{sha}");
    let auth = format!("Bearer {token}");

    let head = a.head(&blob).header("Authorization", &auth).call().unwrap();
    assert_eq!((head.status().as_u16(), head.headers()["upload-offset"].to_str().unwrap()), (404, "0"));
    // The first piece arrives, then the connection "drops".
    let cut = bytes.len() / 3;
    let piece = |from: usize, to: usize, offset: usize| {
        a.patch(&blob)
            .header("Authorization", &auth)
            .header("Upload-Offset", &offset.to_string())
            .header("Upload-Length", &bytes.len().to_string())
            .send(&bytes[from..to])
            .unwrap()
    };
    let r = piece(0, cut, 0);
    assert_eq!((r.status().as_u16(), r.headers()["upload-offset"].to_str().unwrap()), (204, cut.to_string().as_str()));
    let head = a.head(&blob).header("Authorization", &auth).call().unwrap();
    assert_eq!(head.headers()["upload-offset"].to_str().unwrap(), cut.to_string(), "HEAD says where to resume");
    // A booth that thinks it is elsewhere is told the truth.
    let r = piece(0, cut, 0);
    assert_eq!((r.status().as_u16(), r.headers()["upload-offset"].to_str().unwrap()), (409, cut.to_string().as_str()));
    let r = piece(cut, bytes.len(), cut);
    assert_eq!(r.status().as_u16(), 201);
    let r = piece(cut, bytes.len(), cut);
    assert_eq!(r.status().as_u16(), 200, "the whole picture again is not an error");

    let record = serde_json::json!({"illustration_sha256": sha, "caption": "함께한 날", "language": "ko", "created_at": "2026-11-26T10:00:00+09:00"});
    let share = "0123456789abcdef0123456789abcdef";
    let (s1, b1) = put_keepsake(&url, &token, share, &record);
    let (s2, b2) = put_keepsake(&url, &token, share, &record);
    assert_eq!((s1, s2), (201, 200));
    assert_eq!(b1, b2, "a retry answers with the same keepsake");
    // The same id with another picture is not a retry: refused, the first one stays.
    let other = png(4, 300, 400);
    assert_eq!(upload(&url, &token, &other), 201);
    let clash = serde_json::json!({"illustration_sha256": sha256(&other), "created_at": "2026-11-26T10:00:00+09:00"});
    let (s3, _) = put_keepsake(&url, &token, share, &clash);
    assert_eq!(s3, 409);
    let list = server.cli(&["keepsakes", "list", "--memorial", &memorial]);
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.starts_with(&format!("{share} {sha} ")), "the keepsake's id is the one its booth gave it: {list}");
    // Two visitors may end up with the very same picture (a test camera does that): two
    // keepsakes, one stored picture.
    let (s4, _) = put_keepsake(&url, &token, "fedcba9876543210fedcba9876543210", &record);
    assert_eq!(s4, 201);
    assert_eq!(server.cli(&["keepsakes", "list", "--memorial", &memorial]).lines().count(), 2);

    // What the visitor downloads is byte for byte what the booth sent.
    let mut got = a.get(&format!("{url}/k/{share}/illustration?download=1")).call().unwrap();
    assert_eq!(got.headers()["content-type"], "image/png");
    assert!(got.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert_eq!(sha256(&got.body_mut().read_to_vec().unwrap()), sha);

    // A keepsake whose picture has not arrived is refused with the fix.
    let missing = serde_json::json!({"illustration_sha256": "ab".repeat(32), "created_at": "2026-11-26T10:00:00+09:00"});
    let (s, body) = put_keepsake(&url, &token, "11111111111111111111111111111111", &missing);
    assert_eq!(s, 409);
    assert!(body.contains("upload it first"), "{body}");

    let metrics = a.get(&format!("{url}/metrics")).call().unwrap().body_mut().read_to_string().unwrap();
    assert!(metrics.contains("keepsake_keepsakes_stored 2"), "{metrics}");
    assert!(metrics.contains("keepsake_keepsakes_repeated_total 1"), "{metrics}");
    let health = a.get(&format!("{url}/healthz")).call().unwrap().body_mut().read_to_string().unwrap();
    assert!(health.contains("\"status\":\"ok\""), "{health}");
}

#[test]
fn a_deleted_keepsake_stays_deleted_when_a_late_retry_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Backends::default());
    let url = server.url();
    let memorial = server.memorial("Margaret Ellis");
    let token = server.booth(&memorial);
    let (share, ill) = add_keepsake(&url, &token, 9, "a day by the sea", true);
    let cookie = family_cookie(&url, &server, &memorial);
    let id = server.cli(&["keepsakes", "list", "--memorial", &memorial]).split_whitespace().next().unwrap().to_string();
    // The admin page holds the form's CSRF token.
    let admin =
        agent().get(&format!("{url}/m/{memorial}/admin")).header("Cookie", &cookie).call().unwrap().body_mut().read_to_string().unwrap();
    let csrf = admin.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let r = agent()
        .post(&format!("{url}/m/{memorial}/admin/k/{id}/delete"))
        .header("Cookie", &cookie)
        .send_form([("csrf", csrf.as_str()), ("confirm", "yes")])
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(server.cli(&["keepsakes", "list", "--memorial", &memorial]), "");
    assert_eq!(agent().get(&format!("{url}/k/{share}/illustration")).call().unwrap().status().as_u16(), 404);
    // The booth never heard the answer and sends it all again.
    assert_eq!(upload(&url, &token, &ill), 201, "the picture itself was removed, so it is taken again");
    assert_eq!(upload(&url, &token, &jpeg(9)), 201);
    let (s, _) = put_keepsake(
        &url,
        &token,
        &share,
        &serde_json::json!({"illustration_sha256": sha256(&ill), "photo_sha256": sha256(&jpeg(9)), "caption": "a day by the sea", "language": "en", "created_at": "2026-11-26T10:09:00+09:00"}),
    );
    assert_eq!(s, 200, "acknowledged, so the booth stops retrying");
    assert_eq!(server.cli(&["keepsakes", "list", "--memorial", &memorial]), "", "but not restored");
}

/// The visitor's two answers reach the server and stay: the photo (only when shared) and the
/// slideshow question; a database made before the question existed gets the column at start,
/// its keepsakes counted as "no".
#[test]
fn both_consent_answers_are_recorded_and_an_older_database_is_brought_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), Backends::default());
    let url = server.url();
    let memorial = server.memorial("김영희");
    let token = server.booth(&memorial);
    let (yes, no) = ("a0000000000000000000000000000000", "b0000000000000000000000000000000");
    let ill = png(5, 300, 400);
    let photo = jpeg(6);
    assert_eq!(upload(&url, &token, &ill), 201);
    assert_eq!(upload(&url, &token, &photo), 201);
    let record = |slideshow: Option<bool>, with_photo: bool| {
        let mut r = serde_json::json!({"illustration_sha256": sha256(&ill), "created_at": "2026-11-26T10:00:00+09:00"});
        if let Some(s) = slideshow {
            r["in_slideshow"] = s.into();
        }
        if with_photo {
            r["photo_sha256"] = sha256(&photo).into();
        }
        r
    };
    assert_eq!(put_keepsake(&url, &token, yes, &record(Some(true), true)).0, 201);
    // An older booth sends no answer: no.
    assert_eq!(put_keepsake(&url, &token, no, &record(None, false)).0, 201);
    let list = server.cli(&["keepsakes", "list", "--memorial", &memorial]);
    let line = |id: &str, list: &str| list.lines().find(|l| l.starts_with(id)).unwrap_or_else(|| panic!("{id} in {list}")).to_string();
    assert!(line(yes, &list).ends_with(" photo slideshow"), "{list}");
    assert!(!line(no, &list).contains("photo") && !line(no, &list).contains("slideshow"), "{list}");

    // The database as an older server left it: no such column.
    server.kill();
    let db = dir.path().join("keepsake.sqlite");
    let dropped = std::process::Command::new("python3")
        .args(["-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('ALTER TABLE keepsakes DROP COLUMN in_slideshow'); c.commit()"])
        .arg(&db)
        .status()
        .unwrap();
    assert!(dropped.success());
    server.restart();
    let list = server.cli(&["keepsakes", "list", "--memorial", &memorial]);
    assert_eq!(list.lines().count(), 2, "nothing lost: {list}");
    assert!(!list.contains("slideshow"), "keepsakes from before the question count as no: {list}");
    assert_eq!(put_keepsake(&url, &token, "c0000000000000000000000000000000", &record(Some(true), false)).0, 201);
    let list = server.cli(&["keepsakes", "list", "--memorial", &memorial]);
    assert!(line("c0000000000000000000000000000000", &list).ends_with(" slideshow"), "{list}");
}
