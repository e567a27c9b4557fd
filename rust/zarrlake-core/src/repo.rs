//! A repository: its storage, config, object caches, refs and commit graph.

use std::sync::Arc;

use bytes::Bytes;
use quick_cache::sync::Cache;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::chunks::HashMethod;
use crate::error::{Error, Result};
use crate::format::codec::{self, Kind};
use crate::format::{ChangeSummary, Commit, Manifest, ObjectId, RefVersion, RepoConfig, Snapshot};
use crate::keys::validate_ref_name;
use crate::refs::VersionedCells;
use crate::storage::{Location, Storage};

pub const CONFIG_KEY: &str = "zarrlake.json";

#[derive(Clone)]
pub struct Repository {
    pub(crate) inner: Arc<RepoInner>,
}

pub(crate) struct RepoInner {
    pub storage: Storage,
    pub config: RepoConfig,
    pub hash: HashMethod,
    pub cells: VersionedCells,
    commits: Cache<ObjectId, Arc<Commit>>,
    snapshots: Cache<ObjectId, Arc<Snapshot>>,
    manifests: Cache<ObjectId, Arc<Manifest>>,
    changes: Cache<ObjectId, Arc<ChangeSummary>>,
    /// Virtual URL prefixes this client allows on top of the repo config's.
    virtual_allow: parking_lot::RwLock<Vec<String>>,
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

fn branch_cell(name: &str) -> String {
    format!("refs/branches/{name}")
}

fn tag_cell(name: &str) -> String {
    format!("refs/tags/{name}")
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Repository({})", self.inner.storage.location())
    }
}

impl Repository {
    fn from_parts(storage: Storage, config: RepoConfig) -> Result<Self> {
        let hash = HashMethod::parse(&config.hash_method)?;
        Ok(Repository {
            inner: Arc::new(RepoInner {
                cells: VersionedCells::new(storage.clone()),
                storage,
                config,
                hash,
                commits: Cache::new(10_000),
                snapshots: Cache::new(64),
                manifests: Cache::new(512),
                changes: Cache::new(256),
                virtual_allow: parking_lot::RwLock::new(Vec::new()),
            }),
        })
    }

    /// Creates a repo. Fails with `RepoExists` if one is already there.
    pub async fn create(location: &str, config: RepoConfig) -> Result<Self> {
        config.validate()?;
        let loc = Location::parse(location)?;
        let storage = Storage::open(&loc)?;
        if storage.get(CONFIG_KEY).await?.is_none() && loc.is_local_dir_nonempty() {
            return Err(Error::InvalidInput(format!(
                "cannot create a repo at {loc}: the directory is not empty and holds no zarrlake repo"
            )));
        }
        if !storage.put_if_absent(CONFIG_KEY, config.to_json()?).await? {
            return Err(Error::RepoExists(format!("a repo already exists at {loc}")));
        }
        Self::from_parts(storage, config)
    }

    /// Opens an existing repo, `RepoNotFound` if there is none.
    pub async fn open(location: &str) -> Result<Self> {
        let loc = Location::parse(location)?;
        if let Location::Local(p) = &loc {
            if !p.join(CONFIG_KEY).exists() {
                return Err(Error::RepoNotFound(format!("no zarrlake repo at {loc}")));
            }
        }
        let storage = Storage::open(&loc)?;
        let bytes = storage
            .get(CONFIG_KEY)
            .await?
            .ok_or_else(|| Error::RepoNotFound(format!("no zarrlake repo at {loc}")))?;
        let config = RepoConfig::from_json(CONFIG_KEY, &bytes)?;
        Self::from_parts(storage, config)
    }

    pub async fn exists(location: &str) -> Result<bool> {
        let loc = Location::parse(location)?;
        if let Location::Local(p) = &loc {
            return Ok(p.join(CONFIG_KEY).exists());
        }
        Storage::open(&loc)?.exists(CONFIG_KEY).await
    }

