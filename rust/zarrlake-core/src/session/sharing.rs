//! Private and shared write sessions.
//!
//! A write session whose id was never handed out (`session.id`, a pickle, an explicit
//! `create_session`) is *private*: only this handle writes to it. Its first write stores
//! its record marked `private`, and joiners are refused. So a private session needs none
//! of the bookkeeping that guards against other writers: no state re-read after each
//! write, no fragment markers, no seal, no fragment listing at commit, and no
//! "committed" state version (nobody can join it afterwards). Its writes are still
//! stored in fragments before they are acknowledged.
//!
//! Handing out the id shares the session (`persist`): markers are written for the
//! fragments stored so far, then a state version says `shared` (and `committed`, if it
//! is), and from then on every write and commit takes the full protocol. A handle used
//! in a forked child, or in a parent that forked since the handle was made, is shared
//! too: the child writes through the inherited handle, and the parent must fold it.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::fragments::acked_prefix;
use super::state::info_key;
use super::Session;
use crate::error::{Error, Result};
use crate::format::codec::{self, Kind};
use crate::keys::basename;

pub(super) fn private_error(id: &str) -> Error {
    Error::SessionNotFound(format!(
        "Session {id} is private to the process that started it: its id was never handed out, so \
         no other process may write to it. To share a session, read its id (repo.session.id) or \
         pickle the repo in the process that writes it"
    ))
}

impl Session {
    /// Whether other handles may write to this session (see the module docs).
    pub fn is_shared(&self) -> bool {
        let inner = &self.inner;
        inner.shared.load(Ordering::SeqCst)
            || crate::process::id() != inner.creator_pid
            || crate::process::forks() != inner.fork_epoch
    }

    /// Stores the session's record before its first write: private unless shared already.
    pub(super) async fn store_record(&self) -> Result<()> {
        if self.is_stored() {
            return Ok(());
        }
        self.store_info().await
    }

    /// Stores the record, marked private unless the session is shared by then (decided
    /// under the lock, so that `persist` either sees it stored or it is not private).
    async fn store_info(&self) -> Result<()> {
        let mut stored = self.inner.stored.lock().await;
        if *stored {
            return Ok(());
        }
        self.ensure_usable()?;
        let info = crate::format::SessionInfo {
            private: !self.is_shared(),
            ..self.info()
        };
        // Already there means a forked child or parent stored it first: the same session.
        self.inner
            .repo
            .storage()
            .put_if_absent(&info_key(&self.inner.id), codec::encode(Kind::SessionInfo, &info)?)
            .await?;
        *stored = true;
        self.inner.stored_flag.store(true, Ordering::Release);
        Ok(())
    }

