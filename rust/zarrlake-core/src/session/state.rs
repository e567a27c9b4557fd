//! A write session's stored record: its immutable info, its versioned state, and the
//! seal a committer holds while it folds the session's fragments into a commit.
//!
//! The seal names its holder (one session handle in one process). A holder whose commit
//! failed and could not release the seal releases it on its next write or commit; anyone
//! may take over a seal held for longer than `SEAL_STALE_MICROS`, since its holder is
//! then presumed dead. Writers never take over a foreign seal: a live committer might
//! still be folding, and would miss what they acknowledge.

use std::sync::Arc;

use super::fragments::AfterWrite;
use super::{check_expiry, MutState, Session};
use crate::error::{Error, Result};
use crate::format::codec::Kind;
use crate::format::{now_micros, SessionInfo, SessionState};
use crate::repo::Repository;

/// After this long a seal is presumed abandoned by a committer that died.
pub const SEAL_STALE_MICROS: i64 = 10 * 60 * 1_000_000;

pub(super) fn info_key(id: &str) -> String {
    format!("sessions/{id}/info")
}

pub(super) fn state_cell(id: &str) -> String {
    format!("sessions/{id}/state")
}

pub(super) fn abandoned_error(id: &str) -> Error {
    Error::SessionExpired(format!(
        "Session expired: session {id} was abandoned and its changes discarded; start a new session with checkout()"
    ))
}

pub(super) fn ensure_open(id: &str, st: &SessionState) -> Result<()> {
    if st.abandoned {
        return Err(abandoned_error(id));
    }
    if st.committed.is_some() {
        return Err(Error::SessionExpired(format!(
            "Session expired: session {id} was already committed; start a new session with checkout()"
        )));
    }
    if st.expires_micros <= now_micros() {
        return Err(Error::SessionExpired(format!(
            "Session expired: session {id} has expired; start a new session with checkout()"
        )));
    }
    Ok(())
}

impl Repository {
    pub(crate) async fn session_state(&self, info: &SessionInfo) -> Result<(u64, SessionState)> {
        let found = self
            .inner
            .cells
            .latest::<SessionState>(Kind::SessionState, &state_cell(&info.id))
            .await?;
        Ok(found.unwrap_or_else(|| (0, initial_state(info))))
    }

    /// The state as the check after each write reads it: without the hole probes (see
    /// `VersionedCells::latest_quick`), one GET when nothing changed.
    async fn session_state_quick(&self, info: &SessionInfo) -> Result<SessionState> {
        let found = self
            .inner
            .cells
            .latest_quick::<SessionState>(Kind::SessionState, &state_cell(&info.id))
            .await?;
        Ok(found.map_or_else(|| initial_state(info), |(_, st)| st))
    }
}

/// The state of a session with no stored state version yet.
fn initial_state(info: &SessionInfo) -> SessionState {
    SessionState {
        expires_micros: info.expires_micros,
        branch: info.branch.clone(),
        base_commit: info.base_commit,
        time_micros: info.start_micros,
        ..SessionState::default()
    }
}

impl Session {
    /// Applies a state change: to the stored state if the session is stored (else the
    /// record written later carries it), then to this handle.
    pub(super) async fn change_state(
        &self,
        stored_change: impl Fn(&mut SessionState),
        local: impl FnOnce(&mut MutState),
    ) -> Result<()> {
        let stored = self.inner.stored.lock().await;
        if *stored {
            self.update_state(stored_change).await?;
        }
        local(&mut self.inner.state.write());
        drop(stored);
        Ok(())
    }

    /// Writes the next version of the session's stored state.
    pub(crate) async fn update_state(&self, f: impl Fn(&mut SessionState)) -> Result<SessionState> {
        self.try_update_state(|s| {
            f(s);
            Ok(true)
        })
        .await
    }

    /// Like `update_state`, but `f` may refuse the change (an error) or find nothing to
    /// change (`false`: no version is written).
    async fn try_update_state(&self, f: impl Fn(&mut SessionState) -> Result<bool>) -> Result<SessionState> {
        let info = self.info();
        let repo = &self.inner.repo;
        let cell = state_cell(&self.inner.id);
        // First try on top of the version this handle saw last (typically the one it just
        // wrote, as a commit seals and then records "committed"): the conditional put
        // fails if anyone wrote since, and only then is the state read. Only a change is
        // tried that way; a refusal or "nothing to do" is decided on the stored state.
        let mut known = repo
            .inner
            .cells
            .last_seen::<SessionState>(Kind::SessionState, &cell)
            .or_else(|| repo.inner.cells.known_empty(&cell).then(|| (0, initial_state(&info))));
        loop {
            let (seq, mut st, fresh) = match known.take() {
                Some((seq, st)) => (seq, st, false),
                None => {
                    let (seq, st) = repo.session_state(&info).await?;
                    (seq, st, true)
                }
            };
            match f(&mut st) {
                Ok(true) => {}
                _ if !fresh => continue,
                Ok(false) => return Ok(st),
                Err(e) => return Err(e),
            }
            st.time_micros = now_micros();
            if repo.inner.cells.put_next(Kind::SessionState, &cell, seq, &st).await? {
                return Ok(st);
            }
        }
    }

    /// Who holds a seal taken through this handle in this process.
    fn seal_token(&self) -> String {
        self.writer().map(|w| w.writer_id().to_string()).unwrap_or_default()
    }

