//! Sessions: a base commit, a branch, and the changes made on top of them.
//!
//! A read session lives only in this process. A write session is stored under
//! `sessions/<id>/` so any process that knows its id can join it; every write it
//! acknowledges is in a stored fragment and so part of the session's next commit.
//! A write session is stored lazily: on its first write, or when its id is handed out
//! (`persist`). Until then it lives only here, and nothing else can have written to it.
//! A session stored by a write before its id was handed out is *private* (see
//! `sharing`): no other process may join it, so its writes and commit skip the
//! bookkeeping that only other writers need.

pub mod changeset;
mod foreign;
pub mod fragments;
mod listing;
mod settled;
mod sharing;
mod state;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use parking_lot::RwLock;

use crate::chunks;
use crate::error::{Error, Result};
use crate::format::codec::{self, Kind};
use crate::format::{now_micros, ChunkRef, ObjectId, SessionInfo, SessionState, Snapshot, Value};
use crate::keys::{self, validate_key};
use crate::metadata_doc;
use crate::process::ForkLocal;
use crate::repo::{Author, Repository};
pub use changeset::{ChangeSet, Order};
use fragments::FragmentWriter;
pub use state::SEAL_STALE_MICROS;
use state::{abandoned_error, ensure_open, info_key};

pub const DEFAULT_EXPIRY_MICROS: i64 = 24 * 3600 * 1_000_000;
pub const MAX_EXPIRY_MICROS: i64 = 7 * 24 * 3600 * 1_000_000;
/// What a detached checkout is told, and what commit says there.
/// Chunk writes and reads one batch issues at once: well above the storage's in-flight
/// bound, which is what limits them.
const WRITE_CONCURRENCY: usize = 256;
const READ_CONCURRENCY: usize = 256;

pub const NOT_ON_BRANCH: &str = "You are not on a branch tip, so you can't commit changes.";

/// A byte range request, resolved against the value's length when read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// `[start, end)`
    Range(u64, u64),
    Offset(u64),
    /// The last n bytes.
    Suffix(u64),
}

impl ByteRange {
    pub fn clamp(self, len: u64) -> std::ops::Range<u64> {
        match self {
            ByteRange::Range(s, e) => s.min(len)..e.min(len).max(s.min(len)),
            ByteRange::Offset(o) => o.min(len)..len,
            ByteRange::Suffix(n) => len.saturating_sub(n)..len,
        }
    }
}

struct MutState {
    branch: Option<String>,
    base_commit: Option<ObjectId>,
    base: Arc<Snapshot>,
    /// Shared with a commit in progress, which reads it without copying it; a write
    /// copies it only if a commit still holds it (`Arc::make_mut`).
    changes: Arc<ChangeSet>,
    expires_micros: i64,
    abandoned: bool,
    committed: Option<ObjectId>,
    /// A commit through this handle has taken its snapshot of the changes (or is about
    /// to): a write of this handle that has not been applied yet is refused, not acked.
    committing: bool,
}

pub(crate) struct SessionInner {
    pub repo: Repository,
    pub id: String,
    pub writable: bool,
    pub author: Author,
    pub message: Option<String>,
    pub start_micros: i64,
    state: RwLock<MutState>,
    /// A write session's writer in this process (see `Session::writer`).
    writer: Option<ForkLocal<Arc<FragmentWriter>>>,
    /// Whether `sessions/<id>/info` exists (always for joined sessions). The lock orders
    /// storing the info against state changes; the flag is the lock-free fast path.
    stored: tokio::sync::Mutex<bool>,
    stored_flag: AtomicBool,
    /// Other writers' fragments already folded into `state.changes`.
    folded: parking_lot::Mutex<std::collections::HashSet<String>>,
    /// Held while a commit runs through this handle (see `state`).
    pub(crate) commit_lock: tokio::sync::Mutex<()>,
    /// Whether other handles may write to the session (see `sharing`): its id was handed
    /// out, or this handle joined it.
    shared: AtomicBool,
    /// Whether sharing is complete: the record says so, and joiners may come in.
    share_done: AtomicBool,
    /// The process that made this handle, and how many forks it had made by then: a
    /// handle used in a forked child, or in a parent that forked since, is shared.
    creator_pid: u32,
    fork_epoch: u64,
}

