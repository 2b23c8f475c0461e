//! The visitor's journey as one state machine.
//!
//! Attract -> Countdown -> Capture -> Review -> Consent [-> SlideshowConsent] -> Generating -> Result
//! -> PrintShare -> Attract,
//! with Review able to go back to Countdown (retake), and any state able to go to Fault, which
//! shows a calm message and returns to Attract (or, when visit after visit fails, to OutOfService,
//! a steady "temporarily unavailable" screen that returns to Attract after a while). Transitions are pure: [`State::on`] takes an event
//! and gives the next state with the [`Work`] that entering it starts (take the photo, make the
//! illustration, ask the printer, read the message aloud, print, show the slideshow); the runner
//! only performs that work and feeds the results back as events. What the printer said is part of
//! the state, so the rule "Print is offered only while the printer can print" lives here.

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

/// What the printer said when asked on the result screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrinterCheck {
    /// Not answered yet (a moment): nothing is promised.
    Asking,
    Ready,
    /// It cannot print now, and why.
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
    /// May the illustration appear in this booth's slideshow for the next visitors? Asked only
    /// where the config says so (otherwise no visitor's picture is shown there). Left alone,
    /// the answer is no.
    SlideshowConsent { photo: Arc<RgbImage>, share_photo: bool },
    /// The illustration is being made, with the visitor's answers.
    Generating { photo: Arc<RgbImage>, answers: Answers, step: u32, total: u32, preview: Option<Arc<RgbImage>> },
    /// The illustration and caption; the narration plays. The printer is asked on entering;
    /// Print is offered once it says it can print.
    Result { keepsake: Arc<Keepsake>, printer: PrinterCheck },
    /// Print button and QR code of the share link.
    PrintShare { keepsake: Arc<Keepsake>, print: PrintStatus },
    /// Something failed; a calm message, then back to Attract. `detail` is for the log only.
    Fault { detail: String },
    /// Visit after visit failed before its keepsake (a camera gone, a model that cannot run):
    /// a steady "temporarily unavailable" screen instead of touch -> fault -> attract again and
    /// again; after a while the next visitor may try again. `detail` is for the log only.
    OutOfService { detail: String },
}

/// What the visitor agreed to: both default to no.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Answers {
    /// The original photo may go to the family (the illustration always does).
    pub share_photo: bool,
    /// The illustration may appear in this booth's slideshow.
    pub in_slideshow: bool,
}

/// The rules of the journey the config sets: how long each screen waits, and whether visitors
/// are asked about the slideshow.
#[derive(Debug, Clone, PartialEq)]
pub struct Journey {
    pub timeouts: Timeouts,
    pub ask_slideshow: bool,
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
    /// The visitor's answer on the slideshow screen: may the illustration be shown there?
    SlideshowConsent(bool),
    Progress {
        step: u32,
        total: u32,
        preview: Option<Arc<RgbImage>>,
    },
    Generated(Arc<Keepsake>),
    /// The visitor touched the result screen to go on.
    Next,
    PrintButton,
    /// What the printer said when asked before "Print" is offered (`None`: ready). It changes
    /// what the screen says and what the button does, not where the visitor is.
    PrinterChecked(Option<Unavailable>),
    /// The printer cannot print (found when the button was pressed or before).
    PrinterUnavailable(Unavailable),
    Printed,
    /// A device or model failed.
    Fault(String),
    /// A device or model failed again, the last of several visits in a row that failed before
    /// their keepsake (the runner counts them).
    OutOfService(String),
}

