//! Photo printers through CUPS over IPP (dye-sublimation printers with gutenprint or
//! IPP Everywhere drivers).
//!
//! The card goes to CUPS as a one-page PDF of the paper's exact size with the page as an image
//! at the paper's resolution, so CUPS' own filters drive any printer it knows. Before "Print" is
//! offered, the queue is asked for its state, its state reasons and its marker (ribbon, ink)
//! levels: a stopped queue, paper out, a jam, an open door or an empty ribbon make printing
//! unavailable with the reason. Jobs are tracked: while `max_queued` of ours are still waiting,
//! no new card is offered, so a printer that stalls never piles up a queue of strangers' cards.
//!
//! A queue can look idle and still never print: its `file:` device missing (CUPS 2.4.2-3+deb12u10
//! and later no longer create one), or a card the scheduler stopped, which CUPS never retries by
//! itself. Both are named, with the fix, instead of a card that waits forever.

use std::time::Duration;

use image::RgbImage;
use ipp::attribute::IppAttributeName;
use ipp::prelude::*;
use ipp::value::{IppKeyword, IppName};
use miniz_oxide::deflate::{compress_to_vec_zlib, CompressionLevel};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref};

use crate::error::{DeviceError, DeviceResult};
use crate::paper::PaperSize;
use crate::printer::{Printer, PrinterState, Unavailable};

/// A one-page PDF of the paper's size showing `page` edge to edge.
pub fn page_pdf(page: &RgbImage, paper: PaperSize, title: &str) -> Vec<u8> {
    let (w_in, h_in) = paper.inches();
    let (w_pt, h_pt) = (w_in * 72.0, h_in * 72.0);
    let mut pdf = Pdf::new();
    let (catalog, tree, page_id, image_id, content_id, info) =
        (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4), Ref::new(5), Ref::new(6));
    let name = Name(b"Card");
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page_id]).count(1);
    let mut p = pdf.page(page_id);
    p.media_box(Rect::new(0.0, 0.0, w_pt, h_pt));
    p.parent(tree);
    p.contents(content_id);
    p.resources().x_objects().pair(name, image_id);
    p.finish();
    let pixels = compress_to_vec_zlib(page.as_raw(), CompressionLevel::DefaultLevel as u8);
    let mut image = pdf.image_xobject(image_id, &pixels);
    image.filter(Filter::FlateDecode);
    image.width(page.width() as i32);
    image.height(page.height() as i32);
    image.color_space().device_rgb();
    image.bits_per_component(8);
    // Printers interpolate nothing: the page is already at the printer's resolution.
    image.interpolate(false);
    image.finish();
    let mut content = Content::new();
    content.save_state();
    content.transform([w_pt, 0.0, 0.0, h_pt, 0.0, 0.0]);
    content.x_object(name);
    content.restore_state();
    pdf.stream(content_id, &content.finish());
    pdf.document_info(info).title(pdf_writer::TextStr(title)).creator(pdf_writer::TextStr("Keepsake"));
    pdf.finish()
}

/// The printer-state enum (RFC 8011 5.4.11).
const STOPPED: i32 = 5;
/// The job-state enum (RFC 8011 5.3.7): a job the scheduler stopped waits for a person.
const JOB_PROCESSING_STOPPED: i32 = 6;

/// One unfinished job in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedJob {
    pub id: i32,
    pub state: i32,
    /// Why, when CUPS says (job-state-message, else job-printer-state-message).
    pub message: String,
}

/// The path of a `file:` device URI (`file:///tmp/card.pdf`, `file:/dev/usb/lp0`), decoded.
pub fn file_device_path(device_uri: &str) -> Option<String> {
    let rest = device_uri.strip_prefix("file:")?;
    let path = rest.strip_prefix("//").unwrap_or(rest);
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy().into_owned();
    decoded.starts_with('/').then_some(decoded)
}

