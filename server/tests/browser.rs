//! The family's pages in headless Chromium (JavaScript off), clicked through as a family
//! member would, on SQLite + picture files and on PostgreSQL + an S3 store. Screenshots land in
//! target/browser-screens/<backend>/.

use crate::common;

use std::process::Command;

use common::*;

fn click_through(backend: &str, backends: Backends, check_store: impl Fn(&[String])) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), backends);
    let url = server.url();
    let memorial = server.memorial("김영희");
    let token = server.booth(&memorial);
    let mut shas = Vec::new();
    let mut shares = Vec::new();
    for i in 0..5u8 {
        let (s, ill) = add_keepsake(&url, &token, 30 + i, &format!("{}번째 방문객의 그림", i + 1), i == 0);
        shas.push(sha256(&ill));
        shares.push(s);
    }
    // The first visitor's link: the click-through hides and deletes the newest two.
    let share = &shares[0];
    server.cli_with_stdin(&["family", "password", "--memorial", &memorial], "우리 가족 비밀번호\n");
    server.cli(&["memorial", "set-time-zone", "--memorial", &memorial, "--zone", "Asia/Seoul"]);
    check_store(&shas);
    let shots = repo_root().join("target/browser-screens").join(backend);
    let python = test_venv_bin("python").unwrap();
    let out = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser.py"))
        .args([&url, &memorial, "우리 가족 비밀번호", share, &serde_json::to_string(&shas).unwrap()])
        .arg(&shots)
        .output()
        .unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{said}");
    assert!(said.contains("click-through ok"), "{said}");
    assert!(shots.join("03-gallery.png").exists());
}

fn browser_ready() -> bool {
    if !std::path::Path::new("/usr/bin/chromium").exists() {
        return !missing("chromium");
    }
    if test_venv_bin("python").is_none() {
        return !missing(".venv-tests (scripts/test-venv.sh)");
    }
    true
}

#[test]
fn click_through_on_sqlite_and_files() {
    if !browser_ready() {
        return;
    }
    click_through("sqlite", Backends::default(), |_| {});
}

#[test]
fn click_through_on_postgresql_and_s3() {
    if !browser_ready() {
        return;
    }
    let Some(pg) = Postgres::start() else {
        missing("PostgreSQL (postgresql)");
        return;
    };
    let Some(s3) = S3::start() else {
        missing("the S3 server (.venv-tests: moto[server])");
        return;
    };
    let backends = Backends { database: Some(pg.url()), s3: Some((s3.endpoint.clone(), s3.bucket.clone())) };
    click_through("postgresql-s3", backends, |shas| {
        // The pictures are in the bucket, not on the server's disk.
        let keys = s3.keys();
        for sha in shas {
            assert!(keys.iter().any(|k| k.ends_with(sha.as_str())), "{sha} not in the bucket: {keys:?}");
        }
    });
}
