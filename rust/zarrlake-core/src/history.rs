//! Moving branches through history: reset (compare-and-swap) and squash.
//!
//! Both are one conditional put of the branch's next version, so they never half-happen:
//! the branch moves to the new commit, or (when it moved meanwhile) stays where it was.
//! Neither changes a tag, and neither deletes anything: commits a branch stops reaching
//! stay stored (and readable by id) until garbage collection.

use std::collections::HashSet;

use futures::{StreamExt, TryStreamExt};

use crate::error::{Error, Result};
use crate::format::{now_micros, ChangeSummary, Commit, KeyList, ObjectId, RefVersion};
use crate::ref_names;
use crate::repo::{Author, Repository};

/// A branch that moved under an operation conditional on where it was.
fn moved(name: &str, now: Option<ObjectId>, expected: ObjectId, what: &str) -> Error {
    let now = now.map_or("no commit".to_string(), |c| c.to_string());
    Error::RefMoved(format!(
        "Branch '{name}' is at {now}, not at {expected} as expected; {what}. Look at its log and try again."
    ))
}

/// Sorted, deduplicated union of sorted key lists.
fn union(lists: &[&KeyList]) -> KeyList {
    let mut all: Vec<&str> = lists.iter().flat_map(|l| l.iter()).collect();
    all.sort_unstable();
    all.dedup();
    all.into_iter().collect()
}

impl Repository {
    async fn existing_branch_tip(&self, name: &str) -> Result<(u64, ObjectId)> {
        let missing = || Error::RefNotFound(format!("Branch '{name}' does not exist."));
        if !ref_names::is_storable(name) {
            return Err(missing());
        }
        match self.branch_tip(name).await? {
            (seq, Some(tip)) => Ok((seq, tip)),
            (_, None) => Err(missing()),
        }
    }

    /// Points branch `name` at commit `to`, which can be any commit of the repo (older,
    /// newer, or on another line). With `expected`, only if the branch is still at that
    /// commit (compare-and-swap): otherwise `RefMoved`, and nothing changes.
    pub async fn reset_branch(&self, name: &str, to: ObjectId, expected: Option<ObjectId>) -> Result<()> {
        if !self.commit_exists(&to).await? {
            return Err(Error::RefNotFound(format!(
                "Commit {to} was not found in commit history."
            )));
        }
        loop {
            let (seq, tip) = self.existing_branch_tip(name).await?;
            if let Some(e) = expected {
                if tip != e {
                    return Err(moved(name, Some(tip), e, "it was not reset"));
                }
            }
            if tip == to {
                return Ok(());
            }
            if self.put_branch_version(name, seq, &RefVersion::pointing(to)).await? {
                return Ok(());
            }
            // Another writer moved it first: decided again on the new tip (a refusal if
            // `expected` no longer holds).
        }
    }

