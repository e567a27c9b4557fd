//! The object storage a repo lives in: one prefix of one object store.
//!
//! Mutation needs only put-if-absent (`PutMode::Create`), which every backend supports,
//! local disk included, so concurrent committers are safe everywhere. Remote stores are
//! checked for it once before their first exclusive write (`remote`), and a
//! put-if-absent whose answer was lost is decided by reading the object back.

mod cloud;
mod local;
mod location;
mod object_meta;
mod remote;
mod stats;
mod temp;

pub use cloud::{
    max_concurrency, CloudLocation, CloudScheme, StorageOptions, DEFAULT_MAX_CONCURRENCY, MAX_CONCURRENCY_OPTION,
};
pub use location::{memory_children, register_memory_store, Location};
pub use object_meta::ObjectMeta;
pub use stats::{Op, RequestStats};

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tokio::sync::{OnceCell, Semaphore, SemaphorePermit};

use crate::error::{Error, Result};
use crate::process::ForkLocal;
use stats::list_pages;

/// A cloud client per process: a forked child must not use the connections (and the
/// runtime behind them) of its parent, so it builds its own on first use.
struct CloudClient {
    location: CloudLocation,
    options: StorageOptions,
    store: ForkLocal<Arc<dyn ObjectStore>>,
    /// For put-if-absent: retries nothing by itself (see `put_if_absent`).
    exclusive: ForkLocal<Arc<dyn ObjectStore>>,
}

#[derive(Clone)]
pub struct Storage {
    /// The store of local and memory locations (and the first process's cloud client).
    store: Arc<dyn ObjectStore>,
    cloud: Option<Arc<CloudClient>>,
    prefix: String,
    location: Location,
    stats: Arc<RequestStats>,
    /// Bounds the requests in flight to a remote store (none for local disk).
    limit: Option<Arc<Semaphore>>,
    /// Set once the store has been seen to refuse a second put-if-absent (cloud only).
    conditional_checked: Option<Arc<OnceCell<()>>>,
    /// The explicit options, part of the key of the conditional-put check.
    options_key: Arc<str>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Storage({})", self.location)
    }
}

impl Storage {
    pub fn open(location: &Location) -> Result<Self> {
        Self::open_with(location, &StorageOptions::new(), Arc::default())
    }

