//! The server's database: SQLite (a file in the data folder, the embedded default) or
//! PostgreSQL, through one set of queries. sqlx's `Any` driver runs the same SQL on both: the
//! schema uses only TEXT and BIGINT, and every query binds `$1, $2, ...`, which both accept.

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database {url}: {problem} (fix: {fix})")]
    Open { url: String, problem: String, fix: &'static str },
    #[error("database: {0}")]
    Query(#[from] sqlx::Error),
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS memorials (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, dates TEXT NOT NULL, message TEXT NOT NULL,
        cover_sha256 TEXT, password_hash TEXT, invite_token TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL,
        time_zone TEXT)",
    "CREATE TABLE IF NOT EXISTS booths (
        id TEXT PRIMARY KEY, memorial_id TEXT NOT NULL REFERENCES memorials(id), name TEXT NOT NULL,
        token_sha256 TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, revoked_at TEXT)",
    "CREATE TABLE IF NOT EXISTS blobs (
        sha256 TEXT PRIMARY KEY, bytes BIGINT NOT NULL, content_type TEXT NOT NULL,
        width BIGINT NOT NULL, height BIGINT NOT NULL, created_at TEXT NOT NULL)",
    // A keepsake's id is the one its booth minted (128 random bits, printed in the QR code before
    // any upload), so a retried upload finds the first one; its pictures are stored once by
    // content hash. `deleted` keeps a tombstone so a late retry cannot bring back what the family
    // deleted.
    "CREATE TABLE IF NOT EXISTS keepsakes (
        id TEXT PRIMARY KEY, memorial_id TEXT NOT NULL REFERENCES memorials(id),
        booth_id TEXT NOT NULL REFERENCES booths(id), share_token TEXT NOT NULL UNIQUE,
        illustration_sha256 TEXT NOT NULL, photo_sha256 TEXT, caption TEXT NOT NULL,
        language TEXT NOT NULL, created_at TEXT NOT NULL, received_at TEXT NOT NULL,
        hidden BIGINT NOT NULL DEFAULT 0, deleted BIGINT NOT NULL DEFAULT 0,
        in_slideshow BIGINT NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS keepsakes_by_memorial ON keepsakes (memorial_id, created_at)",
    "CREATE TABLE IF NOT EXISTS sessions (
        token_sha256 TEXT PRIMARY KEY, memorial_id TEXT NOT NULL REFERENCES memorials(id),
        csrf TEXT NOT NULL, expires_at BIGINT NOT NULL)",
];

/// Columns added since the first release, with their definitions: a database made by an older
/// version gets them at start (both SQLite and PostgreSQL add a column with a default in place).
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    // The visitor's answer to the booth's slideshow question (no for keepsakes from before it).
    ("keepsakes", "in_slideshow", "BIGINT NOT NULL DEFAULT 0"),
    // The IANA zone the family's pages show times in (none: the server's).
    ("memorials", "time_zone", "TEXT"),
];

#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
}