    /// Replaces the commits after `since` on branch `name` with one commit of the same
    /// final state, whose parent is `since`. Fails with `RefMoved` if the branch moves
    /// meanwhile (nothing changes then), and refuses while a write session is based on a
    /// commit it would take out of the branch. Returns the new commit, or the tip when
    /// there is nothing to squash.
    pub async fn squash(&self, name: &str, since: ObjectId, message: &str, author: &Author) -> Result<ObjectId> {
        let (seq, tip) = self.existing_branch_tip(name).await?;
        if tip == since {
            return Ok(tip);
        }
        let replaced = self.commits_since(Some(since), Some(tip)).await?;
        if replaced.last().and_then(|c| c.parent) != Some(since) {
            return Err(Error::InvalidInput(format!(
                "Commit {since} is not an ancestor of branch '{name}' (at {tip}): nothing to squash onto."
            )));
        }
        if replaced.len() == 1 {
            return Ok(tip);
        }
        let ids: HashSet<ObjectId> = replaced.iter().map(|c| c.id).collect();
        let known = replaced.iter().map(|c| (c.id, c.session.clone())).collect();
        let writers = self
            .sessions_based_on(&ids, &self.committed_sessions(known, None).await?)
            .await?;
        if !writers.is_empty() {
            return Err(Error::InvalidInput(format!(
                "Cannot squash branch '{name}': write session(s) {} are based on commits the squash would \
                 replace. Commit or abandon them first.",
                writers.join(", ")
            )));
        }
        let replaced_ids: Vec<ObjectId> = replaced.iter().map(|c| c.id).collect();
        // One summary of everything squashed, so sessions based on `since` still see
        // every change when they fast-forward.
        let summaries: Vec<std::sync::Arc<ChangeSummary>> = futures::stream::iter(replaced_ids.into_iter().map(|id| {
            let repo = self.clone();
            async move { repo.load_changes(&id).await }
        }))
        .buffered(8)
        .try_collect()
        .await?;
        let keys = union(&summaries.iter().map(|s| &s.keys).collect::<Vec<_>>());
        let mut deleted_nodes: Vec<String> = summaries.iter().flat_map(|s| s.deleted_nodes.clone()).collect();
        deleted_nodes.sort();
        deleted_nodes.dedup();
        let summary = ChangeSummary { keys, deleted_nodes };
        let last = &replaced[0];
        let now = now_micros();
        let inline = summary.fits_inline();
        let commit = Commit {
            id: ObjectId::new(),
            parent: Some(since),
            snapshot: last.snapshot,
            message: message.to_string(),
            author_name: author.name.clone(),
            author_email: author.email.clone(),
            time_micros: now,
            session_start_micros: now,
            changes: inline.then(|| summary.clone()),
            session: None,
        };
        let id = commit.id;
        let snapshot = commit.snapshot;
        if !inline {
            self.write_changes(id, std::sync::Arc::new(summary)).await?;
        }
        self.write_commit(commit).await?;
        let v = RefVersion {
            snapshot: Some(snapshot),
            ..RefVersion::pointing(id)
        };
        if !self.put_branch_version(name, seq, &v).await? {
            let now = self.branch_tip(name).await?.1;
            return Err(moved(name, now, tip, "it was not squashed"));
        }
        Ok(id)
    }

    /// The newest commit in `start`'s history made at or before `at_micros` (time
    /// travel by date), or `None` if its history begins later.
    pub async fn commit_as_of(&self, start: ObjectId, at_micros: i64) -> Result<Option<ObjectId>> {
        let cuts = self.cuts().await?;
        let mut cur = Some(start);
        while let Some(id) = cur {
            let c = self.load_commit(&id).await?;
            if c.time_micros <= at_micros {
                return Ok(Some(id));
            }
            cur = crate::expiry::history_parent(&c, &cuts);
        }
        Ok(None)
    }

    /// The write sessions that some stored commit names (reachable or not): a private
    /// session records its commit only there. `known`: commits whose session is known
    /// already (only the others are read). `before`: only commits stored before then
    /// count (besides `known`): a younger one may not have landed yet, or may have lost a
    /// race its session is retrying, so its session may still be writing.
    pub(crate) async fn committed_sessions(
        &self,
        known: std::collections::HashMap<ObjectId, Option<String>>,
        before: Option<i64>,
    ) -> Result<HashSet<String>> {
        let listed = self.storage().list_meta("commits").await?;
        let mut out: HashSet<String> = known.values().flatten().cloned().collect();
        let ids: Vec<ObjectId> = listed
            .iter()
            .filter(|m| before.is_none_or(|t| m.modified_micros < t))
            .filter_map(|m| m.key.rsplit_once('/')?.1.parse().ok())
            .filter(|id| !known.contains_key(id))
            .collect();
        let mut loaded = futures::stream::iter(ids.into_iter().map(|id| {
            let repo = self.clone();
            // A damaged or vanished one names no session: its session just stays live longer.
            async move { Ok::<_, Error>(repo.load_commit(&id).await.ok()) }
        }))
        .buffer_unordered(16);
        while let Some(c) = loaded.try_next().await? {
            out.extend(c.and_then(|c| c.session.clone()));
        }
        Ok(out)
    }