    /// `options` configure cloud clients (see `cloud`); `stats` may be shared with other
    /// storages of the same repo (its chunk location).
    pub fn open_with(location: &Location, options: &StorageOptions, stats: Arc<RequestStats>) -> Result<Self> {
        let bound = max_concurrency(options)?;
        let (store, prefix) = location.object_store(options)?;
        let cloud = matches!(location, Location::Cloud(_));
        let client = match location {
            Location::Cloud(c) => {
                let per_process = ForkLocal::new();
                per_process.get_or_init(|| store.clone());
                Some(Arc::new(CloudClient {
                    location: c.clone(),
                    options: options.clone(),
                    store: per_process,
                    exclusive: ForkLocal::new(),
                }))
            }
            _ => None,
        };
        Ok(Storage {
            store,
            cloud: client,
            prefix,
            location: location.clone(),
            stats,
            limit: (!matches!(location, Location::Local(_))).then(|| Arc::new(Semaphore::new(bound))),
            conditional_checked: cloud.then(Arc::default),
            options_key: options
                .iter()
                .map(|(k, v)| format!("{k}={v}\n"))
                .collect::<String>()
                .into(),
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

    /// The object store to send requests to, this process's own for a cloud location.
    fn store(&self) -> Result<&Arc<dyn ObjectStore>> {
        match &self.cloud {
            None => Ok(&self.store),
            Some(c) => c
                .store
                .get_or_try_init(|| cloud::client(&c.location, &c.options, false)),
        }
    }

    /// The store for put-if-absent: on a cloud location, a client without retries.
    fn exclusive_store(&self) -> Result<&Arc<dyn ObjectStore>> {
        match &self.cloud {
            None => Ok(&self.store),
            Some(c) => c
                .exclusive
                .get_or_try_init(|| cloud::client(&c.location, &c.options, true)),
        }
    }

    pub fn stats(&self) -> &Arc<RequestStats> {
        &self.stats
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

    /// A slot of the in-flight bound, counting the request.
    async fn request(&self, op: Op) -> Result<Option<SemaphorePermit<'_>>> {
        self.stats.count(op, 1);
        match &self.limit {
            None => Ok(None),
            Some(s) => s
                .acquire()
                .await
                .map(Some)
                .map_err(|_| Error::Storage("the request limiter was closed".into())),
        }
    }

    /// The error naming a missing bucket, if `e` says the bucket does not exist.
    fn bucket_error(&self, e: &object_store::Error) -> Option<Error> {
        let Location::Cloud(c) = &self.location else {
            return None;
        };
        remote::missing_bucket(e, &c.bucket, c.scheme.bucket_word(), &c.to_string())
    }

    /// object_store's error, with a missing bucket named as such.
    fn fail(&self, e: object_store::Error) -> Error {
        self.bucket_error(&e).unwrap_or_else(|| Error::from(e))
    }

    /// The whole object, or `None` when it does not exist.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        if let Location::Local(root) = &self.location {
            self.stats.count(Op::Get, 1);
            // Whole-object local reads: one open and read, no hop to a blocking pool. Objects
            // are small (chunks, manifests) and written once, so this never sees a partial file.
            return match local::read(&root.join(key)) {
                Ok(v) => Ok(Some(v)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::Storage(format!("cannot read {key} in {}: {e}", root.display()))),
            };
        }
        let _slot = self.request(Op::Get).await?;
        let got = match self.store()?.get(&self.path(key)).await {
            Ok(r) => r.bytes().await,
            Err(e) => Err(e),
        };
        match got {
            Ok(b) => Ok(Some(b)),
            Err(e @ object_store::Error::NotFound { .. }) => self.bucket_error(&e).map_or(Ok(None), Err),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// A byte range of an object, or `None` when it does not exist.
    pub async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Option<Bytes>> {
        if range.start >= range.end {
            return Ok(self.get(key).await?.map(|_| Bytes::new()));
        }
        let _slot = self.request(Op::Get).await?;
        match self.store()?.get_range(&self.path(key), range).await {
            Ok(b) => Ok(Some(b)),
            Err(e @ object_store::Error::NotFound { .. }) => self.bucket_error(&e).map_or(Ok(None), Err),
            Err(e) => Err(self.fail(e)),
        }
    }

    pub async fn exists(&self, key: &str) -> Result<bool> {
        if let Location::Local(root) = &self.location {
            self.stats.count(Op::Head, 1);
            // The same raw path as `get` and `put_if_absent`: object_store's local backend
            // would map escaped characters ('%' in `refs/branches/a%2Fb`) elsewhere.
            return local::exists(root, key);
        }
        let _slot = self.request(Op::Head).await?;
        match self.store()?.head(&self.path(key)).await {
            Ok(_) => Ok(true),
            Err(e @ object_store::Error::NotFound { .. }) => self.bucket_error(&e).map_or(Ok(false), Err),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Writes `bytes` under `key` only if nothing is there. Returns false if another
    /// writer's object is there.
    ///
    /// On a cloud location a put whose outcome is unknown (timeout, dropped connection,
    /// server error) is resent; "already exists" then may be our own first attempt, so
    /// the key is read back and our bytes there mean it landed. "Already exists" for a
    /// first attempt is final, as is any other definite refusal.
    pub async fn put_if_absent(&self, key: &str, bytes: Bytes) -> Result<bool> {
        if let Location::Local(root) = &self.location {
            self.stats.count(Op::Put, 1);
            return local::put_if_absent(root, key, &bytes);
        }
        self.check_conditional_puts().await?;
        let path = self.path(key);
        let retries = if self.cloud.is_some() {
            remote::LOST_PUT_RETRIES
        } else {
            0
        };
        let mut uncertain = false;
        let mut attempt = 0;
        loop {
            let put = {
                let _slot = self.request(Op::Put).await?;
                let payload = PutPayload::from_bytes(bytes.clone());
                self.exclusive_store()?
                    .put_opts(&path, payload, remote::create_opts())
                    .await
            };
            let err = match put {
                Ok(_) => return Ok(true),
                Err(object_store::Error::AlreadyExists { .. }) if !uncertain => return Ok(false),
                // Exists after a resend: ours if it holds our bytes (gone again: not ours).
                Err(object_store::Error::AlreadyExists { .. }) => {
                    return Ok(remote::compare(self.get(key).await?.as_ref(), &bytes) == Some(true))
                }
                Err(e) => e,
            };
            if !remote::may_have_landed(&err) {
                return Err(self.fail(err));
            }
            uncertain = true;
            if attempt >= retries {
                // Out of resends: what is there now decides, if anything is.
                return match remote::compare(self.get(key).await?.as_ref(), &bytes) {
                    Some(ours) => Ok(ours),
                    None => Err(self.fail(err)),
                };
            }
            tokio::time::sleep(remote::backoff(attempt)).await;
            attempt += 1;
        }
    }

    /// Whether objects live in a local directory (plain system calls, no requests).
    pub fn is_local(&self) -> bool {
        matches!(self.location, Location::Local(_))
    }

    /// `put_immutable` for a local directory, as a blocking call (for a blocking task).
    pub fn put_immutable_local(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let Location::Local(root) = &self.location else {
            return Err(Error::Storage(format!("'{key}': not a local directory")));
        };
        self.stats.count(Op::Put, 1);
        local::put_immutable(root, key, bytes)
    }

    /// Stores a content-addressed object: any object already under `key` holds the same
    /// bytes, so a remote store gets a plain PUT (which its client may safely resend).
    pub async fn put_immutable(&self, key: &str, bytes: Bytes) -> Result<()> {
        if let Location::Local(root) = &self.location {
            self.stats.count(Op::Put, 1);
            return local::put_immutable(root, key, &bytes);
        }
        let _slot = self.request(Op::Put).await?;
        self.store()?
            .put(&self.path(key), PutPayload::from_bytes(bytes))
            .await
            .map(|_| ())
            .map_err(|e| self.fail(e))
    }

    /// Once per storage (and per process and bucket), before the first exclusive write.
    async fn check_conditional_puts(&self) -> Result<()> {
        let (Some(cell), Location::Cloud(c)) = (&self.conditional_checked, &self.location) else {
            return Ok(());
        };
        cell.get_or_try_init(|| async {
            let _slot = self.request(Op::Put).await?;
            self.stats.count(Op::Put, 1);
            self.stats.count(Op::Delete, 1);
            let probe_dir = if self.prefix.is_empty() {
                String::new()
            } else {
                format!("{}/", self.prefix)
            };
            let key = format!("{}\n{}", c.bucket_url(), self.options_key);
            remote::check_conditional_puts(
                self.store()?.as_ref(),
                &format!("{probe_dir}.zarrlake-probe-"),
                &key,
                &c.to_string(),
            )
            .await
            .map_err(|e| match e.kind() {
                "storage" => e.with_note("while checking that the store supports conditional puts"),
                _ => e,
            })
        })
        .await
        .map(|_| ())
    }

    /// All keys below `prefix` (relative to the repo root), sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        if let Location::Local(root) = &self.location {
            let keys = local::list(root, prefix.trim_end_matches('/'))?;
            self.stats.count(Op::List, list_pages(keys.len()));
            return Ok(keys);
        }
        let p = self.path(prefix.trim_end_matches('/'));
        let metas: Vec<_> = {
            let _slot = self.request(Op::List).await?;
            self.store()?
                .list(Some(&p))
                .try_collect()
                .await
                .map_err(|e| self.fail(e))?
        };
        self.stats.count(Op::List, list_pages(metas.len()) - 1);
        let mut keys: Vec<String> = metas.iter().map(|m| self.relative(&m.location)).collect();
        keys.sort();
        Ok(keys)
    }

    /// The names of the immediate "directories" below `prefix`, sorted.
    pub async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        if let Location::Local(root) = &self.location {
            self.stats.count(Op::List, 1);
            return local::list_dirs(root, prefix.trim_end_matches('/'));
        }
        let p = self.path(prefix.trim_end_matches('/'));
        let res = {
            let _slot = self.request(Op::List).await?;
            self.store()?
                .list_with_delimiter(Some(&p))
                .await
                .map_err(|e| self.fail(e))?
        };
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
            self.stats.count(Op::List, 1);
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
        let _slot = self.request(Op::List).await?;
        let mut stream = self.store()?.list_with_offset(Some(&dir_path), &offset);
        let mut seen = 0;
        while out.len() < limit {
            let Some(meta) = stream.try_next().await.map_err(|e| self.fail(e))? else {
                break;
            };
            seen += 1;
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
        self.stats.count(Op::List, list_pages(seen) - 1);
        out.sort();
        out.truncate(limit);
        Ok(out)
    }

    /// Deletes one object; a missing one is not an error.
    pub async fn delete(&self, key: &str) -> Result<()> {
        if let Location::Local(root) = &self.location {
            self.stats.count(Op::Delete, 1);
            return match std::fs::remove_file(root.join(key)) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::Storage(format!(
                    "cannot delete {key} in {}: {e}",
                    root.display()
                ))),
            };
        }
        let _slot = self.request(Op::Delete).await?;
        match self.store()?.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Deletes `keys`, in bulk requests where the store has them (S3: 1,000 per request),
    /// calling `progress(done)` as they go. Missing keys are not an error.
    pub async fn delete_many(&self, keys: &[String], progress: &(dyn Fn(usize) + Send + Sync)) -> Result<()> {
        if matches!(self.location, Location::Local(_)) {
            for (i, key) in keys.iter().enumerate() {
                self.delete(key).await?;
                if (i + 1) % 1000 == 0 {
                    progress(i + 1);
                }
            }
            progress(keys.len());
            return Ok(());
        }
        let bulk = 1000;
        let mut done = 0;
        for batch in keys.chunks(bulk) {
            let _slot = self.request(Op::Delete).await?;
            let paths: Vec<Path> = batch.iter().map(|k| self.path(k)).collect();
            let paths = futures::stream::iter(paths.into_iter().map(Ok)).boxed();
            let mut results = self.store()?.delete_stream(paths);
            while let Some(r) = results.next().await {
                match r {
                    Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(self.fail(e)),
                }
            }
            done += batch.len();
            progress(done);
        }
        Ok(())
    }

    /// Deletes every object of the repo (used only by `delete_repo`), the settings file
    /// last, so that an interrupted delete leaves a repo that can be deleted again.
    pub async fn delete_all(&self, settings_key: &str, progress: &(dyn Fn(usize, usize) + Send + Sync)) -> Result<()> {
        let mut keys = self.list("").await?;
        keys.retain(|k| k != settings_key);
        let total = keys.len() + 1;
        progress(0, total);
        self.delete_many(&keys, &|done| progress(done, total)).await?;
        self.delete(settings_key).await?;
        progress(total, total);
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
        s.delete_all("zarrlake.json", &|_, _| {}).await.unwrap();
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
