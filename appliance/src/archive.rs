//! The local archive of finished keepsakes: what printing and syncing read later.
//!
//! Each entry is a folder `<YYYYMMDD-HHMMSS>-<id>/` holding `photo.jpg`, `illustration.png` and
//! `meta.json` (with each file's size and CRC-32). An entry is built in `.incoming/<id>/`, every
//! file and the folder are fsynced, and only then is it renamed into place (and the archive folder
//! fsynced): a power cut or kill -9 at any moment leaves either no entry or a whole one. Leftovers
//! in `.incoming/` are removed when the archive is opened.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbImage;

use crate::keepsake::{FileInfo, Keepsake, KeepsakeMeta};

const INCOMING: &str = ".incoming";
const META: &str = "meta.json";
const PHOTO: &str = "photo.jpg";
const ILLUSTRATION: &str = "illustration.png";

#[derive(Debug, thiserror::Error)]
#[error("archive {path}: {problem} (fix: {fix})")]
pub struct ArchiveError {
    pub path: PathBuf,
    pub problem: String,
    pub fix: &'static str,
}

const FIX_DISK: &str = "check archive.dir is on a writable disk with free space";

fn err(path: &Path, e: impl std::fmt::Display) -> ArchiveError {
    ArchiveError { path: path.to_path_buf(), problem: e.to_string(), fix: FIX_DISK }
}

pub struct Archive {
    root: PathBuf,
}

/// Writes `bytes` to a new file and fsyncs it.
fn write_durable(path: &Path, bytes: &[u8]) -> Result<(), ArchiveError> {
    let mut f = File::create(path).map_err(|e| err(path, e))?;
    f.write_all(bytes).map_err(|e| err(path, e))?;
    f.sync_all().map_err(|e| err(path, e))
}

fn sync_dir(path: &Path) -> Result<(), ArchiveError> {
    File::open(path).and_then(|d| d.sync_all()).map_err(|e| err(path, e))
}

fn file_info(name: &str, bytes: &[u8], image: &RgbImage) -> FileInfo {
    FileInfo {
        file: name.to_string(),
        bytes: bytes.len() as u64,
        crc32: crc32fast::hash(bytes),
        width: image.width(),
        height: image.height(),
    }
}

fn encode(image: &RgbImage, format: image::ImageFormat) -> Result<Vec<u8>, image::ImageError> {
    let mut out = std::io::Cursor::new(Vec::new());
    match format {
        image::ImageFormat::Jpeg => image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92).encode_image(image)?,
        _ => image.write_to(&mut out, format)?,
    }
    Ok(out.into_inner())
}

