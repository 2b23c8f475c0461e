//! What cubecl learns about the box's GPU — which kernel autotune picked for each shape — kept in
//! the booth's state folder, so a restart starts warm instead of tuning again in front of the
//! first visitor. cubecl keeps it in one database file; one it cannot read is moved aside with a
//! warning (the next start tunes again), never a crash.

use std::path::{Path, PathBuf};

use cubecl::config::{CubeClRuntimeConfig, RuntimeConfig};

/// SQLite's (and so turso's) file header.
const DATABASE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// The database file cubecl keeps in `dir` (its default environment).
pub fn database(dir: &Path) -> PathBuf {
    dir.join(cubecl::environment::file_name(cubecl::environment::DEFAULT))
}

/// What [`use_folder`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum CacheState {
    /// No results yet: the first GPU run tunes (and writes them).
    Empty,
    /// Results from an earlier start.
    Warm,
    /// A file that is no database (a cut write, a disk fault) was moved aside to this path.
    Discarded(PathBuf),
}

/// Makes `dir` the home of cubecl's caches. Call before the first tensor is made on a GPU (cubecl
/// reads its configuration once); a later call changes nothing and says so on the log.
pub fn use_folder(dir: &Path) -> Result<CacheState, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("GPU cache folder {}: {e} (fix: make the state folder writable)", dir.display()))?;
    let state = check(&database(dir))?;
    let mut config = CubeClRuntimeConfig::default();
    config.environment.path = cubecl::config::cache::CacheConfig::Directory(dir.to_path_buf());
    if !CubeClRuntimeConfig::try_set(config) {
        tracing::warn!(folder = %dir.display(), "the GPU runtime was configured before the cache folder was set: autotune results stay where they were");
    }
    Ok(state)
}

fn check(db: &Path) -> Result<CacheState, String> {
    let mut head = [0u8; 16];
    let readable = match std::fs::File::open(db) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(CacheState::Empty),
        Err(e) => return Err(format!("GPU cache {}: {e} (fix: make the state folder readable)", db.display())),
        Ok(mut f) => {
            use std::io::Read;
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            // An empty file is what a fresh database starts as; anything else must be one.
            len == 0 || (f.read_exact(&mut head).is_ok() && &head == DATABASE_HEADER)
        }
    };
    if readable {
        return Ok(CacheState::Warm);
    }
    let aside = db.with_extension(format!("corrupt-{}", std::process::id()));
    std::fs::rename(db, &aside)
        .map_err(|e| format!("GPU cache {} is damaged and cannot be moved aside: {e} (fix: delete it)", db.display()))?;
    // The journal belongs to the damaged file; left behind it would be replayed into the new one.
    for suffix in ["-wal", "-shm"] {
        let mut side = db.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(side));
    }
    tracing::warn!(cache = %db.display(), moved_to = %aside.display(), "the GPU autotune cache was damaged: it is set aside and the GPU tunes again");
    Ok(CacheState::Discarded(aside))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_cache_is_moved_aside_and_a_sound_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(dir.path());
        assert_eq!(check(&db).unwrap(), CacheState::Empty);

        std::fs::write(&db, b"\0\0garbage from a cut write").unwrap();
        std::fs::write(dir.path().join("default.db-wal"), b"journal").unwrap();
        let CacheState::Discarded(aside) = check(&db).unwrap() else { panic!("a damaged cache must be set aside") };
        assert!(!db.exists() && aside.is_file() && !dir.path().join("default.db-wal").exists());

        let mut sound = DATABASE_HEADER.to_vec();
        sound.extend([0u8; 100]);
        std::fs::write(&db, &sound).unwrap();
        assert_eq!(check(&db).unwrap(), CacheState::Warm);
        assert_eq!(std::fs::read(&db).unwrap(), sound);
    }
}