/// How a session handle came to be: it decides whether it writes, and whether its
/// record is already stored.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Read,
    /// A new write session, not stored until first needed.
    New,
    /// A stored write session joined by id.
    Joined,
}

#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<SessionInner>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session({})", self.inner.id)
    }
}

pub(super) fn check_expiry(start: i64, expires_in: i64) -> Result<i64> {
    if expires_in <= 0 {
        return Err(Error::InvalidInput(format!(
            "expires_in must be positive (got {expires_in} µs): a session cannot start expired"
        )));
    }
    if expires_in > MAX_EXPIRY_MICROS {
        return Err(Error::InvalidInput(
            "Max expiry exceeded: sessions can last at most 7 days".into(),
        ));
    }
    Ok(start.saturating_add(expires_in))
}

impl Repository {
    /// Starts a session at `commit` on `branch` (None: not on a branch tip).
    pub async fn start_session(
        &self,
        branch: Option<String>,
        commit: Option<ObjectId>,
        for_writing: bool,
        expires_in_micros: i64,
        author: Author,
        message: Option<String>,
    ) -> Result<Session> {
        let start = now_micros();
        // Read sessions live only here and never expire.
        let expires = if for_writing {
            check_expiry(start, expires_in_micros)?
        } else {
            i64::MAX
        };
        let base = self.snapshot_of(commit).await?;
        let id = if for_writing {
            ObjectId::new().to_string()
        } else {
            format!("read-{}", commit.map_or("None".to_string(), |c| c.to_string()))
        };
        // The session's info is stored on first need (see `persist`), not here: opening a
        // repo must not leave a session record behind.
        let state = MutState {
            branch,
            base_commit: commit,
            base,
            changes: Arc::default(),
            expires_micros: expires,
            abandoned: false,
            committed: None,
            committing: false,
        };
        let origin = if for_writing { Origin::New } else { Origin::Read };
        Ok(self.session_from(id, origin, author, message, start, state))
    }

    fn session_from(
        &self,
        id: String,
        origin: Origin,
        author: Author,
        message: Option<String>,
        start: i64,
        state: MutState,
    ) -> Session {
        let writable = origin != Origin::Read;
        let stored = origin == Origin::Joined;
        let writer = writable.then(ForkLocal::new);
        Session {
            inner: Arc::new(SessionInner {
                repo: self.clone(),
                id,
                writable,
                author,
                message,
                start_micros: start,
                state: RwLock::new(state),
                writer,
                stored: tokio::sync::Mutex::new(stored),
                stored_flag: AtomicBool::new(stored),
                folded: parking_lot::Mutex::new(std::collections::HashSet::new()),
                commit_lock: tokio::sync::Mutex::new(()),
                shared: AtomicBool::new(origin == Origin::Joined),
                share_done: AtomicBool::new(origin == Origin::Joined),
                creator_pid: crate::process::id(),
                fork_epoch: crate::process::forks(),
            }),
        }
    }

    pub(crate) async fn session_info(&self, id: &str) -> Result<SessionInfo> {
        let not_found = || {
            Error::SessionNotFound(format!(
                "Session {id} does not exist in this repo; list_active_sessions() shows the sessions that can be joined"
            ))
        };
        if id.is_empty() || id.contains('/') || id.starts_with("read-") {
            return Err(not_found());
        }
        let Some(bytes) = self.storage().get(&info_key(id)).await? else {
            // Writes or state without the record: the session existed and lost it.
            if !self.storage().list_dirs(&format!("sessions/{id}")).await?.is_empty() {
                return Err(Error::corrupt(
                    info_key(id),
                    format!("session {id} has stored writes or state, but its record is missing"),
                ));
            }
            return Err(not_found());
        };
        codec::decode(Kind::SessionInfo, &info_key(id), &bytes)
    }

