//! The local archive of finished keepsakes: what printing and syncing read later.
//!
//! Each entry is a folder `<YYYYMMDD-HHMMSS>-<id>/` holding `photo.jpg`, `illustration.png` and
//! `meta.json` (with each file's size and CRC-32). An entry is built in `.incoming/<id>/`, every
//! file and the folder are fsynced, and only then is it renamed into place (and the archive folder
//! fsynced): a power cut or kill -9 at any moment leaves either no entry or a whole one. Leftovers
//! in `.incoming/` are removed when the archive is opened.
//!
//! Every stored entry is queued in the [`Outbox`] for the memorial server; opening the archive
//! queues any entry the outbox does not know (one finished just before a crash).

pub mod outbox;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbImage;

use crate::keepsake::{FileInfo, Keepsake, KeepsakeMeta};
use outbox::{Outbox, OutboxError};

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
    outbox: Outbox,
}

/// An entry's files as stored, checked against their recorded sizes and checksums.
pub struct EntryFiles {
    pub meta: KeepsakeMeta,
    pub photo: Vec<u8>,
    pub illustration: Vec<u8>,
}

/// The keepsake id of an entry folder (`<YYYYMMDD-HHMMSS>-<id>`).
pub fn entry_id(dir: &Path) -> Option<&str> {
    dir.file_name()?.to_str()?.rsplit_once('-').map(|(_, id)| id).filter(|id| !id.is_empty())
}

impl From<OutboxError> for ArchiveError {
    fn from(e: OutboxError) -> Self {
        ArchiveError { path: e.path, problem: e.problem, fix: e.fix }
    }
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
        let outbox = Outbox::open(root)?;
        let archive = Self { root: root.to_path_buf(), outbox };
        let entries = archive.entries()?;
        let known: Vec<(&str, &str)> = entries.iter().filter_map(|dir| Some((entry_id(dir)?, dir.file_name()?.to_str()?))).collect();
        let added = archive.outbox.add_all(&known)?;
        if added > 0 {
            tracing::info!(added, "queued archived keepsakes the outbox did not know yet");
        }
        Ok(archive)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
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
        let name = final_dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if let Err(e) = self.outbox.add(&meta.id, name) {
            // The keepsake itself is safe on disk, and the visitor should see it: opening the
            // archive at the next start queues every entry the outbox lacks.
            tracing::error!(%e, entry = name, "archived, but not queued for the memorial server until the next start");
        }
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

    /// Reads an entry's files and checks each against its recorded size and checksum.
    pub fn read_files(&self, dir: &Path) -> Result<EntryFiles, ArchiveError> {
        let corrupt = |what: String| ArchiveError {
            path: dir.to_path_buf(),
            problem: what,
            fix: "the entry is damaged (disk fault?); restore it from the memorial server or remove it",
        };
        let meta_bytes = std::fs::read(dir.join(META)).map_err(|e| corrupt(format!("meta.json: {e}")))?;
        let meta: KeepsakeMeta = serde_json::from_slice(&meta_bytes).map_err(|e| corrupt(format!("meta.json: {e}")))?;
        let read = |info: &FileInfo| -> Result<Vec<u8>, ArchiveError> {
            let bytes = std::fs::read(dir.join(&info.file)).map_err(|e| corrupt(format!("{}: {e}", info.file)))?;
            if bytes.len() as u64 != info.bytes || crc32fast::hash(&bytes) != info.crc32 {
                return Err(corrupt(format!("{} does not match its recorded size and checksum", info.file)));
            }
            Ok(bytes)
        };
        let photo = read(&meta.photo)?;
        let illustration = read(&meta.illustration)?;
        Ok(EntryFiles { meta, photo, illustration })
    }

    /// Reads an entry back, checked, with its pictures decoded.
    pub fn load(&self, dir: &Path) -> Result<Keepsake, ArchiveError> {
        let files = self.read_files(dir)?;
        let decode = |bytes: &[u8], name: &str| {
            image::load_from_memory(bytes).map(|i| Arc::new(i.to_rgb8())).map_err(|e| ArchiveError {
                path: dir.to_path_buf(),
                problem: format!("{name}: {e}"),
                fix: "the entry is damaged (disk fault?); restore it from the memorial server or remove it",
            })
        };
        let photo = decode(&files.photo, &files.meta.photo.file)?;
        let illustration = decode(&files.illustration, &files.meta.illustration.file)?;
        Ok(Keepsake { meta: files.meta, photo, illustration })
    }