/// What the runner starts on entering a step of the journey; each result comes back as an
/// [`Event`] (named after the arrow).
#[derive(Debug, Clone)]
pub enum Work {
    /// Take the photo -> `Captured`.
    Capture,
    /// Make the illustration and archive the keepsake -> `Progress`..., `Generated`.
    Stylize { photo: Arc<RgbImage>, answers: Answers },
    /// The visit was abandoned while its illustration was being made: stop making it.
    CancelStylize,
    /// Show the keepsake: its share link's QR code, and the run's report.
    ShowKeepsake(Arc<Keepsake>),
    /// Ask the printer whether it can print, before "Print" is offered -> `PrinterChecked`.
    CheckPrinter,
    /// Read the memorial message aloud (only a failure comes back, as `Fault`).
    Narrate(Arc<Keepsake>),
    /// Print the keepsake card -> `Printed` or `PrinterUnavailable`.
    Print(Arc<Keepsake>),
    /// Back on the attract screen: the latest keepsakes become the slideshow, from its start.
    ShowSlides,
    /// The attract screen's timer: the slideshow's next picture.
    NextSlide,
}

/// Where an event leads: the next state, whether it is a new step of the journey (the runner
/// restarts the timer and records the screen), and the work to start.
#[derive(Debug)]
pub struct Step {
    pub state: State,
    pub new_step: bool,
    pub work: Vec<Work>,
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
            State::SlideshowConsent { .. } => "slideshow_consent",
            State::Generating { .. } => "generating",
            State::Result { .. } => "result",
            State::PrintShare { .. } => "print_share",
            State::Fault { .. } => "fault",
            State::OutOfService { .. } => "out_of_service",
        }
    }

    /// Whether a visit here has not got its keepsake yet (a fault now costs the visitor it).
    pub fn before_keepsake(&self) -> bool {
        match self {
            State::Countdown { .. }
            | State::Capture
            | State::Review { .. }
            | State::Consent { .. }
            | State::SlideshowConsent { .. }
            | State::Generating { .. } => true,
            State::Attract | State::Result { .. } | State::PrintShare { .. } | State::Fault { .. } | State::OutOfService { .. } => false,
        }
    }

    /// How long this state may last before [`Event::Timeout`]; `None` waits for events only.
    pub fn timeout(&self, t: &Timeouts) -> Option<Duration> {
        match self {
            State::Attract => Some(t.slide),
            State::Countdown { .. } => Some(t.countdown_step),
            State::Review { .. } => Some(t.review),
            State::Consent { .. } | State::SlideshowConsent { .. } => Some(t.consent),
            State::Result { .. } => Some(t.result),
            State::PrintShare { print: PrintStatus::Printing, .. } => None,
            State::PrintShare { .. } => Some(t.share),
            State::Fault { .. } => Some(t.fault),
            State::OutOfService { .. } => Some(t.out_of_service),
            State::Capture | State::Generating { .. } => None,
        }
    }

    /// Where `event` leads from here: the next state and the work entering it starts.
    pub fn on(self, event: Event, journey: &Journey) -> Step {
        let attract_timer = matches!((&self, &event), (State::Attract, Event::Timeout));
        let before = self.clone();
        let state = self.next(event, journey);
        let new_step = before.is_new_step(&state);
        let work = if new_step {
            state.work_on_entering(&before)
        } else if attract_timer {
            vec![Work::NextSlide]
        } else {
            Vec::new()
        };
        Step { state, new_step, work }
    }

    /// What entering this state (from `before`) starts.
    fn work_on_entering(&self, before: &State) -> Vec<Work> {
        use State::*;
        let mut work = Vec::new();
        // Leaving Generating other than with the picture (a fault) abandons the visit: its
        // illustration stops instead of running on alone.
        if matches!(before, Generating { .. }) && !matches!(self, Result { .. }) {
            work.push(Work::CancelStylize);
        }
        match self {
            Attract => work.push(Work::ShowSlides),
            Capture => work.push(Work::Capture),
            Generating { photo, answers, .. } => work.push(Work::Stylize { photo: photo.clone(), answers: *answers }),
            // Asked now, before "Print" is offered: out of paper or jammed shows on this screen,
            // and the button then says so instead of queueing a job.
            Result { keepsake, .. } => {
                work.extend([Work::ShowKeepsake(keepsake.clone()), Work::CheckPrinter, Work::Narrate(keepsake.clone())])
            }
            PrintShare { keepsake, print: PrintStatus::Printing } => work.push(Work::Print(keepsake.clone())),
            PrintShare { print: PrintStatus::Offered | PrintStatus::Printed | PrintStatus::Unavailable(_), .. } => {}
            Countdown { .. } | Review { .. } | Consent { .. } | SlideshowConsent { .. } | Fault { .. } | OutOfService { .. } => {}
        }
        work
    }

    /// The next state after `event`. Events that mean nothing in this state leave it unchanged.
    fn next(self, event: Event, journey: &Journey) -> State {
        use State::*;
        let t = &journey.timeouts;
        let generating = |photo, answers| Generating { photo, answers, step: 0, total: 0, preview: None };
        match (self, event) {
            // A fault anywhere ends the visit calmly. (A second fault while showing one is the same fault.)
            (Fault { detail }, Event::Fault(_)) => Fault { detail },
            (OutOfService { detail }, Event::Fault(_) | Event::OutOfService(_)) => OutOfService { detail },
            (_, Event::Fault(detail)) => Fault { detail },
            (_, Event::OutOfService(detail)) => OutOfService { detail },
            (Fault { .. } | OutOfService { .. }, Event::Timeout) => Attract,

            (Attract, Event::Begin) => Countdown { remaining: t.countdown_from },
            // The attract timer only advances the slideshow.
            (Attract, Event::Timeout) => Attract,

            (Countdown { remaining }, Event::Timeout) if remaining > 1 => Countdown { remaining: remaining - 1 },
            (Countdown { .. }, Event::Timeout) => Capture,

            (Capture, Event::Captured(photo)) => Review { photo },

            (Review { .. }, Event::Retake) => Countdown { remaining: t.countdown_from },
            (Review { photo }, Event::Continue | Event::Timeout) => Consent { photo },

            // No answer is no, to either question.
            (Consent { photo }, Event::Consent(share_photo)) if journey.ask_slideshow => SlideshowConsent { photo, share_photo },
            (Consent { photo }, Event::Timeout) if journey.ask_slideshow => SlideshowConsent { photo, share_photo: false },
            (Consent { photo }, Event::Consent(share_photo)) => generating(photo, Answers { share_photo, in_slideshow: false }),
            (Consent { photo }, Event::Timeout) => generating(photo, Answers::default()),
            (SlideshowConsent { photo, share_photo }, Event::SlideshowConsent(in_slideshow)) => {
                generating(photo, Answers { share_photo, in_slideshow })
            }
            (SlideshowConsent { photo, share_photo }, Event::Timeout) => generating(photo, Answers { share_photo, in_slideshow: false }),

            (Generating { photo, answers, .. }, Event::Progress { step, total, preview: Some(p) }) => {
                Generating { photo, answers, step, total, preview: Some(p) }
            }
            (Generating { photo, answers, preview, .. }, Event::Progress { step, total, preview: None }) => {
                Generating { photo, answers, step, total, preview }
            }
            (Generating { .. }, Event::Generated(keepsake)) => Result { keepsake, printer: PrinterCheck::Asking },

            // What the printer said changes what the screen offers, not where the visitor is.
            (Result { keepsake, .. }, Event::PrinterChecked(None)) => Result { keepsake, printer: PrinterCheck::Ready },
            (Result { keepsake, .. }, Event::PrinterChecked(Some(why))) => Result { keepsake, printer: PrinterCheck::Unavailable(why) },
            (PrintShare { keepsake, print: PrintStatus::Offered }, Event::PrinterChecked(Some(why))) => {
                PrintShare { keepsake, print: PrintStatus::Unavailable(why) }
            }
            // A press before the printer answered prints: the job itself finds out if it cannot.
            (Result { keepsake, printer: PrinterCheck::Asking | PrinterCheck::Ready }, Event::PrintButton) => {
                PrintShare { keepsake, print: PrintStatus::Printing }
            }
            // A press while the printer is known to be unavailable: say so at once, no job.
            (Result { keepsake, printer: PrinterCheck::Unavailable(why) }, Event::PrintButton) => {
                PrintShare { keepsake, print: PrintStatus::Unavailable(why) }
            }
            (Result { keepsake, printer }, Event::Next | Event::Timeout) => {
                let print = match printer {
                    PrinterCheck::Asking | PrinterCheck::Ready => PrintStatus::Offered,
                    PrinterCheck::Unavailable(why) => PrintStatus::Unavailable(why),
                };
                PrintShare { keepsake, print }
            }

            // One print per visit: presses while printing or after printing are ignored, so
            // impatient presses never pile up jobs.
            (PrintShare { keepsake, print: PrintStatus::Offered }, Event::PrintButton) => {
                PrintShare { keepsake, print: PrintStatus::Printing }
            }
            (PrintShare { keepsake, print: PrintStatus::Printing }, Event::Printed) => PrintShare { keepsake, print: PrintStatus::Printed },
            // The printer found unable at the press (or while printing).
            (Result { keepsake, .. }, Event::PrinterUnavailable(why))
            | (PrintShare { keepsake, print: PrintStatus::Printing | PrintStatus::Offered }, Event::PrinterUnavailable(why)) => {
                PrintShare { keepsake, print: PrintStatus::Unavailable(why) }
            }
            (PrintShare { .. }, Event::Timeout | Event::Next) => Attract,

            (state, _) => state,
        }
    }

    /// Whether `next` is a different step of the journey (not just an update of this one), so
    /// the runner restarts timers and performs the new state's entry work.
    fn is_new_step(&self, next: &State) -> bool {
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

    /// The journey without the slideshow question (the default).
    fn t() -> Journey {
        Journey { timeouts: timeouts(), ask_slideshow: false }
    }

    fn timeouts() -> Timeouts {
        Timeouts {
            countdown_step: Duration::from_secs(1),
            countdown_from: 3,
            review: Duration::from_secs(8),
            consent: Duration::from_secs(10),
            result: Duration::from_secs(20),
            share: Duration::from_secs(30),
            fault: Duration::from_secs(5),
            slide: Duration::from_secs(5),
            out_of_service: Duration::from_secs(60),
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
                in_slideshow: false,
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
            s = s.on(e, &t()).state;
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
        let mut s = State::Attract.on(Event::Begin, &t()).state;
        let mut shown = Vec::new();
        while let State::Countdown { remaining } = s {
            shown.push(remaining);
            s = s.on(Event::Timeout, &t()).state;
        }
        assert_eq!(shown, [3, 2, 1]);
        assert!(matches!(s, State::Capture));
    }

    #[test]
    fn review_retake_goes_back_to_countdown_and_timeout_continues() {
        let review = State::Review { photo: photo() };
        assert!(matches!(review.clone().on(Event::Retake, &t()).state, State::Countdown { remaining: 3 }));
        assert!(matches!(review.clone().on(Event::Timeout, &t()).state, State::Consent { .. }));
        assert!(matches!(review.on(Event::Continue, &t()).state, State::Consent { .. }));
    }

    #[test]
    fn only_a_yes_shares_the_photo() {
        let consent = State::Review { photo: photo() }.on(Event::Continue, &t()).state;
        let answers = |s: State| match s {
            State::Generating { answers, .. } => answers,
            other => panic!("{other:?}"),
        };
        let yes = Answers { share_photo: true, in_slideshow: false };
        assert_eq!(answers(consent.clone().on(Event::Consent(true), &t()).state), yes);
        assert_eq!(answers(consent.clone().on(Event::Consent(false), &t()).state), Answers::default());
        assert_eq!(answers(consent.clone().on(Event::Timeout, &t()).state), Answers::default(), "no answer is no");
        assert!(matches!(consent.clone().on(Event::PrintButton, &t()).state, State::Consent { .. }));
        // Not asked about the slideshow: never in it.
        assert!(matches!(consent.on(Event::SlideshowConsent(true), &t()).state, State::Consent { .. }));
    }

    #[test]
    fn where_the_config_asks_only_a_yes_puts_the_picture_in_the_slideshow() {
        let asks = Journey { timeouts: timeouts(), ask_slideshow: true };
        let answers = |s: State| match s {
            State::Generating { answers, .. } => answers,
            other => panic!("{other:?}"),
        };
        for share_photo in [true, false] {
            let consent = State::Consent { photo: photo() };
            let second = consent.clone().on(Event::Consent(share_photo), &asks);
            assert!(second.new_step && second.work.is_empty());
            assert!(matches!(second.state, State::SlideshowConsent { share_photo: s, .. } if s == share_photo), "{:?}", second.state);
            let second = second.state;
            assert_eq!(answers(second.clone().on(Event::SlideshowConsent(true), &asks).state), Answers { share_photo, in_slideshow: true });
            assert_eq!(
                answers(second.clone().on(Event::SlideshowConsent(false), &asks).state),
                Answers { share_photo, in_slideshow: false }
            );
            assert_eq!(
                answers(second.clone().on(Event::Timeout, &asks).state),
                Answers { share_photo, in_slideshow: false },
                "no answer is no"
            );
            // An answer to the first question again is not an answer to this one.
            assert!(matches!(second.on(Event::Consent(true), &asks).state, State::SlideshowConsent { .. }));
        }
        let unanswered = State::Consent { photo: photo() }.on(Event::Timeout, &asks).state;
        assert!(matches!(unanswered, State::SlideshowConsent { share_photo: false, .. }));
    }

    #[test]
    fn progress_keeps_the_last_preview() {
        let g = State::Consent { photo: photo() }.on(Event::Consent(true), &t()).state;
        let g = g.on(Event::Progress { step: 1, total: 4, preview: Some(photo()) }, &t()).state;
        let g = g.on(Event::Progress { step: 2, total: 4, preview: None }, &t()).state;
        match g {
            State::Generating { step, total, preview, answers, .. } => {
                assert_eq!((step, total, preview.is_some(), answers.share_photo), (2, 4, true, true))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn result_and_share_timeouts_lead_home() {
        let r = State::Result { keepsake: keepsake(), printer: PrinterCheck::Asking };
        let share = r.clone().on(Event::Timeout, &t()).state;
        assert!(matches!(share, State::PrintShare { print: PrintStatus::Offered, .. }));
        assert!(matches!(r.on(Event::Next, &t()).state, State::PrintShare { print: PrintStatus::Offered, .. }));
        assert!(matches!(share.on(Event::Timeout, &t()).state, State::Attract));
    }

    #[test]
    fn a_printer_known_to_be_unavailable_is_said_at_the_press_and_checks_change_nothing() {
        let r = State::Result { keepsake: keepsake(), printer: PrinterCheck::Asking };
        let checked = r.clone().on(Event::PrinterChecked(Some(Unavailable::Jammed)), &t()).state;
        assert!(matches!(checked, State::Result { .. }), "a check is not a step of the journey");
        let s = r.on(Event::PrinterUnavailable(Unavailable::Jammed), &t()).state;
        assert!(matches!(s, State::PrintShare { print: PrintStatus::Unavailable(Unavailable::Jammed), .. }));
        let offered = State::Result { keepsake: keepsake(), printer: PrinterCheck::Asking }.on(Event::Next, &t()).state;
        let s = offered.on(Event::PrinterUnavailable(Unavailable::OutOfPaper), &t()).state;
        assert!(matches!(s, State::PrintShare { print: PrintStatus::Unavailable(Unavailable::OutOfPaper), .. }));
    }

    #[test]
    fn print_presses_never_pile_up() {
        let s = State::Result { keepsake: keepsake(), printer: PrinterCheck::Asking }.on(Event::PrintButton, &t()).state;
        assert!(matches!(s, State::PrintShare { print: PrintStatus::Printing, .. }));
        assert!(s.timeout(&timeouts()).is_none(), "no timeout while the job runs");
        let s = s.on(Event::PrintButton, &t()).state;
        assert!(matches!(s, State::PrintShare { print: PrintStatus::Printing, .. }), "second press ignored");
        let s = s.on(Event::Printed, &t()).state.on(Event::PrintButton, &t()).state;
        assert!(matches!(s, State::PrintShare { print: PrintStatus::Printed, .. }), "no second copy");
        let u = State::Result { keepsake: keepsake(), printer: PrinterCheck::Asking }
            .on(Event::PrintButton, &t())
            .state
            .on(Event::PrinterUnavailable(Unavailable::OutOfPaper), &t())
            .state;
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
            State::Generating { photo: photo(), answers: Answers::default(), step: 1, total: 3, preview: None },
            State::Result { keepsake: keepsake(), printer: PrinterCheck::Asking },
            State::PrintShare { keepsake: keepsake(), print: PrintStatus::Printing },
        ];
        for s in states {
            let name = s.screen();
            let f = s.on(Event::Fault("camera unplugged".into()), &t()).state;
            assert!(matches!(f, State::Fault { .. }), "{name}");
            let f = f.on(Event::Fault("again".into()), &t()).state;
            match &f {
                State::Fault { detail } => assert_eq!(detail, "camera unplugged"),
                other => panic!("{other:?}"),
            }
            assert!(matches!(f.on(Event::Timeout, &t()).state, State::Attract), "{name}");
        }
    }

    #[test]
    fn stray_events_change_nothing() {
        assert!(matches!(State::Attract.on(Event::PrintButton, &t()).state, State::Attract));
        assert!(matches!(State::Capture.on(Event::Timeout, &t()).state, State::Capture));
        assert!(matches!(State::Countdown { remaining: 2 }.on(Event::Begin, &t()).state, State::Countdown { remaining: 2 }));
        assert!(matches!(State::Review { photo: photo() }.on(Event::PrintButton, &t()).state, State::Review { .. }));
    }

    /// The work each event starts, by name, over a whole visit.
    fn work_of(events: Vec<Event>) -> Vec<Vec<&'static str>> {
        let mut s = State::Attract;
        let mut out = Vec::new();
        for e in events {
            let step = s.on(e, &t());
            out.push(step.work.iter().map(work_name).collect());
            s = step.state;
        }
        out
    }

    fn work_name(w: &Work) -> &'static str {
        match w {
            Work::Capture => "capture",
            Work::Stylize { answers: Answers { share_photo: true, .. }, .. } => "stylize (photo shared)",
            Work::Stylize { answers: Answers { share_photo: false, .. }, .. } => "stylize",
            Work::CancelStylize => "cancel stylize",
            Work::ShowKeepsake(_) => "show keepsake",
            Work::CheckPrinter => "check printer",
            Work::Narrate(_) => "narrate",
            Work::Print(_) => "print",
            Work::ShowSlides => "show slides",
            Work::NextSlide => "next slide",
        }
    }

    #[test]
    fn each_step_of_the_visit_starts_its_work() {
        let work = work_of(vec![
            Event::Timeout,
            Event::Begin,
            Event::Timeout,
            Event::Timeout,
            Event::Timeout,
            Event::Captured(photo()),
            Event::Continue,
            Event::Consent(true),
            Event::Progress { step: 1, total: 3, preview: None },
            Event::Generated(keepsake()),
            Event::PrinterChecked(None),
            Event::PrintButton,
            Event::PrintButton,
            Event::Printed,
            Event::Timeout,
        ]);
        let expected: [&[&str]; 15] = [
            &["next slide"],
            &[],
            &[],
            &[],
            &["capture"],
            &[],
            &[],
            &["stylize (photo shared)"],
            &[],
            &["show keepsake", "check printer", "narrate"],
            &[],
            &["print"],
            &[],
            &[],
            &["show slides"],
        ];
        assert_eq!(work, expected.map(|w| w.to_vec()));
    }

    #[test]
    fn a_visit_abandoned_while_painting_stops_the_painting() {
        let g = State::Generating { photo: photo(), answers: Answers::default(), step: 1, total: 3, preview: None };
        let step = g.on(Event::Fault("camera unplugged".into()), &t());
        assert!(step.new_step && matches!(step.state, State::Fault { .. }));
        assert_eq!(step.work.iter().map(work_name).collect::<Vec<_>>(), ["cancel stylize"]);
        let step = step.state.on(Event::Timeout, &t());
        assert_eq!(step.work.iter().map(work_name).collect::<Vec<_>>(), ["show slides"]);
    }

    #[test]
    fn print_is_offered_only_while_the_printer_can_print() {
        let r = State::Result { keepsake: keepsake(), printer: PrinterCheck::Asking };
        let step = r.on(Event::PrinterChecked(Some(Unavailable::OutOfPaper)), &t());
        assert!(!step.new_step && step.work.is_empty(), "{step:?}");
        assert!(matches!(step.state, State::Result { printer: PrinterCheck::Unavailable(Unavailable::OutOfPaper), .. }));
        // A press now says why at once and queues no job.
        let pressed = step.state.clone().on(Event::PrintButton, &t());
        assert!(matches!(pressed.state, State::PrintShare { print: PrintStatus::Unavailable(Unavailable::OutOfPaper), .. }));
        assert!(pressed.work.is_empty(), "{pressed:?}");
        // Going on without pressing shows the same reason instead of the print button.
        let next = step.state.on(Event::Next, &t());
        assert!(matches!(next.state, State::PrintShare { print: PrintStatus::Unavailable(Unavailable::OutOfPaper), .. }));
        // An answer that comes after the visitor went on still takes the button away.
        let offered = State::Result { keepsake: keepsake(), printer: PrinterCheck::Asking }.on(Event::Next, &t()).state;
        let late = offered.on(Event::PrinterChecked(Some(Unavailable::Jammed)), &t());
        assert!(matches!(late.state, State::PrintShare { print: PrintStatus::Unavailable(Unavailable::Jammed), .. }));
        assert!(late.work.is_empty());
        // A printer that can print prints.
        let ready = State::Result { keepsake: keepsake(), printer: PrinterCheck::Asking }.on(Event::PrinterChecked(None), &t()).state;
        assert!(matches!(ready, State::Result { printer: PrinterCheck::Ready, .. }), "Print is offered once the printer answered");
        assert_eq!(ready.on(Event::PrintButton, &t()).work.iter().map(work_name).collect::<Vec<_>>(), ["print"]);
    }

    #[test]
    fn a_booth_that_stays_broken_says_so_steadily_and_tries_again_later() {
        let step = State::Countdown { remaining: 2 }.on(Event::OutOfService("camera preview: no such device".into()), &t());
        assert!(step.new_step && matches!(step.state, State::OutOfService { .. }));
        assert_eq!(step.state.screen(), "out_of_service");
        assert_eq!(step.state.timeout(&timeouts()), Some(Duration::from_secs(60)));
        // Touches, buttons and further faults change nothing while it shows.
        for event in [Event::Begin, Event::PrintButton, Event::Next, Event::Fault("again".into()), Event::OutOfService("again".into())] {
            let same = step.state.clone().on(event, &t());
            assert!(!same.new_step && same.work.is_empty());
            assert!(matches!(&same.state, State::OutOfService { detail } if detail.starts_with("camera")));
        }
        let later = step.state.on(Event::Timeout, &t());
        assert!(matches!(later.state, State::Attract));
        assert_eq!(later.work.iter().map(work_name).collect::<Vec<_>>(), ["show slides"]);
        // Broken while painting: the painting stops.
        let g = State::Generating { photo: photo(), answers: Answers::default(), step: 1, total: 3, preview: None };
        let step = g.on(Event::OutOfService("model".into()), &t());
        assert_eq!(step.work.iter().map(work_name).collect::<Vec<_>>(), ["cancel stylize"]);
    }
}
