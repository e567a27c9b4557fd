//! Commit: fold the session's changes, merge them into the base snapshot's manifests,
//! write snapshot and commit, and move the branch with a put-if-absent ref version.
//! If the branch moved, check conflicts against the commits that landed and retry.

use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use tokio::sync::mpsc;

use crate::conflict::find_conflicts;
use crate::error::{Error, Result};
use crate::format::{
    now_micros, ChangeSummary, ChunkRef, Commit, Manifest, ManifestPiece, ObjectId, RefVersion, Snapshot,
};
use crate::repo::Repository;
use crate::session::changeset::Staged;
use crate::session::ChangeSet;
use crate::session::{Session, MAX_EXPIRY_MICROS, NOT_ON_BRANCH};

/// A manifest is split once it holds more than this many refs.
pub const MAX_PIECE_REFS: usize = 16_384;
/// The size of the pieces a split makes.
pub const TARGET_PIECE_REFS: usize = 8_192;
pub const MAX_COMMIT_ATTEMPTS: u32 = 30;
const MANIFEST_READ_CONCURRENCY: usize = 16;
/// Objects of one commit (manifests, snapshot, commit, summary) written at once.
const OBJECT_WRITE_CONCURRENCY: usize = 64;

/// A manifest's entries with sorted chunk changes applied (replaced, inserted, deleted),
/// in key order, borrowed: nothing is copied until a new manifest is built from them.
fn merged<'a>(
    base: &'a Manifest,
    changes: impl Iterator<Item = (&'a str, Option<&'a ChunkRef>)>,
) -> impl Iterator<Item = (&'a str, &'a ChunkRef)> {
    let mut i = 0;
    let mut changes = changes.peekable();
    std::iter::from_fn(move || loop {
        let take_change = match changes.peek() {
            None if i == base.len() => return None,
            None => false,
            Some(_) if i == base.len() => true,
            Some((ck, _)) => match base.key(i).cmp(ck) {
                std::cmp::Ordering::Less => false,
                std::cmp::Ordering::Equal => {
                    i += 1; // replaced or deleted
                    true
                }
                std::cmp::Ordering::Greater => true,
            },
        };
        if !take_change {
            i += 1;
            return Some((base.key(i - 1), base.chunk_ref(i - 1)));
        }
        if let Some((k, Some(r))) = changes.next() {
            return Some((k, r));
        }
        // A delete: nothing to yield for it.
    })
}

/// The chunk changes that fall in one base manifest's key range (`piece`; `None` for keys
/// before the first manifest): `count` changes from key `first` on.
struct Group {
    piece: Option<usize>,
    first: String,
    count: usize,
}

fn groups(base: &Snapshot, changes: &ChangeSet) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for (k, _) in changes.chunks_from("") {
        let piece = base.piece_for(k);
        match groups.last_mut() {
            Some(g) if g.piece == piece => g.count += 1,
            _ => groups.push(Group {
                piece,
                first: k.to_string(),
                count: 1,
            }),
        }
    }
    groups
}

type Built = (ManifestPiece, Arc<Manifest>);

/// Builds the manifests of one group and hands each one on as it is built.
async fn build_group(
    repo: Repository,
    base_id: Option<ObjectId>,
    changes: Arc<ChangeSet>,
    group: Group,
    out: mpsc::Sender<Built>,
) -> Result<()> {
    let base = match base_id {
        Some(id) => repo.load_manifest(&id).await?,
        None => Arc::new(Manifest::default()),
    };
    // Merging and building is CPU work over up to millions of refs: off the async workers.
    tokio::task::spawn_blocking(move || build_pieces(&base, &changes, &group, &out)).await?;
    Ok(())
}

/// `size` refs a manifest: the largest size, or the target size once a split is due.
fn build_pieces(base: &Manifest, changes: &ChangeSet, group: &Group, out: &mpsc::Sender<Built>) {
    let changes_of = || changes.chunks_from(&group.first).take(group.count);
    let total = merged(base, changes_of()).count();
    let size = if total > MAX_PIECE_REFS {
        TARGET_PIECE_REFS
    } else {
        MAX_PIECE_REFS
    };
    let mut entries = merged(base, changes_of());
    for _ in 0..total.div_ceil(size) {
        let part: Vec<(&str, ChunkRef)> = entries.by_ref().take(size).map(|(k, r)| (k, r.clone())).collect();
        let m = Manifest::from_sorted(part);
        let piece = ManifestPiece {
            first: m.key(0).to_string(),
            id: ObjectId::new(),
            count: m.len() as u64,
        };
        if out.blocking_send((piece, Arc::new(m))).is_err() {
            return; // the receiver failed, and reports why
        }
    }
}

