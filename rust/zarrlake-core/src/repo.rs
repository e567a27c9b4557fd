//! A repository: its storage, config, object caches, refs and commit graph.

use std::sync::Arc;

use bytes::Bytes;
use quick_cache::sync::Cache;
use quick_cache::Weighter;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::chunks::HashMethod;
use crate::error::{Error, Result};
use crate::format::codec::{self, Kind};
use crate::format::{ChangeSummary, Commit, Manifest, ObjectId, RefVersion, RepoConfig, Snapshot};
use crate::ref_names::{self, looks_like_commit_id, validate_ref_name, COMMIT_ID_LEN};
use crate::refs::VersionedCells;
use crate::storage::{Location, RequestStats, Storage, StorageOptions};

pub const CONFIG_KEY: &str = "zarrlake.json";

#[derive(Clone)]
pub struct Repository {
    pub(crate) inner: Arc<RepoInner>,
}

/// Refs the manifest cache holds (~70 bytes each in memory).
const CACHED_MANIFEST_REFS: u64 = 1 << 21;
/// Keys the change-summary cache holds.
const CACHED_SUMMARY_KEYS: u64 = 1 << 20;

/// Weighs a cached object by its entries.
#[derive(Clone, Copy)]
struct ByEntries;

impl Weighter<ObjectId, Arc<Manifest>> for ByEntries {
    fn weight(&self, _: &ObjectId, m: &Arc<Manifest>) -> u64 {
        m.len() as u64 + 1
    }
}

impl Weighter<ObjectId, Arc<ChangeSummary>> for ByEntries {
    fn weight(&self, _: &ObjectId, c: &Arc<ChangeSummary>) -> u64 {
        (c.keys.len() + c.deleted_nodes.len()) as u64 + 1
    }
}

pub(crate) struct RepoInner {
    pub storage: Storage,
    /// Where chunk objects live: `storage` itself, or the repo's separate chunk location.
    pub chunk_storage: Storage,
    pub config: RepoConfig,
    pub hash: HashMethod,
    pub cells: VersionedCells,
    commits: Cache<ObjectId, Arc<Commit>>,
    snapshots: Cache<ObjectId, Arc<Snapshot>>,
    /// Weighed by refs and keys, not counted: one manifest or summary can hold 10 or 1e7.
    manifests: Cache<ObjectId, Arc<Manifest>, ByEntries>,
    changes: Cache<ObjectId, Arc<ChangeSummary>, ByEntries>,
    /// Snapshot ids that branch versions named for their commits (see `RefVersion::snapshot`).
    snapshot_ids: Cache<ObjectId, ObjectId>,
    /// Virtual URL prefixes this client allows on top of the repo config's.
    virtual_allow: parking_lot::RwLock<Vec<String>>,
}

/// How to reach a repo's storage: client options for its location and, when the repo
/// keeps chunks elsewhere, for that location (the same options when `None`).
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    pub storage: StorageOptions,
    pub chunk_storage: Option<StorageOptions>,
}

impl OpenOptions {
    pub(crate) fn chunk_options(&self) -> &StorageOptions {
        self.chunk_storage.as_ref().unwrap_or(&self.storage)
    }
}

/// What a ref names: a commit (none for an empty `main`) and, for a branch, its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub commit: Option<ObjectId>,
    pub branch: Option<String>,
}

/// The author recorded on commits and tags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Author {
    pub name: String,
    pub email: String,
}

const BRANCHES_DIR: &str = "refs/branches";
const TAGS_DIR: &str = "refs/tags";
const COMMITS_DIR: &str = "commits";
/// The top-level directories of a repo's objects.
const REPO_DIRS: [&str; 8] = [
    "chunks",
    "manifests",
    "snapshots",
    "commits",
    "changes",
    "refs",
    "sessions",
    "gc",
];
/// How many candidates an ambiguous commit-id prefix error names.
const AMBIGUOUS_SHOWN: usize = 5;

/// One directory per branch, a '/' in its name encoded (`refs/branches/feature%2Fx`).
fn branch_cell(name: &str) -> String {
    format!("{BRANCHES_DIR}/{}", ref_names::cell_name(name))
}

