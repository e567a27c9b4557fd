//! The bulk of a large change set: sorted segments of keys and slots, each key once.
//!
//! A `BTreeMap<String, Change>` filled in key order keeps its nodes about half full and
//! gives every key its own heap block: ~350 bytes a change, 3.5 GB for 1e7. Here a change
//! costs its key's bytes, one offset and its slot. Segments hold at most `SEGMENT_MAX`
//! keys, so absorbing new keys rewrites only the segments they fall in, and never holds
//! more than a segment twice.

use std::ops::Bound;

use bytes::Bytes;

use super::changeset::Slot;
use crate::format::{ChunkRef, KeyList, Value};

/// A new key and its change.
pub(super) type Entry = (Box<str>, Slot);

/// A segment that grows past this is split in two.
const SEGMENT_MAX: usize = if cfg!(test) { 64 } else { 1 << 20 };

#[derive(Clone, Debug, Default)]
struct Segment {
    keys: KeyList,
    slots: Vec<Slot>,
}

impl Segment {
    fn first(&self) -> &str {
        self.keys.get(0)
    }
}

#[derive(Clone, Debug, Default)]
pub(super) struct Settled {
    /// Sorted by first key; segment `i` holds the keys in `[first(i), first(i + 1))`.
    segments: Vec<Segment>,
    len: usize,
}

impl Settled {
    pub fn len(&self) -> usize {
        self.len
    }

    /// The segment whose range holds `key` (the first one for keys before it).
    fn segment_for(&self, key: &str) -> usize {
        self.segments.partition_point(|s| s.first() <= key).saturating_sub(1)
    }

    pub fn get(&self, key: &str) -> Option<&Slot> {
        let seg = self.segments.get(self.segment_for(key))?;
        seg.keys.find(key).map(|i| &seg.slots[i])
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Slot> {
        let i = self.segment_for(key);
        let seg = self.segments.get_mut(i)?;
        seg.keys.find(key).map(|i| &mut seg.slots[i])
    }

    /// Entries with keys in `[from, to)`, in key order.
    pub fn range<'a>(&'a self, from: &'a str, to: Bound<&'a str>) -> impl Iterator<Item = (&'a str, &'a Slot)> {
        let first = self.segment_for(from);
        self.segments[first.min(self.segments.len())..]
            .iter()
            .flat_map(move |seg| {
                let start = seg.keys.lower_bound(from);
                (start..seg.keys.len()).map(move |i| (seg.keys.get(i), &seg.slots[i]))
            })
            .take_while(move |(k, _)| match to {
                Bound::Excluded(t) => *k < t,
                _ => true,
            })
    }

    /// Takes in `entries`: sorted, and none of their keys already here.
    pub fn absorb(&mut self, entries: Vec<Entry>) {
        if entries.is_empty() {
            return;
        }
        self.len += entries.len();
        let entries = pack_inline(entries);
        if self.segments.is_empty() {
            self.segments = split(merge(Segment::default(), entries));
            return;
        }
        // Split the entries by the segment they fall in; rewrite from the back so the
        // indices of the segments still to do stay put.
        let mut groups: Vec<(usize, Vec<Entry>)> = Vec::new();
        for e in entries {
            let s = self.segment_for(&e.0);
            match groups.last_mut() {
                Some((gs, list)) if *gs == s => list.push(e),
                _ => groups.push((s, vec![e])),
            }
        }
        for (s, list) in groups.into_iter().rev() {
            let seg = std::mem::take(&mut self.segments[s]);
            let merged = merge(seg, list);
            let parts = split(merged);
            self.segments.splice(s..=s, parts);
        }
    }
}