    /// Shares the session, so that any process that knows its id can join it: its id is
    /// being handed out. Idempotent (a failed attempt is redone by the next); a no-op for
    /// read sessions.
    pub async fn persist(&self) -> Result<()> {
        if !self.inner.writable || self.inner.share_done.load(Ordering::SeqCst) {
            return Ok(());
        }
        // A commit running in private mode finishes first: a joiner must not write into a
        // session whose committer neither sealed it nor lists its fragments.
        let _committing = self.inner.commit_lock.lock().await;
        if self.inner.share_done.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.ensure_usable()?;
        // Shared from here on: every write and commit takes the full protocol, a record
        // stored from now is not private, and a fragment stored from now writes its own
        // marker (those stored before are marked below; one in between gets both).
        self.inner.shared.store(true, Ordering::SeqCst);
        if !*self.inner.stored.lock().await {
            self.store_info().await?;
        } else {
            // Stored, perhaps as private: mark its fragments, then let joiners in.
            self.mark_own_fragments().await?;
            let committed = self.committed();
            self.update_state(move |s| {
                s.shared = true;
                if committed.is_some() {
                    s.committed = committed;
                }
            })
            .await?;
        }
        self.inner.share_done.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Writes the markers that a private session's fragments were stored without.
    async fn mark_own_fragments(&self) -> Result<()> {
        let Some(writer) = self.writer() else { return Ok(()) };
        let storage = self.inner.repo.storage().clone();
        let dir = format!(
            "{}/{}",
            super::fragments::fragments_prefix(&self.inner.id),
            writer.writer_id()
        );
        let acked = acked_prefix(&self.inner.id);
        let names = storage.list(&dir).await?;
        let puts = names.iter().map(|k| {
            let storage = storage.clone();
            let marker = format!("{acked}/{}", basename(k));
            async move { storage.put_if_absent(&marker, Bytes::new()).await }
        });
        futures::future::try_join_all(puts).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::repo::{tests::memory_repo, Author, Repository};

    const DAY: i64 = 86_400_000_000;

    async fn session(repo: &Repository) -> Session {
        let r = repo.resolve("main").await.unwrap();
        repo.start_session(r.branch, r.commit, true, DAY, Author::default(), None)
            .await
            .unwrap()
    }

    fn requests(repo: &Repository) -> u64 {
        let n = repo.request_counts().iter().map(|(_, n)| n).sum();
        repo.reset_request_counts();
        n
    }

    fn small(n: usize) -> Vec<(String, Bytes)> {
        (0..n)
            .map(|i| (format!("a/c/{i}"), Bytes::from(vec![i as u8; 8])))
            .collect()
    }

    #[tokio::test]
    async fn a_private_session_stores_one_fragment_per_batch_and_commits_in_five_puts() {
        let repo = memory_repo().await;
        let s = session(&repo).await;
        s.set("a/zarr.json", Bytes::from_static(b"{}")).await.unwrap();
        requests(&repo);
        s.set_many(small(3)).await.unwrap(); // inline values: no chunk objects
        assert_eq!(requests(&repo), 1, "one fragment, and nothing read back");
        let id = s.commit("c", true).await.unwrap().expect("a commit");
        // Manifest, snapshot, commit (with its summary), ref version, witness.
        assert_eq!(requests(&repo), 5);
        let state = repo.object_keys(&format!("sessions/{}/", s.id())).await.unwrap();
        assert!(
            state.iter().all(|k| !k.contains("/state/") && !k.contains("/acked/")),
            "{state:?}"
        );
        assert_eq!(repo.branch_tip("main").await.unwrap().1, Some(id));
        assert_eq!(repo.load_changes(&id).await.unwrap().keys.len(), 4);
    }

    #[tokio::test]
    async fn a_private_session_refuses_joiners_until_shared_and_then_folds_them() {
        let repo = memory_repo().await;
        let s = session(&repo).await;
        s.set_many(small(2)).await.unwrap();
        let err = repo.join_session(s.id()).await.unwrap_err();
        assert_eq!(err.kind(), "session_not_found");
        assert!(err.to_string().contains("private"), "{err}");
        assert!(repo.list_active_sessions().await.unwrap().is_empty());
        s.persist().await.unwrap();
        // The fragment stored while private got its marker.
        let acked = repo.object_keys(&format!("sessions/{}/acked/", s.id())).await.unwrap();
        assert_eq!(acked.len(), 1, "{acked:?}");
        assert_eq!(repo.list_active_sessions().await.unwrap().len(), 1);
        let joined = repo.join_session(s.id()).await.unwrap();
        joined.set("a/c/9", Bytes::from_static(b"joined")).await.unwrap();
        let id = s.commit("both", true).await.unwrap().expect("a commit");
        let reader = session(&repo).await;
        assert_eq!(reader.base_commit(), Some(id));
        assert_eq!(reader.get("a/c/9", None).await.unwrap().unwrap(), &b"joined"[..]);
        assert_eq!(reader.get("a/c/1", None).await.unwrap().unwrap(), vec![1u8; 8]);
    }

    #[tokio::test]
    async fn sharing_a_committed_private_session_records_the_commit() {
        let repo = memory_repo().await;
        let s = session(&repo).await;
        s.set_many(small(1)).await.unwrap();
        s.commit("c", true).await.unwrap().expect("a commit");
        s.persist().await.unwrap();
        let err = repo.join_session(s.id()).await.unwrap_err();
        assert!(err.to_string().contains("already committed"), "{err}");
    }

    #[tokio::test]
    async fn a_write_that_lands_while_its_handle_commits_is_refused_not_lost() {
        let repo = memory_repo().await;
        let s = session(&repo).await;
        s.set_many(small(1)).await.unwrap();
        s.begin_commit(); // as a commit does before it takes its snapshot of the changes
        let err = s.set("a/c/5", Bytes::from_static(b"late")).await.unwrap_err();
        assert!(err.to_string().contains("not acknowledged"), "{err}");
        s.end_commit();
        s.set("a/c/6", Bytes::from_static(b"later")).await.unwrap();
        let id = s.commit("c", true).await.unwrap().expect("a commit");
        let changes = repo.load_changes(&id).await.unwrap();
        assert_eq!(changes.keys.iter().collect::<Vec<_>>(), ["a/c/0", "a/c/6"]);
    }

    #[tokio::test]
    async fn a_large_change_summary_is_stored_apart_from_its_commit() {
        let repo = memory_repo().await;
        let s = session(&repo).await;
        s.set_many(small(20_000)).await.unwrap(); // about 200 KiB of keys
        let id = s.commit("big", true).await.unwrap().expect("a commit");
        assert_eq!(repo.object_keys("changes/").await.unwrap().len(), 1);
        let fresh = Repository::open(&repo.location()).await.unwrap();
        assert_eq!(fresh.load_changes(&id).await.unwrap().keys.len(), 20_000);
        assert!(fresh.load_commit(&id).await.unwrap().changes.is_none());
    }
}
