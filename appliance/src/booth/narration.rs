//! Reading the memorial message aloud on the result screen: after a short lead-in (the visitor
//! sees their picture first, then hears the words), and short enough to finish before the
//! screen moves on, which `keepsake config check` measures with the booth's own voice.

use std::time::Duration;

use keepsake_drivers::audio::Audio;

use crate::config::Config;
use crate::error::Error;

/// The quiet before the voice.
pub const LEAD_IN: Duration = Duration::from_millis(1000);

/// `voice` after the lead-in.
pub fn with_lead_in(voice: &Audio) -> Audio {
    let mut audio = Audio::silence(voice.sample_rate, LEAD_IN.as_secs_f32());
    audio.append(voice);
    audio
}

/// How long the result screen speaks for `config`'s message with its narrator, lead-in included.
pub fn length(config: &Config) -> Result<Duration, Error> {
    let narrator = config.devices.narrator.open()?;
    let voice = narrator.narrate(&config.memorial.message, config.memorial.language.code())?;
    Ok(LEAD_IN + Duration::from_secs_f32(voice.duration_secs()))
}

/// A warning, with the fix, when the narration of `length` outlasts the result screen.
pub fn outlasts_result_screen(config: &Config, length: Duration) -> Option<String> {
    let shown = config.timeouts.result;
    (length > shown).then(|| {
        format!(
            "the memorial message takes {:.1} s to read aloud, longer than the result screen shows ({:.0} s): the voice goes on over the next screen (fix: set timeouts.result to at least {:.0}, or shorten memorial.message)",
            length.as_secs_f32(),
            shown.as_secs_f32(),
            length.as_secs_f32().ceil() + 2.0
        )
    })
}
