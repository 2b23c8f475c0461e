//! The command line as a technician uses it.

use std::process::Command;

#[path = "../drivers/tests/common/cupsd.rs"]
mod cupsd;

fn keepsake(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_keepsake")).args(args).env("KEEPSAKE_LOG", "warn").output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn config_check_lists_every_problem_with_key_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("booth.toml");
    std::fs::write(
        &bad,
        "[memorial]\nname = \"Kim\"\nlanguage = \"fr\"\n[devices.camera]\nkind = \"webcam\"\n[timeouts]\nreview = \"8\"\n[server]\nurl = \"https://m.example\"\n",
    )
    .unwrap();
    let (ok, _, err) = keepsake(&["config", "check", bad.to_str().unwrap()]);
    assert!(!ok);
    for needle in [
        "4 problem(s)",
        "memorial.message",
        "is missing",
        "memorial.language",
        "devices.camera.kind",
        "unknown camera \"webcam\"",
        "timeouts.review",
        "must be a number",
        "fix:",
    ] {
        assert!(err.contains(needle), "{needle:?} not in:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn example_config_checks_clean() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, example, _) = keepsake(&["config", "example"]);
    assert!(ok);
    let path = dir.path().join("booth.toml");
    std::fs::write(&path, example).unwrap();
    let (ok, out, err) = keepsake(&["config", "check", path.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("is valid"), "{out}");
}

/// The memorial message is timed with the booth's own voice: longer than the result screen
/// shows is a warning with the fix (the config is still valid).
#[test]
fn config_check_warns_when_the_narration_outlasts_the_result_screen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("booth.toml");
    let config = |message: &str| {
        format!("[memorial]\nname = \"Kim\"\nlanguage = \"en\"\nmessage = \"{message}\"\n[server]\nurl = \"https://m.example\"\n[timeouts]\nresult = 6\n")
    };
    std::fs::write(&path, config("We remember you.")).unwrap();
    let (ok, out, err) = keepsake(&["config", "check", path.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("is read aloud in") && !out.contains("warning"), "{out}");
    let long = "We remember every morning you opened the curtains and every song you hummed in the kitchen. ".repeat(3);
    std::fs::write(&path, config(&long)).unwrap();
    let (ok, out, err) = keepsake(&["config", "check", path.to_str().unwrap()]);
    assert!(ok, "a long narration is a warning, not an error: {err}");
    assert!(out.contains("warning:") && out.contains("timeouts.result") && out.contains("memorial.message"), "{out}");
}

#[test]
fn missing_config_file_says_how_to_pass_one() {
    let (ok, _, err) = keepsake(&["config", "check", "/nonexistent/booth.toml"]);
    assert!(!ok);
    assert!(err.contains("cannot read") && err.contains("--config"), "{err}");
}

#[test]
fn stylize_one_image_and_reject_a_non_image() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.png");
    image::RgbImage::from_fn(200, 160, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])).save(&input).unwrap();
    let output = dir.path().join("out.png");
    let (ok, out, err) = keepsake(&["stylize", input.to_str().unwrap(), output.to_str().unwrap(), "--backend", "cpu"]);
    assert!(ok, "{err}");
    assert!(out.contains("illustration filter on CPU"), "{out}");
    assert_eq!(image::open(&output).unwrap().to_rgb8().dimensions(), (200, 160));

    std::fs::write(&input, b"this is not a picture").unwrap();
    let (ok, _, err) = keepsake(&["stylize", input.to_str().unwrap(), output.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("cannot read") && err.contains("JPEG or PNG"), "{err}");
    let (ok, _, err) = keepsake(&["stylize", "x.png", "y.png", "--preset", "cubist"]);
    assert!(!ok && err.contains("cubist"), "{err}");
}

#[test]
fn doctor_reports_devices_and_fixes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("booth.toml");
    std::fs::write(
        &cfg,
        "[memorial]\nname = \"Kim\"\nmessage = \"m\"\n[style]\nmodel = \"missing.safetensors\"\n[devices.camera]\nkind = \"folder\"\npath = \"no-photos\"\n[server]\nurl = \"https://m.example\"\n",
    )
    .unwrap();
    let (ok, out, _) = keepsake(&["doctor", "--config", cfg.to_str().unwrap()]);
    assert!(!ok, "missing configured things make doctor fail:\n{out}");
    assert!(out.contains("missing.safetensors does not exist"), "{out}");
    assert!(out.contains("camera folder") && out.contains("fix:"), "{out}");
    assert!(out.contains("font") && out.contains("voice"), "{out}");
    // Every kind of hardware is looked for, found or not.
    for kind in [
        "found camera",
        "found framebuffer",
        "found touchscreen",
        "found GPIO chip",
        "found serial port",
        "found sound output",
        "found printer queue",
    ] {
        assert!(out.contains(kind), "{kind}:\n{out}");
    }
    // The GPU as the diffusion model sees it: compiler, f16, tensor cores, memory. CI has mesa's
    // lavapipe, a software rasterizer the model is never put on.
    let diffusion = out.lines().find(|l| l.contains("diffusion compute")).unwrap_or_else(|| panic!("no diffusion compute line:\n{out}"));
    if std::env::var("KEEPSAKE_STRICT_TESTS").as_deref() == Ok("1") {
        let gpu = out.lines().find(|l| l.contains("llvmpipe")).unwrap_or_else(|| panic!("lavapipe not listed:\n{out}"));
        for part in ["compiler ", "shader-f16 yes", "cooperative matrix no", "memory ", "largest buffer ", "software rasterizer"] {
            assert!(gpu.contains(part), "{part:?} missing: {gpu}");
        }
        assert!(diffusion.contains("CPU"), "lavapipe is slower than the CPU path: {diffusion}");
    }
}

