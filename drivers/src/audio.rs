//! Mono PCM audio as the narrator produces it and the speaker plays it.

use std::path::Path;

use atomic_write_file::AtomicWriteFile;

use crate::error::{DeviceError, DeviceResult};

/// Mono 16-bit PCM.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub sample_rate: u32,
    pub samples: Vec<i16>,
}

impl Audio {
    pub fn silence(sample_rate: u32, seconds: f32) -> Self {
        Self { sample_rate, samples: vec![0; (sample_rate as f32 * seconds) as usize] }
    }

    pub fn duration_secs(&self) -> f32 {
        self.samples.len() as f32 / self.sample_rate.max(1) as f32
    }

    /// Root-mean-square level in [0, 1]: 0 for silence.
    pub fn rms(&self) -> f32 {
        if self.samples.is_empty() {
            return 0.0;
        }
        let sum: f64 = self.samples.iter().map(|&s| (s as f64 / 32768.0).powi(2)).sum();
        (sum / self.samples.len() as f64).sqrt() as f32
    }

    /// Linear-interpolation resampling; narration clips recorded at 44.1/48 kHz are joined with
    /// synthesized speech at espeak-ng's rate, so they must share one rate.
    pub fn resampled(&self, rate: u32) -> Audio {
        if rate == self.sample_rate || self.samples.is_empty() {
            return Audio { sample_rate: rate, samples: self.samples.clone() };
        }
        let ratio = self.sample_rate as f64 / rate as f64;
        let out_len = ((self.samples.len() as f64) / ratio).round() as usize;
        let last = self.samples.len() - 1;
        let samples = (0..out_len)
            .map(|i| {
                let pos = i as f64 * ratio;
                let i0 = (pos.floor() as usize).min(last);
                let i1 = (i0 + 1).min(last);
                let t = pos - i0 as f64;
                (self.samples[i0] as f64 * (1.0 - t) + self.samples[i1] as f64 * t).round() as i16
            })
            .collect();
        Audio { sample_rate: rate, samples }
    }

    /// Appends `other` (resampled to this rate).
    pub fn append(&mut self, other: &Audio) {
        let other = other.resampled(self.sample_rate);
        self.samples.extend_from_slice(&other.samples);
    }

    /// Reads a WAV file (any channel count, 8/16/24/32-bit int or float), mixed down to mono.
    pub fn read_wav(path: &Path) -> DeviceResult<Audio> {
        let device = format!("audio file {}", path.display());
        let fix = "use a PCM WAV file (e.g. `sox in.mp3 -b 16 out.wav`)";
        let mut reader = hound::WavReader::open(path).map_err(|e| DeviceError::new(&device, format!("cannot read WAV: {e}"), fix))?;
        let spec = reader.spec();
        let channels = spec.channels.max(1) as usize;
        let raw: Vec<f32> = match spec.sample_format {
            hound::SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>(),
            hound::SampleFormat::Int => {
                let scale = 1.0 / (1i64 << (spec.bits_per_sample - 1)) as f32;
                reader.samples::<i32>().map(|s| s.map(|v| v as f32 * scale)).collect()
            }
        }
        .map_err(|e| DeviceError::new(&device, format!("corrupt WAV data: {e}"), fix))?;
        let samples = raw
            .chunks(channels)
            .map(|frame| {
                let mean = frame.iter().sum::<f32>() / frame.len() as f32;
                (mean.clamp(-1.0, 1.0) * 32767.0).round() as i16
            })
            .collect();
        Ok(Audio { sample_rate: spec.sample_rate, samples })
    }

    /// Writes a 16-bit mono WAV atomically and durably.
    pub fn write_wav(&self, path: &Path) -> DeviceResult<()> {
        let device = format!("audio file {}", path.display());
        let spec =
            hound::WavSpec { channels: 1, sample_rate: self.sample_rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
        let io = |e: &dyn std::fmt::Display| {
            DeviceError::new(&device, format!("cannot write: {e}"), "check the output folder exists, is writable and the disk is not full")
        };
        let mut file = AtomicWriteFile::open(path).map_err(|e| io(&e))?;
        let mut writer = hound::WavWriter::new(std::io::BufWriter::new(&mut file), spec).map_err(|e| io(&e))?;
        for &s in &self.samples {
            writer.write_sample(s).map_err(|e| io(&e))?;
        }
        writer.finalize().map_err(|e| io(&e))?;
        file.commit().map_err(|e| io(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_keeps_duration_and_level() {
        let tone: Vec<i16> = (0..48_000).map(|i| ((i as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin() * 10_000.0) as i16).collect();
        let a = Audio { sample_rate: 48_000, samples: tone };
        let b = a.resampled(22_050);
        assert!((b.duration_secs() - 1.0).abs() < 1e-3, "{}", b.duration_secs());
        assert!((b.rms() - a.rms()).abs() < 0.01);
    }

    #[test]
    fn wav_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.wav");
        let a = Audio { sample_rate: 22_050, samples: vec![0, 1000, -1000, 32767, -32768] };
        a.write_wav(&p).unwrap();
        let b = Audio::read_wav(&p).unwrap();
        assert_eq!(b.sample_rate, 22_050);
        assert_eq!(b.samples.len(), 5);
        for (x, y) in a.samples.iter().zip(&b.samples) {
            assert!((*x as i32 - *y as i32).abs() <= 1);
        }
        assert!(Audio::read_wav(&dir.path().join("missing.wav")).is_err());
    }
}