    /// Joins a write session by id; its writes become part of that session.
    pub async fn join_session(&self, id: &str) -> Result<Session> {
        let info = self.session_info(id).await?;
        let (_, st) = self.session_state(&info).await?;
        ensure_open(id, &st)?;
        if info.private && !st.shared {
            return Err(sharing::private_error(id));
        }
        let base = self.snapshot_of(st.base_commit).await?;
        let state = MutState {
            branch: st.branch,
            base_commit: st.base_commit,
            base,
            changes: Arc::default(),
            expires_micros: st.expires_micros,
            abandoned: st.abandoned,
            committed: st.committed,
            committing: false,
        };
        let author = Author {
            name: info.author_name.clone(),
            email: info.author_email.clone(),
        };
        let s = self.session_from(
            info.id.clone(),
            Origin::Joined,
            author,
            info.message.clone(),
            info.start_micros,
            state,
        );
        // Other writers' acknowledged writes are visible to the joiner.
        s.load_foreign_fragments().await?;
        Ok(s)
    }

    /// Write sessions that can be joined (shared, and neither expired, abandoned nor
    /// committed), oldest first.
    pub async fn list_active_sessions(&self) -> Result<Vec<SessionInfo>> {
        let live = self.sessions_with_state().await?;
        Ok(live
            .into_iter()
            .filter(|(info, shared)| !info.private || *shared)
            .map(|(info, _)| info)
            .collect())
    }

    /// Every stored write session that is neither expired, abandoned nor committed,
    /// private ones too, oldest first (what history rewrites and GC must not harm).
    pub async fn live_sessions(&self) -> Result<Vec<SessionInfo>> {
        Ok(self
            .sessions_with_state()
            .await?
            .into_iter()
            .map(|(info, _)| info)
            .collect())
    }

    /// Live sessions with their current branch, base and expiry, and whether shared.
    async fn sessions_with_state(&self) -> Result<Vec<(SessionInfo, bool)>> {
        let ids = self.storage().list_dirs("sessions").await?;
        let now = now_micros();
        let mut out = Vec::new();
        for id in ids {
            let Ok(info) = self.session_info(&id).await else {
                continue;
            };
            let (_, st) = self.session_state(&info).await?;
            if !st.abandoned && st.committed.is_none() && st.expires_micros > now {
                let shared = st.shared;
                out.push((
                    SessionInfo {
                        expires_micros: st.expires_micros,
                        branch: st.branch,
                        base_commit: st.base_commit,
                        ..info
                    },
                    shared,
                ));
            }
        }
        out.sort_by(|(a, _), (b, _)| (a.start_micros, &a.id).cmp(&(b.start_micros, &b.id)));
        Ok(out)
    }
}

impl Session {
    pub fn id(&self) -> &str {
        &self.inner.id
    }
    pub fn writable(&self) -> bool {
        self.inner.writable
    }
    pub fn author(&self) -> &Author {
        &self.inner.author
    }
    pub fn message(&self) -> Option<&str> {
        self.inner.message.as_deref()
    }
    pub fn start_micros(&self) -> i64 {
        self.inner.start_micros
    }
    pub fn expires_micros(&self) -> Option<i64> {
        self.inner.writable.then(|| self.inner.state.read().expires_micros)
    }
    pub fn branch(&self) -> Option<String> {
        self.inner.state.read().branch.clone()
    }
    pub fn base_commit(&self) -> Option<ObjectId> {
        self.inner.state.read().base_commit
    }
    pub fn repo(&self) -> &Repository {
        &self.inner.repo
    }
    pub(crate) fn base_snapshot(&self) -> Arc<Snapshot> {
        self.inner.state.read().base.clone()
    }
    pub fn abandoned(&self) -> bool {
        self.inner.state.read().abandoned
    }
    pub fn committed(&self) -> Option<ObjectId> {
        self.inner.state.read().committed
    }
    /// Whether the session's record is in the repo, so that others can join it.
    pub fn is_stored(&self) -> bool {
        self.inner.stored_flag.load(Ordering::Acquire)
    }
    /// Whether the session holds uncommitted changes (its own, and those of other writers
    /// it has seen).
    pub fn has_changes(&self) -> bool {
        let st = self.inner.state.read();
        st.committed.is_none() && !st.changes.is_empty()
    }

    /// Fails once the session was abandoned: its changes are gone, so reading it would lie.
    pub(crate) fn ensure_usable(&self) -> Result<()> {
        if self.inner.state.read().abandoned {
            return Err(abandoned_error(&self.inner.id));
        }
        Ok(())
    }