#[test]
fn doctor_names_each_configured_device_that_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("booth.toml");
    std::fs::write(
        &cfg,
        "[memorial]\nname = \"Kim\"\nmessage = \"m\"\n[server]\nurl = \"https://m.example\"\n\
         [devices.camera]\nkind = \"v4l2\"\nindex = 57\n\
         [devices.display]\nkind = \"framebuffer\"\npath = \"/dev/fb9\"\n\
         [devices.input]\nkind = \"touch\"\npath = \"/dev/input/event99\"\n\
         [devices.button]\nkind = \"gpio\"\nchip = \"/dev/gpiochip9\"\nline = 17\n\
         [devices.printer]\nkind = \"escpos\"\npath = \"/dev/ttyUSB9\"\n[paper]\nsize = \"58mm\"\n",
    )
    .unwrap();
    let (ok, out, _) = keepsake(&["doctor", "--config", cfg.to_str().unwrap()]);
    assert!(!ok, "{out}");
    for missing in ["/dev/video57", "/dev/fb9", "/dev/input/event99", "/dev/gpiochip9 line 17", "/dev/ttyUSB9"] {
        let line = out.lines().find(|l| l.contains(missing)).unwrap_or_else(|| panic!("{missing} not reported:\n{out}"));
        assert!(line.contains("MISSING") || line.to_lowercase().contains("missing"), "{line}\n{out}");
    }
    assert!(out.contains("video group") && out.contains("gpioinfo") && out.contains("input group"), "each has its fix:\n{out}");
}

/// A CUPS queue that can never print (its file device is missing) is named by the doctor with
/// the technician's fix, on a real cupsd; the same queue with its file present is ready.
#[test]
fn doctor_names_a_cups_queue_whose_device_cannot_be_opened() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cupsd) = cupsd::start(&dir.path().join("cups")) else { return };
    let device = cupsd.dir.join("out/card.pdf");
    cupsd.add_pdf_queue("photo", &device);
    let cfg = dir.path().join("booth.toml");
    std::fs::write(
        &cfg,
        format!(
            "[memorial]\nname = \"Kim\"\nmessage = \"m\"\n[server]\nurl = \"https://m.example\"\n\
             [devices.printer]\nkind = \"cups\"\nuri = \"{}\"\n[paper]\nsize = \"a6\"\n",
            cupsd.uri("photo")
        ),
    )
    .unwrap();
    let (ok, out, _) = keepsake(&["doctor", "--config", cfg.to_str().unwrap()]);
    assert!(!ok, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("MISSING printer") && l.contains(&format!("{} does not exist", device.display())))
        .unwrap_or_else(|| panic!("the missing device is not named:\n{out}"));
    let fix = lines.get(at + 1).copied().unwrap_or_default();
    assert!(fix.contains(&format!("fix: create it for cupsd to write (sudo install -m 0666 /dev/null {})", device.display())), "{fix}");
    assert!(fix.contains("sudo lpadmin -p photo -v URI"), "{fix}");
    assert!(!out.contains("load paper"), "not a visitor's paper problem:\n{out}");

    cupsd.device_file("card.pdf");
    let (_, out, _) = keepsake(&["doctor", "--config", cfg.to_str().unwrap()]);
    let line = out.lines().find(|l| l.contains("printer ipp://")).unwrap_or_else(|| panic!("no printer finding:\n{out}"));
    assert!(line.contains("ready"), "{line}\n{out}");
}

