//! The uncommitted changes of a session: last write wins per key, deletes are tombstones.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use super::fragments::writer_of;
use super::settled::Settled;
use crate::format::{ChangeSummary, ChunkRef, Value};
use crate::keys;

/// Where a write sits in the session's total order: its fragment's name (time-ordered),
/// then its position in the fragment.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Order {
    pub fragment: Arc<str>,
    pub index: u32,
}

/// An `Order` as the change set keeps it: the fragment's name by number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Seq {
    pub fragment: u32,
    pub index: u32,
}

/// A key's latest change: `None` deletes it.
#[derive(Clone, Debug)]
pub(super) struct Slot {
    pub value: Option<Value>,
    pub seq: Seq,
}

/// A change set as a commit applies it: the metadata changes in key order (`None` for a
/// delete), and the change set itself for the chunk changes (`ChangeSet::chunks_from`):
/// copying 1e7 of them would double a large commit's memory.
#[derive(Debug)]
pub struct Staged {
    pub metadata: Vec<(String, Option<Bytes>)>,
    pub changes: Arc<ChangeSet>,
}

impl Staged {
    pub fn new(changes: Arc<ChangeSet>) -> Self {
        let mut metadata = Vec::new();
        for (k, v) in changes.iter() {
            match v {
                Some(Value::Meta(b)) => metadata.push((k.to_string(), Some(b.clone()))),
                None if keys::is_metadata_key(k) => metadata.push((k.to_string(), None)),
                _ => {}
            }
        }
        Staged { metadata, changes }
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// New keys are kept in a map until there are this many (or a sixteenth of the settled
/// ones, so settling stays amortised O(1) a key), then settled in bulk.
const RECENT_MIN: usize = if cfg!(test) { 8 } else { 1 << 16 };

#[derive(Clone, Debug, Default)]
pub struct ChangeSet {
    /// Fragment names by number, and back.
    fragments: Vec<Arc<str>>,
    fragment_ids: HashMap<Arc<str>, u32>,
    /// Keys not in `settled`.
    recent: BTreeMap<Box<str>, Slot>,
    settled: Settled,
    /// Keys that two writers of the session wrote with different values: only the later
    /// write survives, so the commit warns about them.
    contested: BTreeSet<String>,
}

impl ChangeSet {
    /// Records a write unless a later write of the same key is already recorded.
    pub fn apply(&mut self, key: String, value: Option<Value>, order: Order) {
        let seq = self.seq_of(&order);
        let new = Slot { value, seq };
        let fragments = &self.fragments;
        let existing = match self.settled.get_mut(&key) {
            Some(slot) => Some(slot),
            None => self.recent.get_mut(key.as_str()),
        };
        match existing {
            Some(slot) => {
                if slot.value != new.value
                    && writer_of(&fragments[slot.seq.fragment as usize]) != writer_of(&order.fragment)
                {
                    self.contested.insert(key);
                }
                if order_of(fragments, slot.seq) <= order_of(fragments, seq) {
                    *slot = new;
                }
            }
            None => {
                self.recent.insert(key.into_boxed_str(), new);
                if self.recent.len() >= RECENT_MIN.max(self.settled.len() / 16) {
                    let recent = std::mem::take(&mut self.recent);
                    self.settled.absorb(recent.into_iter().collect());
                }
            }
        }
    }

    fn seq_of(&mut self, order: &Order) -> Seq {
        let fragment = match self.fragment_ids.get(&order.fragment) {
            Some(&n) => n,
            None => {
                let n = self.fragments.len() as u32;
                self.fragments.push(order.fragment.clone());
                self.fragment_ids.insert(order.fragment.clone(), n);
                n
            }
        };
        Seq {
            fragment,
            index: order.index,
        }
    }

    /// Keys more than one writer wrote with different values (one write was lost), sorted.
    pub fn contested(&self) -> Vec<String> {
        self.contested.iter().cloned().collect()
    }

    fn slot(&self, key: &str) -> Option<&Slot> {
        self.recent.get(key).or_else(|| self.settled.get(key))
    }

    /// `Some(None)` for a deleted key, `Some(Some(v))` for a written one, `None` if untouched.
    pub fn get(&self, key: &str) -> Option<Option<&Value>> {
        self.slot(key).map(|s| s.value.as_ref())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many keys the set changes.
    pub fn len(&self) -> usize {
        self.recent.len() + self.settled.len()
    }

    /// Every change in key order: the key and its value, `None` for a delete.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&Value>)> {
        self.range("", None)
    }

    /// Changes with keys in `[from, to)`; `to == None` means unbounded.
    pub fn range<'a>(
        &'a self,
        from: &'a str,
        to: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a str, Option<&'a Value>)> {
        let upper = to.map_or(Bound::Unbounded, Bound::Excluded);
        // An empty range, not a reversed one (which `BTreeMap::range` refuses).
        let reversed = to.is_some_and(|t| t < from);
        let recent = (!reversed)
            .then(|| self.recent.range::<str, _>((Bound::Included(from), upper)))
            .into_iter()
            .flatten()
            .map(|(k, s)| (k.as_ref(), s));
        // The two are disjoint and each sorted: merge them.
        let mut recent = recent.peekable();
        let mut settled = self.settled.range(from, upper).peekable();
        std::iter::from_fn(move || {
            let from_recent = match (recent.peek(), settled.peek()) {
                (Some((a, _)), Some((b, _))) => a < b,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if from_recent {
                recent.next()
            } else {
                settled.next()
            }
        })
        .map(|(k, s)| (k, s.value.as_ref()))
    }

    /// Chunk changes from `from` on, in key order (metadata changes left out).
    pub fn chunks_from<'a>(&'a self, from: &'a str) -> impl Iterator<Item = (&'a str, Option<&'a ChunkRef>)> {
        self.range(from, None).filter_map(|(k, v)| match v {
            Some(Value::Chunk(r)) => Some((k, Some(r))),
            None if !keys::is_metadata_key(k) => Some((k, None)),
            _ => None,
        })
    }

    pub fn summary(&self) -> ChangeSummary {
        summarize(self.iter().map(|(k, v)| (k, v.is_none())))
    }
}

/// Where a write sits in the session's order, by the fragment's name.
fn order_of(fragments: &[Arc<str>], seq: Seq) -> (&str, u32) {
    (&fragments[seq.fragment as usize], seq.index)
}

/// Builds the conflict-check summary from (key, deleted) pairs given in key order.
pub fn summarize<'a>(changes: impl Iterator<Item = (&'a str, bool)>) -> ChangeSummary {
    let mut s = ChangeSummary::default();
    for (k, deleted) in changes {
        if deleted && keys::is_node_key(k) {
            s.deleted_nodes.push(keys::dirname(k).to_string());
        }
        s.keys.push(k);
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
        assert_eq!(s.keys.iter().collect::<Vec<_>>(), ["x/c/0", "x/zarr.json", "y/c/0"]);
        assert_eq!(s.deleted_nodes, vec!["x"]);
    }

    /// The change set as it was, one map entry a key: what the compact one must equal.
    #[derive(Default)]
    struct Model {
        map: BTreeMap<String, (Option<Value>, Order)>,
        contested: BTreeSet<String>,
    }

    impl Model {
        fn apply(&mut self, key: String, value: Option<Value>, order: Order) {
            match self.map.get_mut(&key) {
                Some((v, o)) => {
                    if *v != value && writer_of(&o.fragment) != writer_of(&order.fragment) {
                        self.contested.insert(key);
                    }
                    if *o <= order {
                        *v = value;
                        *o = order;
                    }
                }
                None => {
                    self.map.insert(key, (value, order));
                }
            }
        }
    }

    proptest::proptest! {
        /// Writes of a few writers, in any arrival order, through many settles (the
        /// threshold is 8 in tests): every read agrees with the model.
        #[test]
        fn compact_set_equals_the_map_it_replaced(
            ops in proptest::collection::vec((0u16..300, 0u8..4, 0u8..3, 0u8..6, 0u32..4), 0..400),
            probe in 0u16..300,
        ) {
            let mut cs = ChangeSet::default();
            let mut model = Model::default();
            for (key, value, writer, time, index) in ops {
                let key = if key % 7 == 0 { format!("n{key}/zarr.json") } else { format!("a/c/{key}") };
                let value = match value {
                    0 => None,
                    1 => Some(Value::Meta(Bytes::from(vec![time]))),
                    _ => Some(Value::Chunk(ChunkRef::Inline(Bytes::from(vec![value, time])))),
                };
                let o = order(&format!("{time:04}-w{writer}-00"), index);
                cs.apply(key.clone(), value.clone(), o.clone());
                model.apply(key, value, o);
            }
            let got: Vec<(String, Option<Value>)> = cs.iter().map(|(k, v)| (k.to_string(), v.cloned())).collect();
            let want: Vec<(String, Option<Value>)> = model.map.iter().map(|(k, (v, _))| (k.clone(), v.clone())).collect();
            proptest::prop_assert_eq!(&got, &want);
            proptest::prop_assert_eq!(cs.len(), model.map.len());
            proptest::prop_assert_eq!(cs.contested(), model.contested.iter().cloned().collect::<Vec<_>>());
            let (from, to) = (format!("a/c/{probe}"), format!("a/c/{}", probe + 40));
            let (from, to) = if to < from { (to, from) } else { (from, to) };
            proptest::prop_assert_eq!(cs.range(&to, Some(&from)).count(), 0, "a reversed range is empty");
            let got: Vec<&str> = cs.range(&from, Some(&to)).map(|(k, _)| k).collect();
            let want: Vec<&str> = model.map.range(from.clone()..to.clone()).map(|(k, _)| k.as_str()).collect();
            proptest::prop_assert_eq!(got, want);
            for (k, (v, _)) in &model.map {
                proptest::prop_assert_eq!(cs.get(k), Some(v.as_ref()));
            }
            proptest::prop_assert_eq!(cs.get("a/c/x"), None);
            let staged = Staged::new(Arc::new(cs.clone()));
            let chunks = cs.chunks_from("").count();
            proptest::prop_assert_eq!(staged.metadata.len() + chunks, model.map.len());
        }
    }
}