    fn info(&self) -> SessionInfo {
        let st = self.inner.state.read();
        SessionInfo {
            id: self.inner.id.clone(),
            branch: st.branch.clone(),
            base_commit: st.base_commit,
            author_name: self.inner.author.name.clone(),
            author_email: self.inner.author.email.clone(),
            message: self.inner.message.clone(),
            start_micros: self.inner.start_micros,
            expires_micros: st.expires_micros,
            private: false,
        }
    }

    /// Fails unless this session may be written to.
    pub fn check_writable(&self) -> Result<()> {
        if !self.inner.writable {
            return Err(Error::ReadOnly(format!(
                "Repo is not writable: session {} is read-only; check out a branch with for_writing=True",
                self.inner.id
            )));
        }
        let st = self.inner.state.read();
        if st.branch.is_none() {
            return Err(Error::ReadOnly(format!(
                "Repo is not writable: session {} is not on a branch tip; check out a branch to write",
                self.inner.id
            )));
        }
        let now_state = SessionState {
            expires_micros: st.expires_micros,
            abandoned: st.abandoned,
            committed: st.committed,
            ..SessionState::default()
        };
        ensure_open(&self.inner.id, &now_state)
    }

    // ---- writes ------------------------------------------------------------------------

    /// The writer of a write session in this process, made on first use. A forked child
    /// that goes on using its parent's session gets its own writer (id and fragment
    /// directory): sharing the parent's would hide the child's fragments from the parent,
    /// which skips its own directory when it folds in other writers' fragments.
    fn writer(&self) -> Option<&Arc<FragmentWriter>> {
        let inner = &self.inner;
        let cell = inner.writer.as_ref()?;
        Some(cell.get_or_init(|| Arc::new(FragmentWriter::new(inner.repo.storage().clone(), &inner.id))))
    }

    async fn to_value(&self, key: &str, data: Bytes) -> Result<Value> {
        if keys::is_metadata_key(key) {
            return Ok(Value::Meta(data));
        }
        let repo = &self.inner.repo;
        let threshold = repo.config().inline_threshold;
        // Held until the chunk is stored: the fragment flush waits for puts in flight.
        let _ticket = (!chunks::is_inline(threshold, data.len()))
            .then(|| self.writer().map(|w| w.begin_put()))
            .flatten();
        let r = chunks::write_chunk(repo.chunk_storage(), repo.inner.hash, threshold, data).await?;
        Ok(Value::Chunk(r))
    }

    /// Durably records `records`, then applies them to the in-memory change set.
    pub(crate) async fn record(&self, records: Vec<(String, Option<Value>)>) -> Result<()> {
        self.check_writable()?;
        self.store_record().await?;
        let writer = self
            .writer()
            .ok_or_else(|| Error::ReadOnly("read-only session".into()))?;
        let first = writer.append(records.clone(), self.after_write_check()).await?;
        let mut st = self.inner.state.write();
        if st.committing {
            return Err(Error::SessionExpired(format!(
                "Session expired: session {} is being committed; this write was not acknowledged",
                self.inner.id
            )));
        }
        for (i, (k, v)) in records.into_iter().enumerate() {
            Arc::make_mut(&mut st.changes).apply(
                k,
                v,
                Order {
                    fragment: first.fragment.clone(),
                    index: first.index + i as u32,
                },
            );
        }
        Ok(())
    }

    pub async fn set(&self, key: &str, data: Bytes) -> Result<()> {
        self.set_many(vec![(key.to_string(), data)]).await
    }

    pub async fn set_many(&self, items: Vec<(String, Bytes)>) -> Result<()> {
        self.check_writable()?;
        // All checked before anything is stored: a refused batch writes nothing.
        for (k, data) in &items {
            validate_key(k)?;
            if keys::is_metadata_key(k) {
                metadata_doc::check(k, data)?;
            }
        }
        // Chunk puts run concurrently; the storage bounds what is in flight.
        let records: Vec<_> = futures::stream::iter(items.into_iter().map(|(k, data)| async move {
            let v = self.to_value(&k, data).await?;
            Ok::<_, Error>((k, Some(v)))
        }))
        .buffered(WRITE_CONCURRENCY)
        .try_collect()
        .await?;
        self.record(records).await
    }

