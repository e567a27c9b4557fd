//! The object storage a repo lives in: one prefix of one object store.
//!
//! Mutation needs only put-if-absent (`PutMode::Create`), which every backend supports,
//! local disk included, so concurrent committers are safe everywhere.

mod local;
mod location;

pub use location::Location;

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::error::{Error, Result};

#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    location: Location,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Storage({})", self.location)
    }
}

impl Storage {
    pub fn open(location: &Location) -> Result<Self> {
        let (store, prefix) = location.object_store()?;
        Ok(Storage {
            store,
            prefix,
            location: location.clone(),
        })
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    fn path(&self, key: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{}/{}", self.prefix, key))
        }
    }

    fn relative(&self, path: &Path) -> String {
        let s = path.as_ref();
        if self.prefix.is_empty() {
            s.to_string()
        } else {
            s.strip_prefix(&self.prefix)
                .unwrap_or(s)
                .trim_start_matches('/')
                .to_string()
        }
    }

    /// The whole object, or `None` when it does not exist.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        if let Location::Local(root) = &self.location {
            // Whole-object local reads: one open and read, no hop to a blocking pool. Objects
            // are small (chunks, manifests) and written once, so this never sees a partial file.
            return match std::fs::read(root.join(key)) {
                Ok(v) => Ok(Some(Bytes::from(v))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::Storage(format!("cannot read {key} in {}: {e}", root.display()))),
            };
        }
        match self.store.get(&self.path(key)).await {
            Ok(r) => Ok(Some(r.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A byte range of an object, or `None` when it does not exist.
    pub async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Option<Bytes>> {
        if range.start >= range.end {
            return Ok(self.get(key).await?.map(|_| Bytes::new()));
        }
        match self.store.get_range(&self.path(key), range).await {
            Ok(b) => Ok(Some(b)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn exists(&self, key: &str) -> Result<bool> {
        match self.store.head(&self.path(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `bytes` under `key` only if nothing is there. Returns false if it existed.
    pub async fn put_if_absent(&self, key: &str, bytes: Bytes) -> Result<bool> {
        if let Location::Local(root) = &self.location {
            return local::put_if_absent(root, key, &bytes);
        }
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self
            .store
            .put_opts(&self.path(key), PutPayload::from_bytes(bytes), opts)
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// All keys below `prefix` (relative to the repo root), sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        if let Location::Local(root) = &self.location {
            return local::list(root, prefix.trim_end_matches('/'));
        }
        let p = self.path(prefix.trim_end_matches('/'));
        let metas: Vec<_> = self.store.list(Some(&p)).try_collect().await?;
        let mut keys: Vec<String> = metas.iter().map(|m| self.relative(&m.location)).collect();
        keys.sort();
        Ok(keys)
    }

    /// The names of the immediate "directories" below `prefix`, sorted.
    pub async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        if let Location::Local(root) = &self.location {
            return local::list_dirs(root, prefix.trim_end_matches('/'));
        }
        let p = self.path(prefix.trim_end_matches('/'));
        let res = self.store.list_with_delimiter(Some(&p)).await?;
        let mut names: Vec<String> = res
            .common_prefixes
            .iter()
            .filter_map(|cp| cp.filename().map(str::to_string))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Deletes every object of the repo (used only by `delete_repo`).
    pub async fn delete_all(&self) -> Result<()> {
        for key in self.list("").await? {
            match self.store.delete(&self.path(&key)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(Error::from(e)),
            }
        }
        self.location.remove_root()
    }
}
