//! What changed between two versions, per node (group or array).
//!
//! Two snapshots that share a manifest (same id) hold the same refs in it, and a
//! snapshot's manifests hold disjoint keys, so the chunk differences lie in the manifests
//! only one side names: those are read and compared, the shared ones never are. The cost
//! is O(changed manifests), however large the repo. Against a session, its change set is
//! laid over its base snapshot first.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use crate::error::Result;
use crate::expiry::history_parent;
use crate::format::{ChunkRef, Manifest, ObjectId, Snapshot, Value};
use crate::keys;
use crate::repo::Repository;
use crate::session::{ChangeSet, Session};

const MANIFEST_READ_CONCURRENCY: usize = 16;

/// One node's changes. A node's document (`zarr.json`, `.zarray`, `.zgroup`) present on
/// one side only means the node was added or deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeDiff {
    pub path: String,
    /// `array`, `group`, or `node` when neither side has a node document.
    pub kind: &'static str,
    /// Metadata documents that differ: key, old bytes, new bytes (`None`: absent).
    pub metadata: Vec<(String, Option<Bytes>, Option<Bytes>)>,
    pub chunks_added: u64,
    pub chunks_changed: u64,
    pub chunks_deleted: u64,
    /// The chunk keys themselves, when asked for: added, changed, deleted.
    pub keys: Option<[Vec<String>; 3]>,
}

/// Every node that changed, sorted by path. Keys that belong to no node by their shape
/// are counted under the node of their directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    pub nodes: Vec<NodeDiff>,
}

#[derive(Clone, Copy)]
enum ChunkChange {
    Added = 0,
    Changed = 1,
    Deleted = 2,
}

/// Collects changes into nodes.
struct Builder<'a> {
    nodes: BTreeMap<String, NodeDiff>,
    with_keys: bool,
    /// Node paths on either side: they settle the one ambiguous chunk key shape.
    known: HashSet<&'a str>,
}

impl<'a> Builder<'a> {
    fn node(&mut self, path: &str) -> &mut NodeDiff {
        let with_keys = self.with_keys;
        self.nodes.entry(path.to_string()).or_insert_with(|| NodeDiff {
            path: path.to_string(),
            keys: with_keys.then(Default::default),
            ..NodeDiff::default()
        })
    }

    fn metadata(&mut self, key: &str, old: Option<&Bytes>, new: Option<&Bytes>) {
        if old == new {
            return;
        }
        let node = self.node(keys::dirname(key));
        node.metadata.push((key.to_string(), old.cloned(), new.cloned()));
    }

    fn chunk(&mut self, key: &str, old: Option<&ChunkRef>, new: Option<&ChunkRef>) {
        let change = match (old, new) {
            (None, None) => return,
            (Some(a), Some(b)) if a == b => return,
            (None, Some(_)) => ChunkChange::Added,
            (Some(_), None) => ChunkChange::Deleted,
            (Some(_), Some(_)) => ChunkChange::Changed,
        };
        let known = &self.known;
        let path = keys::node_of(key, |p| known.contains(p)).unwrap_or_else(|| keys::dirname(key));
        let path = path.to_string();
        let node = self.node(&path);
        match change {
            ChunkChange::Added => node.chunks_added += 1,
            ChunkChange::Changed => node.chunks_changed += 1,
            ChunkChange::Deleted => node.chunks_deleted += 1,
        }
        if let Some(lists) = &mut node.keys {
            lists[change as usize].push(key.to_string());
        }
    }

    /// Names each node's kind from its document, the new side's if it has one.
    fn finish(self, new: impl Fn(&str) -> Option<&'a Bytes>, old: impl Fn(&str) -> Option<&'a Bytes>) -> Diff {
        let mut nodes: Vec<NodeDiff> = self.nodes.into_values().collect();
        for n in &mut nodes {
            n.kind = node_kind(&n.path, &new)
                .or_else(|| node_kind(&n.path, &old))
                .unwrap_or("node");
        }
        Diff { nodes }
    }
}