    /// Deletes the repo and everything in it.
    pub async fn delete(location: &str) -> Result<()> {
        let loc = Location::parse(location)?;
        if !Self::exists(location).await? {
            return Err(Error::RepoNotFound(format!("no zarrlake repo at {loc}")));
        }
        Storage::open(&loc)?.delete_all().await
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

    // ---- immutable objects, cached -------------------------------------------------

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

    pub async fn load_commit(&self, id: &ObjectId) -> Result<Arc<Commit>> {
        if let Some(c) = self.inner.commits.get(id) {
            return Ok(c);
        }
        let key = format!("commits/{id}");
        let c: Commit = self
            .load(Kind::Commit, &key)
            .await?
            .ok_or_else(|| Error::RefNotFound(format!("Commit {id} was not found in commit history.")))?;
        let c = Arc::new(c);
        self.inner.commits.insert(*id, c.clone());
        Ok(c)
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
        if let Some(s) = self.inner.snapshots.get(id) {
            return Ok(s);
        }
        let key = format!("snapshots/{id}");
        let s: Snapshot = self
            .load(Kind::Snapshot, &key)
            .await?
            .ok_or_else(|| Error::corrupt(&key, "snapshot object is missing"))?;
        let s = Arc::new(s);
        self.inner.snapshots.insert(*id, s.clone());
        Ok(s)
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
                let c = self.load_commit(&id).await?;
                self.load_snapshot(&c.snapshot).await
            }
        }
    }

    pub async fn load_manifest(&self, id: &ObjectId) -> Result<Arc<Manifest>> {
        if let Some(m) = self.inner.manifests.get(id) {
            return Ok(m);
        }
        let key = format!("manifests/{id}");
        let m: Manifest = self
            .load(Kind::Manifest, &key)
            .await?
            .ok_or_else(|| Error::corrupt(&key, "manifest object is missing"))?;
        let m = Arc::new(m);
        self.inner.manifests.insert(*id, m.clone());
        Ok(m)
    }

    pub(crate) async fn write_manifest(&self, id: ObjectId, m: Arc<Manifest>) -> Result<()> {
        self.write_object(Kind::Manifest, format!("manifests/{id}"), m.clone())
            .await?;
        self.inner.manifests.insert(id, m);
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
            Some((seq, v)) => Ok((seq, if v.deleted { None } else { v.commit })),
        }
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
        if validate_ref_name("branch", name).is_err() {
            return Ok(false);
        }
        Ok(self.branch_tip(name).await?.1.is_some())
    }

    pub async fn tag_exists(&self, name: &str) -> Result<bool> {
        if validate_ref_name("tag", name).is_err() {
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
    /// then commit id.
    pub async fn resolve(&self, r: &str) -> Result<Resolved> {
        if validate_ref_name("ref", r).is_ok() {
            if let (_, Some(c)) = self.branch_tip(r).await? {
                return Ok(Resolved {
                    commit: Some(c),
                    branch: Some(r.to_string()),
                });
            }
            if r == "main" {
                return Ok(Resolved {
                    commit: None,
                    branch: Some("main".into()),
                });
            }
            if let (_, Some(v)) = self.tag_version(r).await? {
                return Ok(Resolved {
                    commit: v.commit,
                    branch: None,
                });
            }
        }
        if ObjectId::is_hex_id(r) {
            let id: ObjectId = r.parse()?;
            if self.commit_exists(&id).await? {
                return Ok(Resolved {
                    commit: Some(id),
                    branch: None,
                });
            }
            return Err(Error::RefNotFound(format!(
                "Commit {r} was not found in commit history."
            )));
        }
        Err(Error::RefNotFound(format!(
            "Ref '{r}' was not found in branches, tags, or commits."
        )))
    }

    async fn names_with_live_tip(&self, dir: &str, is_branch: bool) -> Result<Vec<(String, Option<ObjectId>)>> {
        let names = self.inner.storage.list_dirs(dir).await?;
        let mut out = Vec::new();
        for n in names {
            let tip = if is_branch {
                self.branch_tip(&n).await?.1
            } else {
                self.tag_version(&n).await?.1.and_then(|v| v.commit)
            };
            if let Some(c) = tip {
                out.push((n, Some(c)));
            }
        }
        Ok(out)
    }

    /// Branches that exist (have a commit), sorted by name.
    pub async fn branches(&self) -> Result<Vec<(String, Option<ObjectId>)>> {
        self.names_with_live_tip("refs/branches", true).await
    }

    pub async fn tags(&self) -> Result<Vec<(String, Option<ObjectId>)>> {
        self.names_with_live_tip("refs/tags", false).await
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
        validate_ref_name("branch", name)
            .map_err(|_| Error::RefNotFound(format!("Branch '{name}' does not exist.")))?;
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
        validate_ref_name("tag", name).map_err(|_| missing())?;
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

    // ---- graph ----------------------------------------------------------------------

    /// Commits from `start` back to the root, newest first; `limit` 0 means all.
    pub async fn log(&self, start: Option<ObjectId>, limit: usize) -> Result<Vec<Arc<Commit>>> {
        let mut out = Vec::new();
        let mut cur = start;
        while let Some(id) = cur {
            if limit > 0 && out.len() >= limit {
                break;
            }
            let c = self.load_commit(&id).await?;
            cur = c.parent;
            out.push(c);
        }
        Ok(out)
    }

    /// Commits reachable from `tip` but not from `base` on the first-parent chain, newest
    /// first. If `base` is not an ancestor of `tip`, every commit back to the root.
    pub async fn commits_since(&self, base: Option<ObjectId>, tip: Option<ObjectId>) -> Result<Vec<Arc<Commit>>> {
        let mut out = Vec::new();
        let mut cur = tip;
        while let Some(id) = cur {
            if Some(id) == base {
                break;
            }
            let c = self.load_commit(&id).await?;
            cur = c.parent;
            out.push(c);
        }
        Ok(out)
    }
}