    /// Seals the session for a commit through this handle. Callers hold `commit_lock`.
    pub(crate) async fn seal(&self) -> Result<()> {
        let me = self.seal_token();
        let id = self.inner.id.clone();
        self.try_update_state(|s| {
            ensure_open(&id, s)?;
            let now = now_micros();
            if s.sealed && s.sealed_by.as_deref() != Some(me.as_str()) && now - s.sealed_micros < SEAL_STALE_MICROS {
                return Err(Error::CommitFailed(format!(
                    "Session {id} is being committed by another process; wait for that commit, \
                     or start a new session with checkout()"
                )));
            }
            s.sealed = true;
            s.sealed_by = Some(me.clone());
            s.sealed_micros = now;
            Ok(true)
        })
        .await?;
        Ok(())
    }

    /// Releases this handle's seal; a seal someone else has taken over is left alone.
    pub(crate) async fn release_seal(&self) -> Result<()> {
        let me = self.seal_token();
        self.try_update_state(|s| {
            if !s.sealed || s.sealed_by.as_deref() != Some(me.as_str()) {
                return Ok(false);
            }
            s.sealed = false;
            s.sealed_by = None;
            Ok(true)
        })
        .await?;
        Ok(())
    }

    /// Run after each fragment is stored, with the key of its marker. In a shared
    /// session the write is acknowledged only once the marker is stored and the session
    /// was still open, with nobody folding it, afterwards. A private session has no other
    /// writer or committer: this handle's own commit refuses writes it did not fold (see
    /// `Session::record`).
    pub(super) fn after_write_check(&self) -> AfterWrite {
        let session = self.clone();
        Arc::new(move |marker: String| {
            let session = session.clone();
            Box::pin(async move {
                if !session.is_shared() {
                    return Ok(());
                }
                // An existing marker is one that sharing the session wrote for us.
                let storage = session.inner.repo.storage().clone();
                futures::try_join!(
                    storage.put_if_absent(&marker, bytes::Bytes::new()),
                    session.check_open_after_write()
                )?;
                Ok(())
            })
        })
    }

    async fn check_open_after_write(&self) -> Result<()> {
        let id = &self.inner.id;
        let st = self.inner.repo.session_state_quick(&self.info()).await?;
        // Committed (or abandoned, expired) says more than "being committed".
        ensure_open(id, &st)?;
        if !st.sealed {
            return Ok(());
        }
        if st.sealed_by.as_deref() == Some(self.seal_token().as_str()) {
            // Our own seal, left by a commit that failed and could not release it. If no
            // commit is running through this handle, nobody is folding: reopen and ack.
            if let Ok(_idle) = self.inner.commit_lock.try_lock() {
                self.release_seal().await?;
                return Ok(());
            }
        }
        let hint = if now_micros() - st.sealed_micros >= SEAL_STALE_MICROS {
            "its committer seems to have died; commit the session to recover it, or start a new one"
        } else {
            "this write was not acknowledged"
        };
        Err(Error::SessionExpired(format!(
            "Session expired: session {id} is being committed; {hint}"
        )))
    }

    pub async fn update_expiration(&self, expires_in_micros: i64) -> Result<i64> {
        if !self.inner.writable {
            return Err(Error::ReadOnly("read-only sessions do not expire".into()));
        }
        self.ensure_usable()?;
        let expires = check_expiry(self.inner.start_micros, expires_in_micros)?;
        self.change_state(|s| s.expires_micros = expires, |st| st.expires_micros = expires)
            .await?;
        Ok(expires)
    }

    /// Discards the session: its changes are dropped and every later use fails.
    pub async fn abandon(&self) -> Result<()> {
        if !self.inner.writable {
            return Err(Error::ReadOnly("read-only sessions cannot be abandoned".into()));
        }
        self.change_state(
            |s| s.abandoned = true,
            |st| {
                st.abandoned = true;
                st.changes = Arc::default();
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::repo::Author;

    #[tokio::test]
    async fn a_live_foreign_seal_refuses_others_and_a_stale_one_is_taken_over() {
        let repo = crate::repo::tests::memory_repo().await;
        let a = repo
            .start_session(Some("main".into()), None, true, 3_600_000_000, Author::default(), None)
            .await
            .unwrap();
        a.set("x/zarr.json", Bytes::from_static(b"{}")).await.unwrap();
        // Private until its id is handed out: nobody may join it.
        assert_eq!(repo.join_session(a.id()).await.unwrap_err().kind(), "session_not_found");
        a.persist().await.unwrap();
        let b = repo.join_session(a.id()).await.unwrap();
        // `a` seals, as a committer that then dies would.
        a.seal().await.unwrap();
        assert_eq!(b.commit("b", true).await.unwrap_err().kind(), "commit_failed");
        let refused = b.set("x/c/0", Bytes::from_static(b"1")).await.unwrap_err();
        assert!(
            refused.to_string().contains("this write was not acknowledged"),
            "{refused}"
        );

        b.update_state(|s| s.sealed_micros -= SEAL_STALE_MICROS).await.unwrap();
        let refused = b.set("x/c/0", Bytes::from_static(b"1")).await.unwrap_err();
        assert!(refused.to_string().contains("seems to have died"), "{refused}");
        let c = b.commit("b", true).await.unwrap().expect("a commit");
        assert_eq!(repo.branch_tip("main").await.unwrap().1, Some(c));
        assert!(a.set("x/c/1", Bytes::from_static(b"2")).await.is_err(), "committed now");
    }
}
