//! A sorted list of keys stored back to back in one string.
//!
//! A commit of 1e7 chunks summarises 1e7 keys; as `Vec<String>` that is 1e7 heap blocks
//! of 24 bytes of header plus a rounded-up allocation each (~56 bytes a key), in one
//! string it is the key's bytes plus one offset.

use std::fmt;

use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Default, PartialEq, Eq)]
pub struct KeyList {
    text: String,
    /// `ends[i]`: where key `i` ends in `text`.
    ends: Vec<usize>,
}

impl KeyList {
    pub fn with_capacity(keys: usize, bytes: usize) -> Self {
        KeyList {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(keys),
        }
    }

    /// Appends `key`, which callers keep in sorted order (lookups rely on it).
    pub fn push(&mut self, key: &str) {
        self.text.push_str(key);
        self.ends.push(self.text.len());
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes of all keys together.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Key `i`; `i < len()`.
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Index of the first key `>= key`.
    pub fn lower_bound(&self, key: &str) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.get(mid) < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The index of `key`, if present.
    pub fn find(&self, key: &str) -> Option<usize> {
        let i = self.lower_bound(key);
        (i < self.len() && self.get(i) == key).then_some(i)
    }
}

impl<'a> FromIterator<&'a str> for KeyList {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        let mut list = KeyList::default();
        for k in iter {
            list.push(k);
        }
        list
    }
}

impl fmt::Debug for KeyList {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Stored as a plain sequence of strings, as summaries were before this type existed.
impl Serialize for KeyList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for k in self.iter() {
            seq.serialize_element(k)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for KeyList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> Visitor<'de> for Keys {
            type Value = KeyList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a sequence of keys")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<KeyList, A::Error> {
                let mut list = KeyList::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20), 0);
                // Borrowed where the decoder can, owned otherwise: either way one copy.
                while let Some(k) = seq.next_element::<std::borrow::Cow<'de, str>>()? {
                    list.push(&k);
                }
                Ok(list)
            }
        }
        d.deserialize_seq(Keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_and_the_stored_form() {
        let list: KeyList = ["a/c/0", "a/c/1", "b/zarr.json"].into_iter().collect();
        assert_eq!(list.len(), 3);
        assert_eq!(list.get(1), "a/c/1");
        assert_eq!(list.find("a/c/1"), Some(1));
        assert_eq!(list.find("a/c"), None);
        assert_eq!(list.lower_bound("b"), 2);
        assert_eq!(list.lower_bound("z"), 3);
        // Encoded exactly as the `Vec<String>` it replaced.
        let as_vec = vec!["a/c/0".to_string(), "a/c/1".into(), "b/zarr.json".into()];
        let bytes = rmp_serde::to_vec_named(&as_vec).unwrap();
        assert_eq!(rmp_serde::to_vec_named(&list).unwrap(), bytes);
        assert_eq!(rmp_serde::from_slice::<KeyList>(&bytes).unwrap(), list);
        assert!(rmp_serde::from_slice::<KeyList>(&rmp_serde::to_vec(&[1, 2]).unwrap()).is_err());
    }
}
