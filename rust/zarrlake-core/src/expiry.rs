//! Expiry: commits older than a cutoff stop being history.
//!
//! A commit is immutable and named by its id (tags, notebooks and logs hold ids), so
//! expiry rewrites no commit. It records *cuts* instead: commits whose parent link no
//! longer counts. Every history walk (log, fast-forward checks, reachability for garbage
//! collection) stops at a cut, so what lies behind one is unreachable unless a ref or
//! another line still reaches it. Every branch tip and tag is kept: only history behind
//! them goes. The cuts are one versioned cell (`refs/expiry/<seq>`), moved with a
//! conditional put like a branch.

use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::format::codec::Kind;
use crate::format::{now_micros, Commit, ObjectId};
use crate::repo::Repository;

const CUTS_CELL: &str = "refs/expiry";

/// The stored cuts: every commit whose parent no longer counts as its history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cuts {
    pub commits: Vec<ObjectId>,
    pub time_micros: i64,
}

/// What an expiry did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expired {
    /// Commits no ref reaches any more.
    pub commits: Vec<ObjectId>,
    /// Commits that became the oldest of their line.
    pub new_roots: Vec<ObjectId>,
}

/// A commit's parent as history sees it: none past a cut.
pub fn history_parent(c: &Commit, cuts: &HashSet<ObjectId>) -> Option<ObjectId> {
    if cuts.contains(&c.id) {
        None
    } else {
        c.parent
    }
}

impl Repository {
    /// The cuts expiry made (empty for a repo that never expired anything).
    pub async fn cuts(&self) -> Result<Arc<HashSet<ObjectId>>> {
        let latest = self.cells().latest_quick::<Cuts>(Kind::Expiry, CUTS_CELL).await?;
        Ok(Arc::new(
            latest.map(|(_, c)| c.commits.into_iter().collect()).unwrap_or_default(),
        ))
    }

    /// Every branch tip and tag: what history is kept for.
    async fn ref_tips(&self) -> Result<Vec<ObjectId>> {
        let (branches, tags) = futures::try_join!(self.branches(), self.tags())?;
        Ok(branches.into_iter().chain(tags).filter_map(|(_, c)| c).collect())
    }

    /// Ids of every commit reachable from `tips` through history that stops at `cuts`,
    /// with the write session that made each.
    async fn reachable(
        &self,
        tips: &[ObjectId],
        cuts: &HashSet<ObjectId>,
    ) -> Result<(HashSet<ObjectId>, std::collections::HashMap<ObjectId, Option<String>>)> {
        let mut seen: HashSet<ObjectId> = HashSet::new();
        let mut sessions = std::collections::HashMap::new();
        let mut front: Vec<ObjectId> = tips.iter().copied().filter(|id| seen.insert(*id)).collect();
        while !front.is_empty() {
            let loaded = futures::future::try_join_all(front.iter().copied().map(|id| {
                let repo = self.clone();
                async move { repo.load_commit(&id).await }
            }))
            .await?;
            sessions.extend(loaded.iter().map(|c| (c.id, c.session.clone())));
            front = loaded
                .iter()
                .filter_map(|c| history_parent(c, cuts))
                .filter(|p| seen.insert(*p))
                .collect();
        }
        Ok((seen, sessions))
    }

