//! The object storage a repo lives in: one prefix of one object store.
//!
//! Mutation needs only put-if-absent (`PutMode::Create`), which every backend supports,
//! local disk included, so concurrent committers are safe everywhere.

mod local;
mod location;
mod temp;

pub use location::{register_memory_store, Location};

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

    /// Removes the temp files that killed writers left in a local repo (once per process
    /// for each repo; nothing to do elsewhere: object stores have no temp files).
    pub fn collect_stale_temp_files(&self) {
        if let Location::Local(root) = &self.location {
            temp::collect_stale_once(root);
        }
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

    /// The repo-relative key of a listed object, with object_store's escapes undone so it
    /// round-trips through `path` (a key with '%' or '#' is stored escaped on object stores).
    fn relative(&self, path: &Path) -> String {
        let s = path.as_ref();
        let rel = if self.prefix.is_empty() {
            s
        } else {
            s.strip_prefix(&self.prefix).unwrap_or(s).trim_start_matches('/')
        };
        unescape(rel)
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
        if let Location::Local(root) = &self.location {
            // The same raw path as `get` and `put_if_absent`: object_store's local backend
            // would map escaped characters ('%' in `refs/branches/a%2Fb`) elsewhere.
            return local::exists(root, key);
        }
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
            .filter_map(|cp| cp.filename().map(unescape))
            .collect();
        names.sort();
        Ok(names)
    }

    /// The keys directly in `dir` whose name starts with `name_prefix`, sorted, at most
    /// `limit`. Not a scan of `dir` on object stores: one listing that starts at
    /// `dir/name_prefix` (`list_with_offset`) and stops at the first key past the prefix,
    /// as their listings come in key order; on local disk, one directory read.
    pub async fn list_names_with_prefix(&self, dir: &str, name_prefix: &str, limit: usize) -> Result<Vec<String>> {
        let dir = dir.trim_end_matches('/');
        if let Location::Local(root) = &self.location {
            return local::list_names_with_prefix(root, dir, name_prefix, limit);
        }
        let mut out = Vec::new();
        let exact = format!("{dir}/{name_prefix}");
        // The offset is exclusive: the key equal to the prefix is checked on its own.
        if !name_prefix.is_empty() && self.exists(&exact).await? {
            out.push(exact.clone());
        }
        let offset = self.path(&exact);
        let start = offset.as_ref().to_string();
        let dir_path = self.path(dir);
        let dir_raw = format!("{}/", dir_path.as_ref());
        let mut stream = self.store.list_with_offset(Some(&dir_path), &offset);
        while out.len() < limit {
            let Some(meta) = stream.try_next().await? else { break };
            let raw = meta.location.as_ref();
            if !raw.starts_with(&start) {
                if raw > start.as_str() {
                    break;
                }
                continue;
            }
            if raw.strip_prefix(&dir_raw).is_some_and(|name| !name.contains('/')) {
                out.push(self.relative(&meta.location));
            }
        }
        out.sort();
        out.truncate(limit);
        Ok(out)
    }

    /// Deletes one object; a missing one is not an error.
    pub async fn delete(&self, key: &str) -> Result<()> {
        if let Location::Local(root) = &self.location {
            return match std::fs::remove_file(root.join(key)) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::Storage(format!(
                    "cannot delete {key} in {}: {e}",
                    root.display()
                ))),
            };
        }
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::from(e)),
        }
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

/// Undoes object_store's percent-escaping of path parts (`%25` for '%', and so on).
fn unescape(raw: &str) -> String {
    if !raw.contains('%') {
        return raw.to_string();
    }
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn put(s: &Storage, key: &str) {
        assert!(s.put_if_absent(key, Bytes::from_static(b"x")).await.unwrap());
    }

    #[test]
    fn escapes_are_undone() {
        assert_eq!(unescape("a%252Fb"), "a%2Fb");
        assert_eq!(unescape("plain"), "plain");
        assert_eq!(unescape("100%"), "100%");
        assert_eq!(unescape("%2"), "%2");
    }

    #[tokio::test]
    async fn object_store_listings_round_trip_escaped_names_and_list_by_name_prefix() {
        let loc = Location::Memory(format!("storage-test-{}", crate::format::ObjectId::new()));
        let s = Storage::open(&loc).unwrap();
        for k in [
            "d/feature%2Fx/1",
            "d/plain/1",
            "c/ab",
            "c/abc",
            "c/abd",
            "c/ac",
            "c/ab1/nested",
            "cz",
        ] {
            put(&s, k).await;
        }
        assert_eq!(s.list_dirs("d").await.unwrap(), vec!["feature%2Fx", "plain"]);
        assert_eq!(s.list("d").await.unwrap(), vec!["d/feature%2Fx/1", "d/plain/1"]);
        assert!(s.exists("d/feature%2Fx/1").await.unwrap());
        assert_eq!(
            s.list_names_with_prefix("c", "ab", 10).await.unwrap(),
            vec!["c/ab", "c/abc", "c/abd"]
        );
        assert_eq!(
            s.list_names_with_prefix("c", "ab", 2).await.unwrap(),
            vec!["c/ab", "c/abc"]
        );
        assert_eq!(s.list_names_with_prefix("c", "abd", 10).await.unwrap(), vec!["c/abd"]);
        assert!(s.list_names_with_prefix("c", "b", 10).await.unwrap().is_empty());
        s.delete_all().await.unwrap();
        assert!(s.list("").await.unwrap().is_empty(), "escaped keys are deleted too");
    }

    /// A killed writer's temp file is removed when the repo is opened; a live writer's
    /// (fresh) one is kept.
    #[tokio::test]
    async fn opening_a_repo_removes_stale_temp_files() {
        use std::time::{Duration, SystemTime};

        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        let loc = root.to_str().unwrap();
        crate::repo::Repository::create(loc, crate::format::RepoConfig::default())
            .await
            .unwrap();
        let tmp = root.join(temp::TEMP_DIR);
        std::fs::create_dir_all(&tmp).unwrap();
        let age = |name: &str, age: Duration| {
            let f = std::fs::File::create(tmp.join(name)).unwrap();
            f.set_modified(SystemTime::now() - age).unwrap();
        };
        age("dead.tmp", temp::STALE_AFTER + Duration::from_secs(60));
        age("live.tmp", Duration::from_secs(1));
        crate::repo::Repository::open(loc).await.unwrap();
        assert!(!tmp.join("dead.tmp").exists());
        assert!(tmp.join("live.tmp").exists());
        let s = Storage::open(&Location::Local(root.clone())).unwrap();
        assert_eq!(
            s.list("").await.unwrap(),
            vec!["zarrlake.json"],
            "temp files are never listed"
        );
    }
}
