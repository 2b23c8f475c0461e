//! The systemd unit: systemd itself accepts it, and it keeps the properties the booth relies on.

use std::process::Command;

const UNIT: &str = include_str!("../systemd/keepsake.service");

fn setting(key: &str) -> Vec<&'static str> {
    UNIT.lines().filter_map(|l| l.strip_prefix(&format!("{key}="))).collect()
}

#[test]
fn unit_is_notify_watchdog_restart_and_hardened() {
    assert_eq!(setting("Type"), ["notify"]);
    assert_eq!(setting("Restart"), ["always"]);
    assert!(!setting("WatchdogSec").is_empty());
    for (key, value) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("DevicePolicy", "closed"),
        ("CapabilityBoundingSet", ""),
    ] {
        assert_eq!(setting(key), [value], "{key}");
    }
    assert_eq!(setting("ReadWritePaths"), ["/var/lib/keepsake"]);
    let groups = setting("SupplementaryGroups").join(" ");
    for g in ["video", "input", "audio", "lp"] {
        assert!(groups.split_whitespace().any(|x| x == g), "{g}");
    }
}

#[test]
fn systemd_analyze_accepts_the_unit() {
    let Ok(probe) = Command::new("systemd-analyze").arg("--version").output() else {
        assert!(std::env::var("KEEPSAKE_STRICT_TESTS").as_deref() != Ok("1"), "systemd-analyze is missing (apt-get install systemd)");
        eprintln!("skipping: systemd-analyze is not installed");
        return;
    };
    assert!(probe.status.success());
    // Point the unit at the binary just built, so `verify` can check the commands exist.
    let dir = tempfile::tempdir().unwrap();
    let unit = UNIT.replace("/usr/local/bin/keepsake", env!("CARGO_BIN_EXE_keepsake"));
    let path = dir.path().join("keepsake.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze").arg("verify").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // On machines not booted with systemd, verify may complain about the host; only lines about
    // our unit file count.
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("keepsake.service")).collect();
    assert!(ours.is_empty(), "systemd-analyze verify:\n{stderr}");
}