/// New manifests past this many are stored as they are built, not with the snapshot: a
/// commit of 1e7 refs would otherwise hold all 1,200 of them (~700 MB) at once.
const MANIFESTS_HELD: usize = if cfg!(test) { 2 } else { 64 };
const MANIFEST_WRITE_CONCURRENCY: usize = 16;

/// Collects the new manifests: keeps the first `MANIFESTS_HELD` for the commit's last
/// round of writes, stores the rest at once. Stored early, a manifest is still named by
/// nothing until the ref moves; a failed commit leaves it for garbage collection.
async fn collect_manifests(
    repo: &Repository,
    mut built: mpsc::Receiver<Built>,
) -> Result<(Vec<ManifestPiece>, Vec<(ObjectId, Arc<Manifest>)>)> {
    let mut pieces = Vec::new();
    let mut held = Vec::new();
    let mut writes = tokio::task::JoinSet::new();
    while let Some((piece, m)) = built.recv().await {
        let id = piece.id;
        pieces.push(piece);
        if held.len() < MANIFESTS_HELD {
            held.push((id, m));
            continue;
        }
        // At most so many in flight: wait for one to finish first (it also surfaces errors).
        if writes.len() >= MANIFEST_WRITE_CONCURRENCY {
            if let Some(done) = writes.join_next().await {
                done??;
            }
        }
        let repo = repo.clone();
        writes.spawn(async move { repo.write_manifest(id, m, false).await });
    }
    while let Some(done) = writes.join_next().await {
        done??;
    }
    Ok((pieces, held))
}

/// `progress(done, total)`: chunk changes merged into manifests so far, of all of them.
pub type CommitProgress<'a> = dyn Fn(u64, u64) + Send + Sync + 'a;

/// A new snapshot and the manifests it names that are not stored yet.
pub struct SnapshotPlan {
    pub snapshot: Snapshot,
    pub new_manifests: Vec<(ObjectId, Arc<Manifest>)>,
}

/// A new snapshot: `base` with `changes` applied. Only manifests whose key range holds a
/// change are rewritten; the others are reused by id, so the cost is O(changed). Up to
/// `MANIFESTS_HELD` new manifests are returned to be stored together with the snapshot
/// and the commit, in one round of requests (nothing names them until the ref moves);
/// more than that are stored here, as they are built.
pub async fn build_snapshot(
    repo: &Repository,
    base: &Snapshot,
    changes: &Staged,
    progress: &CommitProgress<'_>,
) -> Result<SnapshotPlan> {
    let mut metadata = base.metadata.clone();
    for (k, v) in &changes.metadata {
        match v {
            Some(b) => {
                metadata.insert(k.clone(), b.clone());
            }
            None => {
                metadata.remove(k);
            }
        }
    }
    let groups = groups(base, &changes.changes);
    let touched: std::collections::HashSet<usize> = groups.iter().filter_map(|g| g.piece).collect();
    let total: u64 = groups.iter().map(|g| g.count as u64).sum();
    let done = std::sync::atomic::AtomicU64::new(0);
    let (tx, rx) = mpsc::channel(MANIFEST_WRITE_CONCURRENCY);
    let produce = async {
        futures::stream::iter(groups.into_iter().map(|g| {
            let id = g.piece.map(|i| base.manifests[i].id);
            let (count, tx, done) = (g.count as u64, tx.clone(), &done);
            async move {
                build_group(repo.clone(), id, changes.changes.clone(), g, tx).await?;
                progress(
                    done.fetch_add(count, std::sync::atomic::Ordering::Relaxed) + count,
                    total,
                );
                Ok::<_, Error>(())
            }
        }))
        .buffer_unordered(MANIFEST_READ_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
        drop(tx); // the collector ends once every sender is gone
        Ok::<_, Error>(())
    };
    let (_, (new_pieces, new_manifests)) = futures::try_join!(produce, collect_manifests(repo, rx))?;
    let mut manifests: Vec<ManifestPiece> = base
        .manifests
        .iter()
        .enumerate()
        .filter(|(i, _)| !touched.contains(i))
        .map(|(_, p)| p.clone())
        .chain(new_pieces)
        .collect();
    manifests.sort_by(|a, b| a.first.cmp(&b.first));
    Ok(SnapshotPlan {
        snapshot: Snapshot { metadata, manifests },
        new_manifests,
    })
}

/// What a commit did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitOutcome {
    /// The new commit, `None` if there was nothing to commit.
    pub commit: Option<ObjectId>,
    /// Keys that several writers of the session wrote with different values: only the
    /// last of those writes is in the commit.
    pub overwritten: Vec<String>,
    /// Bookkeeping that failed after the commit landed (the commit itself stands).
    pub warnings: Vec<String>,
}