fn tag_cell(name: &str) -> String {
    format!("{TAGS_DIR}/{}", ref_names::cell_name(name))
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Repository({})", self.inner.storage.location())
    }
}

impl Repository {
    fn from_parts(storage: Storage, config: RepoConfig, opts: &OpenOptions) -> Result<Self> {
        let hash = HashMethod::parse(&config.hash_method)?;
        let chunk_storage = match &config.chunk_location {
            None => storage.clone(),
            Some(url) => Storage::open_with(&Location::parse(url)?, opts.chunk_options(), storage.stats().clone())?,
        };
        Ok(Repository {
            inner: Arc::new(RepoInner {
                cells: VersionedCells::new(storage.clone()),
                storage,
                chunk_storage,
                config,
                hash,
                commits: Cache::new(10_000),
                snapshot_ids: Cache::new(10_000),
                snapshots: Cache::new(64),
                manifests: Cache::with_weighter(256, CACHED_MANIFEST_REFS, ByEntries),
                changes: Cache::with_weighter(256, CACHED_SUMMARY_KEYS, ByEntries),
                virtual_allow: parking_lot::RwLock::new(Vec::new()),
            }),
        })
    }

    pub(crate) fn storage_at(location: &str, opts: &OpenOptions) -> Result<(Location, Storage)> {
        let loc = Location::parse(location)?;
        let storage = Storage::open_with(&loc, &opts.storage, Arc::new(RequestStats::default()))?;
        Ok((loc, storage))
    }

    /// Creates a repo. Fails with `RepoExists` if one is already there.
    pub async fn create(location: &str, config: RepoConfig) -> Result<Self> {
        Self::create_with(location, config, &OpenOptions::default()).await
    }

    pub async fn create_with(location: &str, mut config: RepoConfig, opts: &OpenOptions) -> Result<Self> {
        config.validate()?;
        let (loc, storage) = Self::storage_at(location, opts)?;
        if let Some(chunks) = &config.chunk_location {
            let chunks = Location::parse(chunks)?;
            if chunks == loc {
                return Err(Error::InvalidInput(format!(
                    "the chunk location {chunks} is the repo location itself: leave it unset to keep chunks in the repo"
                )));
            }
            // Recorded absolute: every opener, whatever its working directory, finds it.
            config.chunk_location = Some(chunks.to_string());
        }
        if storage.get(CONFIG_KEY).await?.is_none() && loc.is_local_dir_nonempty() {
            return Err(Error::InvalidInput(format!(
                "cannot create a repo at {loc}: the directory is not empty and holds no zarrlake repo"
            )));
        }
        // Built before the settings are stored: a bad chunk location writes nothing.
        let repo = Self::from_parts(storage.clone(), config.clone(), opts)?;
        if !storage.put_if_absent(CONFIG_KEY, config.to_json()?).await? {
            return Err(Error::RepoExists(format!("a repo already exists at {loc}")));
        }
        Ok(repo)
    }

    /// Opens an existing repo, `RepoNotFound` if there is none.
    pub async fn open(location: &str) -> Result<Self> {
        Self::open_with(location, &OpenOptions::default()).await
    }

    pub async fn open_with(location: &str, opts: &OpenOptions) -> Result<Self> {
        let loc = Location::parse(location)?;
        if let Location::Local(p) = &loc {
            if !p.join(CONFIG_KEY).exists() && !loc.is_local_dir_nonempty() {
                return Err(Error::RepoNotFound(format!("no zarrlake repo at {loc}")));
            }
        }
        let (loc, storage) = Self::storage_at(location, opts)?;
        let Some(bytes) = storage.get(CONFIG_KEY).await? else {
            return Err(Self::missing_config(&storage, &loc).await);
        };
        let config = RepoConfig::from_json(CONFIG_KEY, &bytes)?;
        // Here and not in `create`: a new repo holds no dead writers' files.
        storage.collect_stale_temp_files();
        Self::from_parts(storage, config, opts)
    }

    /// No settings file: no repo, unless repo objects are there, which lost it.
    async fn missing_config(storage: &Storage, loc: &Location) -> Error {
        match storage.list_dirs("").await {
            Ok(dirs) if dirs.iter().any(|d| REPO_DIRS.contains(&d.as_str())) => Error::corrupt(
                CONFIG_KEY,
                format!("the repo settings are missing at {loc}, but repo objects are there"),
            ),
            Ok(_) => Error::RepoNotFound(format!("no zarrlake repo at {loc}")),
            Err(e) => e,
        }
    }