    /// The illustrations of the latest `n` keepsakes whose visitors agreed to the slideshow,
    /// newest first. Damaged entries are skipped (and logged), never shown.
    pub fn slideshow(&self, n: usize) -> Vec<Arc<RgbImage>> {
        let Ok(entries) = self.entries() else { return Vec::new() };
        let agreed = |dir: &PathBuf| {
            // Only the record first: the pictures of those who said no are not even read.
            let meta = std::fs::read(dir.join(META)).ok().and_then(|b| serde_json::from_slice::<KeepsakeMeta>(&b).ok());
            meta.is_none_or(|m| m.in_slideshow)
        };
        entries
            .iter()
            .rev()
            .filter(|dir| agreed(dir))
            .filter_map(|dir| match self.load(dir) {
                Ok(k) if k.meta.in_slideshow => Some(k.illustration),
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(%e, "skipping a damaged archive entry in the slideshow");
                    None
                }
            })
            .take(n)
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
            share_photo: false,
            in_slideshow: false,
            made_by: "test".into(),
            style: "warm-animation".into(),
            photo: FileInfo { file: String::new(), bytes: 0, crc32: 0, width: 0, height: 0 },
            illustration: FileInfo { file: String::new(), bytes: 0, crc32: 0, width: 0, height: 0 },
        }
    }

    #[test]
    fn every_entry_is_queued_for_the_server_even_one_the_outbox_never_saw() {
        let dir = tempfile::tempdir().unwrap();
        let a = Archive::open(dir.path()).unwrap();
        let img = Arc::new(RgbImage::from_pixel(16, 16, image::Rgb([1, 2, 3])));
        a.store(sample_meta("aaa"), img.clone(), img.clone()).unwrap();
        a.store(sample_meta("bbb"), img.clone(), img.clone()).unwrap();
        assert_eq!(a.outbox().summary().unwrap().pending, 2);
        a.outbox().mark_sent("aaa").unwrap();
        drop(a);
        let a = Archive::open(dir.path()).unwrap();
        assert_eq!(a.outbox().summary().unwrap().pending, 1, "reopening changes nothing: aaa stays sent");
        // A crash between the entry's rename and its outbox row (or a lost outbox file).
        drop(a);
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            if f.file_name().to_string_lossy().starts_with(outbox::FILE) {
                std::fs::remove_file(f.path()).unwrap();
            }
        }
        let a = Archive::open(dir.path()).unwrap();
        let mut unsent: Vec<String> = a.outbox().unsent().unwrap().into_iter().map(|i| i.id).collect();
        unsent.sort();
        assert_eq!(unsent, ["aaa", "bbb"], "both are queued again (the server answers a resent one as already there)");
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
        assert!(a.slideshow(5).is_empty(), "the visitor was not asked, so the picture is not shown");
        a.store(KeepsakeMeta { in_slideshow: true, ..sample_meta("abd") }, photo.clone(), ill.clone()).unwrap();
        assert_eq!(a.slideshow(5).len(), 1, "only the one whose visitor said yes");

        let entries = a.entries().unwrap();
        std::fs::write(entries[1].join(ILLUSTRATION), b"garbage").unwrap();
        let e = a.load(&entries[1]).err().unwrap();
        assert!(e.problem.contains("illustration.png"), "{e}");
        assert!(a.slideshow(5).is_empty());
    }

    #[test]
    fn the_slideshow_is_the_latest_agreed_keepsakes() {
        let dir = tempfile::tempdir().unwrap();
        let a = Archive::open(dir.path()).unwrap();
        let picture = |v: u8| Arc::new(RgbImage::from_pixel(8, 8, image::Rgb([v, v, v])));
        for (i, agreed) in [true, false, true, true, false].into_iter().enumerate() {
            let meta = KeepsakeMeta { in_slideshow: agreed, ..sample_meta(&format!("k{i}")) };
            a.store(meta, picture(100), picture(i as u8)).unwrap();
        }
        let shown: Vec<u8> = a.slideshow(2).iter().map(|p| p.get_pixel(0, 0)[0]).collect();
        assert_eq!(shown, [3, 2], "the two newest of those who said yes, newest first");
        assert_eq!(a.slideshow(10).len(), 3);
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