    /// Ids of write sessions (not committed, abandoned or expired; private ones too) whose
    /// base commit is one of `commits`. `committed`: sessions known to have committed (a
    /// private session records that only in its commit, see `Commit::session`).
    pub(crate) async fn sessions_based_on(
        &self,
        commits: &HashSet<ObjectId>,
        committed: &HashSet<String>,
    ) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for s in self.live_sessions().await? {
            if !committed.contains(&s.id) && s.base_commit.is_some_and(|c| commits.contains(&c)) {
                out.push(s.id);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::repo::tests::memory_repo;
    use crate::Session;

    const DAY: i64 = 86_400_000_000;

    async fn on_main(repo: &Repository) -> Session {
        let r = repo.resolve("main").await.unwrap();
        repo.start_session(r.branch, r.commit, true, DAY, Author::default(), None)
            .await
            .unwrap()
    }

    async fn commit(repo: &Repository, key: &str, value: &str) -> ObjectId {
        let s = on_main(repo).await;
        s.set(key, Bytes::from(value.to_string())).await.unwrap();
        s.commit(value, false).await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn reset_moves_only_from_the_expected_commit() {
        let repo = memory_repo().await;
        let a = commit(&repo, "x/c/0", "a").await;
        let b = commit(&repo, "x/c/0", "b").await;
        repo.reset_branch("main", a, Some(b)).await.unwrap();
        assert_eq!(repo.branch_tip("main").await.unwrap().1, Some(a));
        let e = repo.reset_branch("main", b, Some(b)).await.unwrap_err();
        assert_eq!(e.kind(), "ref_moved");
        assert_eq!(repo.branch_tip("main").await.unwrap().1, Some(a));
        // Forward again, unconditionally; unknown branches and commits are refused.
        repo.reset_branch("main", b, None).await.unwrap();
        assert_eq!(repo.branch_tip("main").await.unwrap().1, Some(b));
        assert_eq!(
            repo.reset_branch("nope", a, None).await.unwrap_err().kind(),
            "ref_not_found"
        );
        let ghost: ObjectId = "66000000000000000000ffff".parse().unwrap();
        assert_eq!(
            repo.reset_branch("main", ghost, None).await.unwrap_err().kind(),
            "ref_not_found"
        );
    }

    #[tokio::test]
    async fn squash_keeps_the_state_and_the_changes_of_what_it_replaces() {
        let repo = memory_repo().await;
        let base = commit(&repo, "x/c/0", "0").await;
        commit(&repo, "x/c/1", "1").await;
        commit(&repo, "x/c/1", "2").await;
        let tip = commit(&repo, "y/c/0", "3").await;
        // A session on the commit being replaced blocks the squash.
        let blocker = on_main(&repo).await;
        blocker.set("z/c/0", Bytes::from_static(b"w")).await.unwrap();
        let e = repo.squash("main", base, "all", &Author::default()).await.unwrap_err();
        assert!(e.to_string().contains(blocker.id()), "{e}");
        blocker.abandon().await.unwrap();

        let id = repo.squash("main", base, "all", &Author::default()).await.unwrap();
        let fresh = Repository::open(&repo.location()).await.unwrap();
        let c = fresh.load_commit(&id).await.unwrap();
        assert_eq!(c.parent, Some(base));
        assert_eq!(c.snapshot, fresh.load_commit(&tip).await.unwrap().snapshot);
        let changes = fresh.load_changes(&id).await.unwrap();
        assert_eq!(changes.keys.iter().collect::<Vec<_>>(), ["x/c/1", "y/c/0"]);
        assert_eq!(fresh.log(Some(id), 0).await.unwrap().len(), 2);
        // Not an ancestor: refused; nothing left to squash: the tip.
        assert_eq!(
            fresh
                .squash("main", tip, "m", &Author::default())
                .await
                .unwrap_err()
                .kind(),
            "invalid_input"
        );
        assert_eq!(fresh.squash("main", base, "m", &Author::default()).await.unwrap(), id);
    }
}
