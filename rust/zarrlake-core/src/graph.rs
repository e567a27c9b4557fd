//! The commit graph: first-parent history and reachability from many starts. History
//! stops at expiry's cuts (`expiry`).

use std::cmp::Reverse;
use std::collections::HashSet;
use std::sync::Arc;

use futures::future::try_join_all;

use crate::error::Result;
use crate::expiry::history_parent;
use crate::format::{Commit, ObjectId};
use crate::repo::Repository;

/// A commit as history shows it: with no parent past an expiry cut.
fn as_history(c: Arc<Commit>, cuts: &HashSet<ObjectId>) -> Arc<Commit> {
    if c.parent.is_some() && history_parent(&c, cuts).is_none() {
        Arc::new(Commit {
            parent: None,
            ..(*c).clone()
        })
    } else {
        c
    }
}

/// How many commits of one walk front are loaded at once.
const LOAD_CONCURRENCY: usize = 64;

impl Repository {
    /// Commits from `start` back to the root, newest first; `limit` 0 means all.
    pub async fn log(&self, start: Option<ObjectId>, limit: usize) -> Result<Vec<Arc<Commit>>> {
        let cuts = self.cuts().await?;
        let mut out = Vec::new();
        let mut cur = start;
        while let Some(id) = cur {
            if limit > 0 && out.len() >= limit {
                break;
            }
            let c = as_history(self.load_commit(&id).await?, &cuts);
            cur = c.parent;
            out.push(c);
        }
        Ok(out)
    }

    /// Commits reachable from `tip` but not from `base` on the first-parent chain, newest
    /// first. If `base` is not an ancestor of `tip`, every commit back to the root.
    pub async fn commits_since(&self, base: Option<ObjectId>, tip: Option<ObjectId>) -> Result<Vec<Arc<Commit>>> {
        let cuts = self.cuts().await?;
        let mut out = Vec::new();
        let mut cur = tip;
        while let Some(id) = cur {
            if Some(id) == base {
                break;
            }
            let c = self.load_commit(&id).await?;
            cur = history_parent(&c, &cuts);
            out.push(c);
        }
        Ok(out)
    }

    /// Every commit reachable from any of `starts` (a `None` start is an empty branch),
    /// each once, newest first by commit time (then id). Walks with a visited set, so
    /// shared history is loaded once however many refs reach it, and loads each front of
    /// the walk concurrently.
    pub async fn commit_graph(&self, starts: Vec<Option<ObjectId>>) -> Result<Vec<Arc<Commit>>> {
        let cuts = self.cuts().await?;
        let mut seen: HashSet<ObjectId> = HashSet::new();
        let mut front: Vec<ObjectId> = starts.into_iter().flatten().filter(|id| seen.insert(*id)).collect();
        let mut out = Vec::new();
        while !front.is_empty() {
            let mut next = Vec::new();
            for batch in front.chunks(LOAD_CONCURRENCY) {
                let loaded = try_join_all(batch.iter().map(|id| self.load_commit(id))).await?;
                for c in loaded {
                    let c = as_history(c, &cuts);
                    if let Some(p) = c.parent {
                        if seen.insert(p) {
                            next.push(p);
                        }
                    }
                    out.push(c);
                }
            }
            front = next;
        }
        out.sort_by_key(|c| Reverse((c.time_micros, c.id)));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::repo::tests::{fake_commit, memory_repo};
    use crate::ObjectId;

    #[tokio::test]
    async fn graph_holds_every_reachable_commit_once_newest_first() {
        let repo = memory_repo().await;
        let hex = |i: u8| format!("6600000000000000000000{i:02x}");
        let a = fake_commit(&repo, &hex(1), None, 10).await;
        let b = fake_commit(&repo, &hex(2), Some(a), 20).await;
        let c = fake_commit(&repo, &hex(3), Some(b), 30).await;
        // A side branch from b, one commit of it older than c; same time as c breaks by id.
        let d = fake_commit(&repo, &hex(4), Some(b), 25).await;
        let e = fake_commit(&repo, &hex(5), Some(d), 30).await;
        let lonely = fake_commit(&repo, &hex(6), None, 5).await;
        let repo = crate::Repository::open(&repo.location()).await.unwrap();

        let g = repo
            .commit_graph(vec![Some(c), Some(e), None, Some(b), Some(c), Some(lonely)])
            .await
            .unwrap();
        let ids: Vec<ObjectId> = g.iter().map(|c| c.id).collect();
        assert_eq!(ids, vec![e, c, d, b, a, lonely]);
        assert!(repo.commit_graph(vec![None]).await.unwrap().is_empty());
        assert_eq!(
            repo.commit_graph(vec![Some(a)])
                .await
                .unwrap()
                .iter()
                .map(|c| c.id)
                .collect::<Vec<_>>(),
            vec![a]
        );
        let missing: ObjectId = hex(9).parse().unwrap();
        assert_eq!(
            repo.commit_graph(vec![Some(c), Some(missing)])
                .await
                .unwrap_err()
                .kind(),
            "corrupt_object"
        );
    }
}
