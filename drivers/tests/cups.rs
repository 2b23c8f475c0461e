//! Printing to a real CUPS: a sandboxed cupsd on 127.0.0.1 with a queue whose device is a file.
//! The card sent over IPP comes out as the page file, which pdftoppm renders back; a stopped
//! queue, held jobs piling up and CUPS going away each make printing unavailable with the reason.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use keepsake_drivers::cups::CupsPrinter;
use keepsake_drivers::paper::PaperSize;
use keepsake_drivers::printer::{Printer, PrinterState, Unavailable};

struct Cupsd {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Cupsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool}")).stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A cupsd of our own: its config, spool and logs under `dir`, listening only on 127.0.0.1.
fn start_cupsd(dir: &Path) -> Option<Cupsd> {
    let missing: Vec<_> = ["cupsd", "lpadmin", "cupsdisable", "pdftoppm"].into_iter().filter(|t| !have(t)).collect();
    if !missing.is_empty() {
        assert!(std::env::var("KEEPSAKE_STRICT_TESTS").as_deref() != Ok("1"), "KEEPSAKE_STRICT_TESTS=1 but {missing:?} missing");
        eprintln!("skipping: {missing:?} not installed (scripts/system-packages.sh installs them)");
        return None;
    }
    for sub in ["spool", "tmp", "cache", "state", "out"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    // The file device is written by CUPS' unprivileged user, who must reach it.
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    for sub in ["out", "tmp"] {
        std::fs::set_permissions(dir.join(sub), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    }
    let port = free_port();
    let allow = "  Order allow,deny\n  Allow all\n";
    std::fs::write(
        dir.join("cupsd.conf"),
        format!(
            "Listen 127.0.0.1:{port}\nLogLevel warn\nDefaultAuthType None\nWebInterface No\n<Location />\n{allow}</Location>\n<Location /admin>\n{allow}</Location>\n<Policy default>\n  <Limit All>\n{allow}  </Limit>\n</Policy>\n"
        ),
    )
    .unwrap();
    let d = dir.display();
    std::fs::write(
        dir.join("cups-files.conf"),
        format!("ServerRoot {d}\nRequestRoot {d}/spool\nTempDir {d}/tmp\nCacheDir {d}/cache\nStateDir {d}/state\nErrorLog {d}/error_log\nAccessLog {d}/access_log\nPageLog {d}/page_log\nFileDevice Yes\nSandboxing Relaxed\n"),
    )
    .unwrap();
    let child = Command::new("cupsd")
        .args(["-f", "-c"])
        .arg(dir.join("cupsd.conf"))
        .arg("-s")
        .arg(dir.join("cups-files.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let cupsd = Cupsd { child, port, dir: dir.to_path_buf() };
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "cupsd did not start: {}",
            std::fs::read_to_string(dir.join("error_log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(cupsd)
}

impl Cupsd {
    fn admin(&self, tool: &str, args: &[&str]) {
        let out = Command::new(tool).arg("-h").arg(format!("127.0.0.1:{}", self.port)).args(args).output().unwrap();
        assert!(out.status.success(), "{tool} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn uri(&self) -> String {
        format!("ipp://127.0.0.1:{}/printers/photo", self.port)
    }
}

fn card(paper: PaperSize) -> RgbImage {
    let (w, h) = paper.pixels();
    RgbImage::from_fn(
        w,
        h,
        |x, y| if (x / 50 + y / 50) % 2 == 0 { Rgb([250, 240, 220]) } else { Rgb([(x % 256) as u8, 60, (y % 256) as u8]) },
    )
}

fn wait_for(what: &str, done: impl FnMut() -> bool) {
    common::wait_for(what, Duration::from_secs(30), done)
}

#[test]
fn a_card_goes_through_cups_and_a_stopped_or_busy_queue_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cupsd) = start_cupsd(dir.path()) else { return };
    let page_file = cupsd.dir.join("out/card.pdf");
    // A queue with cups-filters' PDF printer driver: CUPS runs its real filter chain (pdftopdf)
    // and writes the printer's PDF to the file device.
    let ppd = "lsb/usr/cupsfilters/Generic-PDF_Printer-PDF.ppd";
    cupsd.admin("lpadmin", &["-p", "photo", "-E", "-v", &format!("file://{}", page_file.display()), "-m", ppd]);

    let mut printer = CupsPrinter::new(&cupsd.uri(), 2).unwrap();
    assert_eq!(printer.state().unwrap(), PrinterState::Ready);
    let paper = PaperSize::A6; // a size the generic driver has (dye-sub drivers have 4x6)
    let page = card(paper);
    let job = printer.print(&page, paper, "session-001/card").unwrap();
    assert!(job.starts_with("photo-"), "{job}");
    wait_for("the job to finish", || printer.queued_jobs().unwrap() == 0 && page_file.exists());

    // The page as the printer would get it: rendered at 300 dpi, it is the card.
    let out = cupsd.dir.join("out/page");
    let status = Command::new("pdftoppm").args(["-r", "300", "-png", "-singlefile"]).arg(&page_file).arg(&out).status().unwrap();
    assert!(status.success());
    let rendered = image::open(out.with_extension("png")).unwrap().to_rgb8();
    // The driver's A6 is rounded to whole points (297x420), so the page is within a few pixels
    // of the card's size, and the card fills it: compared at a tenth of the size.
    let (w, h) = paper.pixels();
    assert!(rendered.width().abs_diff(w) <= 4 && rendered.height().abs_diff(h) <= 4, "{:?}", rendered.dimensions());
    let small = |img: &RgbImage| image::imageops::resize(img, w / 10, h / 10, image::imageops::FilterType::Triangle);
    let (ours, theirs) = (small(&page), small(&rendered));
    let diff: u64 =
        ours.pixels().zip(theirs.pixels()).map(|(a, b)| (0..3).map(|i| (a.0[i] as i64 - b.0[i] as i64).unsigned_abs()).sum::<u64>()).sum();
    let mean = diff as f64 / (ours.width() * ours.height() * 3) as f64;
    assert!(mean < 4.0, "the printed page differs from the card by {mean} per channel");

    // A queue the technician stopped: unavailable, with their message.
    cupsd.admin("cupsdisable", &["-r", "Ribbon being changed", "photo"]);
    assert_eq!(printer.state().unwrap(), PrinterState::Unavailable(Unavailable::Stopped("Ribbon being changed".into())));
    cupsd.admin("cupsenable", &["photo"]);
    assert_eq!(printer.state().unwrap(), PrinterState::Ready);

    // Jobs that do not print pile up to the cap, then no more cards are offered.
    cupsd.admin("lpadmin", &["-p", "photo", "-o", "job-hold-until-default=indefinite"]);
    printer.print(&page, paper, "session-002/card").unwrap();
    assert_eq!(printer.state().unwrap(), PrinterState::Ready, "one waiting card is under the cap of 2");
    printer.print(&page, paper, "session-003/card").unwrap();
    assert_eq!(printer.state().unwrap(), PrinterState::Unavailable(Unavailable::Busy(2)));

    // Wrong sizes are refused before anything is sent.
    let err = printer.print(&RgbImage::new(10, 10), paper, "x").unwrap_err();
    assert!(err.problem.contains("1240x1748"), "{err}");

    // CUPS gone: printing is unavailable and says so, nothing panics.
    drop(cupsd);
    match printer.state().unwrap() {
        PrinterState::Unavailable(Unavailable::Offline(why)) => assert!(why.contains("asking for the printer's state"), "{why}"),
        other => panic!("CUPS is down but the printer is {other:?}"),
    }
    let err = printer.print(&page, paper, "session-004/card").unwrap_err();
    assert!(err.fix.contains("lpstat"), "{err}");
}
