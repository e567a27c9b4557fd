//! What garbage collection keeps: everything a branch, a tag or a live session reaches.

use std::collections::HashSet;

use futures::{StreamExt, TryStreamExt};

use super::bloom::Bloom;
use super::state::{self, CommitEntry, GcState};
use super::Progress;
use crate::error::Result;
use crate::format::codec::{self, Kind};
use crate::format::{now_micros, ChunkHash, ChunkRef, Fragment, ObjectId, Value};
use crate::repo::Repository;

const READ_CONCURRENCY: usize = 16;

/// The live objects, by kind, and what the next run needs to know.
#[derive(Debug, Default)]
pub(super) struct Live {
    pub commits: HashSet<ObjectId>,
    pub snapshots: HashSet<ObjectId>,
    pub manifests: HashSet<ObjectId>,
    /// Chunks of live manifests known exactly: all of them in a full run, those of the
    /// manifests added since the last run in an incremental one.
    pub chunks: HashSet<ChunkHash>,
    /// Incremental runs: the last run's filter of the chunks of the manifests it knew.
    pub maybe: Option<Bloom>,
    /// Chunks the fragments of live sessions name (written, not committed yet).
    pub session_chunks: HashSet<ChunkHash>,
    /// Sessions neither committed, abandoned nor expired.
    pub sessions: HashSet<String>,
    pub next: GcState,
}

impl Live {
    pub fn chunk_is_live(&self, h: &ChunkHash) -> bool {
        self.chunks.contains(h)
            || self.session_chunks.contains(h)
            || self.maybe.as_ref().is_some_and(|b| b.may_contain(h))
    }
}

/// Marks from every ref and live session; incrementally from `prev` when history lost
/// nothing since it (see `state`). Sessions are read first: a commit that lands meanwhile
/// moves a ref read later, or its objects are younger than the grace period; a session
/// that starts meanwhile writes only objects younger than it.
pub(super) async fn mark(
    repo: &Repository,
    prev: Option<&GcState>,
    cutoff: i64,
    progress: &Progress<'_>,
) -> Result<Live> {
    let run_micros = now_micros();
    let mut live = Live::default();
    let listed = repo.live_sessions().await?;
    // A private session records its commit only in the commit: one is over once a commit
    // naming it is reachable (found by the walk below), or is stored and older than the
    // grace period (reachable or not any more: history may have dropped it). A younger
    // unreachable one may be a commit whose ref has not moved yet, or one that lost a
    // race and is being retried: that session is still writing, its chunks must stay.
    let known = prev
        .map(|p| p.commits.iter().map(|e| (e.id, e.session.clone())).collect())
        .unwrap_or_default();
    let mut committed = repo.committed_sessions(known, Some(cutoff)).await?;
    let mut tips: Vec<ObjectId> = listed
        .iter()
        .filter(|s| !committed.contains(&s.id))
        .filter_map(|s| s.base_commit)
        .collect();
    let (branches, tags) = futures::try_join!(repo.branches(), repo.tags())?;
    tips.extend(branches.into_iter().chain(tags).filter_map(|(_, c)| c));
    let cuts = repo.cuts().await?;
    let incremental = match prev.filter(|p| !p.chunks.is_saturated()) {
        Some(p) => state::since(repo, p, &tips, &cuts, progress).await?.map(|s| (p, s)),
        None => None,
    };
    let (entries, manifests, bloom) = match incremental {
        Some((p, s)) => {
            let mut bloom = p.chunks.clone();
            for h in &s.new_chunks {
                bloom.insert(h);
            }
            live.maybe = Some(p.chunks.clone());
            live.chunks = s.new_chunks;
            let manifests: Vec<ObjectId> = p.manifests.iter().copied().chain(s.new_manifests).collect();
            (s.commits, manifests, bloom)
        }
        None => {
            let commits = repo.commit_graph(tips.into_iter().map(Some).collect()).await?;
            let entries: Vec<CommitEntry> = commits
                .iter()
                .map(|c| CommitEntry {
                    id: c.id,
                    parent: c.parent,
                    snapshot: c.snapshot,
                    session: c.session.clone(),
                })
                .collect();
            let manifests = manifests_of(repo, &entries).await?;
            live.chunks = state::chunks_of(repo, &manifests, progress).await?;
            let mut bloom = Bloom::with_capacity(live.chunks.len() * 2);
            for h in &live.chunks {
                bloom.insert(h);
            }
            (entries, manifests, bloom)
        }
    };
    live.commits = entries.iter().map(|e| e.id).collect();
    committed.extend(entries.iter().filter_map(|e| e.session.clone()));
    let sessions: Vec<_> = listed.iter().filter(|s| !committed.contains(&s.id)).collect();
    for info in &sessions {
        live.sessions.insert(info.id.clone());
        live.session_chunks.extend(fragment_chunks(repo, &info.id).await?);
    }
    live.snapshots = entries.iter().map(|e| e.snapshot).collect();
    live.manifests = manifests.iter().copied().collect();
    let mut cuts: Vec<ObjectId> = cuts.iter().copied().collect();
    cuts.sort();
    live.next = GcState {
        run_micros,
        cuts,
        commits: entries,
        manifests,
        chunks: bloom,
    };
    Ok(live)
}

/// Every manifest the commits' snapshots name, each once.
async fn manifests_of(repo: &Repository, entries: &[CommitEntry]) -> Result<Vec<ObjectId>> {
    let snapshot_ids: HashSet<ObjectId> = entries.iter().map(|e| e.snapshot).collect();
    let snapshots: Vec<_> = futures::stream::iter(snapshot_ids.into_iter().map(|id| {
        let repo = repo.clone();
        async move { repo.load_snapshot(&id).await }
    }))
    .buffer_unordered(READ_CONCURRENCY)
    .try_collect()
    .await?;
    let mut out: Vec<ObjectId> = snapshots
        .iter()
        .flat_map(|s| s.manifests.iter().map(|p| p.id))
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// The chunks a session's writes stored, from its fragments.
pub(super) async fn fragment_chunks(repo: &Repository, session: &str) -> Result<HashSet<ChunkHash>> {
    let storage = repo.storage();
    let keys = storage.list(&format!("sessions/{session}/fragments")).await?;
    let mut loaded = futures::stream::iter(keys.into_iter().map(|k| {
        let storage = storage.clone();
        async move {
            let b = storage.get(&k).await?;
            // A fragment deleted since the listing belongs to a session that ended.
            b.map(|b| codec::decode::<Fragment>(Kind::Fragment, &k, &b)).transpose()
        }
    }))
    .buffer_unordered(READ_CONCURRENCY);
    let mut out = HashSet::new();
    while let Some(f) = loaded.try_next().await? {
        for (_, v) in f.iter().flat_map(|f| f.records.iter()) {
            if let Some(Value::Chunk(ChunkRef::Native { hash, .. })) = v {
                out.insert(*hash);
            }
        }
    }
    Ok(out)
}
