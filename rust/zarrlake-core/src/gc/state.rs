//! What a collection remembers for the next one, so that the next costs O(what changed).
//!
//! A run stores the commits every ref and live session reached (with their history
//! parents and snapshots), the manifests those snapshots name, and a Bloom filter of the
//! chunks those manifests hold. When nothing was dropped from history since (no commit
//! it remembers became unreachable, the same expiry cuts), the next run:
//! - walks only the commits made since, and reads only the manifests they added;
//! - takes as chunk candidates only what ended sessions' fragments name (every chunk a
//!   write stores is named in a fragment before the write is acknowledged), never a
//!   listing of every chunk;
//! - keeps a candidate a live session names, a new manifest holds, or the filter may
//!   hold.
//!
//! A run that finds history dropped, or no usable state, is a full one and rebuilds it.

use std::collections::{HashMap, HashSet};

use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::bloom::Bloom;
use super::Progress;
use crate::error::Result;
use crate::expiry::history_parent;
use crate::format::codec::Kind;
use crate::format::{ChunkHash, ChunkRef, ObjectId};
use crate::repo::Repository;

pub(super) const STATE_CELL: &str = "gc";
const READ_CONCURRENCY: usize = 16;

/// A reachable commit, as the next run needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitEntry {
    pub id: ObjectId,
    /// Its parent in history (none past an expiry cut).
    pub parent: Option<ObjectId>,
    pub snapshot: ObjectId,
    /// The write session that made it (`Commit::session`).
    #[serde(default)]
    pub session: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcState {
    pub run_micros: i64,
    /// The expiry cuts in force at the run (other cuts since: history was dropped).
    pub cuts: Vec<ObjectId>,
    pub commits: Vec<CommitEntry>,
    pub manifests: Vec<ObjectId>,
    /// Chunks of those manifests.
    pub chunks: Bloom,
}

pub(super) async fn load(repo: &Repository) -> Result<Option<(u64, GcState)>> {
    repo.cells().latest::<GcState>(Kind::GcState, STATE_CELL).await
}

/// Stores the state of a finished run; a concurrent run that stored one first wins (its
/// state is as good).
pub(super) async fn store(repo: &Repository, after: u64, state: &GcState) -> Result<()> {
    repo.cells().put_next(Kind::GcState, STATE_CELL, after, state).await?;
    Ok(())
}

/// What the commits made since a previous run reach.
pub(super) struct Since {
    pub commits: Vec<CommitEntry>,
    /// Manifests their snapshots name that the previous run did not know.
    pub new_manifests: Vec<ObjectId>,
    /// Chunks those manifests hold (exactly).
    pub new_chunks: HashSet<ChunkHash>,
}

/// Walks from `tips` through the commits `prev` knows (without reading them) and reads
/// only the new ones. `None` if a commit `prev` knew is not reachable any more, or the
/// cuts changed: history was dropped, and only a full run can tell what that freed.
pub(super) async fn since(
    repo: &Repository,
    prev: &GcState,
    tips: &[ObjectId],
    cuts: &HashSet<ObjectId>,
    progress: &Progress<'_>,
) -> Result<Option<Since>> {
    let mut prev_cuts: Vec<ObjectId> = prev.cuts.clone();
    let mut now_cuts: Vec<ObjectId> = cuts.iter().copied().collect();
    prev_cuts.sort();
    now_cuts.sort();
    if prev_cuts != now_cuts {
        return Ok(None);
    }
    let known: HashMap<ObjectId, &CommitEntry> = prev.commits.iter().map(|c| (c.id, c)).collect();
    let mut reached: HashSet<ObjectId> = HashSet::new();
    let mut entries: Vec<CommitEntry> = Vec::new();
    let mut front: Vec<ObjectId> = tips.to_vec();
    while !front.is_empty() {
        let mut next = Vec::new();
        let mut unknown = Vec::new();
        for id in front {
            if !reached.insert(id) {
                continue;
            }
            match known.get(&id) {
                Some(e) => {
                    entries.push((*e).clone());
                    next.extend(e.parent);
                }
                None => unknown.push(id),
            }
        }
        let loaded = futures::future::try_join_all(unknown.into_iter().map(|id| {
            let repo = repo.clone();
            async move { repo.load_commit(&id).await }
        }))
        .await?;
        for c in loaded {
            let parent = history_parent(&c, cuts);
            entries.push(CommitEntry {
                id: c.id,
                parent,
                snapshot: c.snapshot,
                session: c.session.clone(),
            });
            next.extend(parent);
        }
        front = next;
    }
    if prev.commits.iter().any(|c| !reached.contains(&c.id)) {
        return Ok(None);
    }
    let known_manifests: HashSet<ObjectId> = prev.manifests.iter().copied().collect();
    let new_snapshots: Vec<ObjectId> = entries
        .iter()
        .filter(|e| !known.contains_key(&e.id))
        .map(|e| e.snapshot)
        .collect();
    let snapshots: Vec<_> = futures::stream::iter(new_snapshots.into_iter().map(|id| {
        let repo = repo.clone();
        async move { repo.load_snapshot(&id).await }
    }))
    .buffer_unordered(READ_CONCURRENCY)
    .try_collect()
    .await?;
    let mut new_manifests: Vec<ObjectId> = snapshots
        .iter()
        .flat_map(|s| s.manifests.iter().map(|p| p.id))
        .filter(|id| !known_manifests.contains(id))
        .collect();
    new_manifests.sort();
    new_manifests.dedup();
    let new_chunks = chunks_of(repo, &new_manifests, progress).await?;
    Ok(Some(Since {
        commits: entries,
        new_manifests,
        new_chunks,
    }))
}

/// Every stored chunk the manifests hold.
pub(super) async fn chunks_of(
    repo: &Repository,
    manifests: &[ObjectId],
    progress: &Progress<'_>,
) -> Result<HashSet<ChunkHash>> {
    let mut out = HashSet::new();
    let (mut done, total) = (0, manifests.len() as u64);
    let mut loaded = futures::stream::iter(manifests.iter().copied().map(|id| {
        let repo = repo.clone();
        async move { repo.load_manifest(&id).await }
    }))
    .buffer_unordered(READ_CONCURRENCY);
    while let Some(m) = loaded.try_next().await? {
        for (_, r) in m.iter() {
            if let ChunkRef::Native { hash, .. } = r {
                out.insert(*hash);
            }
        }
        done += 1;
        progress("reading manifests", done, total);
    }
    Ok(out)
}
