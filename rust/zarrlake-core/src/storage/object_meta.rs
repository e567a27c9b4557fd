//! Object sizes and ages: what garbage collection's grace period is measured by.
//!
//! An object's age is the time it was last written. A content-addressed chunk that a
//! writer stores again (the same bytes under the same key) counts as written again: a
//! remote store gets a plain PUT, a local directory has the file's time set (`local`).
//! So a chunk a live writer just referenced is never older than the grace period.

use std::path::Path as FsPath;
use std::time::UNIX_EPOCH;

use futures::TryStreamExt;
use object_store::ObjectStoreExt;

use super::{list_pages, local, Location, Op, Storage};
use crate::error::{Error, Result};

/// One stored object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The repo-relative key.
    pub key: String,
    pub size: u64,
    /// When it was last written, in microseconds since the Unix epoch.
    pub modified_micros: i64,
}

fn micros(t: std::time::SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

fn local_meta(root: &FsPath, key: &str) -> Result<Option<ObjectMeta>> {
    let path = root.join(key);
    match std::fs::metadata(&path) {
        Ok(m) => Ok(Some(ObjectMeta {
            key: key.to_string(),
            size: m.len(),
            modified_micros: m.modified().map_or(0, micros),
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Storage(format!("cannot stat {}: {e}", path.display()))),
    }
}

impl Storage {
    /// Every object below `prefix`, with its size and age, sorted by key.
    pub async fn list_meta(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let prefix = prefix.trim_end_matches('/');
        if let Location::Local(root) = &self.location {
            let root = root.clone();
            let prefix = prefix.to_string();
            let stats = self.stats.clone();
            // Up to millions of stat calls: off the async workers.
            return tokio::task::spawn_blocking(move || {
                let keys = local::list(&root, &prefix)?;
                stats.count(Op::List, list_pages(keys.len()));
                // An object deleted between the listing and its stat is simply gone.
                let metas: Result<Vec<Option<ObjectMeta>>> = keys.iter().map(|k| local_meta(&root, k)).collect();
                Ok(metas?.into_iter().flatten().collect())
            })
            .await?;
        }
        let p = self.path(prefix);
        let metas: Vec<object_store::ObjectMeta> = {
            let _slot = self.request(Op::List).await?;
            self.store()?
                .list(Some(&p))
                .try_collect()
                .await
                .map_err(|e| self.fail(e))?
        };
        self.stats.count(Op::List, list_pages(metas.len()) - 1);
        let mut out: Vec<ObjectMeta> = metas
            .iter()
            .map(|m| ObjectMeta {
                key: self.relative(&m.location),
                size: m.size,
                modified_micros: m.last_modified.timestamp_micros(),
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Removes the directories left empty under `prefix` on local disk (object stores have
    /// none). A directory that is not empty stays.
    pub fn remove_empty_dirs(&self, prefix: &str) {
        fn prune(dir: &FsPath) -> bool {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return false;
            };
            let mut empty = true;
            for e in entries.flatten() {
                let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
                empty &= is_dir && prune(&e.path());
            }
            empty && std::fs::remove_dir(dir).is_ok()
        }
        if let Location::Local(root) = &self.location {
            prune(&root.join(prefix.trim_end_matches('/')));
        }
    }

    /// One object's size and age, `None` if it does not exist.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        if let Location::Local(root) = &self.location {
            self.stats.count(Op::Head, 1);
            return local_meta(root, key);
        }
        let _slot = self.request(Op::Head).await?;
        match self.store()?.head(&self.path(key)).await {
            Ok(m) => Ok(Some(ObjectMeta {
                key: key.to_string(),
                size: m.size,
                modified_micros: m.last_modified.timestamp_micros(),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.fail(e)),
        }
    }
}