    /// Makes every commit older than `cutoff_micros` unreachable as history, except the
    /// branch tips and tags themselves. Refuses while a write session is based on a commit
    /// it would remove. Garbage collection then reclaims what only those commits held.
    pub async fn expire(&self, cutoff_micros: i64) -> Result<Expired> {
        if cutoff_micros > now_micros() {
            return Err(Error::InvalidInput(
                "expire: the cutoff is in the future; it would expire the history being written now".into(),
            ));
        }
        loop {
            let current = self.cells().latest::<Cuts>(Kind::Expiry, CUTS_CELL).await?;
            let (seq, cuts) = current.map_or((0, Cuts::default()), |(s, c)| (s, c));
            let before_cuts: HashSet<ObjectId> = cuts.commits.iter().copied().collect();
            let tips = self.ref_tips().await?;
            let mut after_cuts = before_cuts.clone();
            let mut new_roots = Vec::new();
            for tip in &tips {
                // Down the line from the tip to the first commit older than the cutoff:
                // the commit above it (or the tip itself) becomes the line's oldest.
                let mut keep = self.load_commit(tip).await?;
                if keep.time_micros >= cutoff_micros {
                    while let Some(p) = history_parent(&keep, &after_cuts) {
                        let parent = self.load_commit(&p).await?;
                        if parent.time_micros < cutoff_micros {
                            break;
                        }
                        keep = parent;
                    }
                }
                if history_parent(&keep, &after_cuts).is_some() && after_cuts.insert(keep.id) {
                    new_roots.push(keep.id);
                }
            }
            if new_roots.is_empty() {
                return Ok(Expired::default());
            }
            let (before, after) =
                futures::try_join!(self.reachable(&tips, &before_cuts), self.reachable(&tips, &after_cuts))?;
            let ((before, committed), (after, _)) = (before, after);
            let mut gone: Vec<ObjectId> = before.difference(&after).copied().collect();
            gone.sort();
            let committed = self.committed_sessions(committed, None).await?;
            let writers = self
                .sessions_based_on(&gone.iter().copied().collect(), &committed)
                .await?;
            if !writers.is_empty() {
                return Err(Error::InvalidInput(format!(
                    "Cannot expire: write session(s) {} are based on commits the expiry would remove. \
                     Commit or abandon them first, or choose an older cutoff.",
                    writers.join(", ")
                )));
            }
            let mut commits: Vec<ObjectId> = after_cuts.into_iter().collect();
            commits.sort();
            let record = Cuts {
                commits,
                time_micros: now_micros(),
            };
            if self.cells().put_next(Kind::Expiry, CUTS_CELL, seq, &record).await? {
                new_roots.sort();
                return Ok(Expired {
                    commits: gone,
                    new_roots,
                });
            }
            // Another expiry landed first: start again from its cuts.
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::repo::tests::{fake_commit, memory_repo};
    use crate::repo::Author;

    #[tokio::test]
    async fn expiry_cuts_history_behind_every_ref_and_keeps_the_refs() {
        let repo = memory_repo().await;
        let hex = |i: u8| format!("6600000000000000000000{i:02x}");
        let a = fake_commit(&repo, &hex(1), None, 10).await;
        let b = fake_commit(&repo, &hex(2), Some(a), 20).await;
        let c = fake_commit(&repo, &hex(3), Some(b), 30).await;
        let d = fake_commit(&repo, &hex(4), Some(c), 40).await;
        repo.create_branch("main", d).await.unwrap();
        // A tag on an old commit keeps that commit, not its history.
        repo.create_tag("old", b, None, &Author::default()).await.unwrap();

        let e = repo.expire(25).await.unwrap();
        assert_eq!(e.commits, vec![a]);
        assert_eq!(e.new_roots, vec![b, c]);
        let fresh = Repository::open(&repo.location()).await.unwrap();
        let log: Vec<ObjectId> = fresh.log(Some(d), 0).await.unwrap().iter().map(|c| c.id).collect();
        assert_eq!(log, vec![d, c]);
        assert_eq!(fresh.log(Some(b), 0).await.unwrap().len(), 1);
        assert_eq!(fresh.branch_tip("main").await.unwrap().1, Some(d));
        // The expired commit is still stored (GC reclaims it), and a second run is a no-op.
        assert!(fresh.commit_exists(&a).await.unwrap());
        assert_eq!(fresh.expire(25).await.unwrap(), Expired::default());
        // A cutoff newer than every commit keeps each tip alone.
        let e = fresh.expire(35).await.unwrap();
        assert_eq!(e.commits, vec![c]);
        assert_eq!(fresh.log(Some(d), 0).await.unwrap().len(), 1);
        assert_eq!(
            fresh.expire(now_micros() + 60_000_000).await.unwrap_err().kind(),
            "invalid_input"
        );
    }

    #[tokio::test]
    async fn expiry_refuses_to_remove_the_base_of_a_write_session() {
        let repo = memory_repo().await;
        let s = repo
            .start_session(Some("main".into()), None, true, 3_600_000_000, Author::default(), None)
            .await
            .unwrap();
        s.set("a/c/0", Bytes::from_static(b"1")).await.unwrap();
        let first = s.commit("one", false).await.unwrap().unwrap();
        let writer = repo
            .start_session(
                Some("main".into()),
                Some(first),
                true,
                3_600_000_000,
                Author::default(),
                None,
            )
            .await
            .unwrap();
        writer.set("a/c/1", Bytes::from_static(b"2")).await.unwrap();
        let s = repo
            .start_session(
                Some("main".into()),
                Some(first),
                true,
                3_600_000_000,
                Author::default(),
                None,
            )
            .await
            .unwrap();
        s.set("a/c/2", Bytes::from_static(b"3")).await.unwrap();
        s.commit("two", false).await.unwrap().unwrap();
        let e = repo.expire(now_micros()).await.unwrap_err();
        assert!(e.to_string().contains(writer.id()), "{e}");
        writer.abandon().await.unwrap();
        assert_eq!(repo.expire(now_micros()).await.unwrap().commits, vec![first]);
    }
}