/// A commit's id and the first line of its message, for error messages.
fn describe(c: &Commit) -> String {
    let first = c.message.lines().next().unwrap_or("");
    format!("{} (\"{first}\")", c.id)
}

/// Checks the commits that landed on the branch since `base` against our change.
async fn check_upstream(
    repo: &Repository,
    branch: &str,
    base: Option<ObjectId>,
    tip: Option<ObjectId>,
    ours: &ChangeSummary,
    verb: &str,
) -> Result<()> {
    let landed = repo.commits_since(base, tip).await?;
    let ids: Vec<ObjectId> = landed.iter().map(|c| c.id).collect();
    let summaries: Vec<Arc<ChangeSummary>> = futures::stream::iter(ids.into_iter().map(|id| {
        let repo = repo.clone();
        async move { repo.load_changes(&id).await }
    }))
    .buffered(8)
    .try_collect()
    .await?;
    let mut paths = std::collections::BTreeSet::new();
    let mut culprits = Vec::new();
    for (c, theirs) in landed.iter().zip(&summaries) {
        let found = find_conflicts(ours, &[theirs.as_ref()]);
        if !found.is_empty() {
            culprits.push(c.id.to_string());
            paths.extend(found);
        }
    }
    if paths.is_empty() {
        return Ok(());
    }
    let paths: Vec<String> = paths.into_iter().collect();
    let by: Vec<String> = landed
        .iter()
        .filter(|c| culprits.contains(&c.id.to_string()))
        .take(5)
        .map(|c| describe(c))
        .collect();
    let by_more = if culprits.len() > by.len() {
        format!(" and {} more", culprits.len() - by.len())
    } else {
        String::new()
    };
    let shown: Vec<&str> = paths.iter().take(20).map(String::as_str).collect();
    let more = if paths.len() > shown.len() {
        format!(" and {} more", paths.len() - shown.len())
    } else {
        String::new()
    };
    Err(Error::Conflict {
        message: format!(
            "Can't {verb} due to conflicting paths {{{}}}{more}: this session changed them, and so did \
             commit(s) {}{by_more} on branch '{branch}' since the session started. A fast-forward is \
             impossible: start a new session from the tip (checkout('{branch}')) and re-apply your changes there.",
            shown.join(", "),
            by.join(", "),
        ),
        paths,
        commits: culprits,
    })
}

fn backoff(attempt: u32) -> Duration {
    if attempt == 0 {
        return Duration::ZERO;
    }
    let cap_ms = (10u64 << attempt.min(7)).min(1_000);
    // Not `rand::random`: processes forked from one parent would back off in lockstep.
    Duration::from_millis(u64::from_le_bytes(crate::process::random_bytes()) % cap_ms + 1)
}

impl Session {
    fn branch_or_err(&self, what: &str) -> Result<String> {
        self.branch().ok_or_else(|| {
            Error::NotOnBranch(format!(
                "{what} unavailable: {NOT_ON_BRANCH} Check out a branch to commit."
            ))
        })
    }

