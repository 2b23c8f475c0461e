//! Where the pictures live: files under the data folder (the embedded default, written with
//! temp file + fsync + rename) or an S3-compatible object store (operators with many halls).
//! Blobs are named by their SHA-256, so a name can never point outside the store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use object_store::{ObjectStore, PutPayload};

#[derive(Debug, thiserror::Error)]
#[error("picture store {store}: {problem}")]
pub struct BlobError {
    pub store: String,
    pub problem: String,
}

#[derive(Clone)]
pub enum Blobs {
    Files(PathBuf),
    ObjectStore { store: Arc<dyn ObjectStore>, describe: String },
}

/// How an operator points the server at an S3-compatible store. Credentials come from the usual
/// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` variables.
#[derive(Debug, Clone)]
pub struct S3Options {
    pub bucket: String,
    pub endpoint: Option<String>,
    pub region: String,
}

impl Blobs {
    pub fn files(dir: &Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(dir.join(".incoming"))
            .map_err(|e| BlobError { store: dir.display().to_string(), problem: format!("{e} (fix: make --data a writable folder)") })?;
        Ok(Blobs::Files(dir.to_path_buf()))
    }

    /// At the server's start: removes temporary files of writes a crash interrupted (their
    /// pictures were never recorded, so the booths' uploads of them are still open and finish).
    pub fn tidy(&self) {
        if let Blobs::Files(dir) = self {
            for leftover in std::fs::read_dir(dir.join(".incoming")).into_iter().flatten().flatten() {
                let _ = std::fs::remove_file(leftover.path());
            }
        }
    }

    pub fn s3(o: &S3Options) -> Result<Self, BlobError> {
        let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(&o.bucket).with_region(&o.region);
        if let Some(endpoint) = &o.endpoint {
            b = b.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://")).with_virtual_hosted_style_request(false);
        }
        let store = b.build().map_err(|e| BlobError {
            store: format!("s3://{}", o.bucket),
            problem: format!("{e} (fix: set --s3-bucket, --s3-endpoint, and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"),
        })?;
        Ok(Blobs::ObjectStore { store: Arc::new(store), describe: format!("s3://{}", o.bucket) })
    }

    fn describe(&self) -> String {
        match self {
            Blobs::Files(d) => d.display().to_string(),
            Blobs::ObjectStore { describe, .. } => describe.clone(),
        }
    }

    fn err(&self, e: impl std::fmt::Display) -> BlobError {
        BlobError { store: self.describe(), problem: e.to_string() }
    }

    fn path_of(dir: &Path, sha256: &str) -> PathBuf {
        debug_assert!(crate::tokens::is_sha256(sha256));
        dir.join(&sha256[..2]).join(sha256)
    }

    fn key_of(sha256: &str) -> object_store::path::Path {
        object_store::path::Path::from(format!("blobs/{}/{}", &sha256[..2], sha256))
    }

    pub async fn put(&self, sha256: &str, bytes: Bytes) -> Result<(), BlobError> {
        assert!(crate::tokens::is_sha256(sha256), "blob names are checked before they get here");
        match self {
            Blobs::Files(dir) => {
                let dir = dir.clone();
                let sha = sha256.to_string();
                tokio::task::spawn_blocking(move || write_durable(&dir, &sha, &bytes))
                    .await
                    .map_err(|e| self.err(e))?
                    .map_err(|e| self.err(e))
            }
            Blobs::ObjectStore { store, .. } => {
                store.put(&Self::key_of(sha256), PutPayload::from_bytes(bytes)).await.map_err(|e| self.err(e))?;
                Ok(())
            }
        }
    }

    pub async fn get(&self, sha256: &str) -> Result<Bytes, BlobError> {
        assert!(crate::tokens::is_sha256(sha256), "blob names are checked before they get here");
        match self {
            Blobs::Files(dir) => tokio::fs::read(Self::path_of(dir, sha256)).await.map(Bytes::from).map_err(|e| self.err(e)),
            Blobs::ObjectStore { store, .. } => {
                let got = store.get(&Self::key_of(sha256)).await.map_err(|e| self.err(e))?;
                got.bytes().await.map_err(|e| self.err(e))
            }
        }
    }

    pub async fn delete(&self, sha256: &str) -> Result<(), BlobError> {
        assert!(crate::tokens::is_sha256(sha256), "blob names are checked before they get here");
        match self {
            Blobs::Files(dir) => match tokio::fs::remove_file(Self::path_of(dir, sha256)).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(self.err(e)),
            },
            Blobs::ObjectStore { store, .. } => match store.delete(&Self::key_of(sha256)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(self.err(e)),
            },
        }
    }

    /// A cheap reachability check for /healthz.
    pub async fn ping(&self) -> Result<(), BlobError> {
        match self {
            Blobs::Files(dir) => tokio::fs::metadata(dir).await.map(|_| ()).map_err(|e| self.err(e)),
            Blobs::ObjectStore { store, .. } => {
                use futures_util::StreamExt;
                let mut list = store.list(Some(&object_store::path::Path::from("blobs")));
                match list.next().await {
                    Some(Err(e)) => Err(self.err(e)),
                    _ => Ok(()),
                }
            }
        }
    }
}

fn write_durable(dir: &Path, sha256: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let final_path = Blobs::path_of(dir, sha256);
    let parent = final_path.parent().expect("blob paths have a folder");
    std::fs::create_dir_all(parent)?;
    let tmp = dir.join(".incoming").join(format!("{sha256}.{}", crate::tokens::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &final_path)?;
    std::fs::File::open(parent)?.sync_all()
}
