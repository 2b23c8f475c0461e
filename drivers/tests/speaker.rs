//! The ALSA speaker through ALSA itself: an ALSA configuration (ALSA_CONFIG_PATH) whose default
//! device is a file sink records what the booth plays, and the recording is the narration.
//! One test in this binary: ALSA reads its configuration once per process.

use std::path::Path;
use std::time::{Duration, Instant};

use keepsake_drivers::alsa_speaker::AlsaSpeaker;
use keepsake_drivers::audio::Audio;
use keepsake_drivers::speaker::Speaker;

/// A "narration": a rising tone with pauses, so a wrong rate or order would not match.
fn narration() -> Audio {
    let rate = 22_050;
    let samples = (0..rate * 2)
        .map(|i| {
            let t = i as f32 / rate as f32;
            let on = (t * 4.0) as u32 % 2 == 0;
            if on {
                ((t * (200.0 + 50.0 * t) * std::f32::consts::TAU).sin() * 12_000.0) as i16
            } else {
                0
            }
        })
        .collect();
    Audio { sample_rate: rate as u32, samples }
}

/// Where each burst of sound starts: a loud sample after at least `gap` quiet ones.
fn bursts(x: &[i16], gap: usize) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut quiet = gap;
    for (i, s) in x.iter().enumerate() {
        if s.unsigned_abs() > 200 {
            if quiet >= gap {
                starts.push(i);
            }
            quiet = 0;
        } else {
            quiet += 1;
        }
    }
    starts
}

/// Normalised cross-correlation of `a` with `b` shifted by `lag`, over `a`.
fn correlation(a: &[i16], b: &[i16], lag: usize) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (i, &x) in a.iter().enumerate() {
        let (x, y) = (x as f64, b.get(i + lag).copied().unwrap_or(0) as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa.sqrt() * bb.sqrt()).max(1.0)
}

fn alsa_file_sink(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("played.wav");
    let conf = dir.join("asound.conf");
    std::fs::write(
        &conf,
        // A sound card's shape (48 kHz, 16-bit stereo) in front of a WAV file sink; `null` plays
        // nothing and keeps no time, so the file also holds the silence rodio mixes between sounds.
        format!(
            "pcm.!default {{\n  type plug\n  slave {{\n    pcm {{\n      type file\n      slave.pcm {{ type null }}\n      file \"{}\"\n      format \"wav\"\n    }}\n    format S16_LE\n    rate 48000\n    channels 2\n  }}\n}}\n",
            out.display()
        ),
    )
    .unwrap();
    // SAFETY: set before any thread of this test binary touches ALSA, and only here.
    unsafe { std::env::set_var("ALSA_CONFIG_PATH", &conf) };
    out
}

#[test]
fn narration_plays_through_alsa_without_blocking_and_a_bad_device_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let recording = alsa_file_sink(dir.path());

    let err = AlsaSpeaker::open("plughw:CARD=NoSuchCard,DEV=0", 1.0).err().unwrap();
    assert!(err.problem.contains("cannot open") && err.fix.contains("aplay -L"), "{err}");

    let mut speaker = AlsaSpeaker::open("default", 0.5).unwrap();
    let voice = narration();
    let started = Instant::now();
    speaker.play(&voice, "session-001/narration").unwrap();
    assert!(started.elapsed() < Duration::from_millis(500), "play returns at once, the screen goes on");
    std::thread::sleep(Duration::from_millis(200));
    drop(speaker); // lets the narration finish, then closes the device

    let played = Audio::read_wav(&recording).unwrap().resampled(voice.sample_rate);
    let seconds = played.duration_secs();
    assert!(seconds >= voice.duration_secs() - 0.05, "the whole narration was played: {seconds} s");
    // The rhythm: four bursts half a second apart, as in the narration (the first may lose a few
    // ms while the output's resampler fills).
    let gap = voice.sample_rate as usize / 10;
    let (ours, theirs) = (bursts(&voice.samples, gap), bursts(&played.samples, gap));
    assert_eq!(theirs.len(), ours.len(), "bursts at {theirs:?}, expected like {ours:?}");
    for (p, v) in theirs.windows(2).zip(ours.windows(2)).skip(1) {
        assert!((p[1] - p[0]).abs_diff(v[1] - v[0]) < 50, "{theirs:?} vs {ours:?}");
    }
    // The waveform, from the second burst on (the output's first few ms may be its resampler
    // filling up): aligned within a few samples, it is the narration.
    let from = ours[1];
    let guess = theirs[1] - from;
    let (lag, similarity) = (guess.saturating_sub(20)..guess + 20)
        .map(|lag| (lag, correlation(&voice.samples[from..], &played.samples, lag + from)))
        .fold((0, f64::MIN), |best, x| if x.1 > best.1 { x } else { best });
    assert!(similarity > 0.95, "what ALSA received is the narration (correlation {similarity})");
    // Half volume: half the level, where the narration is in the recording.
    let heard = Audio { sample_rate: voice.sample_rate, samples: played.samples[lag + from..lag + voice.samples.len()].to_vec() };
    let voice = Audio { sample_rate: voice.sample_rate, samples: voice.samples[from..].to_vec() };
    let level = heard.rms() / voice.rms();
    assert!((level - 0.5).abs() < 0.05, "volume 0.5 plays at {level} of the level");
}
