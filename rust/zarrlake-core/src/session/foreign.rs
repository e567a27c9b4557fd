//! Folding other writers' fragments into this handle's change set, after checking that
//! every fragment acknowledged to any writer is still there.

use std::collections::HashSet;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};

use super::fragments::{acked_prefix, fragments_prefix, writer_of};
use super::{Order, Session};
use crate::error::{Error, Result};
use crate::format::codec::{self, Kind};
use crate::format::Fragment;
use crate::keys::basename;

impl Session {
    /// Reads the fragments other writers stored and folds them into the change set.
    /// Each writer has its own directory, so our own writes are never listed or re-read,
    /// and fragments already folded in are skipped.
    pub(crate) async fn load_foreign_fragments(&self) -> Result<()> {
        let Some(writer) = self.writer() else {
            return Ok(());
        };
        if !self.is_stored() || !self.is_shared() {
            return Ok(()); // nobody else can have joined it (see `sharing`)
        }
        let mine = writer.writer_id().to_string();
        let storage = self.inner.repo.storage().clone();
        let id = &self.inner.id;
        // Markers before fragments: a marker is written after its fragment, so every
        // marker listed here has a fragment that the listing below must find.
        let acked = storage.list(&acked_prefix(id)).await?;
        let prefix = fragments_prefix(id);
        let mut present = HashSet::new();
        let mut unseen = Vec::new();
        let seen = self.inner.folded.lock().clone();
        for w in storage.list_dirs(&prefix).await? {
            if w == mine {
                continue;
            }
            for k in storage.list(&format!("{prefix}/{w}")).await? {
                present.insert(basename(&k).to_string());
                if !seen.contains(&k) {
                    unseen.push(k);
                }
            }
        }
        for marker in &acked {
            let name = basename(marker);
            let writer = writer_of(name).unwrap_or("");
            // Our own writes are in memory already; a lost fragment of ours loses nothing.
            if writer != mine && !present.contains(name) {
                return Err(Error::corrupt(
                    format!("{prefix}/{writer}/{name}"),
                    format!(
                        "this fragment of session {id} is missing, but its writes were acknowledged; \
                         committing would silently drop them. Abandon the session and write the data again"
                    ),
                ));
            }
        }
        if unseen.is_empty() {
            return Ok(());
        }
        let loaded: Vec<(String, Fragment)> = futures::stream::iter(unseen.into_iter().map(|k| {
            let storage = storage.clone();
            async move {
                let b = storage
                    .get(&k)
                    .await?
                    .ok_or_else(|| Error::corrupt(&k, "fragment vanished"))?;
                let f: Fragment = codec::decode(Kind::Fragment, &k, &b)?;
                Ok::<_, Error>((k, f))
            }
        }))
        .buffer_unordered(16)
        .try_collect()
        .await?;
        let mut st = self.inner.state.write();
        let mut folded = self.inner.folded.lock();
        let changes = Arc::make_mut(&mut st.changes);
        for (k, f) in loaded {
            let name: Arc<str> = Arc::from(basename(&k));
            for (i, (key, v)) in f.records.into_iter().enumerate() {
                changes.apply(
                    key,
                    v,
                    Order {
                        fragment: name.clone(),
                        index: i as u32,
                    },
                );
            }
            folded.insert(k);
        }
        Ok(())
    }
}