/// The kind a node's document says, if the node has one on that side.
fn node_kind<'a>(path: &str, meta: &impl Fn(&str) -> Option<&'a Bytes>) -> Option<&'static str> {
    let key = |name: &str| {
        if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}/{name}")
        }
    };
    if meta(&key(".zarray")).is_some() {
        return Some("array");
    }
    if meta(&key(".zgroup")).is_some() {
        return Some("group");
    }
    let doc: serde_json::Value = serde_json::from_slice(meta(&key("zarr.json"))?).ok()?;
    match doc.get("node_type")?.as_str()? {
        "array" => Some("array"),
        "group" => Some("group"),
        _ => None,
    }
}

/// The manifests of `snap` that `other` does not name, in key order.
async fn own_manifests(repo: &Repository, snap: &Snapshot, other: &Snapshot) -> Result<Vec<Arc<Manifest>>> {
    let theirs: HashSet<ObjectId> = other.manifests.iter().map(|p| p.id).collect();
    let ids: Vec<ObjectId> = snap
        .manifests
        .iter()
        .map(|p| p.id)
        .filter(|id| !theirs.contains(id))
        .collect();
    load_all(repo, ids).await
}

async fn load_all(repo: &Repository, ids: Vec<ObjectId>) -> Result<Vec<Arc<Manifest>>> {
    futures::stream::iter(ids.into_iter().map(|id| {
        let repo = repo.clone();
        async move { repo.load_manifest(&id).await }
    }))
    .buffered(MANIFEST_READ_CONCURRENCY)
    .try_collect()
    .await
}

/// Every ref of `manifests` (each sorted, in key order, disjoint), in key order.
fn entries(manifests: &[Arc<Manifest>]) -> impl Iterator<Item = (&str, &ChunkRef)> {
    manifests.iter().flat_map(|m| m.iter())
}

/// Node paths of a snapshot's metadata documents.
fn node_paths(snap: &Snapshot) -> impl Iterator<Item = &str> {
    snap.metadata
        .keys()
        .filter(|k| keys::is_node_key(k))
        .map(|k| keys::dirname(k))
}

/// Commits walked, at most, to find that one side descends from the other.
const MAX_CHAIN: usize = 64;

impl Repository {
    /// What changed from `from` to `to` (commits; `None` is the empty repo).
    pub async fn diff(&self, from: Option<ObjectId>, to: Option<ObjectId>, with_keys: bool) -> Result<Diff> {
        let (a, b) = futures::try_join!(self.snapshot_of(from), self.snapshot_of(to))?;
        let candidates = self.changed_keys(from, to, &a, &b).await?;
        diff_snapshots(self, &a, &b, None, candidates.as_deref(), with_keys).await
    }

    /// The chunk keys that may differ between two commits when one descends from the
    /// other within `MAX_CHAIN` commits: every chunk key the commits between them wrote
    /// or deleted, from their change summaries. `None` when that does not hold, when a
    /// commit between them deleted a node (its chunks are not listed one by one), or
    /// when the keys are not far fewer than the refs of the manifests that differ (then
    /// comparing those manifests whole is as cheap).
    async fn changed_keys(
        &self,
        from: Option<ObjectId>,
        to: Option<ObjectId>,
        a: &Snapshot,
        b: &Snapshot,
    ) -> Result<Option<Vec<String>>> {
        let (Some(x), Some(y)) = (from, to) else {
            return Ok(None);
        };
        let chain = match self.chain(y, x).await? {
            Some(c) => c,
            None => match self.chain(x, y).await? {
                Some(c) => c,
                None => return Ok(None),
            },
        };
        let ids = |s: &Snapshot| s.manifests.iter().map(|p| p.id).collect::<HashSet<ObjectId>>();
        let (in_a, in_b) = (ids(a), ids(b));
        let own = |s: &Snapshot, other: &HashSet<ObjectId>| {
            s.manifests
                .iter()
                .filter(|p| !other.contains(&p.id))
                .map(|p| p.count)
                .sum::<u64>()
        };
        let differing = own(a, &in_b) + own(b, &in_a);
        let mut keys: Vec<String> = Vec::new();
        for id in chain {
            let summary = self.load_changes(&id).await?;
            if !summary.deleted_nodes.is_empty() {
                return Ok(None);
            }
            keys.extend(
                summary
                    .keys
                    .iter()
                    .filter(|k| !keys::is_metadata_key(k))
                    .map(str::to_string),
            );
            if keys.len() as u64 * 8 > differing {
                return Ok(None);
            }
        }
        keys.sort_unstable();
        keys.dedup();
        Ok(Some(keys))
    }

