//! What went wrong in a command or at start, said the house way: the thing, what is wrong with
//! it, and the fix. The parts below (config, devices, archive, models) keep their own typed
//! errors; this one carries them up to `main`, which prints it for the technician.

use std::fmt;
use std::path::Path;

use keepsake_drivers::DeviceError;
use keepsake_models::edits::lora::LoraError;
use keepsake_models::edits::textual_inversion::EmbeddingError;
use keepsake_models::pipeline::PipelineError;
use keepsake_models::preprocessors::PreprocessError;

use crate::archive::outbox::OutboxError;
use crate::archive::ArchiveError;
use crate::config_reader::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value, file or step of this crate's own: `thing: problem (fix: fix)`.
    #[error("{thing}: {problem} (fix: {fix})")]
    Problem { thing: String, problem: String, fix: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Model(#[from] PipelineError),
    #[error(transparent)]
    Lora(#[from] LoraError),
    #[error(transparent)]
    Embedding(#[from] EmbeddingError),
    #[error(transparent)]
    Preprocess(#[from] PreprocessError),
}

impl Error {
    pub fn new(thing: impl fmt::Display, problem: impl fmt::Display, fix: impl fmt::Display) -> Self {
        Error::Problem { thing: thing.to_string(), problem: problem.to_string(), fix: fix.to_string() }
    }

    /// A file that could not be read or written: the path is the thing.
    pub fn file(path: &Path, problem: impl fmt::Display, fix: impl fmt::Display) -> Self {
        Self::new(path.display(), problem, fix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_names_the_thing_what_is_wrong_and_the_fix() {
        let e = Error::file(Path::new("/srv/photo.png"), "cannot read: no such file", "use a JPEG or PNG photo");
        assert_eq!(e.to_string(), "/srv/photo.png: cannot read: no such file (fix: use a JPEG or PNG photo)");
    }

    #[test]
    fn a_part_s_own_error_is_carried_up_as_it_said_it() {
        let device = DeviceError::new("camera /dev/video0", "not found", "plug the camera in");
        let text = device.to_string();
        assert_eq!(Error::from(device).to_string(), text);
    }
}