    pub(crate) fn cells(&self) -> &VersionedCells {
        &self.inner.cells
    }

    /// The keys of the repo's objects under `prefix` (for tests and diagnostics).
    pub async fn object_keys(&self, prefix: &str) -> Result<Vec<String>> {
        self.inner.storage.list(prefix).await
    }

    /// Requests this handle has made, per kind (`get`, `put`, `head`, `list`, `delete`).
    pub fn request_counts(&self) -> Vec<(&'static str, u64)> {
        self.inner.storage.stats().snapshot()
    }

    pub fn reset_request_counts(&self) {
        self.inner.storage.stats().reset();
    }

    pub fn config(&self) -> &RepoConfig {
        &self.inner.config
    }

    pub fn location(&self) -> String {
        self.inner.storage.location().to_string()
    }

    /// Lets this handle read virtual chunks under `prefixes` (in addition to the repo's).
    pub fn allow_virtual(&self, prefixes: Vec<String>) {
        let mut allow = self.inner.virtual_allow.write();
        for p in prefixes {
            if !allow.contains(&p) {
                allow.push(p);
            }
        }
    }

    /// Every prefix virtual chunks may be read from: the repo config's plus this handle's.
    pub fn allowed_virtual_prefixes(&self) -> Vec<String> {
        let mut all = self.inner.config.virtual_prefixes.clone();
        all.extend(self.inner.virtual_allow.read().iter().cloned());
        all
    }

    pub(crate) fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    pub(crate) fn chunk_storage(&self) -> &Storage {
        &self.inner.chunk_storage
    }

    // ---- immutable objects, cached -------------------------------------------------