/// One segment's entries and new ones, merged in key order.
fn merge(seg: Segment, new: Vec<Entry>) -> Segment {
    let n = seg.slots.len() + new.len();
    let bytes = seg.keys.text_len() + new.iter().map(|(k, _)| k.len()).sum::<usize>();
    let mut out = Segment {
        keys: KeyList::with_capacity(n, bytes),
        slots: Vec::with_capacity(n),
    };
    let Segment { keys, slots } = seg;
    let mut old = slots.into_iter().enumerate().peekable();
    let mut new = new.into_iter().peekable();
    loop {
        let take_old = match (old.peek(), new.peek()) {
            (Some((i, _)), Some((k, _))) => keys.get(*i) < k.as_ref(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_old {
            if let Some((i, slot)) = old.next() {
                out.keys.push(keys.get(i));
                out.slots.push(slot);
            }
        } else if let Some((k, slot)) = new.next() {
            out.keys.push(&k);
            out.slots.push(slot);
        }
    }
    out
}

/// A segment, or halves of it small enough to grow again.
fn split(seg: Segment) -> Vec<Segment> {
    if seg.slots.len() <= SEGMENT_MAX {
        return vec![seg];
    }
    let size = SEGMENT_MAX / 2;
    let mut parts = Vec::new();
    let mut slots = seg.slots.into_iter();
    for start in (0..seg.keys.len()).step_by(size) {
        let end = (start + size).min(seg.keys.len());
        let mut part = Segment {
            keys: KeyList::with_capacity(end - start, 0),
            slots: slots.by_ref().take(end - start).collect(),
        };
        for i in start..end {
            part.keys.push(seg.keys.get(i));
        }
        parts.push(part);
    }
    parts
}

/// Moves the entries' inline chunks into one shared buffer: a 4-byte chunk in a block of
/// its own costs 32 bytes of heap, as a slice of a shared one it costs 4.
fn pack_inline(mut entries: Vec<Entry>) -> Vec<Entry> {
    let inline = |s: &Slot| match &s.value {
        Some(Value::Chunk(ChunkRef::Inline(b))) => Some(b.len()),
        _ => None,
    };
    let total: usize = entries.iter().filter_map(|(_, s)| inline(s)).sum();
    if total == 0 {
        return entries;
    }
    let mut arena = Vec::with_capacity(total);
    for (_, s) in &entries {
        if let Some(Value::Chunk(ChunkRef::Inline(b))) = &s.value {
            arena.extend_from_slice(b);
        }
    }
    let arena = Bytes::from(arena);
    let mut at = 0;
    for (_, s) in &mut entries {
        if let Some(n) = inline(s) {
            s.value = Some(Value::Chunk(ChunkRef::Inline(arena.slice(at..at + n))));
            at += n;
        }
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::super::changeset::Seq;
    use super::*;

    fn slot(n: u32) -> Slot {
        Slot {
            value: Some(Value::Chunk(ChunkRef::Inline(Bytes::from(n.to_le_bytes().to_vec())))),
            seq: Seq { fragment: 0, index: n },
        }
    }

    fn entries(keys: impl Iterator<Item = u32>) -> Vec<Entry> {
        keys.map(|n| (format!("k{n:08}").into_boxed_str(), slot(n))).collect()
    }

    #[test]
    fn absorbed_keys_stay_sorted_across_segments() {
        let mut s = Settled::default();
        // Evens, then odds in between, then a run past the end: splits and interleaves.
        s.absorb(entries((0..(SEGMENT_MAX as u32 + 10)).map(|n| n * 2)));
        assert!(s.segments.len() >= 2);
        s.absorb(entries((0..2_000).map(|n| n * 2 + 1)));
        s.absorb(entries((0..5).map(|n| 10_000 + n)));
        let keys: Vec<&str> = s.range("", Bound::Unbounded).map(|(k, _)| k).collect();
        assert_eq!(keys.len(), s.len());
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(s.get("k00000003").map(|x| x.seq.index), Some(3));
        assert!(s.get("k00004001").is_none());
        assert_eq!(s.get("k00010004").map(|x| x.seq.index), Some(10_004));
        let some: Vec<&str> = s
            .range("k00000010", Bound::Excluded("k00000014"))
            .map(|(k, _)| k)
            .collect();
        assert_eq!(some, ["k00000010", "k00000011", "k00000012", "k00000013"]);
        // Inline chunks were moved into shared buffers, bytes intact.
        match &s.get("k00000007").unwrap().value {
            Some(Value::Chunk(ChunkRef::Inline(b))) => assert_eq!(b.as_ref(), 7u32.to_le_bytes()),
            other => panic!("{other:?}"),
        }
    }
}
