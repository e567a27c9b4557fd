//! Listing keys from the base snapshot and the session's changes (never from object storage).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};

use super::Session;
use crate::error::Result;
use crate::format::{Manifest, Snapshot};
use crate::keys::{prefix_end, validate_prefix};

/// A point-in-time view: base snapshot plus the change set's live/deleted keys in range.
struct View {
    base: Arc<Snapshot>,
    /// key -> live (false = deleted in the session)
    changes: BTreeMap<String, bool>,
}

impl Session {
    fn view(&self, from: &str, to: Option<&str>) -> View {
        let st = self.inner.state.read();
        let changes = st
            .changes
            .range(from, to)
            .map(|(k, v)| (k.to_string(), v.is_some()))
            .collect();
        View {
            base: st.base.clone(),
            changes,
        }
    }

    async fn pieces_in(&self, base: &Snapshot, from: &str, to: Option<&str>) -> Result<Vec<Arc<Manifest>>> {
        let Some(first) = base.piece_for(from) else {
            return Ok(Vec::new());
        };
        let last = match to {
            Some(t) => base.manifests.partition_point(|p| p.first.as_str() < t).max(first + 1),
            None => base.manifests.len(),
        };
        let ids: Vec<_> = base.manifests[first..last].iter().map(|p| p.id).collect();
        let repo = self.inner.repo.clone();
        futures::stream::iter(ids.into_iter().map(move |id| {
            let repo = repo.clone();
            async move { repo.load_manifest(&id).await }
        }))
        .buffered(16)
        .try_collect()
        .await
    }

    /// Every key that starts with `prefix`, sorted.
    pub async fn list_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        self.ensure_usable()?;
        validate_prefix(prefix)?;
        let end = prefix_end(prefix);
        let end = if prefix.is_empty() { None } else { end };
        let v = self.view(prefix, end.as_deref());
        let in_range = |k: &str| k.starts_with(prefix);
        let mut out: BTreeSet<String> = BTreeSet::new();
        for (k, _) in v
            .base
            .metadata
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
        {
            if !in_range(k) {
                break;
            }
            out.insert(k.clone());
        }
        for m in self.pieces_in(&v.base, prefix, end.as_deref()).await? {
            let start = m.lower_bound(prefix);
            for (k, _) in m.iter_from(start) {
                if !in_range(k) {
                    break;
                }
                out.insert(k.to_string());
            }
        }
        for (k, live) in v.changes {
            if !in_range(&k) {
                continue;
            }
            if live {
                out.insert(k);
            } else {
                out.remove(&k);
            }
        }
        Ok(out.into_iter().collect())
    }

    /// Every metadata document (`zarr.json`, `.zarray`, `.zattrs`, ...) in the session, sorted.
    pub fn metadata_documents(&self) -> Result<Vec<(String, bytes::Bytes)>> {
        self.ensure_usable()?;
        let st = self.inner.state.read();
        let mut docs = st.base.metadata.clone();
        for (k, v) in st.changes.iter() {
            if !crate::keys::is_metadata_key(k) {
                continue;
            }
            match v {
                Some(crate::format::Value::Meta(b)) => {
                    docs.insert(k.to_string(), b.clone());
                }
                _ => {
                    docs.remove(k);
                }
            }
        }
        Ok(docs.into_iter().collect())
    }

    /// The names directly under the directory `prefix` (files and implicit directories).
    pub async fn list_dir(&self, prefix: &str) -> Result<Vec<String>> {
        self.ensure_usable()?;
        validate_prefix(prefix)?;
        let p = prefix.trim_end_matches('/');
        let dir = if p.is_empty() { String::new() } else { format!("{p}/") };
        let end = if dir.is_empty() { None } else { prefix_end(&dir) };
        let v = self.view(&dir, end.as_deref());
        let mut names = BTreeSet::new();
        let mut from = dir.clone();
        // Seek from child to child so a directory with a million chunks costs one step.
        while let Some(k) = self.next_live(&v, &from, end.as_deref()).await? {
            let rest = &k[dir.len()..];
            match rest.split_once('/') {
                Some((child, _)) => {
                    names.insert(child.to_string());
                    // Skip everything under "<dir><child>/".
                    from = format!("{dir}{child}0");
                }
                None => {
                    names.insert(rest.to_string());
                    from = format!("{k}\0");
                }
            }
        }
        Ok(names.into_iter().collect())
    }

    /// The smallest live key `>= from` and `< to`.
    async fn next_live(&self, v: &View, from: &str, to: Option<&str>) -> Result<Option<String>> {
        let mut x = from.to_string();
        loop {
            let lo = Bound::Included(x.as_str());
            let a = v
                .base
                .metadata
                .range::<str, _>((lo, Bound::Unbounded))
                .next()
                .map(|(k, _)| k.clone());
            let c = v
                .changes
                .range::<str, _>((lo, Bound::Unbounded))
                .next()
                .map(|(k, _)| k.clone());
            let b = self.next_in_pieces(&v.base, &x).await?;
            let Some(k) = [a, b, c].into_iter().flatten().min() else {
                return Ok(None);
            };
            if to.is_some_and(|t| k.as_str() >= t) {
                return Ok(None);
            }
            if v.changes.get(&k) == Some(&false) {
                x = format!("{k}\0");
                continue;
            }
            return Ok(Some(k));
        }
    }

    async fn next_in_pieces(&self, base: &Snapshot, x: &str) -> Result<Option<String>> {
        let Some(mut i) = base.piece_for(x) else {
            return Ok(None);
        };
        while i < base.manifests.len() {
            let m = self.inner.repo.load_manifest(&base.manifests[i].id).await?;
            let j = m.lower_bound(x);
            if j < m.len() {
                return Ok(Some(m.key(j).to_string()));
            }
            i += 1;
        }
        Ok(None)
    }
}
