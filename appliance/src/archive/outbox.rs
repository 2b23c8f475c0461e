//! The durable outbox: which archived keepsakes still have to reach the memorial server.
//!
//! A SQLite file beside the archive (`.outbox.sqlite`, WAL, synchronous=FULL), one row per
//! archive entry. The archive adds a row when it stores an entry, and every entry on disk is
//! added again (if missing) when the outbox opens, so a crash between the two loses nothing. A
//! row is `pending` until the server has confirmed the keepsake, then `sent`; one the server
//! refuses for good (a 4xx that a retry cannot fix) becomes `refused` and stays for the
//! technician (`keepsake sync status`, `keepsake sync retry`). Rows are never deleted.

use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};

pub const FILE: &str = ".outbox.sqlite";

#[derive(Debug, thiserror::Error)]
#[error("outbox {path}: {problem} (fix: {fix})")]
pub struct OutboxError {
    pub path: PathBuf,
    pub problem: String,
    pub fix: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The keepsake id (also its share token on the server).
    pub id: String,
    /// The archive entry's folder name.
    pub entry: String,
    pub attempts: u32,
    pub next_try_ms: i64,
    pub last_error: Option<String>,
    pub state: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub pending: u64,
    pub sent: u64,
    pub refused: u64,
}

pub struct Outbox {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// Rings when a row is added or a retry is asked for, so the uploader wakes up at once.
    wake: parking_lot::Condvar,
    woken: Mutex<bool>,
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl Outbox {
    pub fn open(archive_root: &Path) -> Result<Self, OutboxError> {
        let path = archive_root.join(FILE);
        let err = |e: rusqlite::Error| {
            OutboxError {
            path: path.clone(),
            problem: e.to_string(),
            fix: "check archive.dir is writable; if the file is damaged, move it away: it is rebuilt from the archive (already-sent keepsakes are then sent again, which the server ignores)",
        }
        };
        let conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS outbox (
                id TEXT PRIMARY KEY,
                entry TEXT NOT NULL,
                state TEXT NOT NULL DEFAULT 'pending',
                attempts INTEGER NOT NULL DEFAULT 0,
                next_try_ms INTEGER NOT NULL DEFAULT 0,
                last_error TEXT,
                enqueued_at_ms INTEGER NOT NULL,
                sent_at_ms INTEGER
            );
            CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_try_ms);",
        )
        .map_err(err)?;
        Ok(Self { path, conn: Mutex::new(conn), wake: parking_lot::Condvar::new(), woken: Mutex::new(false) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> parking_lot::MutexGuard<'_, Connection> {
        self.conn.lock()
    }

    fn err(&self, e: rusqlite::Error) -> OutboxError {
        OutboxError { path: self.path.clone(), problem: e.to_string(), fix: "check archive.dir's disk (full? read-only?)" }
    }

    /// Queues an archive entry (idempotent: an entry already queued or sent is left as it is).
    pub fn add(&self, id: &str, entry: &str) -> Result<bool, OutboxError> {
        let n = self
            .conn()
            .execute("INSERT OR IGNORE INTO outbox (id, entry, enqueued_at_ms) VALUES (?1, ?2, ?3)", params![id, entry, now_ms()])
            .map_err(|e| self.err(e))?;
        if n > 0 {
            self.ring();
        }
        Ok(n > 0)
    }

    /// Queues many entries (id, folder name) in one transaction (one fsync, however many
    /// entries an archive holds); returns how many were new.
    pub fn add_all(&self, entries: &[(&str, &str)]) -> Result<usize, OutboxError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let mut added = 0;
        {
            let mut stmt =
                tx.prepare("INSERT OR IGNORE INTO outbox (id, entry, enqueued_at_ms) VALUES (?1, ?2, ?3)").map_err(|e| self.err(e))?;
            for (id, entry) in entries {
                added += stmt.execute(params![id, entry, now_ms()]).map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        drop(conn);
        if added > 0 {
            self.ring();
        }
        Ok(added)
    }

    /// The next pending row whose time has come, and when the one after is due.
    pub fn next_due(&self, now_ms: i64) -> Result<(Option<Item>, Option<i64>), OutboxError> {
        let conn = self.conn();
        let item = conn
            .query_row(
                "SELECT id, entry, attempts, next_try_ms, last_error, state FROM outbox
                 WHERE state = 'pending' AND next_try_ms <= ?1 ORDER BY next_try_ms, enqueued_at_ms LIMIT 1",
                params![now_ms],
                item,
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let next: Option<i64> = conn
            .query_row("SELECT MIN(next_try_ms) FROM outbox WHERE state = 'pending' AND next_try_ms > ?1", params![now_ms], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok((item, next))
    }

    pub fn mark_sent(&self, id: &str) -> Result<(), OutboxError> {
        self.conn()
            .execute("UPDATE outbox SET state = 'sent', sent_at_ms = ?2, last_error = NULL WHERE id = ?1", params![id, now_ms()])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn mark_failed(&self, id: &str, error: &str, next_try_ms: i64) -> Result<(), OutboxError> {
        self.conn()
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_try_ms = ?3 WHERE id = ?1",
                params![id, error, next_try_ms],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn mark_refused(&self, id: &str, error: &str) -> Result<(), OutboxError> {
        self.conn()
            .execute("UPDATE outbox SET state = 'refused', attempts = attempts + 1, last_error = ?2 WHERE id = ?1", params![id, error])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Puts refused rows back in the queue and makes every pending row due now.
    pub fn retry_all(&self) -> Result<u64, OutboxError> {
        let n = self
            .conn()
            .execute("UPDATE outbox SET state = 'pending', next_try_ms = 0 WHERE state IN ('pending', 'refused')", [])
            .map_err(|e| self.err(e))?;
        self.ring();
        Ok(n as u64)
    }

    pub fn summary(&self) -> Result<Summary, OutboxError> {
        let conn = self.conn();
        let count = |state: &str| -> Result<u64, rusqlite::Error> {
            conn.query_row("SELECT COUNT(*) FROM outbox WHERE state = ?1", params![state], |r| r.get::<_, i64>(0)).map(|n| n as u64)
        };
        Ok(Summary {
            pending: count("pending").map_err(|e| self.err(e))?,
            sent: count("sent").map_err(|e| self.err(e))?,
            refused: count("refused").map_err(|e| self.err(e))?,
        })
    }

    /// Rows not sent yet (pending and refused), oldest first.
    pub fn unsent(&self) -> Result<Vec<Item>, OutboxError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT id, entry, attempts, next_try_ms, last_error, state FROM outbox WHERE state != 'sent' ORDER BY enqueued_at_ms")
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], item).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    pub fn ring(&self) {
        *self.woken.lock() = true;
        self.wake.notify_all();
    }

    /// Sleeps until `timeout` passes or a row is added (whichever is first).
    pub fn wait(&self, timeout: Duration) {
        let mut woken = self.woken.lock();
        if !*woken {
            self.wake.wait_for(&mut woken, timeout);
        }
        *woken = false;
    }
}

fn item(r: &rusqlite::Row<'_>) -> rusqlite::Result<Item> {
    Ok(Item {
        id: r.get(0)?,
        entry: r.get(1)?,
        attempts: r.get::<_, i64>(2)? as u32,
        next_try_ms: r.get(3)?,
        last_error: r.get(4)?,
        state: r.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_survive_reopening_and_are_never_added_twice() {
        let dir = tempfile::tempdir().unwrap();
        let o = Outbox::open(dir.path()).unwrap();
        assert!(o.add("a", "20261126-100000-a").unwrap());
        assert!(!o.add("a", "20261126-100000-a").unwrap(), "a second add of the same entry is a no-op");
        assert_eq!(o.add_all(&[("a", "20261126-100000-a"), ("b", "20261126-100001-b")]).unwrap(), 1, "only b is new");
        o.mark_failed("a", "server away", now_ms() + 60_000).unwrap();
        drop(o);
        let o = Outbox::open(dir.path()).unwrap();
        let (due, next) = o.next_due(now_ms()).unwrap();
        assert_eq!(due.unwrap().id, "b", "a is waiting for its retry time");
        assert!(next.is_some());
        o.mark_sent("b").unwrap();
        o.mark_refused("a", "413 too large").unwrap();
        assert_eq!(o.summary().unwrap(), Summary { pending: 0, sent: 1, refused: 1 });
        assert_eq!(o.unsent().unwrap()[0].last_error.as_deref(), Some("413 too large"));
        assert_eq!(o.retry_all().unwrap(), 1);
        let (due, _) = o.next_due(now_ms()).unwrap();
        assert_eq!(due.unwrap().attempts, 2);
    }
}
