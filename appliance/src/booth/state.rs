//! The visitor's journey as one state machine.
//!
//! Attract -> Countdown -> Capture -> Review -> Consent -> Generating -> Result -> PrintShare -> Attract,
//! with Review able to go back to Countdown (retake), and any state able to go to Fault, which
//! shows a calm message and returns to Attract. Transitions are pure: [`State::on`] takes an event
//! and gives the next state; the runner performs what entering a state needs (take the photo,
//! start generation, play narration, print) and feeds the results back as events.

use std::sync::Arc;
use std::time::Duration;

use image::RgbImage;

use keepsake_drivers::printer::Unavailable;

use crate::config::Timeouts;
use crate::keepsake::Keepsake;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintStatus {
    /// Not asked for (the print button is offered).
    Offered,
    Printing,
    Printed,
    /// The printer cannot print now; the visitor sees a calm line and why, in a few words.
    Unavailable(Unavailable),
}

#[derive(Debug, Clone)]
pub enum State {
    /// Idle: slideshow of the latest keepsakes and "touch to begin".
    Attract,
    /// Counting down over the live preview; `remaining` is the number shown.
    Countdown { remaining: u32 },
    /// Taking the photo.
    Capture,
    /// The photo is shown; retake or continue (continues by itself after a while).
    Review { photo: Arc<RgbImage> },
    /// May the family also receive the original photo? Only a "yes" sends it to the memorial
    /// server; the illustration always goes. Left alone, the answer is no.
    Consent { photo: Arc<RgbImage> },
    /// The illustration is being made. `share_photo` is the visitor's answer.
    Generating { photo: Arc<RgbImage>, share_photo: bool, step: u32, total: u32, preview: Option<Arc<RgbImage>> },
    /// The illustration and caption; the narration plays.
    Result { keepsake: Arc<Keepsake> },
    /// Print button and QR code of the share link.
    PrintShare { keepsake: Arc<Keepsake>, print: PrintStatus },
    /// Something failed; a calm message, then back to Attract. `detail` is for the log only.
    Fault { detail: String },
}

#[derive(Debug, Clone)]
pub enum Event {
    /// The visitor touched "begin" on the attract screen.
    Begin,
    /// The current state's timer ran out.
    Timeout,
    Captured(Arc<RgbImage>),
    Retake,
    Continue,
    /// The visitor's answer on the consent screen: share the original photo with the family?
    Consent(bool),
    Progress {
        step: u32,
        total: u32,
        preview: Option<Arc<RgbImage>>,
    },
    Generated(Arc<Keepsake>),
    /// The visitor touched the result screen to go on.
    Next,
    PrintButton,
    /// What the printer said when asked before "Print" is offered (`None`: ready). The runner
    /// keeps it; the journey does not change.
    PrinterChecked(Option<Unavailable>),
    /// The printer cannot print (found when the button was pressed or before).
    PrinterUnavailable(Unavailable),
    Printed,
    /// A device or model failed.
    Fault(String),
}

