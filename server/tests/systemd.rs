//! The server's systemd unit is valid and hardened.

use std::process::Command;

const UNIT: &str = include_str!("../../systemd/keepsake-server.service");

#[test]
fn unit_keeps_the_server_to_its_state_directory() {
    for line in ["DynamicUser=yes", "StateDirectory=keepsake-server", "ProtectSystem=strict", "Restart=always", "PrivateDevices=yes"] {
        assert!(UNIT.lines().any(|l| l.trim() == line), "{line}");
    }
    assert!(UNIT.contains("--data /var/lib/keepsake-server serve"));
}

#[test]
fn systemd_analyze_accepts_the_unit() {
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        assert!(std::env::var("KEEPSAKE_STRICT_TESTS").as_deref() != Ok("1"), "systemd-analyze is missing (apt-get install systemd)");
        eprintln!("skipping: systemd-analyze is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepsake-server.service");
    std::fs::write(&path, UNIT.replace("/usr/local/bin/keepsake-server", env!("CARGO_BIN_EXE_keepsake-server"))).unwrap();
    let out = Command::new("systemd-analyze").arg("verify").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("keepsake-server.service")).collect();
    assert!(ours.is_empty(), "systemd-analyze verify:\n{stderr}");
}