    /// Moves the session base to the branch tip, or fails with the conflicting paths.
    pub async fn fast_forward(&self) -> Result<Option<ObjectId>> {
        self.ensure_usable()?;
        let branch = self.branch_or_err("Fast-forward")?;
        let repo = self.repo().clone();
        let (_, tip) = repo.branch_tip(&branch).await?;
        let base = self.base_commit();
        if tip.is_none() || tip == base {
            return Ok(base);
        }
        self.load_foreign_fragments().await?;
        let ours = self.with_changes(|c| c.summary());
        check_upstream(&repo, &branch, base, tip, &ours, "fast-forward").await?;
        let snap = repo.snapshot_of(tip).await?;
        self.set_base(tip, snap).await?;
        Ok(tip)
    }

    /// Commits the session. `Ok(None)` means there was nothing to commit.
    pub async fn commit(&self, message: &str, auto_ff: bool) -> Result<Option<ObjectId>> {
        Ok(self.commit_outcome(message, auto_ff).await?.commit)
    }

    /// Commits the session, and reports what it did.
    pub async fn commit_outcome(&self, message: &str, auto_ff: bool) -> Result<CommitOutcome> {
        self.commit_outcome_with(message, auto_ff, &|_, _| {}).await
    }

    /// [`Session::commit_outcome`], calling `progress` as chunk changes are merged.
    pub async fn commit_outcome_with(
        &self,
        message: &str,
        auto_ff: bool,
        progress: &CommitProgress<'_>,
    ) -> Result<CommitOutcome> {
        let branch = self.branch_or_err("Commit")?;
        self.check_writable()?;
        if !self.is_stored() {
            // Never stored means never written to, by anyone.
            return Ok(CommitOutcome::default());
        }
        let _committing = self.inner.commit_lock.lock().await;
        // From here this handle's own writes are either folded or refused.
        self.begin_commit();
        // A shared session is sealed first: a writer whose fragment lands after we list
        // fragments sees the seal and does not acknowledge its write, so no acknowledged
        // write is left out. A private one has no other writer (see `sharing`).
        let shared = self.is_shared();
        if shared {
            if let Err(e) = self.seal().await {
                self.end_commit();
                return Err(e);
            }
        }
        let result = self.commit_sealed(&branch, message, auto_ff, shared, progress).await;
        match result {
            Ok(mut outcome) => {
                let Some(id) = outcome.commit else {
                    self.end_commit();
                    if shared {
                        self.release_seal().await?;
                    }
                    return Ok(outcome);
                };
                // The branch moved: the commit has happened, whatever fails after this.
                self.mark_committed(id);
                if shared {
                    if let Err(e) = self.update_state(move |s| s.committed = Some(id)).await {
                        outcome.warnings.push(format!(
                            "commit {id} landed, but recording it in session {} failed ({e}); \
                             start new work with checkout()",
                            self.id()
                        ));
                    }
                }
                Ok(outcome)
            }
            Err(cause) => {
                self.end_commit();
                if !shared {
                    return Err(cause);
                }
                // Report why the commit failed, not a failed unseal after it.
                if let Err(unseal) = self.release_seal().await {
                    return Err(cause.with_note(&format!(
                        "reopening the session for writes failed too ({unseal}); \
                         its next write or commit reopens it"
                    )));
                }
                Err(cause)
            }
        }
    }

    /// Commits, then starts the next session on the same branch at the new commit (or
    /// returns `None` for it when nothing was committed). Starting it here, from the
    /// commit just made, means no other commit can slip in between.
    pub async fn commit_and_continue(
        &self,
        message: &str,
        auto_ff: bool,
        next_for_writing: bool,
        progress: &CommitProgress<'_>,
    ) -> Result<(CommitOutcome, Option<Session>)> {
        let mut outcome = self.commit_outcome_with(message, auto_ff, progress).await?;
        let Some(id) = outcome.commit else {
            return Ok((outcome, None));
        };
        let lasted = self.expires_micros().unwrap_or(0).saturating_sub(self.start_micros());
        let expires_in = lasted.clamp(3_600_000_000, MAX_EXPIRY_MICROS);
        let next = self
            .repo()
            .start_session(
                self.branch(),
                Some(id),
                next_for_writing,
                expires_in,
                self.author().clone(),
                None,
            )
            .await;
        // The commit has happened: a next session that cannot start is a warning, not an
        // error that would hide the commit's id.
        match next {
            Ok(next) => Ok((outcome, Some(next))),
            Err(e) => {
                outcome.warnings.push(format!(
                    "commit {id} landed, but the next session could not start ({e}); check out the branch to go on"
                ));
                Ok((outcome, None))
            }
        }
    }