    /// Records existing chunk refs (virtual references, or chunks already stored).
    pub async fn set_refs(&self, items: Vec<(String, ChunkRef)>) -> Result<()> {
        self.check_writable()?;
        for (k, r) in &items {
            validate_key(k)?;
            if keys::is_metadata_key(k) {
                return Err(Error::InvalidInput(format!("'{k}' is a metadata key, not a chunk key")));
            }
            if let ChunkRef::Virtual(v) = r {
                let (offset, len) = (v.offset, v.len);
                if offset.checked_add(len).is_none() {
                    return Err(Error::InvalidInput(format!(
                        "virtual reference '{k}': offset {offset} + length {len} is past the largest file size"
                    )));
                }
            }
        }
        self.record(items.into_iter().map(|(k, r)| (k, Some(Value::Chunk(r)))).collect())
            .await
    }

    /// Writes `data` unless the key exists; returns whether it wrote.
    pub async fn set_if_not_exists(&self, key: &str, data: Bytes) -> Result<bool> {
        if self.exists(key).await? {
            return Ok(false);
        }
        self.set(key, data).await?;
        Ok(true)
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        self.delete_many(vec![key.to_string()]).await
    }

    pub async fn delete_many(&self, keys_: Vec<String>) -> Result<()> {
        self.check_writable()?;
        for k in &keys_ {
            validate_key(k)?;
        }
        self.record(keys_.into_iter().map(|k| (k, None)).collect()).await
    }

    /// Deletes every key under the directory `prefix` ("" deletes everything).
    pub async fn delete_dir(&self, prefix: &str) -> Result<()> {
        self.check_writable()?;
        let p = prefix.trim_end_matches('/');
        let dir = if p.is_empty() { String::new() } else { format!("{p}/") };
        let doomed = self.list_prefix(&dir).await?;
        if doomed.is_empty() {
            return Ok(());
        }
        self.delete_many(doomed).await
    }

    // ---- reads -------------------------------------------------------------------------

    /// What `key` holds in this session: its value, or `None` if absent.
    async fn lookup(&self, key: &str) -> Result<Option<Value>> {
        let base = {
            let st = self.inner.state.read();
            if st.abandoned {
                return Err(abandoned_error(&self.inner.id));
            }
            if let Some(v) = st.changes.get(key) {
                return Ok(v.cloned());
            }
            st.base.clone()
        };
        if keys::is_metadata_key(key) {
            return Ok(base.metadata.get(key).map(|b| Value::Meta(b.clone())));
        }
        let Some(i) = base.piece_for(key) else { return Ok(None) };
        let m = self.inner.repo.load_manifest(&base.manifests[i].id).await?;
        Ok(m.get(key).map(|r| Value::Chunk(r.clone())))
    }

    pub async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<Option<Bytes>> {
        validate_key(key)?;
        match self.lookup(key).await? {
            None => Ok(None),
            Some(Value::Meta(b)) => Ok(Some(match range {
                None => b,
                Some(r) => {
                    let rg = r.clamp(b.len() as u64);
                    b.slice(rg.start as usize..rg.end as usize)
                }
            })),
            Some(Value::Chunk(r)) => {
                let rg = range.map(|x| x.clamp(r.len()));
                match &r {
                    ChunkRef::Virtual { .. } => {
                        crate::virtual_read::read(&self.inner.repo, key, &r, rg).await.map(Some)
                    }
                    _ => chunks::read_chunk(self.inner.repo.chunk_storage(), self.inner.repo.inner.hash, key, &r, rg)
                        .await
                        .map(Some),
                }
            }
        }
    }

    /// Values of many keys, in order; `None` where absent.
    /// Virtual chunks are read through the coalescing reader.
    pub async fn get_many(&self, requests: Vec<(String, Option<ByteRange>)>) -> Result<Vec<Option<Bytes>>> {
        let keys: Vec<String> = requests.iter().map(|(k, _)| k.clone()).collect();
        let values: Vec<Option<Value>> = futures::stream::iter(keys.into_iter().map(|k| {
            let me = self.clone();
            async move {
                validate_key(&k)?;
                me.lookup(&k).await
            }
        }))
        .buffered(READ_CONCURRENCY)
        .try_collect()
        .await?;
        crate::virtual_read::read_values(&self.inner.repo, requests, values).await
    }