#[derive(Debug, Clone)]
pub struct Memorial {
    pub id: String,
    pub name: String,
    pub dates: String,
    pub message: String,
    pub cover_sha256: Option<String>,
    pub password_hash: Option<String>,
    pub invite_token: String,
    /// The IANA zone its pages show times in; `None`: the server's.
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Booth {
    pub id: String,
    pub memorial_id: String,
    pub name: String,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub struct Blob {
    pub sha256: String,
    pub bytes: i64,
    pub content_type: String,
}

#[derive(Debug, Clone)]
pub struct Keepsake {
    pub id: String,
    pub memorial_id: String,
    pub booth_id: String,
    pub share_token: String,
    pub illustration_sha256: String,
    pub photo_sha256: Option<String>,
    pub caption: String,
    pub language: String,
    pub created_at: String,
    pub received_at: String,
    pub hidden: bool,
    pub deleted: bool,
    /// The visitor agreed to the booth's slideshow.
    pub in_slideshow: bool,
}

pub struct NewKeepsake<'a> {
    pub memorial_id: &'a str,
    pub booth_id: &'a str,
    pub share_token: &'a str,
    pub illustration_sha256: &'a str,
    pub photo_sha256: Option<&'a str>,
    pub in_slideshow: bool,
    pub caption: &'a str,
    pub language: &'a str,
    pub created_at: &'a str,
}

/// What storing a keepsake did: a retry of an upload the server already has is not an error.
#[derive(Debug, PartialEq, Eq)]
pub enum Stored {
    New(String),
    AlreadyThere(String),
    /// The share token is taken by a different picture.
    Conflict,
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn memorial(r: &AnyRow) -> Result<Memorial, sqlx::Error> {
    Ok(Memorial {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        dates: r.try_get("dates")?,
        message: r.try_get("message")?,
        cover_sha256: r.try_get("cover_sha256")?,
        password_hash: r.try_get("password_hash")?,
        invite_token: r.try_get("invite_token")?,
        time_zone: r.try_get("time_zone")?,
    })
}

fn keepsake(r: &AnyRow) -> Result<Keepsake, sqlx::Error> {
    Ok(Keepsake {
        id: r.try_get("id")?,
        memorial_id: r.try_get("memorial_id")?,
        booth_id: r.try_get("booth_id")?,
        share_token: r.try_get("share_token")?,
        illustration_sha256: r.try_get("illustration_sha256")?,
        photo_sha256: r.try_get("photo_sha256")?,
        caption: r.try_get("caption")?,
        language: r.try_get("language")?,
        created_at: r.try_get("created_at")?,
        received_at: r.try_get("received_at")?,
        hidden: r.try_get::<i64, _>("hidden")? != 0,
        deleted: r.try_get::<i64, _>("deleted")? != 0,
        in_slideshow: r.try_get::<i64, _>("in_slideshow")? != 0,
    })
}

const KEEPSAKE_COLUMNS: &str =
    "id, memorial_id, booth_id, share_token, illustration_sha256, photo_sha256, caption, language, created_at, received_at, hidden, deleted, in_slideshow";

impl Db {
    /// Opens (creating) the database at `url` (`sqlite://FILE` or `postgres://...`) and makes
    /// sure the schema is there.
    pub async fn open(url: &str) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let is_sqlite = url.starts_with("sqlite:");
        let url_for_pool = if is_sqlite && !url.contains("mode=") {
            format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
        } else {
            url.to_string()
        };
        let open_err = |e: sqlx::Error| DbError::Open {
            url: redact(url),
            problem: e.to_string(),
            fix: if is_sqlite {
                "check --data points at a writable folder"
            } else {
                "check the PostgreSQL server is running and --database has the right host, user, password and database"
            },
        };
        let mut options = AnyPoolOptions::new().max_connections(if is_sqlite { 4 } else { 16 });
        if is_sqlite {
            // Several processes (the server, the operator CLI) share the file: wait for the
            // writer instead of failing, and keep foreign keys on.
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA synchronous = FULL").execute(&mut *conn).await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(&url_for_pool).await.map_err(open_err)?;
        if is_sqlite {
            sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await.map_err(open_err)?;
        }
        for stmt in SCHEMA {
            sqlx::query(stmt).execute(&pool).await.map_err(open_err)?;
        }
        for (table, column, definition) in ADDED_COLUMNS {
            // Selecting the column fails only when it is not there yet.
            if sqlx::query(&format!("SELECT {column} FROM {table} LIMIT 0")).execute(&pool).await.is_err() {
                tracing::info!(table, column, "adding a column an older version of the server did not have");
                sqlx::query(&format!("ALTER TABLE {table} ADD COLUMN {column} {definition}")).execute(&pool).await.map_err(open_err)?;
            }
        }
        Ok(Self { pool })
    }

    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn create_memorial(&self, name: &str, dates: &str, message: &str, cover: Option<&str>) -> Result<Memorial, DbError> {
        let m = Memorial {
            id: crate::tokens::id(),
            name: name.into(),
            dates: dates.into(),
            message: message.into(),
            cover_sha256: cover.map(String::from),
            password_hash: None,
            invite_token: crate::tokens::secret(),
            time_zone: None,
        };
        sqlx::query(
            "INSERT INTO memorials (id, name, dates, message, cover_sha256, invite_token, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&m.id)
        .bind(&m.name)
        .bind(&m.dates)
        .bind(&m.message)
        .bind(m.cover_sha256.clone())
        .bind(&m.invite_token)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(m)
    }

    pub async fn memorial(&self, id: &str) -> Result<Option<Memorial>, DbError> {
        let row = sqlx::query("SELECT * FROM memorials WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(memorial).transpose()?)
    }

    pub async fn memorials(&self) -> Result<Vec<Memorial>, DbError> {
        let rows = sqlx::query("SELECT * FROM memorials ORDER BY created_at").fetch_all(&self.pool).await?;
        Ok(rows.iter().map(memorial).collect::<Result<_, _>>()?)
    }

    pub async fn set_password_hash(&self, memorial_id: &str, hash: &str) -> Result<bool, DbError> {
        let r =
            sqlx::query("UPDATE memorials SET password_hash = $1 WHERE id = $2").bind(hash).bind(memorial_id).execute(&self.pool).await?;
        // Changing the password signs everybody out.
        sqlx::query("DELETE FROM sessions WHERE memorial_id = $1").bind(memorial_id).execute(&self.pool).await?;
        Ok(r.rows_affected() == 1)
    }

    /// Sets the zone the memorial's pages show times in (`None`: the server's).
    pub async fn set_time_zone(&self, memorial_id: &str, zone: Option<&str>) -> Result<bool, DbError> {
        let r = sqlx::query("UPDATE memorials SET time_zone = $1 WHERE id = $2")
            .bind(zone.map(String::from))
            .bind(memorial_id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn new_invite_token(&self, memorial_id: &str) -> Result<Option<String>, DbError> {
        let token = crate::tokens::secret();
        let r =
            sqlx::query("UPDATE memorials SET invite_token = $1 WHERE id = $2").bind(&token).bind(memorial_id).execute(&self.pool).await?;
        Ok((r.rows_affected() == 1).then_some(token))
    }

    pub async fn add_booth(&self, memorial_id: &str, name: &str, token_sha256: &str) -> Result<String, DbError> {
        let id = crate::tokens::id();
        sqlx::query("INSERT INTO booths (id, memorial_id, name, token_sha256, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&id)
            .bind(memorial_id)
            .bind(name)
            .bind(token_sha256)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(id)
    }

    pub async fn revoke_booth(&self, booth_id: &str) -> Result<bool, DbError> {
        let r = sqlx::query("UPDATE booths SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now())
            .bind(booth_id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn booths(&self, memorial_id: &str) -> Result<Vec<Booth>, DbError> {
        let rows = sqlx::query("SELECT id, memorial_id, name, revoked_at FROM booths WHERE memorial_id = $1 ORDER BY created_at")
            .bind(memorial_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Booth {
                    id: r.try_get("id")?,
                    memorial_id: r.try_get("memorial_id")?,
                    name: r.try_get("name")?,
                    revoked: r.try_get::<Option<String>, _>("revoked_at")?.is_some(),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// The booth a token belongs to, if it is not revoked.
    pub async fn booth_by_token(&self, token_sha256: &str) -> Result<Option<Booth>, DbError> {
        let row = sqlx::query("SELECT id, memorial_id, name FROM booths WHERE token_sha256 = $1 AND revoked_at IS NULL")
            .bind(token_sha256)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| -> Result<Booth, sqlx::Error> {
                Ok(Booth { id: r.try_get("id")?, memorial_id: r.try_get("memorial_id")?, name: r.try_get("name")?, revoked: false })
            })
            .transpose()?)
    }

    pub async fn blob(&self, sha256: &str) -> Result<Option<Blob>, DbError> {
        let row =
            sqlx::query("SELECT sha256, bytes, content_type FROM blobs WHERE sha256 = $1").bind(sha256).fetch_optional(&self.pool).await?;
        Ok(row
            .map(|r| -> Result<Blob, sqlx::Error> {
                Ok(Blob { sha256: r.try_get("sha256")?, bytes: r.try_get("bytes")?, content_type: r.try_get("content_type")? })
            })
            .transpose()?)
    }

    pub async fn add_blob(&self, sha256: &str, bytes: i64, content_type: &str, width: u32, height: u32) -> Result<(), DbError> {
        sqlx::query("INSERT INTO blobs (sha256, bytes, content_type, width, height, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256) DO NOTHING")
            .bind(sha256)
            .bind(bytes)
            .bind(content_type)
            .bind(width as i64)
            .bind(height as i64)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether any keepsake or memorial still uses a blob (a deleted keepsake's pictures are
    /// removed only when nothing else shares them).
    pub async fn blob_in_use(&self, sha256: &str) -> Result<bool, DbError> {
        let n: i64 = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM keepsakes WHERE deleted = 0 AND (illustration_sha256 = $1 OR photo_sha256 = $1))
                  + (SELECT COUNT(*) FROM memorials WHERE cover_sha256 = $1) AS n",
        )
        .bind(sha256)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        Ok(n > 0)
    }

    pub async fn forget_blob(&self, sha256: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM blobs WHERE sha256 = $1").bind(sha256).execute(&self.pool).await?;
        Ok(())
    }

    /// Stores a keepsake once, under the id its booth gave it (also its share token): a retry
    /// answers with the first one; the same id with other pictures or another memorial is a clash.
    pub async fn add_keepsake(&self, k: &NewKeepsake<'_>) -> Result<Stored, DbError> {
        let inserted = sqlx::query(
            "INSERT INTO keepsakes (id, memorial_id, booth_id, share_token, illustration_sha256, photo_sha256, caption, language, created_at, received_at, in_slideshow)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
        )
        .bind(k.share_token)
        .bind(k.memorial_id)
        .bind(k.booth_id)
        .bind(k.share_token)
        .bind(k.illustration_sha256)
        .bind(k.photo_sha256.map(String::from))
        .bind(k.caption)
        .bind(k.language)
        .bind(k.created_at)
        .bind(now())
        .bind(k.in_slideshow as i64)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(Stored::New(k.share_token.to_string()));
        }
        let existing = sqlx::query(&format!("SELECT {KEEPSAKE_COLUMNS} FROM keepsakes WHERE id = $1 OR share_token = $1"))
            .bind(k.share_token)
            .fetch_all(&self.pool)
            .await?;
        let existing: Vec<Keepsake> = existing.iter().map(keepsake).collect::<Result<_, _>>()?;
        match existing.as_slice() {
            [one]
                if one.memorial_id == k.memorial_id
                    && one.illustration_sha256 == k.illustration_sha256
                    && one.photo_sha256.as_deref() == k.photo_sha256 =>
            {
                Ok(Stored::AlreadyThere(one.id.clone()))
            }
            _ => Ok(Stored::Conflict),
        }
    }

    pub async fn keepsake_by_share_token(&self, token: &str) -> Result<Option<Keepsake>, DbError> {
        let row = sqlx::query(&format!("SELECT {KEEPSAKE_COLUMNS} FROM keepsakes WHERE share_token = $1 AND deleted = 0"))
            .bind(token)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(keepsake).transpose()?)
    }

    pub async fn keepsake(&self, memorial_id: &str, id: &str) -> Result<Option<Keepsake>, DbError> {
        let row = sqlx::query(&format!("SELECT {KEEPSAKE_COLUMNS} FROM keepsakes WHERE memorial_id = $1 AND id = $2 AND deleted = 0"))
            .bind(memorial_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(keepsake).transpose()?)
    }

    /// A memorial's keepsakes, oldest first; hidden ones only when asked (the family admin).
    pub async fn keepsakes(&self, memorial_id: &str, with_hidden: bool) -> Result<Vec<Keepsake>, DbError> {
        let rows = sqlx::query(&format!(
            "SELECT {KEEPSAKE_COLUMNS} FROM keepsakes WHERE memorial_id = $1 AND deleted = 0 AND (hidden = 0 OR $2 = 1) ORDER BY created_at, id"
        ))
        .bind(memorial_id)
        .bind(with_hidden as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(keepsake).collect::<Result<_, _>>()?)
    }

    pub async fn set_hidden(&self, memorial_id: &str, id: &str, hidden: bool) -> Result<bool, DbError> {
        let r = sqlx::query("UPDATE keepsakes SET hidden = $1 WHERE memorial_id = $2 AND id = $3 AND deleted = 0")
            .bind(hidden as i64)
            .bind(memorial_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Marks a keepsake deleted (a tombstone, so a booth's late retry cannot restore it) and
    /// returns it so its pictures can be removed.
    pub async fn delete_keepsake(&self, memorial_id: &str, id: &str) -> Result<Option<Keepsake>, DbError> {
        let Some(k) = self.keepsake(memorial_id, id).await? else { return Ok(None) };
        sqlx::query("UPDATE keepsakes SET deleted = 1 WHERE memorial_id = $1 AND id = $2")
            .bind(memorial_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(Some(k))
    }

    pub async fn add_session(&self, token_sha256: &str, memorial_id: &str, csrf: &str, expires_at: i64) -> Result<(), DbError> {
        sqlx::query("INSERT INTO sessions (token_sha256, memorial_id, csrf, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_sha256)
            .bind(memorial_id)
            .bind(csrf)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The CSRF token of a live session for this memorial.
    pub async fn session(&self, token_sha256: &str, memorial_id: &str, now: i64) -> Result<Option<String>, DbError> {
        let row = sqlx::query("SELECT csrf FROM sessions WHERE token_sha256 = $1 AND memorial_id = $2 AND expires_at > $3")
            .bind(token_sha256)
            .bind(memorial_id)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("csrf")).transpose()?)
    }

    pub async fn count_keepsakes(&self) -> Result<i64, DbError> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM keepsakes WHERE deleted = 0").fetch_one(&self.pool).await?.try_get("n")?)
    }
}

/// A database URL with its password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