/// A `file:` device on this machine that the scheduler cannot open, with the fix. Only a
/// definite answer counts: a path this user may not look at is left to the job check.
pub fn file_device_problem(queue: &str, device_uri: &str) -> Option<Unavailable> {
    let path = file_device_path(device_uri)?;
    let why = match std::fs::metadata(&path) {
        Ok(m) if m.is_dir() => "is a folder, not a file",
        Ok(_) => return None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist, and CUPS does not create a missing file device",
        Err(_) => return None,
    };
    let parent = std::path::Path::new(&path).parent().filter(|p| !p.exists()).map(|p| format!("sudo mkdir -p {} && ", p.display()));
    Some(Unavailable::Misconfigured {
        problem: format!("queue {queue} prints to {device_uri}, but {path} {why}"),
        fix: format!(
            "create it for cupsd to write ({}sudo install -m 0666 /dev/null {path}), or point the queue at the printer: \
             sudo lpadmin -p {queue} -v URI (lpinfo -v lists the printers' URIs)",
            parent.unwrap_or_default()
        ),
    })
}

/// A card the scheduler stopped: it blocks the queue until a person restarts or drops it.
pub fn stopped_job_problem(queue: &str, device_uri: Option<&str>, jobs: &[QueuedJob]) -> Option<Unavailable> {
    let job = jobs.iter().find(|j| j.state == JOB_PROCESSING_STOPPED)?;
    let why = if job.message.is_empty() { String::new() } else { format!(": {}", job.message) };
    let device = match device_uri {
        Some(uri) if file_device_path(uri).is_some() => format!(" (its device {uri} must exist and be writable by cupsd)"),
        Some(uri) => format!(" (its device is {uri})"),
        None => String::new(),
    };
    Some(Unavailable::Misconfigured {
        problem: format!("CUPS stopped card {queue}-{}{why}, and does not retry it by itself", job.id),
        fix: format!(
            "see why in CUPS' error_log (/var/log/cups/error_log), fix queue {queue}{device}, then print the card again with \
             lp -i {queue}-{id} -H restart, or drop it with cancel {queue}-{id}",
            id = job.id
        ),
    })
}

/// Whether an IPP host is this machine, whose files the booth can look at.
fn is_this_machine(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if matches!(host, "localhost" | "127.0.0.1" | "::1") {
        return true;
    }
    let mut name = [0u8; 256];
    // SAFETY: gethostname writes at most `len` bytes into the buffer it is given.
    let ok = unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len()) } == 0;
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    ok && std::str::from_utf8(&name[..end]).is_ok_and(|n| n.eq_ignore_ascii_case(host))
}

/// What the queue's attributes say about printing now.
pub fn interpret(state: i32, reasons: &[String], message: &str, accepting: bool, markers: &[(String, i32)]) -> PrinterState {
    // "-report" reasons are informational and "-warning" ones (media-low) still print.
    let serious: Vec<&str> =
        reasons.iter().map(String::as_str).filter(|r| *r != "none" && !r.ends_with("-report") && !r.ends_with("-warning")).collect();
    let has = |prefix: &str| serious.iter().any(|r| r.starts_with(prefix));
    let why = if has("media-empty") || has("media-needed") || has("input-tray-missing") {
        Some(Unavailable::OutOfPaper)
    } else if has("media-jam") {
        Some(Unavailable::Jammed)
    } else if has("door-open") || has("cover-open") || has("interlock-open") {
        Some(Unavailable::CoverOpen)
    } else if has("marker-supply-empty") || has("toner-empty") || has("marker-waste-full") {
        Some(Unavailable::SupplyEmpty(String::new()))
    } else if let Some((name, _)) = markers.iter().find(|(_, level)| *level == 0) {
        Some(Unavailable::SupplyEmpty(name.clone()))
    } else if state == STOPPED || has("paused") || has("offline") || has("shutdown") || !accepting {
        let detail = if message.is_empty() { serious.join(", ") } else { message.to_string() };
        Some(Unavailable::Stopped(detail))
    } else {
        None
    };
    match why {
        Some(w) => PrinterState::Unavailable(w),
        None => PrinterState::Ready,
    }
}

/// A CUPS queue (or any IPP printer), e.g. `ipp://127.0.0.1:631/printers/photo`.
pub struct CupsPrinter {
    uri: Uri,
    client: IppClient,
    max_queued: usize,
}

fn strings(v: &IppValue) -> Vec<String> {
    match v {
        IppValue::Array(items) => items.iter().flat_map(strings).collect(),
        IppValue::NoValue => Vec::new(),
        other => vec![other.to_string()],
    }
}