    /// The commits from `tip` back to, not including, `base`, if `base` is one of its
    /// first `MAX_CHAIN` ancestors.
    async fn chain(&self, tip: ObjectId, base: ObjectId) -> Result<Option<Vec<ObjectId>>> {
        // History as the log shows it: past an expiry cut, commits may be collected.
        let cuts = self.cuts().await?;
        let mut out = Vec::new();
        let mut cur = Some(tip);
        while let Some(id) = cur {
            if id == base {
                return Ok(Some(out));
            }
            if out.len() == MAX_CHAIN {
                break;
            }
            out.push(id);
            cur = history_parent(&*self.load_commit(&id).await?, &cuts);
        }
        Ok(None)
    }
}

impl Session {
    /// What changed from commit `from` to this session: its base plus its changes.
    pub async fn diff_from(&self, from: Option<ObjectId>, with_keys: bool) -> Result<Diff> {
        self.ensure_usable()?;
        self.load_foreign_fragments().await?;
        let repo = self.repo().clone();
        let a = repo.snapshot_of(from).await?;
        let b = self.base_snapshot();
        let changes = self.changes();
        diff_snapshots(&repo, &a, &b, Some(&changes), None, with_keys).await
    }
}

/// `from` against `to` with `overlay` (a session's changes) laid over `to`. With
/// `candidates` (sorted chunk keys outside which nothing differs; no overlay), only those
/// keys are looked up on each side instead of reading the differing manifests through.
async fn diff_snapshots(
    repo: &Repository,
    from: &Snapshot,
    to: &Snapshot,
    overlay: Option<&ChangeSet>,
    candidates: Option<&[String]>,
    with_keys: bool,
) -> Result<Diff> {
    let empty = ChangeSet::default();
    let overlay = overlay.unwrap_or(&empty);
    // The new side's metadata: `to`'s with the overlay's metadata changes applied.
    let mut new_meta: BTreeMap<&str, &Bytes> = to.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    for (k, v) in overlay.iter().filter(|(k, _)| keys::is_metadata_key(k)) {
        match v {
            Some(Value::Meta(b)) => {
                new_meta.insert(k, b);
            }
            _ => {
                new_meta.remove(k);
            }
        }
    }
    let mut known: HashSet<&str> = node_paths(from).collect();
    known.extend(
        new_meta
            .keys()
            .filter(|k| keys::is_node_key(k))
            .map(|k| keys::dirname(k)),
    );
    let mut out = Builder {
        nodes: BTreeMap::new(),
        with_keys,
        known,
    };
    let mut keys_seen: Vec<&str> = from.metadata.keys().map(String::as_str).collect();
    keys_seen.extend(new_meta.keys().copied());
    keys_seen.sort_unstable();
    keys_seen.dedup();
    for k in keys_seen {
        out.metadata(k, from.metadata.get(k), new_meta.get(k).copied());
    }

    let new_side = |k: &str| new_meta.get(k).copied();
    let old_side = |k: &str| from.metadata.get(k);
    if let Some(candidates) = candidates {
        let names = || candidates.iter().map(String::as_str);
        let (old, new) = futures::try_join!(holding(repo, from, names()), holding(repo, to, names()))?;
        for key in candidates {
            out.chunk(key, lookup(from, &old, key), lookup(to, &new, key));
        }
        return Ok(out.finish(new_side, old_side));
    }
    // Chunks: the manifests only one side names, merged in key order.
    let (old, new) = futures::try_join!(own_manifests(repo, from, to), own_manifests(repo, to, from))?;
    // Old values of the overlay's chunk keys, from the old side's manifests that hold them.
    let overlay_keys: Vec<(&str, Option<&ChunkRef>)> = overlay.chunks_from("").collect();
    let holding_old = holding(repo, from, overlay_keys.iter().map(|(k, _)| *k)).await?;
    let old_value = |k: &str| lookup(from, &holding_old, k);

    let mut a = entries(&old).peekable();
    let mut b = entries(&new).peekable();
    let mut o = overlay_keys.iter().peekable();
    loop {
        // The smallest key of the three sorted streams; the overlay decides its own keys.
        let next = [a.peek().map(|e| e.0), b.peek().map(|e| e.0), o.peek().map(|e| e.0)]
            .into_iter()
            .flatten()
            .min();
        let Some(key) = next else { break };
        let in_a = a.next_if(|e| e.0 == key).map(|e| e.1);
        let in_b = b.next_if(|e| e.0 == key).map(|e| e.1);
        match o.next_if(|e| e.0 == key) {
            Some((_, new_ref)) => out.chunk(key, in_a.or_else(|| old_value(key)), *new_ref),
            None => out.chunk(key, in_a, in_b),
        }
    }
    Ok(out.finish(new_side, old_side))
}

