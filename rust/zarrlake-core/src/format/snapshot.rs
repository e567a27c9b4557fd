//! A snapshot: the Zarr metadata documents of every node, and the index of manifests.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::ObjectId;

/// One manifest in the index. Piece `i` covers keys in `[first_i, first_{i+1})`, and
/// the first piece also covers every key below its `first`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestPiece {
    pub first: String,
    pub id: ObjectId,
    pub count: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Metadata documents (`zarr.json`, `.zarray`, `.zgroup`, `.zattrs`, `.zmetadata`) by key.
    pub metadata: BTreeMap<String, Bytes>,
    /// Sorted by `first`.
    pub manifests: Vec<ManifestPiece>,
}

impl Snapshot {
    /// Index of the piece whose range holds `key`, if there are pieces at all.
    pub fn piece_for(&self, key: &str) -> Option<usize> {
        if self.manifests.is_empty() {
            return None;
        }
        let n = self.manifests.partition_point(|p| p.first.as_str() <= key);
        Some(n.saturating_sub(1))
    }

    pub fn chunk_count(&self) -> u64 {
        // Saturating: counts are read from storage, and a damaged one must not overflow.
        self.manifests.iter().fold(0, |n, p| n.saturating_add(p.count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piece_lookup_follows_ranges() {
        let piece = |first: &str| ManifestPiece {
            first: first.into(),
            id: ObjectId::new(),
            count: 1,
        };
        let s = Snapshot {
            metadata: BTreeMap::new(),
            manifests: vec![piece("b"), piece("m")],
        };
        assert_eq!(s.piece_for("a"), Some(0));
        assert_eq!(s.piece_for("b"), Some(0));
        assert_eq!(s.piece_for("l"), Some(0));
        assert_eq!(s.piece_for("m"), Some(1));
        assert_eq!(s.piece_for("z"), Some(1));
        assert_eq!(Snapshot::default().piece_for("a"), None);
    }
}
