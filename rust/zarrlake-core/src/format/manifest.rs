//! A manifest: the chunk refs of one contiguous range of the repo's sorted chunk-key space.
//!
//! Keys of one array are contiguous in that order, so a small array shares a manifest with
//! its neighbours and a large array spans several. A commit rewrites only the manifests
//! whose range holds a changed key.
//!
//! The keys live in one string (with their end offsets), not one string each: a manifest
//! of 1e4 refs is decoded before the first chunk of a checkout is read, and 1e4 small
//! allocations were most of that decode. How it is stored: `manifest_wire`.

use std::fmt;

use super::ChunkRef;

#[derive(Clone, Default, PartialEq)]
pub struct Manifest {
    /// Every key, back to back, sorted and unique.
    keys: String,
    /// `ends[i]`: where key `i` ends in `keys`.
    ends: Vec<usize>,
    refs: Vec<ChunkRef>,
}

impl Manifest {
    /// A manifest of `entries`, which must be sorted by key and unique.
    pub fn from_sorted<K: AsRef<str>>(entries: impl IntoIterator<Item = (K, ChunkRef)>) -> Self {
        let entries = entries.into_iter();
        let n = entries.size_hint().0;
        // Room for keys of a typical length up front: growing by doubling faults in fresh pages.
        let mut m = Manifest {
            keys: String::with_capacity(n * 16),
            ends: Vec::with_capacity(n),
            refs: Vec::with_capacity(n),
        };
        for (key, r) in entries {
            m.push(key.as_ref(), r);
        }
        m
    }

    pub(super) fn with_parts(keys: String, ends: Vec<usize>, refs: Vec<ChunkRef>) -> Self {
        Manifest { keys, ends, refs }
    }

    fn push(&mut self, key: &str, r: ChunkRef) {
        debug_assert!(
            self.ends.is_empty() || self.key(self.len() - 1) < key,
            "unsorted at {key}"
        );
        self.keys.push_str(key);
        self.ends.push(self.keys.len());
        self.refs.push(r);
    }

    pub fn len(&self) -> usize {
        self.refs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    /// Key `i`; `i < len()`.
    pub fn key(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.keys[start..self.ends[i]]
    }

    /// Ref `i`; `i < len()`.
    pub fn chunk_ref(&self, i: usize) -> &ChunkRef {
        &self.refs[i]
    }

    /// Entries from index `from` on, in key order.
    pub fn iter_from(&self, from: usize) -> impl Iterator<Item = (&str, &ChunkRef)> {
        (from..self.len()).map(|i| (self.key(i), &self.refs[i]))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &ChunkRef)> {
        self.iter_from(0)
    }

    pub fn get(&self, key: &str) -> Option<&ChunkRef> {
        let i = self.lower_bound(key);
        (i < self.len() && self.key(i) == key).then(|| &self.refs[i])
    }

    /// Index of the first entry whose key is `>= key`.
    pub fn lower_bound(&self, key: &str) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.key(mid) < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

impl fmt::Debug for Manifest {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn lookups_follow_key_order() {
        let r = |n: u8| ChunkRef::Inline(Bytes::from(vec![n]));
        let m = Manifest::from_sorted([("a/c/0", r(0)), ("a/c/1", r(1)), ("b/c/0", r(2))]);
        assert_eq!(m.len(), 3);
        assert_eq!(m.get("a/c/1"), Some(&r(1)));
        assert_eq!(m.get("a/c"), None);
        assert_eq!(m.get("c"), None);
        assert_eq!(m.lower_bound(""), 0);
        assert_eq!(m.lower_bound("a/c/1"), 1);
        assert_eq!(m.lower_bound("a/c/10"), 2);
        assert_eq!(m.lower_bound("z"), 3);
        let keys: Vec<&str> = m.iter_from(1).map(|(k, _)| k).collect();
        assert_eq!(keys, ["a/c/1", "b/c/0"]);
        assert!(Manifest::default().is_empty());
        assert_eq!(Manifest::default().get("a"), None);
    }
}
