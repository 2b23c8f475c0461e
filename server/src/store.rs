//! Where the server keeps things, from the operator's options: SQLite and picture files in the
//! data folder by default; PostgreSQL and an S3-compatible store when given.

use std::path::{Path, PathBuf};

use crate::blobs::{Blobs, S3Options};
use crate::db::Db;

#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub data: PathBuf,
    pub database: Option<String>,
    pub s3: Option<S3Options>,
}

impl StoreOptions {
    pub fn database_url(&self) -> String {
        self.database.clone().unwrap_or_else(|| format!("sqlite://{}", self.data.join("keepsake.sqlite").display()))
    }

    pub fn staging(&self) -> PathBuf {
        self.data.join("uploads")
    }

    pub async fn open(&self) -> anyhow::Result<(Db, Blobs)> {
        create_data_dir(&self.data)?;
        let db = Db::open(&self.database_url()).await?;
        let blobs = match &self.s3 {
            Some(s3) => Blobs::s3(s3)?,
            None => Blobs::files(&self.data.join("blobs"))?,
        };
        Ok((db, blobs))
    }
}

fn create_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("--data {}: {e} (fix: choose a writable folder, e.g. /var/lib/keepsake-server)", dir.display()))
}