/// `keepsake run` under a systemd-like supervisor: READY, WATCHDOG and STATUS arrive on
/// NOTIFY_SOCKET, a scripted visitor gets a keepsake, and SIGTERM stops it cleanly.
#[test]
fn run_notifies_systemd_makes_keepsakes_and_stops_on_sigterm() {
    use std::os::unix::net::UnixDatagram;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    std::fs::write(
        dir.path().join("visitor.toml"),
        "[[step]]\non = \"attract\"\nevent = \"touch\"\nx = 1\ny = 1\n\n[[step]]\non = \"result\"\nafter_ms = 100\nevent = \"print_button\"\n",
    )
    .unwrap();
    let cfg = dir.path().join("booth.toml");
    std::fs::write(
        &cfg,
        "[memorial]\nname = \"Kim\"\nmessage = \"We remember you.\"\nlanguage = \"en\"\n\
         [devices.camera]\nwidth = 240\nheight = 320\n\
         [devices.input]\nkind = \"scripted\"\nscript = \"visitor.toml\"\n\
         [server]\nurl = \"https://m.example\"\n\
         [timeouts]\ncountdown_step = 0.1\nreview = 0.2\nresult = 0.5\nshare = 0.5\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_keepsake"))
        .args(["run", "--backend", "cpu", "--config"])
        .arg(&cfg)
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "3000000")
        .env("WATCHDOG_PID", "") // any pid: sd-notify checks it only when set to a number
        .env("KEEPSAKE_LOG", "warn")
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut messages = String::new();
    let mut buf = [0u8; 4096];
    let printed = dir.path().join("prints");
    while started.elapsed() < Duration::from_secs(60) {
        if let Ok(n) = socket.recv(&mut buf) {
            messages.push_str(&String::from_utf8_lossy(&buf[..n]));
            messages.push('\n');
        }
        let card_done = std::fs::read_dir(printed.join("session-001")).map(|d| d.count() > 0).unwrap_or(false);
        if card_done && messages.contains("WATCHDOG=1") && messages.contains("STATUS=print_share") {
            break;
        }
    }
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "SIGTERM stops the booth cleanly: {exit}");
    assert!(messages.contains("READY=1"), "{messages}");
    assert!(messages.contains("WATCHDOG=1"), "{messages}");
    assert!(messages.contains("STATUS=countdown") && messages.contains("STATUS=print_share"), "{messages}");
    let archive = keepsake::archive::Archive::open(&dir.path().join("archive")).unwrap();
    assert_eq!(archive.entries().unwrap().len(), 1);
}

#[test]
fn a_bad_heap_cache_setting_is_refused_with_the_fix() {
    for bad in ["lots", "-1", "5000"] {
        let out =
            Command::new(env!("CARGO_BIN_EXE_keepsake")).args(["config", "example"]).env("KEEPSAKE_HEAP_CACHE_MB", bad).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "KEEPSAKE_HEAP_CACHE_MB={bad} was taken");
        assert!(err.contains("KEEPSAKE_HEAP_CACHE_MB") && err.contains("fix:"), "{err}");
    }
    for good in ["0", "96", " 200 "] {
        let out =
            Command::new(env!("CARGO_BIN_EXE_keepsake")).args(["config", "example"]).env("KEEPSAKE_HEAP_CACHE_MB", good).output().unwrap();
        assert!(out.status.success(), "KEEPSAKE_HEAP_CACHE_MB={good:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