    /// An immutable object by id, through `cache`: concurrent loads of one object (say,
    /// the chunk reads of one manifest) share one read. A missing one is corruption.
    async fn load_cached<T: DeserializeOwned + Send + Sync + 'static, W: Weighter<ObjectId, Arc<T>> + Clone>(
        &self,
        cache: &Cache<ObjectId, Arc<T>, W>,
        id: &ObjectId,
        kind: Kind,
        dir: &str,
        missing: &str,
    ) -> Result<Arc<T>> {
        cache
            .get_or_insert_async(id, async {
                let key = format!("{dir}/{id}");
                let v: T = self
                    .load(kind, &key)
                    .await?
                    .ok_or_else(|| Error::corrupt(&key, missing))?;
                Ok(Arc::new(v))
            })
            .await
    }

    async fn load<T: DeserializeOwned + Send + 'static>(&self, kind: Kind, key: &str) -> Result<Option<T>> {
        match self.inner.storage.get(key).await? {
            None => Ok(None),
            Some(b) => {
                let k = key.to_string();
                // Large objects decode off the async workers.
                let v = if b.len() > 64 * 1024 {
                    tokio::task::spawn_blocking(move || codec::decode(kind, &k, &b)).await??
                } else {
                    codec::decode(kind, &k, &b)?
                };
                Ok(Some(v))
            }
        }
    }

    pub(crate) async fn write_object<T: Serialize + Send + Sync + 'static>(
        &self,
        kind: Kind,
        key: String,
        value: Arc<T>,
    ) -> Result<()> {
        let bytes: Bytes = tokio::task::spawn_blocking(move || codec::encode(kind, value.as_ref())).await??;
        self.inner.storage.put_if_absent(&key, bytes).await?;
        Ok(())
    }

    /// A commit that a ref or another commit names: a missing one is corruption. For an id
    /// a user gave, check `commit_exists` first.
    pub async fn load_commit(&self, id: &ObjectId) -> Result<Arc<Commit>> {
        let missing = "commit object is missing, but a ref or commit names it";
        self.load_cached(&self.inner.commits, id, Kind::Commit, "commits", missing)
            .await
    }

    pub(crate) async fn write_commit(&self, c: Commit) -> Result<Arc<Commit>> {
        let c = Arc::new(c);
        self.write_object(Kind::Commit, format!("commits/{}", c.id), c.clone())
            .await?;
        self.inner.commits.insert(c.id, c.clone());
        Ok(c)
    }

    /// The change summary of a commit (read only for conflict checks and diffs).
    pub async fn load_changes(&self, id: &ObjectId) -> Result<Arc<ChangeSummary>> {
        if let Some(c) = self.inner.changes.get(id) {
            return Ok(c);
        }
        if let Some(inline) = &self.load_commit(id).await?.changes {
            let c = Arc::new(inline.clone());
            self.inner.changes.insert(*id, c.clone());
            return Ok(c);
        }
        let key = format!("changes/{id}");
        let c: ChangeSummary = self
            .load(Kind::Changes, &key)
            .await?
            .ok_or_else(|| Error::corrupt(&key, "change summary is missing"))?;
        let c = Arc::new(c);
        self.inner.changes.insert(*id, c.clone());
        Ok(c)
    }

    pub(crate) async fn write_changes(&self, id: ObjectId, c: Arc<ChangeSummary>) -> Result<()> {
        self.write_object(Kind::Changes, format!("changes/{id}"), c.clone())
            .await?;
        self.inner.changes.insert(id, c);
        Ok(())
    }

    pub async fn load_snapshot(&self, id: &ObjectId) -> Result<Arc<Snapshot>> {
        let missing = "snapshot object is missing";
        self.load_cached(&self.inner.snapshots, id, Kind::Snapshot, "snapshots", missing)
            .await
    }

    pub(crate) async fn write_snapshot(&self, id: ObjectId, s: Arc<Snapshot>) -> Result<()> {
        self.write_object(Kind::Snapshot, format!("snapshots/{id}"), s.clone())
            .await?;
        self.inner.snapshots.insert(id, s);
        Ok(())
    }

    /// The snapshot of a commit, or the empty snapshot for no commit.
    pub async fn snapshot_of(&self, commit: Option<ObjectId>) -> Result<Arc<Snapshot>> {
        match commit {
            None => Ok(Arc::new(Snapshot::default())),
            Some(id) => {
                // A branch version that named the snapshot saves reading the commit record
                // first (checkout, log and diff read it when they need its fields).
                let snapshot = match self.inner.snapshot_ids.get(&id) {
                    Some(s) => s,
                    None => self.load_commit(&id).await?.snapshot,
                };
                self.load_snapshot(&snapshot).await
            }
        }
    }

    pub async fn load_manifest(&self, id: &ObjectId) -> Result<Arc<Manifest>> {
        let missing = "manifest object is missing";
        self.load_cached(&self.inner.manifests, id, Kind::Manifest, "manifests", missing)
            .await
    }

    /// Stores a manifest; `cache` keeps it for reads too (not for the bulk of a large
    /// commit, whose manifests would only push out the ones being read).
    pub(crate) async fn write_manifest(&self, id: ObjectId, m: Arc<Manifest>, cache: bool) -> Result<()> {
        self.write_object(Kind::Manifest, format!("manifests/{id}"), m.clone())
            .await?;
        if cache {
            self.inner.manifests.insert(id, m);
        }
        Ok(())
    }

    // ---- refs -----------------------------------------------------------------------

    /// The branch's newest version: its seq (0 if none) and commit (None if missing or deleted).
    pub async fn branch_tip(&self, name: &str) -> Result<(u64, Option<ObjectId>)> {
        match self
            .inner
            .cells
            .latest::<RefVersion>(Kind::Ref, &branch_cell(name))
            .await?
        {
            None => Ok((0, None)),
            Some((seq, v)) => Ok((seq, self.tip_of(v))),
        }
    }

    /// The commit a branch version points at, noting the snapshot it names.
    fn tip_of(&self, v: RefVersion) -> Option<ObjectId> {
        if v.deleted {
            return None;
        }
        if let (Some(c), Some(s)) = (v.commit, v.snapshot) {
            self.inner.snapshot_ids.insert(c, s);
        }
        v.commit
    }

    /// The branch tip as this process last saw it, without a request (`None`: never
    /// seen). A commit puts the next version on top of it; the put-if-absent fails if the
    /// branch moved, and only then is the tip searched.
    pub(crate) fn branch_tip_hint(&self, name: &str) -> Option<(u64, Option<ObjectId>)> {
        let cell = branch_cell(name);
        if self.inner.cells.known_empty(&cell) {
            return Some((0, None));
        }
        let (seq, v) = self.inner.cells.last_seen::<RefVersion>(Kind::Ref, &cell)?;
        Some((seq, self.tip_of(v)))
    }

    pub(crate) async fn put_branch_version(&self, name: &str, after: u64, v: &RefVersion) -> Result<bool> {
        self.inner.cells.put_next(Kind::Ref, &branch_cell(name), after, v).await
    }

    async fn tag_version(&self, name: &str) -> Result<(u64, Option<RefVersion>)> {
        match self
            .inner
            .cells
            .latest::<RefVersion>(Kind::Ref, &tag_cell(name))
            .await?
        {
            None => Ok((0, None)),
            Some((seq, v)) => Ok((seq, if v.deleted { None } else { Some(v) })),
        }
    }

    pub async fn branch_exists(&self, name: &str) -> Result<bool> {
        if !ref_names::is_storable(name) {
            return Ok(false);
        }
        Ok(self.branch_tip(name).await?.1.is_some())
    }

    pub async fn tag_exists(&self, name: &str) -> Result<bool> {
        if !ref_names::is_storable(name) {
            return Ok(false);
        }
        Ok(self.tag_version(name).await?.1.is_some())
    }

    pub async fn commit_exists(&self, id: &ObjectId) -> Result<bool> {
        if self.inner.commits.get(id).is_some() {
            return Ok(true);
        }
        self.inner.storage.exists(&format!("commits/{id}")).await
    }

    /// Resolves a ref: branch, then `main` (which exists in an empty repo), then tag,
    /// then commit id or unique prefix of one (8-24 hex characters, which branch and tag
    /// names cannot be). A branch or tag with such a name from before that rule is found
    /// only when no commit matches.
    pub async fn resolve(&self, r: &str) -> Result<Resolved> {
        if validate_ref_name("ref", r).is_ok() {
            if let Some(res) = self.resolve_name(r).await? {
                return Ok(res);
            }
        }
        if looks_like_commit_id(r) {
            return match self.resolve_commit(r).await {
                Ok(id) => Ok(Resolved {
                    commit: Some(id),
                    branch: None,
                }),
                Err(e @ Error::RefNotFound(_)) => match self.resolve_name(r).await? {
                    Some(res) => Ok(res),
                    None => Err(e),
                },
                Err(e) => Err(e),
            };
        }
        Err(Error::RefNotFound(format!(
            "Ref '{r}' was not found in branches, tags, or commits."
        )))
    }

    /// A live branch named `name`, else `main` (which exists in an empty repo), else a live tag.
    async fn resolve_name(&self, name: &str) -> Result<Option<Resolved>> {
        if let (_, Some(c)) = self.branch_tip(name).await? {
            return Ok(Some(Resolved {
                commit: Some(c),
                branch: Some(name.to_string()),
            }));
        }
        if name == "main" {
            return Ok(Some(Resolved {
                commit: None,
                branch: Some("main".into()),
            }));
        }
        if let (_, Some(v)) = self.tag_version(name).await? {
            return Ok(Some(Resolved {
                commit: v.commit,
                branch: None,
            }));
        }
        Ok(None)
    }

    /// The commit named by a full id or a unique prefix of one (8-24 hex characters, any
    /// case). An unknown id or prefix is `RefNotFound`, an ambiguous prefix `InvalidInput`.
    pub async fn resolve_commit(&self, s: &str) -> Result<ObjectId> {
        if !looks_like_commit_id(s) {
            return Err(Error::InvalidInput(format!(
                "'{s}' is not a commit id or a prefix of one (8-24 hex characters)"
            )));
        }
        if s.len() == COMMIT_ID_LEN {
            let id: ObjectId = s.parse()?;
            if self.commit_exists(&id).await? {
                return Ok(id);
            }
            return Err(Error::RefNotFound(format!(
                "Commit {s} was not found in commit history."
            )));
        }
        let prefix = s.to_ascii_lowercase();
        let keys = self
            .inner
            .storage
            .list_names_with_prefix(COMMITS_DIR, &prefix, AMBIGUOUS_SHOWN + 1)
            .await?;
        let ids: Vec<ObjectId> = keys
            .iter()
            .filter_map(|k| k.rsplit('/').next().and_then(|n| n.parse().ok()))
            .collect();
        match ids.as_slice() {
            [] => Err(Error::RefNotFound(format!(
                "No commit id starts with '{prefix}' in commit history."
            ))),
            [id] => Ok(*id),
            many => {
                let shown: Vec<String> = many.iter().take(AMBIGUOUS_SHOWN).map(|c| c.to_string()).collect();
                let more = if many.len() > AMBIGUOUS_SHOWN { ", ..." } else { "" };
                Err(Error::InvalidInput(format!(
                    "Commit id prefix '{prefix}' is ambiguous: it matches {}{more}; use more characters.",
                    shown.join(", ")
                )))
            }
        }
    }

    async fn names_with_live_tip(&self, dir: &str, is_branch: bool) -> Result<Vec<(String, Option<ObjectId>)>> {
        let cells = self.inner.storage.list_dirs(dir).await?;
        let mut out = Vec::new();
        for cell in cells {
            let n = ref_names::name_from_cell(&cell);
            let tip = if is_branch {
                self.branch_tip(&n).await?.1
            } else {
                self.tag_version(&n).await?.1.and_then(|v| v.commit)
            };
            if let Some(c) = tip {
                out.push((n, Some(c)));
            }
        }
        // Sorted by name, not by cell: '/' and its encoding sort differently.
        out.sort();
        Ok(out)
    }

    /// Branches that exist (have a commit), sorted by name.
    pub async fn branches(&self) -> Result<Vec<(String, Option<ObjectId>)>> {
        self.names_with_live_tip(BRANCHES_DIR, true).await
    }

    pub async fn tags(&self) -> Result<Vec<(String, Option<ObjectId>)>> {
        self.names_with_live_tip(TAGS_DIR, false).await
    }

    pub async fn create_branch(&self, name: &str, commit: ObjectId) -> Result<()> {
        validate_ref_name("branch", name)?;
        if self.tag_exists(name).await? {
            return Err(Error::RefExists(format!(
                "Branch '{name}' cannot be created: a tag of the same name already exists."
            )));
        }
        let (seq, tip) = self.branch_tip(name).await?;
        if tip.is_some() {
            return Err(Error::RefExists(format!("Branch '{name}' already exists.")));
        }
        let v = RefVersion::pointing(commit);
        if !self.put_branch_version(name, seq, &v).await? {
            return Err(Error::RefExists(format!("Branch '{name}' already exists.")));
        }
        Ok(())
    }

    pub async fn delete_branch(&self, name: &str) -> Result<()> {
        if name == "main" {
            return Err(Error::InvalidInput("Deleting the 'main' branch is not allowed.".into()));
        }
        if !ref_names::is_storable(name) {
            return Err(Error::RefNotFound(format!("Branch '{name}' does not exist.")));
        }
        loop {
            let (seq, tip) = self.branch_tip(name).await?;
            if tip.is_none() {
                return Err(Error::RefNotFound(format!("Branch '{name}' does not exist.")));
            }
            let v = RefVersion::tombstone();
            if self.put_branch_version(name, seq, &v).await? {
                return Ok(());
            }
        }
    }

    pub async fn create_tag(
        &self,
        name: &str,
        commit: ObjectId,
        message: Option<String>,
        author: &Author,
    ) -> Result<()> {
        validate_ref_name("tag", name)?;
        if self.branch_exists(name).await? || name == "main" {
            return Err(Error::RefExists(format!(
                "Cannot create tag '{name}' because a branch of the same name already exists."
            )));
        }
        let (seq, existing) = self.tag_version(name).await?;
        let exists = Error::RefExists(format!("Tag '{name}' already exists; tags are immutable."));
        if existing.is_some() {
            return Err(exists);
        }
        if !self.commit_exists(&commit).await? {
            return Err(Error::RefNotFound(format!(
                "Commit {commit} was not found in commit history."
            )));
        }
        let v = RefVersion {
            message,
            author_name: Some(author.name.clone()),
            author_email: Some(author.email.clone()),
            ..RefVersion::pointing(commit)
        };
        if !self.inner.cells.put_next(Kind::Ref, &tag_cell(name), seq, &v).await? {
            return Err(exists);
        }
        Ok(())
    }

    pub async fn delete_tag(&self, name: &str) -> Result<()> {
        let missing = || Error::RefNotFound(format!("Tag '{name}' does not exist."));
        if !ref_names::is_storable(name) {
            return Err(missing());
        }
        let (seq, existing) = self.tag_version(name).await?;
        if existing.is_none() {
            return Err(missing());
        }
        let v = RefVersion::tombstone();
        if !self.inner.cells.put_next(Kind::Ref, &tag_cell(name), seq, &v).await? {
            return Err(missing());
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) async fn memory_repo() -> Repository {
        let loc = format!("memory://repo-test-{}", ObjectId::new());
        Repository::create(&loc, RepoConfig::default()).await.unwrap()
    }

    /// Writes a commit with a chosen id (prefix tests need ids that share prefixes).
    pub(crate) async fn fake_commit(repo: &Repository, hex: &str, parent: Option<ObjectId>, time: i64) -> ObjectId {
        let id: ObjectId = hex.parse().unwrap();
        let c = Commit {
            session: None,
            id,
            parent,
            snapshot: ObjectId::new(),
            message: format!("commit {hex}"),
            author_name: "Ada".into(),
            author_email: "ada@example.org".into(),
            time_micros: time,
            session_start_micros: time,
            changes: None,
        };
        repo.write_commit(c).await.unwrap();
        id
    }

    fn author() -> Author {
        Author {
            name: "Ada".into(),
            email: "ada@example.org".into(),
        }
    }

    #[tokio::test]
    async fn unique_commit_prefixes_resolve_and_others_fail_clearly() {
        let repo = memory_repo().await;
        let a = fake_commit(&repo, "65a1b2c3d4e5f60718293a4b", None, 1).await;
        let b = fake_commit(&repo, "65a1b2c3d4e5f60718293a4c", Some(a), 2).await;
        let c = fake_commit(&repo, "77000000000000000000000a", Some(b), 3).await;
        // Fresh handle: nothing cached, the prefix must be found in storage.
        let repo = Repository::open(&repo.location()).await.unwrap();
        assert_eq!(repo.resolve_commit("77000000").await.unwrap(), c);
        assert_eq!(repo.resolve_commit("65A1B2C3D4E5F60718293A4B").await.unwrap(), a);
        assert_eq!(repo.resolve_commit("65a1b2c3d4e5f60718293a4c").await.unwrap(), b);
        let r = repo.resolve("65A1B2C3D4E5F60718293a4").await.unwrap_err();
        assert_eq!(r.kind(), "invalid_input");
        let msg = r.to_string();
        assert!(
            msg.contains("ambiguous") && msg.contains(&a.to_string()) && msg.contains(&b.to_string()),
            "{msg}"
        );
        let res = repo.resolve("7700000000").await.unwrap();
        assert_eq!((res.commit, res.branch), (Some(c), None));
        for unknown in ["65a1b2c4", "ffffffffffff", "ffffffffffffffffffffffff"] {
            assert_eq!(
                repo.resolve(unknown).await.unwrap_err().kind(),
                "ref_not_found",
                "{unknown}"
            );
            assert_eq!(repo.resolve_commit(unknown).await.unwrap_err().kind(), "ref_not_found");
        }
        // Too short to be a prefix, or not hex: not a commit.
        assert_eq!(repo.resolve("7700000").await.unwrap_err().kind(), "ref_not_found");
        for bad in ["7700000", "7700000g", "", "77000000000000000000000a0"] {
            assert_eq!(
                repo.resolve_commit(bad).await.unwrap_err().kind(),
                "invalid_input",
                "{bad:?}"
            );
        }
    }

    #[tokio::test]
    async fn ambiguous_prefixes_name_at_most_five_candidates() {
        let repo = memory_repo().await;
        let mut ids = Vec::new();
        for i in 0..7 {
            ids.push(fake_commit(&repo, &format!("65a1b2c3d4e5f6071829300{i}"), None, i).await);
        }
        let msg = repo.resolve_commit("65a1b2c3").await.unwrap_err().to_string();
        for id in &ids[..5] {
            assert!(msg.contains(&id.to_string()), "{msg}");
        }
        assert!(!msg.contains(&ids[5].to_string()) && msg.contains("..."), "{msg}");
    }

    #[tokio::test]
    async fn names_with_slashes_are_one_cell_and_list_decoded() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("r").display().to_string();
        for loc in [local, format!("memory://repo-test-{}", ObjectId::new())] {
            let repo = Repository::create(&loc, RepoConfig::default()).await.unwrap();
            let c1 = fake_commit(&repo, &ObjectId::new().to_string(), None, 1).await;
            for b in ["feature", "feature/x", "feature/x/y", "feature-x", "main"] {
                repo.create_branch(b, c1).await.unwrap();
            }
            repo.create_tag("release/v1", c1, None, &author()).await.unwrap();
            let storage = repo.storage();
            assert_eq!(
                storage.list_dirs("refs/branches").await.unwrap(),
                vec!["feature", "feature%2Fx", "feature%2Fx%2Fy", "feature-x", "main"]
            );
            assert_eq!(
                storage.list("refs/branches/feature").await.unwrap(),
                vec![
                    "refs/branches/feature/00000000000000000001",
                    "refs/branches/feature/00000000000000000001.w"
                ],
                "a branch's cell holds only its versions and their witnesses"
            );
            let fresh = Repository::open(&loc).await.unwrap();
            let names: Vec<String> = fresh.branches().await.unwrap().into_iter().map(|(n, _)| n).collect();
            assert_eq!(names, vec!["feature", "feature-x", "feature/x", "feature/x/y", "main"]);
            assert_eq!(fresh.tags().await.unwrap(), vec![("release/v1".to_string(), Some(c1))]);
            let r = fresh.resolve("feature/x").await.unwrap();
            assert_eq!((r.commit, r.branch.as_deref()), (Some(c1), Some("feature/x")));
            assert_eq!(fresh.resolve("release/v1").await.unwrap().commit, Some(c1));
            fresh.delete_branch("feature/x").await.unwrap();
            assert!(!fresh.branch_exists("feature/x").await.unwrap());
            assert!(fresh.branch_exists("feature/x/y").await.unwrap());
            fresh.delete_tag("release/v1").await.unwrap();
            assert!(fresh.tags().await.unwrap().is_empty());
            for bad in ["a//b", "/a", "a/", "a/../b", "./a"] {
                assert_eq!(fresh.create_branch(bad, c1).await.unwrap_err().kind(), "invalid_name");
                assert_eq!(
                    fresh.create_tag(bad, c1, None, &author()).await.unwrap_err().kind(),
                    "invalid_name"
                );
            }
        }
    }

    #[tokio::test]
    async fn commit_id_names_are_refused_and_commits_win_over_old_ones() {
        let repo = memory_repo().await;
        let c1 = fake_commit(&repo, "65a1b2c3d4e5f60718293a4b", None, 1).await;
        let c2 = fake_commit(&repo, "66000000000000000000000b", Some(c1), 2).await;
        for name in [c2.to_string(), "66000000".to_string(), "DEADBEEF".to_string()] {
            let e = repo.create_tag(&name, c1, None, &author()).await.unwrap_err();
            assert_eq!(e.kind(), "invalid_name");
            assert!(e.to_string().contains("ambiguous with commit ids"), "{e}");
            assert_eq!(repo.create_branch(&name, c1).await.unwrap_err().kind(), "invalid_name");
        }
        // Older versions allowed such names: write them as those did.
        for name in [c2.to_string(), "20240101".to_string()] {
            let v = RefVersion::pointing(c1);
            assert!(repo
                .inner
                .cells
                .put_next(Kind::Ref, &tag_cell(&name), 0, &v)
                .await
                .unwrap());
        }
        assert_eq!(repo.resolve(&c2.to_string()).await.unwrap().commit, Some(c2));
        assert_eq!(repo.resolve("20240101").await.unwrap().commit, Some(c1));
        assert_eq!(repo.tags().await.unwrap().len(), 2);
        repo.delete_tag("20240101").await.unwrap();
        assert_eq!(repo.resolve("20240101").await.unwrap_err().kind(), "ref_not_found");
    }
}