fn integers(v: &IppValue) -> Vec<i32> {
    match v {
        IppValue::Array(items) => items.iter().flat_map(integers).collect(),
        IppValue::Integer(i) | IppValue::Enum(i) => vec![*i],
        _ => Vec::new(),
    }
}

impl CupsPrinter {
    pub fn new(uri: &str, max_queued: usize) -> DeviceResult<Self> {
        let parsed: Uri = uri.parse().map_err(|e| {
            DeviceError::new(
                format!("printer {uri}"),
                format!("not a printer address: {e}"),
                "write ipp://HOST:631/printers/QUEUE (lpstat -v lists the queues)",
            )
        })?;
        let client = IppClient::builder(parsed.clone()).request_timeout(Duration::from_secs(10)).build();
        Ok(Self { uri: parsed, client, max_queued: max_queued.max(1) })
    }

    fn device(&self) -> String {
        format!("printer {}", self.uri)
    }

    fn fail(&self, problem: String) -> DeviceError {
        DeviceError::new(
            self.device(),
            problem,
            "check CUPS is running (systemctl status cups), the queue exists (lpstat -p) and devices.printer.uri",
        )
    }

    fn send(&self, op: impl Into<IppRequestResponse>, what: &str) -> DeviceResult<IppRequestResponse> {
        let resp = self.client.send(op).map_err(|e| self.fail(format!("{what}: {e}")))?;
        let status = resp.header().operation_or_status;
        if status >= 0x0100 {
            let message = resp
                .attributes()
                .first_of(DelimiterTag::OperationAttributes)
                .and_then(|g| g.get("status-message"))
                .map(|a| a.value().to_string())
                .unwrap_or_default();
            return Err(self.fail(format!("{what}: IPP status {status:#06x} {message}")));
        }
        Ok(resp)
    }

    /// Our jobs not yet completed (pending, held, processing, stopped).
    pub fn queued_jobs(&self) -> DeviceResult<usize> {
        Ok(self.unfinished_jobs()?.len())
    }

    /// The queue's unfinished jobs with their states (Get-Jobs answers only ids unless asked).
    pub fn unfinished_jobs(&self) -> DeviceResult<Vec<QueuedJob>> {
        let mut req = IppRequestResponse::new(IppVersion::v1_1(), Operation::GetJobs, Some(self.uri.clone()))
            .map_err(|e| self.fail(e.to_string()))?;
        let keyword = |k: &str| IppKeyword::new(k).map(IppValue::Keyword).map_err(|e| self.fail(e.to_string()));
        let requested = ["job-id", "job-state", "job-state-message", "job-printer-state-message"]
            .into_iter()
            .map(keyword)
            .collect::<DeviceResult<Vec<_>>>()?;
        let ops = DelimiterTag::OperationAttributes;
        let user = IppValue::NameWithoutLanguage(IppName::try_from("keepsake").map_err(|e| self.fail(e.to_string()))?);
        req.attributes_mut().add(ops, IppAttribute::new(IppAttributeName::REQUESTING_USER_NAME, user));
        req.attributes_mut().add(ops, IppAttribute::new(IppAttributeName::REQUESTED_ATTRIBUTES, IppValue::Array(requested)));
        req.attributes_mut().add(ops, IppAttribute::new(IppAttributeName::WHICH_JOBS, keyword("not-completed")?));
        let resp = self.send(req, "asking for the queue")?;
        Ok(resp
            .attributes()
            .groups_of(DelimiterTag::JobAttributes)
            .map(|g| {
                let int = |name: &str| g.get(name).and_then(|a| integers(a.value()).first().copied()).unwrap_or(0);
                let text = |name: &str| g.get(name).map(|a| a.value().to_string()).filter(|t| !t.is_empty());
                QueuedJob {
                    id: int("job-id"),
                    state: int("job-state"),
                    message: text("job-state-message").or_else(|| text("job-printer-state-message")).unwrap_or_default(),
                }
            })
            .collect())
    }

    fn queue(&self) -> &str {
        self.uri.path().rsplit('/').next().unwrap_or("QUEUE")
    }
}

impl Printer for CupsPrinter {
    fn name(&self) -> String {
        self.device()
    }

