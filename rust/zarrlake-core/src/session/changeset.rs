//! The uncommitted changes of a session: last write wins per key, deletes are tombstones.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;

use super::fragments::writer_of;
use bytes::Bytes;

use crate::format::{ChangeSummary, ChunkRef, Value};
use crate::keys;

/// Where a write sits in the session's total order: its fragment's name (time-ordered),
/// then its position in the fragment.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Order {
    pub fragment: Arc<str>,
    pub index: u32,
}

#[derive(Clone, Debug)]
pub struct Change {
    pub value: Option<Value>,
    pub order: Order,
}

/// A change set as a commit applies it: both lists sorted by key, `None` for a delete.
#[derive(Debug, Default)]
pub struct Staged {
    pub metadata: Vec<(String, Option<Bytes>)>,
    pub chunks: Vec<(String, Option<ChunkRef>)>,
}

impl Staged {
    pub fn is_empty(&self) -> bool {
        self.metadata.is_empty() && self.chunks.is_empty()
    }
}

#[derive(Clone, Debug, Default)]
pub struct ChangeSet {
    map: BTreeMap<String, Change>,
    /// Keys that two writers of the session wrote with different values: only the later
    /// write survives, so the commit warns about them.
    contested: BTreeSet<String>,
}

impl ChangeSet {
    /// Records a write unless a later write of the same key is already recorded.
    pub fn apply(&mut self, key: String, value: Option<Value>, order: Order) {
        match self.map.get_mut(&key) {
            Some(existing) => {
                if existing.value != value && writer_of(&existing.order.fragment) != writer_of(&order.fragment) {
                    self.contested.insert(key.clone());
                }
                if existing.order <= order {
                    *existing = Change { value, order };
                }
            }
            None => {
                self.map.insert(key, Change { value, order });
            }
        }
    }

    /// Keys more than one writer wrote with different values (one write was lost), sorted.
    pub fn contested(&self) -> Vec<String> {
        self.contested.iter().cloned().collect()
    }

    /// `Some(None)` for a deleted key, `Some(Some(v))` for a written one, `None` if untouched.
    pub fn get(&self, key: &str) -> Option<Option<&Value>> {
        self.map.get(key).map(|c| c.value.as_ref())
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Change)> {
        self.map.iter()
    }

    /// Changes with keys in `[from, to)`; `to == None` means unbounded.
    pub fn range<'a>(&'a self, from: &str, to: Option<&str>) -> impl Iterator<Item = (&'a String, &'a Change)> {
        let upper = match to {
            Some(t) => Bound::Excluded(t.to_string()),
            None => Bound::Unbounded,
        };
        self.map.range((Bound::Included(from.to_string()), upper))
    }

    /// The changes in key order, split into metadata and chunk changes (what a commit
    /// needs), copied once.
    pub fn staged(&self) -> Staged {
        let mut staged = Staged::default();
        for (k, c) in &self.map {
            match &c.value {
                Some(Value::Meta(b)) => staged.metadata.push((k.clone(), Some(b.clone()))),
                Some(Value::Chunk(r)) => staged.chunks.push((k.clone(), Some(r.clone()))),
                None if keys::is_metadata_key(k) => staged.metadata.push((k.clone(), None)),
                None => staged.chunks.push((k.clone(), None)),
            }
        }
        staged
    }

    pub fn summary(&self) -> ChangeSummary {
        summarize(self.map.iter().map(|(k, c)| (k.as_str(), c.value.is_none())))
    }
}

/// Builds the conflict-check summary from (key, deleted) pairs given in key order.
pub fn summarize<'a>(changes: impl Iterator<Item = (&'a str, bool)>) -> ChangeSummary {
    let mut s = ChangeSummary::default();
    for (k, deleted) in changes {
        if deleted && keys::is_node_key(k) {
            s.deleted_nodes.push(keys::dirname(k).to_string());
        }
        s.keys.push(k.to_string());
    }
    s.deleted_nodes.sort();
    s.deleted_nodes.dedup();
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn order(f: &str, i: u32) -> Order {
        Order {
            fragment: Arc::from(f),
            index: i,
        }
    }

    #[test]
    fn last_write_wins_regardless_of_arrival() {
        let mut cs = ChangeSet::default();
        cs.apply("a".into(), Some(Value::Meta(Bytes::from_static(b"2"))), order("f2", 0));
        cs.apply("a".into(), Some(Value::Meta(Bytes::from_static(b"1"))), order("f1", 5));
        assert_eq!(cs.get("a"), Some(Some(&Value::Meta(Bytes::from_static(b"2")))));
        cs.apply("a".into(), None, order("f2", 1));
        assert_eq!(cs.get("a"), Some(None));
        assert_eq!(cs.get("b"), None);
    }

    #[test]
    fn two_writers_of_one_key_are_reported() {
        let meta = |b: &'static [u8]| Some(Value::Meta(Bytes::from_static(b)));
        let mut cs = ChangeSet::default();
        // One writer rewriting its own key is not a lost write.
        cs.apply("a".into(), meta(b"1"), order("0001-w1-01", 0));
        cs.apply("a".into(), meta(b"2"), order("0002-w1-02", 0));
        // Two writers writing the same bytes lose nothing either.
        cs.apply("b".into(), meta(b"x"), order("0001-w1-01", 1));
        cs.apply("b".into(), meta(b"x"), order("0003-w2-01", 0));
        assert!(cs.contested().is_empty());
        // A second writer with other bytes: one write is lost, in whichever order they fold.
        cs.apply("a".into(), meta(b"3"), order("0000-w2-00", 0));
        cs.apply("c".into(), meta(b"1"), order("0009-w3-00", 0));
        cs.apply("c".into(), None, order("0001-w1-05", 0));
        assert_eq!(cs.contested(), vec!["a", "c"]);
        assert_eq!(cs.get("a"), Some(meta(b"2").as_ref()));
        assert_eq!(cs.get("c"), Some(meta(b"1").as_ref()));
    }

    #[test]
    fn summary_lists_deleted_nodes() {
        let mut cs = ChangeSet::default();
        cs.apply("x/zarr.json".into(), None, order("f", 0));
        cs.apply("x/c/0".into(), None, order("f", 1));
        cs.apply("y/c/0".into(), Some(Value::Meta(Bytes::new())), order("f", 2));
        let s = cs.summary();
        assert_eq!(s.keys, vec!["x/c/0", "x/zarr.json", "y/c/0"]);
        assert_eq!(s.deleted_nodes, vec!["x"]);
    }
}