impl Archive {
    /// Opens (creating) the archive and clears half-built entries left by a crash.
    pub fn open(root: &Path) -> Result<Self, ArchiveError> {
        let incoming = root.join(INCOMING);
        std::fs::create_dir_all(&incoming).map_err(|e| err(root, e))?;
        let leftovers: Vec<_> = std::fs::read_dir(&incoming).map_err(|e| err(&incoming, e))?.filter_map(|e| e.ok()).collect();
        for entry in &leftovers {
            tracing::warn!(path = %entry.path().display(), "removing a keepsake entry that was never finished (interrupted write)");
            let _ = std::fs::remove_dir_all(entry.path());
        }
        Ok(Self { root: root.to_path_buf() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Stores a finished keepsake durably. `meta`'s file fields are filled in here.
    pub fn store(&self, mut meta: KeepsakeMeta, photo: Arc<RgbImage>, illustration: Arc<RgbImage>) -> Result<Keepsake, ArchiveError> {
        let staging = self.root.join(INCOMING).join(&meta.id);
        std::fs::create_dir_all(&staging).map_err(|e| err(&staging, e))?;
        let photo_bytes = encode(&photo, image::ImageFormat::Jpeg).map_err(|e| err(&staging, e))?;
        let ill_bytes = encode(&illustration, image::ImageFormat::Png).map_err(|e| err(&staging, e))?;
        meta.photo = file_info(PHOTO, &photo_bytes, &photo);
        meta.illustration = file_info(ILLUSTRATION, &ill_bytes, &illustration);
        write_durable(&staging.join(PHOTO), &photo_bytes)?;
        write_durable(&staging.join(ILLUSTRATION), &ill_bytes)?;
        let json = serde_json::to_vec_pretty(&meta).map_err(|e| err(&staging, e))?;
        write_durable(&staging.join(META), &json)?;
        sync_dir(&staging)?;
        let stamp = meta.created_at.get(..19).unwrap_or("").replace(['-', ':'], "").replace('T', "-");
        let final_dir = self.root.join(format!("{stamp}-{}", meta.id));
        std::fs::rename(&staging, &final_dir).map_err(|e| err(&final_dir, e))?;
        sync_dir(&self.root)?;
        sync_dir(&self.root.join(INCOMING))?;
        Ok(Keepsake { meta, photo, illustration })
    }

    /// Entry folders, oldest first.
    pub fn entries(&self) -> Result<Vec<PathBuf>, ArchiveError> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&self.root)
            .map_err(|e| err(&self.root, e))?
            .filter_map(|e| e.ok())
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.') && e.path().is_dir())
            .map(|e| e.path())
            .collect();
        dirs.sort();
        Ok(dirs)
    }

    /// Reads an entry back and checks every file against its recorded size and checksum.
    pub fn load(&self, dir: &Path) -> Result<Keepsake, ArchiveError> {
        let corrupt = |what: String| ArchiveError {
            path: dir.to_path_buf(),
            problem: what,
            fix: "the entry is damaged (disk fault?); restore it from the memorial server or remove it",
        };
        let meta_bytes = std::fs::read(dir.join(META)).map_err(|e| corrupt(format!("meta.json: {e}")))?;
        let meta: KeepsakeMeta = serde_json::from_slice(&meta_bytes).map_err(|e| corrupt(format!("meta.json: {e}")))?;
        let read = |info: &FileInfo| -> Result<RgbImage, ArchiveError> {
            let bytes = std::fs::read(dir.join(&info.file)).map_err(|e| corrupt(format!("{}: {e}", info.file)))?;
            if bytes.len() as u64 != info.bytes || crc32fast::hash(&bytes) != info.crc32 {
                return Err(corrupt(format!("{} does not match its recorded size and checksum", info.file)));
            }
            let img = image::load_from_memory(&bytes).map_err(|e| corrupt(format!("{}: {e}", info.file)))?.to_rgb8();
            Ok(img)
        };
        let photo = read(&meta.photo)?;
        let illustration = read(&meta.illustration)?;
        Ok(Keepsake { meta, photo: Arc::new(photo), illustration: Arc::new(illustration) })
    }

    /// The illustrations of the latest `n` entries, newest first, for the attract slideshow.
    /// Damaged entries are skipped (and logged), never shown.
    pub fn latest_illustrations(&self, n: usize) -> Vec<Arc<RgbImage>> {
        let Ok(entries) = self.entries() else { return Vec::new() };
        entries
            .iter()
            .rev()
            .take(n)
            .filter_map(|dir| match self.load(dir) {
                Ok(k) => Some(k.illustration),
                Err(e) => {
                    tracing::warn!(%e, "skipping a damaged archive entry in the slideshow");
                    None
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn sample_meta(id: &str) -> KeepsakeMeta {
        KeepsakeMeta {
            id: id.to_string(),
            created_at: "2026-11-26T10:11:12+09:00".into(),
            memorial_name: "김영희".into(),
            caption: "김영희 · 1941 – 2026".into(),
            message: "기억합니다.".into(),
            language: "ko".into(),
            share_url: format!("https://m.example/k/{id}"),
            made_by: "test".into(),
            style: "warm-animation".into(),
            photo: FileInfo { file: String::new(), bytes: 0, crc32: 0, width: 0, height: 0 },
            illustration: FileInfo { file: String::new(), bytes: 0, crc32: 0, width: 0, height: 0 },
        }
    }

    #[test]
    fn store_load_and_detect_damage() {
        let dir = tempfile::tempdir().unwrap();
        let a = Archive::open(dir.path()).unwrap();
        let photo = Arc::new(RgbImage::from_pixel(32, 40, image::Rgb([10, 200, 30])));
        let ill = Arc::new(RgbImage::from_pixel(16, 24, image::Rgb([200, 10, 30])));
        a.store(sample_meta("abc"), photo.clone(), ill.clone()).unwrap();
        let entries = a.entries().unwrap();
        assert_eq!(entries.len(), 1);
        assert!(entries[0].file_name().unwrap().to_str().unwrap().starts_with("20261126-101112-abc"));
        let k = a.load(&entries[0]).unwrap();
        assert_eq!(*k.illustration, *ill);
        assert_eq!(k.photo.dimensions(), (32, 40));
        assert_eq!(a.latest_illustrations(5).len(), 1);

        std::fs::write(entries[0].join(ILLUSTRATION), b"garbage").unwrap();
        let e = a.load(&entries[0]).err().unwrap();
        assert!(e.problem.contains("illustration.png"), "{e}");
        assert!(a.latest_illustrations(5).is_empty());
    }

    #[test]
    fn open_removes_unfinished_entries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".incoming/half")).unwrap();
        std::fs::write(dir.path().join(".incoming/half/photo.jpg"), b"partial").unwrap();
        let a = Archive::open(dir.path()).unwrap();
        assert!(a.entries().unwrap().is_empty());
        assert_eq!(std::fs::read_dir(dir.path().join(".incoming")).unwrap().count(), 0);
    }
}