    fn state(&mut self) -> DeviceResult<PrinterState> {
        let op = IppOperationBuilder::get_printer_attributes(self.uri.clone())
            .attributes([
                "printer-state",
                "printer-state-reasons",
                "printer-state-message",
                "printer-is-accepting-jobs",
                "marker-names",
                "marker-levels",
                "device-uri",
            ])
            .build()
            .map_err(|e| self.fail(e.to_string()))?;
        let resp = match self.send(op, "asking for the printer's state") {
            Ok(r) => r,
            // CUPS down or unreachable: printing is unavailable, the visit goes on.
            Err(e) => return Ok(PrinterState::Unavailable(Unavailable::Offline(e.problem))),
        };
        let group = resp.attributes().first_of(DelimiterTag::PrinterAttributes);
        let get = |name: &str| group.and_then(|g| g.get(name)).map(|a| a.value().clone());
        let state = get("printer-state").and_then(|v| integers(&v).first().copied()).unwrap_or(3);
        let reasons = get("printer-state-reasons").map(|v| strings(&v)).unwrap_or_default();
        let message = get("printer-state-message").map(|v| v.to_string()).unwrap_or_default();
        let accepting = !matches!(get("printer-is-accepting-jobs"), Some(IppValue::Boolean(false)));
        let names = get("marker-names").map(|v| strings(&v)).unwrap_or_default();
        let levels = get("marker-levels").map(|v| integers(&v)).unwrap_or_default();
        let markers: Vec<(String, i32)> = names.into_iter().zip(levels).collect();
        let device_uri = get("device-uri").map(|v| v.to_string()).filter(|d| !d.is_empty());
        let verdict = interpret(state, &reasons, &message, accepting, &markers);
        if verdict != PrinterState::Ready {
            return Ok(verdict);
        }
        let local = self.uri.host().is_some_and(is_this_machine);
        if let Some(problem) = device_uri.as_deref().filter(|_| local).and_then(|d| file_device_problem(self.queue(), d)) {
            return Ok(PrinterState::Unavailable(problem));
        }
        let jobs = self.unfinished_jobs()?;
        if let Some(problem) = stopped_job_problem(self.queue(), device_uri.as_deref(), &jobs) {
            return Ok(PrinterState::Unavailable(problem));
        }
        if jobs.len() >= self.max_queued {
            return Ok(PrinterState::Unavailable(Unavailable::Busy(jobs.len())));
        }
        Ok(PrinterState::Ready)
    }

