//! The memorial's cover portrait, kept beside the archive for the attract screen: fetched from
//! the memorial server (where the family set it) when the uploader starts and hourly after;
//! a configured `memorial.portrait` is used instead when there is one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The copy in the archive folder (a dot file: not an archive entry).
pub const FILE: &str = ".memorial-cover";

/// How often the booth asks again.
pub const EVERY: Duration = Duration::from_secs(3600);

/// What a refresh did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refreshed {
    Saved,
    Unchanged,
    /// The memorial has no cover (any kept copy is removed).
    NoCover,
}

/// Where the kept copy is for the archive at `root`.
pub fn path(root: &Path) -> PathBuf {
    root.join(FILE)
}

/// Asks the server for the cover with `get` (a GET of a path with the booth's token, answering
/// the status and the body: the uploader's client) and keeps it (temp file, fsync, rename): a
/// picture that does not decode is not kept; an answer that is neither a picture nor "none"
/// changes nothing.
pub fn refresh(get: impl FnOnce(&str) -> Result<(u16, Vec<u8>), String>, root: &Path) -> Result<Refreshed, String> {
    let (status, body) = get(keepsake_protocol::MEMORIAL_COVER_PATH)?;
    let kept = path(root);
    match status {
        200 => {
            image::load_from_memory(&body).map_err(|e| format!("the memorial cover is not a picture: {e}"))?;
            if std::fs::read(&kept).is_ok_and(|old| old == body) {
                return Ok(Refreshed::Unchanged);
            }
            let mut file = atomic_write_file::AtomicWriteFile::open(&kept).map_err(|e| format!("{}: {e}", kept.display()))?;
            file.write_all(&body).and_then(|_| file.commit()).map_err(|e| format!("{}: {e}", kept.display()))?;
            Ok(Refreshed::Saved)
        }
        404 => {
            match std::fs::remove_file(&kept) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("{}: {e}", kept.display())),
            }
            Ok(Refreshed::NoCover)
        }
        other => Err(format!("the memorial server answered {other} for the cover")),
    }
}
