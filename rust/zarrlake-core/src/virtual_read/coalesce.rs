//! Coalescing virtual reads: nearby byte ranges of one source become one request.
//!
//! Ranges of the same URL (and the same recorded version) are sorted and merged while
//! the gap to the next range is at most `MAX_GAP` and the merged request stays within
//! `MAX_MERGED` bytes. Each merged request is one ranged GET; its bytes are then sliced
//! back into the requested pieces (zero-copy). Requests run `CONCURRENCY` at a time.
//! Local files are not merged: a local read has no round trip to save.

use std::collections::BTreeMap;
use std::ops::Range;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use super::access::Policy;
use super::fetch::{fetch, resolve, Version};
use super::source_url::Scheme;
use crate::error::Result;

/// Ranges this close together are fetched in one request.
pub const MAX_GAP: u64 = 1 << 20;
/// A merged request never spans more than this many bytes (unless one range alone does).
pub const MAX_MERGED: u64 = 16 << 20;
/// Merged requests in flight at once.
pub const CONCURRENCY: usize = 16;

/// One wanted byte range of a virtual source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Want {
    /// Position of the request in the caller's list.
    pub index: usize,
    /// The chunk key (for messages).
    pub key: String,
    pub url: String,
    /// Absolute byte range in the source.
    pub range: Range<u64>,
    pub etag: Option<String>,
    pub mtime: Option<i64>,
}

/// A merged range and the requests (index, absolute range) it serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merged {
    pub range: Range<u64>,
    pub parts: Vec<(usize, Range<u64>)>,
}

/// Merges ranges of one source. Pure; the output covers every input range exactly once.
pub fn plan(mut ranges: Vec<(usize, Range<u64>)>, max_gap: u64, max_merged: u64) -> Vec<Merged> {
    ranges.sort_by_key(|(i, r)| (r.start, r.end, *i));
    let mut out: Vec<Merged> = Vec::new();
    for (i, r) in ranges {
        if let Some(m) = out.last_mut() {
            let end = m.range.end.max(r.end);
            if r.start <= m.range.end.saturating_add(max_gap) && end - m.range.start <= max_merged {
                m.range.end = end;
                m.parts.push((i, r));
                continue;
            }
        }
        out.push(Merged {
            range: r.clone(),
            parts: vec![(i, r)],
        });
    }
    out
}

type SourceKey = (String, Option<String>, Option<i64>);
/// The first key that wants a source (for messages) and every range wanted from it.
type SourceWants = (String, Vec<(usize, Range<u64>)>);

/// Reads every wanted range, coalescing per source; returns (index, bytes) pairs.
pub async fn read_all(policy: &Policy, wants: Vec<Want>) -> Result<Vec<(usize, Bytes)>> {
    let mut by_source: BTreeMap<SourceKey, SourceWants> = BTreeMap::new();
    for w in wants {
        let entry = by_source
            .entry((w.url, w.etag, w.mtime))
            .or_insert_with(|| (w.key.clone(), Vec::new()));
        entry.1.push((w.index, w.range));
    }
    let mut jobs = Vec::new();
    for ((url, etag, mtime), (key, ranges)) in by_source {
        let src = resolve(policy, &key, &url).await?;
        // A local read costs no round trip: merging would only add copying.
        let (gap, merged) = if src.scheme == Scheme::File {
            (0, 0)
        } else {
            (MAX_GAP, MAX_MERGED)
        };
        for m in plan(ranges, gap, merged) {
            jobs.push((src.clone(), key.clone(), etag.clone(), mtime, m));
        }
    }
    let pieces: Vec<Vec<(usize, Bytes)>> =
        futures::stream::iter(jobs.into_iter().map(|(src, key, etag, mtime, m)| async move {
            let v = Version {
                etag: etag.as_deref(),
                mtime,
            };
            let whole = fetch(&src, &key, m.range.clone(), v).await?;
            let base = m.range.start;
            Ok::<_, crate::error::Error>(
                m.parts
                    .into_iter()
                    .map(|(i, r)| (i, whole.slice((r.start - base) as usize..(r.end - base) as usize)))
                    .collect(),
            )
        }))
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    Ok(pieces.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_near_ranges_only() {
        let m = plan(vec![(0, 0..10), (1, 20..30), (2, 5000..5010)], 100, 1 << 20);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].range, 0..30);
        assert_eq!(m[0].parts, vec![(0, 0..10), (1, 20..30)]);
        assert_eq!(m[1].range, 5000..5010);
    }

    #[test]
    fn unsorted_and_overlapping_inputs() {
        let m = plan(vec![(0, 50..60), (1, 0..100), (2, 55..58), (3, 100..101)], 0, 1000);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].range, 0..101);
        let mut idx: Vec<usize> = m[0].parts.iter().map(|p| p.0).collect();
        idx.sort();
        assert_eq!(idx, vec![0, 1, 2, 3]);
    }

    #[test]
    fn merged_size_is_bounded() {
        let ranges: Vec<_> = (0..10).map(|i| (i as usize, i * 100..i * 100 + 100)).collect();
        let m = plan(ranges, 1000, 300);
        assert_eq!(
            m.iter().map(|g| g.range.clone()).collect::<Vec<_>>(),
            vec![0..300, 300..600, 600..900, 900..1000]
        );
        // One range bigger than the bound is still fetched, alone.
        let m = plan(vec![(0, 0..5000), (1, 5000..5001)], 10, 300);
        assert_eq!(m.len(), 2);
    }
}