    async fn commit_sealed(
        &self,
        branch: &str,
        message: &str,
        auto_ff: bool,
        shared: bool,
        progress: &CommitProgress<'_>,
    ) -> Result<CommitOutcome> {
        let repo = self.repo().clone();
        // The tip as last seen here: the ref put below fails if the branch moved since,
        // and only then is the tip searched. Other writers' fragments are read at the same
        // time as the tip, when it must be read (they do not depend on each other).
        let hint = repo.branch_tip_hint(branch);
        let first_tip = match (hint, shared) {
            (Some(tip), true) => {
                self.load_foreign_fragments().await?;
                tip
            }
            (Some(tip), false) => tip,
            (None, true) => futures::try_join!(self.load_foreign_fragments(), repo.branch_tip(branch))?.1,
            (None, false) => repo.branch_tip(branch).await?,
        };
        let mut first_tip = Some(first_tip);
        let staged = Staged::new(self.changes());
        let (overwritten, summary) = (staged.changes.contested(), Arc::new(staged.changes.summary()));
        if staged.is_empty() {
            return Ok(CommitOutcome::default());
        }
        let inline = summary.fits_inline();
        let mut base = self.base_commit();
        let mut base_snap = self.base_snapshot();
        for attempt in 0..MAX_COMMIT_ATTEMPTS {
            tokio::time::sleep(backoff(attempt)).await;
            let (seq, tip) = match first_tip.take() {
                Some(t) => t,
                None => repo.branch_tip(branch).await?,
            };
            // A branch that does not exist (yet, or any more) is (re)created from our base.
            if tip.is_some() && tip != base {
                if !auto_ff {
                    return Err(Error::CommitFailed(format!(
                        "Branch '{branch}' moved to {} since this session's base {}; call fast_forward() \
                         and commit again, or commit with auto_ff=True",
                        tip.map_or("None".into(), |t| t.to_string()),
                        base.map_or("None".into(), |b| b.to_string()),
                    )));
                }
                check_upstream(&repo, branch, base, tip, &summary, "commit").await?;
                base = tip;
                base_snap = repo.snapshot_of(tip).await?;
            }
            let plan = build_snapshot(&repo, &base_snap, &staged, progress).await?;
            let snap_id = ObjectId::new();
            let author = self.author();
            let commit = Commit {
                id: ObjectId::new(),
                parent: base,
                snapshot: snap_id,
                message: message.to_string(),
                author_name: author.name.clone(),
                author_email: author.email.clone(),
                time_micros: now_micros(),
                session_start_micros: self.start_micros(),
                changes: inline.then(|| summary.as_ref().clone()),
                session: Some(self.id().to_string()),
            };
            let commit_id = commit.id;
            self.write_commit_objects(plan, snap_id, commit, (!inline).then(|| summary.clone()))
                .await?;
            let v = RefVersion {
                snapshot: Some(snap_id),
                ..RefVersion::pointing(commit_id)
            };
            if repo.put_branch_version(branch, seq, &v).await? {
                return Ok(CommitOutcome {
                    commit: Some(commit_id),
                    overwritten,
                    warnings: Vec::new(),
                });
            }
        }
        Err(Error::CommitFailed(format!(
            "Failed to update branch {branch}: other commits kept landing first ({MAX_COMMIT_ATTEMPTS} attempts)"
        )))
    }

