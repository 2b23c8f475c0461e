//! The booth's speaker: narration and sounds played through ALSA with rodio.
//!
//! Playback runs on a thread of its own that owns the output stream, so `play` returns at once
//! and the screen never waits for the voice. A new narration replaces one still playing (the
//! next visitor should not hear the last visitor's message out). The volume is set once, from the
//! config; the ALSA device is `default` or any PCM name (`plughw:CARD=Device,DEV=0`).

use std::num::NonZero;
use std::sync::mpsc;
use std::thread::JoinHandle;

use rodio::buffer::SamplesBuffer;
use rodio::cpal::traits::HostTrait;
use rodio::{DeviceSinkBuilder, Player};

use crate::audio::Audio;
use crate::error::{DeviceError, DeviceResult};
use crate::speaker::Speaker;

pub struct AlsaSpeaker {
    device: String,
    volume: f32,
    sounds: Option<mpsc::Sender<Audio>>,
    player: Option<JoinHandle<()>>,
}

fn open_output(device: &str) -> Result<rodio::MixerDeviceSink, String> {
    let host = rodio::cpal::default_host();
    let output = if device == "default" {
        host.default_output_device().ok_or("there is no default output device")?
    } else {
        let id: rodio::cpal::DeviceId = format!("alsa:{device}").parse().map_err(|e| format!("{e}"))?;
        host.device_by_id(&id).ok_or_else(|| format!("ALSA has no device {device:?}"))?
    };
    let builder = DeviceSinkBuilder::from_device(output).map_err(|e| e.to_string())?;
    let mut sink = builder.open_sink_or_fallback().map_err(|e| e.to_string())?;
    sink.log_on_drop(false);
    Ok(sink)
}

impl AlsaSpeaker {
    /// Opens `device` now; an error names it and the fix. `volume` is 0.0 (silent) to 1.0.
    pub fn open(device: &str, volume: f32) -> DeviceResult<Self> {
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let (tx, rx) = mpsc::channel::<Audio>();
        let name = device.to_string();
        let player = std::thread::Builder::new()
            .name("speaker".into())
            .spawn(move || {
                let sink = match open_output(&name) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let player = Player::connect_new(sink.mixer());
                player.set_volume(volume);
                let _ = ready_tx.send(Ok(()));
                for audio in rx {
                    let Some(rate) = NonZero::new(audio.sample_rate) else { continue };
                    let samples: Vec<f32> = audio.samples.iter().map(|&s| s as f32 / 32768.0).collect();
                    player.clear();
                    player.append(SamplesBuffer::new(NonZero::new(1).expect("one channel"), rate, samples));
                    player.play();
                }
                // The booth is closing: let the last sound finish, then close the device.
                player.sleep_until_end();
            })
            .map_err(|e| {
                DeviceError::new(format!("speaker {device}"), format!("cannot start playback: {e}"), "check the system's limits")
            })?;
        match ready_rx.recv().unwrap_or_else(|_| Err("the playback thread ended".into())) {
            Ok(()) => Ok(Self { device: device.to_string(), volume, sounds: Some(tx), player: Some(player) }),
            Err(problem) => {
                let _ = player.join();
                Err(DeviceError::new(
                    format!("speaker {device}"),
                    format!("cannot open: {problem}"),
                    "check devices.speaker.device (aplay -L lists them) and that the booth's user is in the audio group",
                ))
            }
        }
    }
}

impl Speaker for AlsaSpeaker {
    fn name(&self) -> String {
        format!("speaker (ALSA {}, volume {:.0}%)", self.device, self.volume * 100.0)
    }

    fn play(&mut self, audio: &Audio, _label: &str) -> DeviceResult<()> {
        let sent = self.sounds.as_ref().is_some_and(|tx| tx.send(audio.clone()).is_ok());
        if sent {
            Ok(())
        } else {
            Err(DeviceError::new(self.name(), "the playback thread has stopped", "restart the booth; check dmesg for the sound card"))
        }
    }
}

impl Drop for AlsaSpeaker {
    /// Finishes what is playing and closes the device.
    fn drop(&mut self) {
        self.sounds = None;
        if let Some(player) = self.player.take() {
            let _ = player.join();
        }
    }
}
