//! Fast-forward conflict detection at Zarr-key granularity.
//!
//! Two changes conflict when (1) the same key was written or deleted on both sides, or
//! (2) a node was deleted on one side and anything inside it changed on the other.
//! Different chunks of one array never conflict, nor do metadata and chunk writes.

use std::collections::BTreeSet;

use crate::format::{ChangeSummary, KeyList};
use crate::keys::is_under;

/// Every key of `keys` (sorted) that lies inside `node`.
fn keys_under<'a>(keys: &'a KeyList, node: &'a str) -> impl Iterator<Item = &'a str> {
    let start = if node.is_empty() { 0 } else { keys.lower_bound(node) };
    (start..keys.len())
        .map(|i| keys.get(i))
        .take_while(move |k| node.is_empty() || k.starts_with(node))
        .filter(move |k| is_under(k, node))
}

/// The conflicting paths between our change and the changes that landed upstream, sorted.
pub fn find_conflicts(ours: &ChangeSummary, theirs: &[&ChangeSummary]) -> Vec<String> {
    let mut out = BTreeSet::new();
    for t in theirs {
        // Both lists are sorted: a merge walk finds the common keys.
        let (mut i, mut j) = (0, 0);
        while i < ours.keys.len() && j < t.keys.len() {
            match ours.keys.get(i).cmp(t.keys.get(j)) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    out.insert(ours.keys.get(i).to_string());
                    i += 1;
                    j += 1;
                }
            }
        }
        for node in &t.deleted_nodes {
            out.extend(keys_under(&ours.keys, node).map(str::to_string));
        }
        for node in &ours.deleted_nodes {
            out.extend(keys_under(&t.keys, node).map(str::to_string));
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(keys: &[&str], deleted_nodes: &[&str]) -> ChangeSummary {
        let mut keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        keys.sort();
        ChangeSummary {
            keys: keys.iter().map(String::as_str).collect(),
            deleted_nodes: deleted_nodes.iter().map(|k| k.to_string()).collect(),
        }
    }

    #[test]
    fn conflict_table() {
        // (ours, theirs, expected conflicting paths)
        let cases: Vec<(ChangeSummary, ChangeSummary, Vec<&str>)> = vec![
            // different chunks of one array
            (s(&["a/c/0"], &[]), s(&["a/c/1"], &[]), vec![]),
            // the same chunk
            (s(&["a/c/0"], &[]), s(&["a/c/0"], &[]), vec!["a/c/0"]),
            // metadata vs chunks of the same array
            (s(&["a/zarr.json"], &[]), s(&["a/c/0"], &[]), vec![]),
            // the same metadata document
            (s(&["a/zarr.json"], &[]), s(&["a/zarr.json"], &[]), vec!["a/zarr.json"]),
            // deleted upstream, written here
            (s(&["a/c/3"], &[]), s(&["a/zarr.json", "a/c/0"], &["a"]), vec!["a/c/3"]),
            // deleted here, written upstream
            (s(&["a/zarr.json"], &["a"]), s(&["a/c/9"], &[]), vec!["a/c/9"]),
            // a deleted node does not swallow a sibling with a longer name
            (s(&["ab/c/0"], &[]), s(&["a/zarr.json"], &["a"]), vec![]),
            // deleting the root touches everything
            (s(&["x/c/0"], &[]), s(&["zarr.json"], &[""]), vec!["x/c/0"]),
            // different arrays
            (
                s(&["a/c/0", "a/zarr.json"], &[]),
                s(&["b/c/0", "b/zarr.json"], &[]),
                vec![],
            ),
        ];
        for (i, (ours, theirs, want)) in cases.iter().enumerate() {
            assert_eq!(find_conflicts(ours, &[theirs]), *want, "case {i}");
        }
    }
}