/// The manifests of `snap` that hold any of the sorted `keys`, by id.
async fn holding<'k>(
    repo: &Repository,
    snap: &Snapshot,
    keys: impl Iterator<Item = &'k str>,
) -> Result<HashMap<ObjectId, Arc<Manifest>>> {
    let mut ids: Vec<ObjectId> = keys
        .filter_map(|k| snap.piece_for(k).map(|i| snap.manifests[i].id))
        .collect();
    ids.dedup(); // sorted keys fall in the pieces in order
    Ok(ids.iter().copied().zip(load_all(repo, ids.clone()).await?).collect())
}

fn lookup<'m>(snap: &Snapshot, manifests: &'m HashMap<ObjectId, Arc<Manifest>>, key: &str) -> Option<&'m ChunkRef> {
    manifests.get(&snap.manifests[snap.piece_for(key)?].id)?.get(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::tests::memory_repo;
    use crate::repo::Author;

    const DAY: i64 = 86_400_000_000;

    async fn session(repo: &Repository, commit: Option<ObjectId>) -> Session {
        repo.start_session(Some("main".into()), commit, true, DAY, Author::default(), None)
            .await
            .unwrap()
    }

    fn b(s: &str) -> Bytes {
        Bytes::from(s.to_string())
    }

    #[tokio::test]
    async fn diffs_group_by_node_and_read_only_the_manifests_that_differ() {
        let repo = memory_repo().await;
        let s = session(&repo, None).await;
        s.set("a/zarr.json", b(r#"{"node_type":"array"}"#)).await.unwrap();
        s.set("g/zarr.json", b(r#"{"node_type":"group"}"#)).await.unwrap();
        let items: Vec<(String, Bytes)> = (0..40_000)
            .map(|i| (format!("a/c/{i:05}"), b(&format!("{i}"))))
            .collect();
        s.set_many(items).await.unwrap();
        let c1 = s.commit("one", false).await.unwrap();
        let s = session(&repo, c1).await;
        s.set("a/c/00001", b("changed")).await.unwrap();
        s.delete("a/c/00002").await.unwrap();
        s.set("b/zarr.json", b(r#"{"node_type":"array"}"#)).await.unwrap();
        s.set("b/c/0", b("new")).await.unwrap();
        s.delete("g/zarr.json").await.unwrap();

        // Against the session, before its commit.
        let live = s.diff_from(c1, true).await.unwrap();
        let c2 = s.commit("two", false).await.unwrap();
        repo.reset_request_counts();
        let fresh = Repository::open(&repo.location()).await.unwrap();
        let d = fresh.diff(c1, c2, true).await.unwrap();
        assert_eq!(live, d);
        let paths: Vec<&str> = d.nodes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, ["a", "b", "g"]);
        let a = &d.nodes[0];
        assert_eq!((a.chunks_added, a.chunks_changed, a.chunks_deleted), (0, 1, 1));
        assert_eq!(a.keys.as_ref().unwrap()[1], ["a/c/00001"]);
        assert!(a.metadata.is_empty());
        let bn = &d.nodes[1];
        assert_eq!(bn.chunks_added, 1);
        assert_eq!(bn.metadata[0].1, None);
        let g = &d.nodes[2];
        assert_eq!(
            g.metadata,
            vec![("g/zarr.json".to_string(), Some(b(r#"{"node_type":"group"}"#)), None)]
        );
        // 40,000 refs are five manifests; only the first (two changes) and the last (b's
        // keys) were rewritten: four manifests read, not ten.
        let reads: u64 = fresh
            .request_counts()
            .iter()
            .filter(|(k, _)| *k == "get")
            .map(|(_, n)| n)
            .sum();
        assert!(reads <= 2 + 2 + 4 + 2, "{reads} reads");
        // Nothing against itself; everything against the empty repo.
        assert!(fresh.diff(c2, c2, false).await.unwrap().nodes.is_empty());
        let all = fresh.diff(None, c2, false).await.unwrap();
        assert_eq!(all.nodes[0].chunks_added, 39_999);
        assert!(all.nodes[0].keys.is_none());
    }

    /// The diff of two commits, read through the differing manifests whole.
    async fn by_manifests(repo: &Repository, from: Option<ObjectId>, to: Option<ObjectId>) -> Diff {
        let (a, b) = (
            repo.snapshot_of(from).await.unwrap(),
            repo.snapshot_of(to).await.unwrap(),
        );
        diff_snapshots(repo, &a, &b, None, None, true).await.unwrap()
    }

    #[tokio::test]
    async fn diffs_from_change_summaries_equal_diffs_of_whole_manifests() {
        let repo = memory_repo().await;
        let s = session(&repo, None).await;
        s.set("a/zarr.json", b(r#"{"node_type":"array"}"#)).await.unwrap();
        s.set("g/zarr.json", b(r#"{"node_type":"group"}"#)).await.unwrap();
        let items: Vec<(String, Bytes)> = (0..30_000)
            .map(|i| (format!("a/c/{i:05}"), b(&format!("{i}"))))
            .collect();
        s.set_many(items).await.unwrap();
        let mut commits = vec![s.commit("base", false).await.unwrap()];
        // Small changes of every kind: rewritten, rewritten with the same bytes, deleted,
        // added, metadata, a new array, then a node deleted (its chunks not listed).
        let steps: Vec<Vec<(&str, Option<&str>)>> = vec![
            vec![("a/c/00001", Some("x")), ("a/c/29999", Some("y"))],
            vec![("a/c/00001", Some("1")), ("a/c/00007", Some("7"))], // back to the old value; same value
            vec![("a/c/00002", None), ("a/c/30000", Some("new"))],
            vec![("g/zarr.json", Some(r#"{"node_type":"group","attributes":{"k":1}}"#))],
            vec![("b/zarr.json", Some(r#"{"node_type":"array"}"#)), ("b/c/0", Some("b0"))],
            vec![("b/zarr.json", None)],
        ];
        for step in steps {
            let s = session(&repo, *commits.last().unwrap()).await;
            for (k, v) in step {
                match v {
                    Some(v) => s.set(k, b(v)).await.unwrap(),
                    None => s.delete(k).await.unwrap(),
                }
            }
            commits.push(s.commit("step", false).await.unwrap());
        }
        let mut fast = 0;
        for &x in &commits {
            for &y in &commits {
                let (a, bb) = (repo.snapshot_of(x).await.unwrap(), repo.snapshot_of(y).await.unwrap());
                fast += usize::from(repo.changed_keys(x, y, &a, &bb).await.unwrap().is_some());
                assert_eq!(
                    repo.diff(x, y, true).await.unwrap(),
                    by_manifests(&repo, x, y).await,
                    "{x:?} {y:?}"
                );
            }
        }
        // Every pair that does not span the node deletion, in either direction, took the
        // summaries: the 6 commits before it (36 ordered pairs, the diagonal included),
        // and the last commit against itself.
        assert_eq!(fast, 37);
        // The same value written again is no change; a value changed and changed back neither.
        let d = repo.diff(commits[0], commits[2], true).await.unwrap();
        let keys = d.nodes[0].keys.as_ref().unwrap();
        assert_eq!(
            (keys[0].len(), keys[1].as_slice(), keys[2].len()),
            (0, ["a/c/29999".to_string()].as_slice(), 0)
        );
    }
}