    pub async fn getsize(&self, key: &str) -> Result<Option<u64>> {
        validate_key(key)?;
        Ok(self.lookup(key).await?.map(|v| match v {
            Value::Meta(b) => b.len() as u64,
            Value::Chunk(r) => r.len(),
        }))
    }

    pub async fn exists(&self, key: &str) -> Result<bool> {
        validate_key(key)?;
        Ok(self.lookup(key).await?.is_some())
    }

    /// Reads the change set in place (no copy of it is made).
    pub(crate) fn with_changes<R>(&self, f: impl FnOnce(&ChangeSet) -> R) -> R {
        f(&self.inner.state.read().changes)
    }

    /// The change set as it is now, shared, not copied.
    pub(crate) fn changes(&self) -> Arc<ChangeSet> {
        self.inner.state.read().changes.clone()
    }

    /// Modified keys and whether each was deleted, sorted; `limit` 0 means all.
    pub async fn status(&self, limit: usize) -> Result<Vec<(String, bool)>> {
        self.ensure_usable()?;
        self.load_foreign_fragments().await?;
        let st = self.inner.state.read();
        let it = st.changes.iter().map(|(k, v)| (k.to_string(), v.is_none()));
        Ok(if limit == 0 {
            it.collect()
        } else {
            it.take(limit).collect()
        })
    }

    /// Points the session at another branch.
    pub async fn set_branch(&self, branch: &str) -> Result<()> {
        let b = branch.to_string();
        if self.inner.writable {
            self.change_state(
                move |s| s.branch = Some(b.clone()),
                |st| st.branch = Some(branch.to_string()),
            )
            .await
        } else {
            self.inner.state.write().branch = Some(b);
            Ok(())
        }
    }

    /// Creates branch `name` at the session's base commit and moves the session onto it.
    /// In an empty repo the branch comes into being with the session's first commit.
    pub async fn new_branch(&self, name: &str) -> Result<()> {
        self.ensure_usable()?;
        let exists = || Error::RefExists(format!("Branch '{name}' already exists."));
        if self.branch().as_deref() == Some(name) {
            return Err(exists());
        }
        let repo = self.repo();
        match self.base_commit() {
            Some(base) => repo.create_branch(name, base).await?,
            None => {
                keys::validate_ref_name("branch", name)?;
                if repo.branch_exists(name).await? || repo.tag_exists(name).await? {
                    return Err(exists());
                }
            }
        }
        self.set_branch(name).await
    }

    /// Tags `commit`. A tag may not take the name of the branch this session is on, even
    /// one that has no commit yet.
    pub async fn create_tag(&self, name: &str, commit: ObjectId, message: Option<String>) -> Result<()> {
        if self.branch().as_deref() == Some(name) {
            return Err(Error::RefExists(format!(
                "Cannot create tag '{name}' because a branch of the same name already exists."
            )));
        }
        self.repo().create_tag(name, commit, message, self.author()).await
    }

    pub(crate) async fn set_base(&self, commit: Option<ObjectId>, snapshot: Arc<Snapshot>) -> Result<()> {
        if self.inner.writable {
            self.change_state(move |s| s.base_commit = commit, |st| st.base_commit = commit)
                .await?;
        }
        let mut st = self.inner.state.write();
        st.base_commit = commit;
        st.base = snapshot;
        Ok(())
    }

    pub(crate) fn mark_committed(&self, id: ObjectId) {
        self.inner.state.write().committed = Some(id);
    }

    /// Closes this handle to its own writes not yet applied (see `MutState::committing`):
    /// every write of this handle is then either in the change set or refused.
    pub(crate) fn begin_commit(&self) {
        self.inner.state.write().committing = true;
    }

    /// Reopens this handle to writes after a commit that did not happen.
    pub(crate) fn end_commit(&self) {
        self.inner.state.write().committing = false;
    }
}