impl State {
    /// Short name of the screen: used for logs, sd-notify STATUS, screen recordings, and by
    /// scripted visitors to know what is showing.
    pub fn screen(&self) -> &'static str {
        match self {
            State::Attract => "attract",
            State::Countdown { .. } => "countdown",
            State::Capture => "capture",
            State::Review { .. } => "review",
            State::Consent { .. } => "consent",
            State::Generating { .. } => "generating",
            State::Result { .. } => "result",
            State::PrintShare { .. } => "print_share",
            State::Fault { .. } => "fault",
        }
    }

    /// How long this state may last before [`Event::Timeout`]; `None` waits for events only.
    pub fn timeout(&self, t: &Timeouts) -> Option<Duration> {
        match self {
            State::Attract => Some(t.slide),
            State::Countdown { .. } => Some(t.countdown_step),
            State::Review { .. } => Some(t.review),
            State::Consent { .. } => Some(t.consent),
            State::Result { .. } => Some(t.result),
            State::PrintShare { print: PrintStatus::Printing, .. } => None,
            State::PrintShare { .. } => Some(t.share),
            State::Fault { .. } => Some(t.fault),
            State::Capture | State::Generating { .. } => None,
        }
    }

    /// The next state after `event`. Events that mean nothing in this state leave it unchanged.
    pub fn on(self, event: Event, t: &Timeouts) -> State {
        use State::*;
        match (self, event) {
            // A fault anywhere ends the visit calmly. (A second fault while showing one is the same fault.)
            (Fault { detail }, Event::Fault(_)) => Fault { detail },
            (_, Event::Fault(detail)) => Fault { detail },
            (Fault { .. }, Event::Timeout) => Attract,

            (Attract, Event::Begin) => Countdown { remaining: t.countdown_from },
            // The attract timer only advances the slideshow.
            (Attract, Event::Timeout) => Attract,

            (Countdown { remaining }, Event::Timeout) if remaining > 1 => Countdown { remaining: remaining - 1 },
            (Countdown { .. }, Event::Timeout) => Capture,

            (Capture, Event::Captured(photo)) => Review { photo },

            (Review { .. }, Event::Retake) => Countdown { remaining: t.countdown_from },
            (Review { photo }, Event::Continue | Event::Timeout) => Consent { photo },

            (Consent { photo }, Event::Consent(share_photo)) => Generating { photo, share_photo, step: 0, total: 0, preview: None },
            // No answer is no.
            (Consent { photo }, Event::Timeout) => Generating { photo, share_photo: false, step: 0, total: 0, preview: None },

            (Generating { photo, share_photo, .. }, Event::Progress { step, total, preview: Some(p) }) => {
                Generating { photo, share_photo, step, total, preview: Some(p) }
            }
            (Generating { photo, share_photo, preview, .. }, Event::Progress { step, total, preview: None }) => {
                Generating { photo, share_photo, step, total, preview }
            }
            (Generating { .. }, Event::Generated(keepsake)) => Result { keepsake },

            (Result { keepsake }, Event::PrintButton) => PrintShare { keepsake, print: PrintStatus::Printing },
            (Result { keepsake }, Event::Next | Event::Timeout) => PrintShare { keepsake, print: PrintStatus::Offered },

            // One print per visit: presses while printing or after printing are ignored, so
            // impatient presses never pile up jobs.
            (PrintShare { keepsake, print: PrintStatus::Offered }, Event::PrintButton) => {
                PrintShare { keepsake, print: PrintStatus::Printing }
            }
            (PrintShare { keepsake, print: PrintStatus::Printing }, Event::Printed) => PrintShare { keepsake, print: PrintStatus::Printed },
            // A press while the printer is known to be unavailable: say so at once, no job.
            (Result { keepsake }, Event::PrinterUnavailable(why))
            | (PrintShare { keepsake, print: PrintStatus::Printing | PrintStatus::Offered }, Event::PrinterUnavailable(why)) => {
                PrintShare { keepsake, print: PrintStatus::Unavailable(why) }
            }
            (PrintShare { .. }, Event::Timeout | Event::Next) => Attract,

            (state, _) => state,
        }
    }

    /// Whether `next` is a different step of the journey (not just an update of this one), so
    /// the runner restarts timers and performs the new state's entry work.
    pub fn is_new_step(&self, next: &State) -> bool {
        match (self, next) {
            (State::Countdown { remaining: a }, State::Countdown { remaining: b }) => a != b,
            (State::Generating { .. }, State::Generating { .. }) => false,
            (State::PrintShare { print: a, .. }, State::PrintShare { print: b, .. }) => a != b,
            (State::Attract, State::Attract) => false,
            (a, b) => std::mem::discriminant(a) != std::mem::discriminant(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keepsake::{FileInfo, KeepsakeMeta};

    fn t() -> Timeouts {
        Timeouts {
            countdown_step: Duration::from_secs(1),
            countdown_from: 3,
            review: Duration::from_secs(8),
            consent: Duration::from_secs(10),
            result: Duration::from_secs(20),
            share: Duration::from_secs(30),
            fault: Duration::from_secs(5),
            slide: Duration::from_secs(5),
        }
    }

    fn photo() -> Arc<RgbImage> {
        Arc::new(RgbImage::new(4, 4))
    }

    fn keepsake() -> Arc<Keepsake> {
        let fi = FileInfo { file: String::new(), bytes: 0, crc32: 0, width: 0, height: 0 };
        Arc::new(Keepsake {
            meta: KeepsakeMeta {
                id: "x".into(),
                created_at: String::new(),
                memorial_name: String::new(),
                caption: String::new(),
                message: String::new(),
                language: "en".into(),
                share_url: String::new(),
                share_photo: false,
                made_by: String::new(),
                style: String::new(),
                photo: fi.clone(),
                illustration: fi,
            },
            photo: photo(),
            illustration: photo(),
        })
    }

    fn run(events: Vec<Event>) -> Vec<&'static str> {
        let mut s = State::Attract;
        let mut screens = vec![s.screen()];
        for e in events {
            s = s.on(e, &t());
            screens.push(s.screen());
        }
        screens
    }

    #[test]
    fn the_whole_visit() {
        let screens = run(vec![
            Event::Timeout, // slideshow advances, still attract
            Event::Begin,
            Event::Timeout,
            Event::Timeout,
            Event::Timeout, // 3, 2, 1, capture
            Event::Captured(photo()),
            Event::Continue,
            Event::Consent(true),
            Event::Progress { step: 1, total: 3, preview: Some(photo()) },
            Event::Generated(keepsake()),
            Event::PrintButton,
            Event::Printed,
            Event::Timeout,
        ]);
        assert_eq!(
            screens,
            [
                "attract",
                "attract",
                "countdown",
                "countdown",
                "countdown",
                "capture",
                "review",
                "consent",
                "generating",
                "generating",
                "result",
                "print_share",
                "print_share",
                "attract"
            ]
        );
    }

    #[test]
    fn countdown_counts_from_the_configured_number() {
        let mut s = State::Attract.on(Event::Begin, &t());
        let mut shown = Vec::new();
        while let State::Countdown { remaining } = s {
            shown.push(remaining);
            s = s.on(Event::Timeout, &t());
        }
        assert_eq!(shown, [3, 2, 1]);
        assert!(matches!(s, State::Capture));
    }

    #[test]
    fn review_retake_goes_back_to_countdown_and_timeout_continues() {
        let review = State::Review { photo: photo() };
        assert!(matches!(review.clone().on(Event::Retake, &t()), State::Countdown { remaining: 3 }));
        assert!(matches!(review.clone().on(Event::Timeout, &t()), State::Consent { .. }));
        assert!(matches!(review.on(Event::Continue, &t()), State::Consent { .. }));
    }

    #[test]
    fn only_a_yes_shares_the_photo() {
        let consent = State::Review { photo: photo() }.on(Event::Continue, &t());
        assert!(matches!(consent.clone().on(Event::Consent(true), &t()), State::Generating { share_photo: true, .. }));
        assert!(matches!(consent.clone().on(Event::Consent(false), &t()), State::Generating { share_photo: false, .. }));
        assert!(matches!(consent.clone().on(Event::Timeout, &t()), State::Generating { share_photo: false, .. }), "no answer is no");
        assert!(matches!(consent.on(Event::PrintButton, &t()), State::Consent { .. }));
    }

    #[test]
    fn progress_keeps_the_last_preview() {
        let g = State::Consent { photo: photo() }.on(Event::Consent(true), &t());
        let g = g.on(Event::Progress { step: 1, total: 4, preview: Some(photo()) }, &t());
        let g = g.on(Event::Progress { step: 2, total: 4, preview: None }, &t());
        match g {
            State::Generating { step, total, preview, share_photo, .. } => {
                assert_eq!((step, total, preview.is_some(), share_photo), (2, 4, true, true))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn result_and_share_timeouts_lead_home() {
        let r = State::Result { keepsake: keepsake() };
        let share = r.clone().on(Event::Timeout, &t());
        assert!(matches!(share, State::PrintShare { print: PrintStatus::Offered, .. }));
        assert!(matches!(r.on(Event::Next, &t()), State::PrintShare { print: PrintStatus::Offered, .. }));
        assert!(matches!(share.on(Event::Timeout, &t()), State::Attract));
    }

    #[test]
    fn a_printer_known_to_be_unavailable_is_said_at_the_press_and_checks_change_nothing() {
        let r = State::Result { keepsake: keepsake() };
        let checked = r.clone().on(Event::PrinterChecked(Some(Unavailable::Jammed)), &t());
        assert!(matches!(checked, State::Result { .. }), "a check is not a step of the journey");
        let s = r.on(Event::PrinterUnavailable(Unavailable::Jammed), &t());
        assert!(matches!(s, State::PrintShare { print: PrintStatus::Unavailable(Unavailable::Jammed), .. }));
        let offered = State::Result { keepsake: keepsake() }.on(Event::Next, &t());
        let s = offered.on(Event::PrinterUnavailable(Unavailable::OutOfPaper), &t());
        assert!(matches!(s, State::PrintShare { print: PrintStatus::Unavailable(Unavailable::OutOfPaper), .. }));
    }

    #[test]
    fn print_presses_never_pile_up() {
        let s = State::Result { keepsake: keepsake() }.on(Event::PrintButton, &t());
        assert!(matches!(s, State::PrintShare { print: PrintStatus::Printing, .. }));
        assert!(s.timeout(&t()).is_none(), "no timeout while the job runs");
        let s = s.on(Event::PrintButton, &t());
        assert!(matches!(s, State::PrintShare { print: PrintStatus::Printing, .. }), "second press ignored");
        let s = s.on(Event::Printed, &t()).on(Event::PrintButton, &t());
        assert!(matches!(s, State::PrintShare { print: PrintStatus::Printed, .. }), "no second copy");
        let u = State::Result { keepsake: keepsake() }
            .on(Event::PrintButton, &t())
            .on(Event::PrinterUnavailable(Unavailable::OutOfPaper), &t());
        assert!(matches!(u, State::PrintShare { print: PrintStatus::Unavailable(_), .. }));
    }

    #[test]
    fn a_fault_in_every_state_returns_to_attract() {
        let states = vec![
            State::Attract,
            State::Countdown { remaining: 2 },
            State::Capture,
            State::Review { photo: photo() },
            State::Consent { photo: photo() },
            State::Generating { photo: photo(), share_photo: false, step: 1, total: 3, preview: None },
            State::Result { keepsake: keepsake() },
            State::PrintShare { keepsake: keepsake(), print: PrintStatus::Printing },
        ];
        for s in states {
            let name = s.screen();
            let f = s.on(Event::Fault("camera unplugged".into()), &t());
            assert!(matches!(f, State::Fault { .. }), "{name}");
            let f = f.on(Event::Fault("again".into()), &t());
            match &f {
                State::Fault { detail } => assert_eq!(detail, "camera unplugged"),
                other => panic!("{other:?}"),
            }
            assert!(matches!(f.on(Event::Timeout, &t()), State::Attract), "{name}");
        }
    }

    #[test]
    fn stray_events_change_nothing() {
        assert!(matches!(State::Attract.on(Event::PrintButton, &t()), State::Attract));
        assert!(matches!(State::Capture.on(Event::Timeout, &t()), State::Capture));
        assert!(matches!(State::Countdown { remaining: 2 }.on(Event::Begin, &t()), State::Countdown { remaining: 2 }));
        assert!(matches!(State::Review { photo: photo() }.on(Event::PrintButton, &t()), State::Review { .. }));
    }
}