    fn print(&mut self, page: &RgbImage, paper: PaperSize, label: &str) -> DeviceResult<String> {
        if page.dimensions() != paper.pixels() {
            let (w, h) = paper.pixels();
            return Err(self.fail(format!("page is {}x{} px but {paper} paper is {w}x{h}", page.width(), page.height())));
        }
        let pdf = page_pdf(page, paper, label);
        let op = IppOperationBuilder::print_job(self.uri.clone(), IppPayload::new(std::io::Cursor::new(pdf)))
            .user_name("keepsake")
            .job_title(label)
            .document_format("application/pdf")
            // The size by name, so CUPS picks the printer's matching paper rather than its default.
            .attribute(
                IppAttribute::with_name(
                    "media",
                    IppValue::Keyword(IppKeyword::new(paper.pwg_media()).map_err(|e| self.fail(e.to_string()))?),
                )
                .map_err(|e| self.fail(e.to_string()))?,
            )
            .build()
            .map_err(|e| self.fail(e.to_string()))?;
        let resp = self.send(op, "sending the card")?;
        let id = resp
            .attributes()
            .first_of(DelimiterTag::JobAttributes)
            .and_then(|g| g.get("job-id"))
            .and_then(|a| integers(a.value()).first().copied())
            .ok_or_else(|| self.fail("the printer took the card but gave no job id".into()))?;
        Ok(format!("{}-{id}", self.queue()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn state_reasons_become_reasons_a_person_understands() {
        let ready = |reasons: &[&str]| interpret(3, &s(reasons), "", true, &[]);
        assert_eq!(ready(&["none"]), PrinterState::Ready);
        assert_eq!(ready(&["media-low-warning", "cups-insecure-filter-warning"]), PrinterState::Ready);
        assert_eq!(ready(&["media-empty-error"]), PrinterState::Unavailable(Unavailable::OutOfPaper));
        assert_eq!(ready(&["media-needed"]), PrinterState::Unavailable(Unavailable::OutOfPaper));
        assert_eq!(ready(&["media-jam-error"]), PrinterState::Unavailable(Unavailable::Jammed));
        assert_eq!(ready(&["door-open-error"]), PrinterState::Unavailable(Unavailable::CoverOpen));
        assert_eq!(ready(&["marker-supply-empty-error"]), PrinterState::Unavailable(Unavailable::SupplyEmpty(String::new())));
        assert_eq!(
            interpret(3, &s(&["none"]), "", true, &[("Ribbon".into(), 0)]),
            PrinterState::Unavailable(Unavailable::SupplyEmpty("Ribbon".into()))
        );
        assert_eq!(interpret(3, &s(&["none"]), "", true, &[("Ribbon".into(), 40)]), PrinterState::Ready);
        assert_eq!(
            interpret(5, &s(&["paused"]), "Paused by the technician", true, &[]),
            PrinterState::Unavailable(Unavailable::Stopped("Paused by the technician".into()))
        );
        assert!(matches!(interpret(3, &s(&["none"]), "", false, &[]), PrinterState::Unavailable(Unavailable::Stopped(_))));
    }

    #[test]
    fn the_pdf_is_one_page_of_the_paper_size() {
        let pdf = page_pdf(&RgbImage::new(1200, 1800), PaperSize::FourBySix, "card");
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.starts_with("%PDF-"));
        assert!(text.contains("/MediaBox [0 0 288 432]"), "4x6 in is 288x432 pt");
        assert!(text.contains("/Count 1"));
    }

    #[test]
    fn file_devices_are_read_as_paths() {
        assert_eq!(file_device_path("file:///tmp/a%20card.pdf").as_deref(), Some("/tmp/a card.pdf"));
        assert_eq!(file_device_path("file:/dev/usb/lp0").as_deref(), Some("/dev/usb/lp0"));
        assert_eq!(file_device_path("usb://DNP/DS620"), None);
        assert_eq!(file_device_path("file:relative"), None);
    }

    #[test]
    fn a_missing_or_folder_file_device_is_named_and_an_existing_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(file_device_problem("photo", "file:/dev/null"), None);
        let exists = dir.path().join("card.pdf");
        std::fs::write(&exists, b"").unwrap();
        assert_eq!(file_device_problem("photo", &format!("file://{}", exists.display())), None);
        let Some(Unavailable::Misconfigured { problem, fix }) = file_device_problem("photo", &format!("file://{}", dir.path().display()))
        else {
            panic!("a folder is no device")
        };
        assert!(problem.contains("is a folder") && fix.contains("lpadmin -p photo"), "{problem} / {fix}");
        let missing = dir.path().join("card2.pdf");
        let Some(Unavailable::Misconfigured { problem, fix }) = file_device_problem("photo", &format!("file://{}", missing.display()))
        else {
            panic!("a missing file is no device")
        };
        assert!(problem.contains("does not exist"), "{problem}");
        assert!(fix.contains(&format!("install -m 0666 /dev/null {}", missing.display())) && !fix.contains("mkdir"), "{fix}");
    }

    #[test]
    fn only_a_stopped_card_blocks_the_queue() {
        let job = |id, state| QueuedJob { id, state, message: String::new() };
        assert_eq!(stopped_job_problem("photo", None, &[job(1, 3), job(2, 4), job(3, 5)]), None);
        let Some(Unavailable::Misconfigured { problem, fix }) =
            stopped_job_problem("photo", Some("usb://DNP/DS620"), &[job(1, 3), QueuedJob { id: 7, state: 6, message: "Ribbon".into() }])
        else {
            panic!("a stopped card blocks the queue")
        };
        assert!(problem.contains("CUPS stopped card photo-7: Ribbon"), "{problem}");
        assert!(fix.contains("lp -i photo-7 -H restart") && fix.contains("usb://DNP/DS620"), "{fix}");
    }

    #[test]
    fn a_bad_address_names_the_form() {
        let err = CupsPrinter::new("not a uri with spaces", 2).err().unwrap();
        assert!(err.fix.contains("ipp://"), "{err}");
    }
}
