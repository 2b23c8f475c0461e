//! Printing to a real CUPS: a sandboxed cupsd on 127.0.0.1 with a queue whose device is a file.
//! The card sent over IPP comes out as the page file, which pdftoppm renders back; a stopped
//! queue, held jobs piling up and CUPS going away each make printing unavailable with the reason,
//! and so does a queue whose device cannot be opened, before and after a card is sent to it.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::cupsd;

use image::{Rgb, RgbImage};
use keepsake_drivers::cups::CupsPrinter;
use keepsake_drivers::paper::PaperSize;
use keepsake_drivers::printer::{Printer, PrinterState, Unavailable};

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
    let Some(cupsd) = cupsd::start(dir.path()) else { return };
    let page_file = cupsd.device_file("card.pdf");
    cupsd.add_pdf_queue("photo", &page_file);

    let mut printer = CupsPrinter::new(&cupsd.uri("photo"), 2).unwrap();
    assert_eq!(printer.state().unwrap(), PrinterState::Ready);
    let paper = PaperSize::A6; // a size the generic driver has (dye-sub drivers have 4x6)
    let page = card(paper);
    let job = printer.print(&page, paper, "session-001/card").unwrap();
    assert!(job.starts_with("photo-"), "{job}");
    wait_for("the job to finish", || printer.queued_jobs().unwrap() == 0 && cupsd::printed(&page_file));

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

/// A queue whose file device is missing (its folder too, so no CUPS can create it): named with
/// the fix before any card is sent; a card sent anyway is stopped by CUPS, which is named too
/// once the file is there, until the technician restarts the card and it prints.
#[test]
fn a_queue_whose_device_cannot_be_opened_is_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cupsd) = cupsd::start(dir.path()) else { return };
    let folder = cupsd.dir.join("out/gone");
    let page_file = folder.join("card.pdf");
    cupsd.add_pdf_queue("lost", &page_file);
    let mut printer = CupsPrinter::new(&cupsd.uri("lost"), 2).unwrap();
    let (problem, fix) = match printer.state().unwrap() {
        PrinterState::Unavailable(why @ Unavailable::Misconfigured { .. }) => (why.to_string(), why.fix()),
        other => panic!("a queue whose device does not exist is {other:?}"),
    };
    let path = page_file.display().to_string();
    assert!(problem.contains("queue lost") && problem.contains(&path) && problem.contains("does not exist"), "{problem}");
    assert!(fix.contains(&format!("mkdir -p {}", folder.display())) && fix.contains(&format!("install -m 0666 /dev/null {path}")), "{fix}");
    assert!(fix.contains("lpadmin -p lost -v"), "{fix}");

    // A card sent anyway: the scheduler cannot open the device and stops the job.
    let paper = PaperSize::A6;
    let page = card(paper);
    let job = printer.print(&page, paper, "session-001/card").unwrap();
    wait_for("CUPS to stop the card", || printer.unfinished_jobs().unwrap().iter().any(|j| j.state == 6));

    // The file is made now, but CUPS never retries a stopped card: that is named, with the fix.
    assert_eq!(cupsd.device_file("gone/card.pdf"), page_file);
    let why = match printer.state().unwrap() {
        PrinterState::Unavailable(why @ Unavailable::Misconfigured { .. }) => why,
        other => panic!("a queue holding a stopped card is {other:?}"),
    };
    assert!(why.to_string().contains(&format!("CUPS stopped card {job}")), "{why}");
    assert!(why.fix().contains(&format!("lp -i {job} -H restart")) && why.fix().contains(&format!("cancel {job}")), "{}", why.fix());

    // The technician's fix works: the card prints, and the queue is ready again.
    cupsd.admin("lp", &["-i", &job, "-H", "restart"]);
    wait_for("the restarted card to print", || printer.queued_jobs().unwrap() == 0 && cupsd::printed(&page_file));
    assert_eq!(printer.state().unwrap(), PrinterState::Ready);
}