    /// Stores a commit's new manifests, snapshot, commit record and (if it does not ride
    /// in the record) change summary, all at once: nothing names them until the ref moves.
    async fn write_commit_objects(
        &self,
        plan: SnapshotPlan,
        snap_id: ObjectId,
        commit: Commit,
        summary: Option<Arc<ChangeSummary>>,
    ) -> Result<()> {
        let repo = self.repo();
        let commit_id = commit.id;
        let mut writes: Vec<futures::future::BoxFuture<'_, Result<()>>> = plan
            .new_manifests
            .into_iter()
            .map(|(id, m)| Box::pin(repo.write_manifest(id, m, true)) as _)
            .collect();
        writes.push(Box::pin(repo.write_snapshot(snap_id, Arc::new(plan.snapshot))));
        writes.push(Box::pin(async move { repo.write_commit(commit).await.map(|_| ()) }));
        if let Some(summary) = summary {
            writes.push(Box::pin(repo.write_changes(commit_id, summary)));
        }
        futures::stream::iter(writes)
            .buffer_unordered(OBJECT_WRITE_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(n: u8) -> ChunkRef {
        ChunkRef::Inline(bytes::Bytes::from(vec![n]))
    }

    #[test]
    fn merge_replaces_inserts_and_deletes() {
        let base = Manifest::from_sorted([("a", r(1)), ("c", r(3)), ("e", r(5))]);
        let r9 = r(9);
        let changes = [("a", Some(&r9)), ("b", Some(&r9)), ("c", None), ("f", Some(&r9))];
        let out: Vec<(&str, &ChunkRef)> = merged(&base, changes.into_iter()).collect();
        let keys: Vec<&str> = out.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, vec!["a", "b", "e", "f"]);
        assert_eq!(out[0].1, &r(9));
        assert_eq!(out[2].1, &r(5));
        // Deletes at either end, and nothing left at all.
        let gone = [("a", None), ("c", None), ("e", None)];
        assert_eq!(merged(&base, gone.into_iter()).count(), 0);
        assert_eq!(merged(&Manifest::default(), std::iter::empty()).count(), 0);
    }

    /// 40,000 new chunks on top of 20,000 (three manifests): the second commit rewrites
    /// two of them into several, all but two (held, in tests) stored as they were built.
    /// Every key reads back in a fresh client, and nothing is stored twice or lost.
    #[tokio::test]
    async fn manifests_stored_while_building_make_a_whole_commit() {
        use crate::repo::tests::memory_repo;
        use crate::repo::{Author, Repository};
        let repo = memory_repo().await;
        let session = || async {
            let r = repo.resolve("main").await.unwrap();
            repo.start_session(r.branch, r.commit, true, 3_600_000_000, Author::default(), None)
                .await
                .unwrap()
        };
        let items = |range: std::ops::Range<u32>| -> Vec<(String, bytes::Bytes)> {
            range
                .map(|i| (format!("a/c/{i:06}"), bytes::Bytes::from(i.to_le_bytes().to_vec())))
                .collect()
        };
        let s = session().await;
        s.set_many(items(0..20_000)).await.unwrap();
        s.commit("first", false).await.unwrap().unwrap();
        let s = session().await;
        s.set_many(items(20_000..60_000)).await.unwrap();
        s.delete("a/c/000007").await.unwrap();
        s.commit("second", false).await.unwrap().unwrap();
        let fresh = Repository::open(&repo.location()).await.unwrap();
        let r = fresh.resolve("main").await.unwrap();
        let snap = fresh.snapshot_of(r.commit).await.unwrap();
        let counts: Vec<u64> = snap.manifests.iter().map(|p| p.count).collect();
        assert_eq!(counts.iter().sum::<u64>(), 59_999);
        assert!(
            counts.len() >= 5 && counts.iter().all(|&c| c as usize <= MAX_PIECE_REFS),
            "{counts:?}"
        );
        let reader = fresh
            .start_session(r.branch, r.commit, false, 3_600_000_000, Author::default(), None)
            .await
            .unwrap();
        for i in (0..60_000u32).step_by(997).chain([59_999]) {
            let got = reader.get(&format!("a/c/{i:06}"), None).await.unwrap();
            assert_eq!(got.as_deref(), Some(&i.to_le_bytes()[..]), "a/c/{i:06}");
        }
        assert_eq!(reader.get("a/c/000007", None).await.unwrap(), None);
        // The first commit's three, of which the second reuses one, plus the second's.
        let stored = fresh.object_keys("manifests/").await.unwrap().len();
        assert_eq!(stored, 2 + counts.len(), "stored {stored}, named {}", counts.len());
    }
}
