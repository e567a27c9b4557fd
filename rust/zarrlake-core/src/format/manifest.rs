//! A manifest: the chunk refs of one contiguous range of the repo's sorted chunk-key space.
//!
//! Keys of one array are contiguous in that order, so a small array shares a manifest with
//! its neighbours and a large array spans several. A commit rewrites only the manifests
//! whose range holds a changed key.

use serde::{Deserialize, Serialize};

use super::ChunkRef;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Sorted by key, unique.
    pub entries: Vec<(String, ChunkRef)>,
}

impl Manifest {
    pub fn get(&self, key: &str) -> Option<&ChunkRef> {
        self.entries
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| &self.entries[i].1)
    }

    /// Index of the first entry whose key is `>= key`.
    pub fn lower_bound(&self, key: &str) -> usize {
        self.entries.partition_point(|(k, _)| k.as_str() < key)
    }
}
