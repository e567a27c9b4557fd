//! Reading many looked-up values at once: metadata is sliced in memory, stored chunks are
//! read concurrently, and virtual chunks go through the coalescing reader.

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use super::access::Policy;
use super::coalesce::{read_all, Want};
use crate::chunks;
use crate::error::Result;
use crate::format::{ChunkRef, Value};
use crate::repo::Repository;
use crate::session::ByteRange;

/// Stored (non-virtual) chunk reads in flight at once.
const NATIVE_CONCURRENCY: usize = 32;

fn slice(b: &Bytes, range: Option<ByteRange>) -> Bytes {
    match range {
        None => b.clone(),
        Some(r) => {
            let rg = r.clamp(b.len() as u64);
            b.slice(rg.start as usize..rg.end as usize)
        }
    }
}

/// The bytes of each `(key, range)` request whose value was looked up as `values[i]`.
pub async fn read_values(
    repo: &Repository,
    requests: Vec<(String, Option<ByteRange>)>,
    values: Vec<Option<Value>>,
) -> Result<Vec<Option<Bytes>>> {
    let mut out: Vec<Option<Bytes>> = vec![None; requests.len()];
    let mut wants = Vec::new();
    let mut native = Vec::new();
    for (i, ((key, range), value)) in requests.into_iter().zip(values).enumerate() {
        match value {
            None => {}
            Some(Value::Meta(b)) => out[i] = Some(slice(&b, range)),
            Some(Value::Chunk(ChunkRef::Virtual(v))) => {
                let crate::format::VirtualRef {
                    url,
                    offset,
                    len,
                    etag,
                    mtime,
                } = *v;
                let rg = range.map_or(0..len, |r| r.clamp(len));
                let range = super::source_range(&key, offset, rg)?;
                wants.push(Want {
                    index: i,
                    key,
                    url,
                    range,
                    etag,
                    mtime,
                });
            }
            Some(Value::Chunk(r)) => native.push((i, key, r, range)),
        }
    }
    let storage = repo.chunk_storage().clone();
    let hash = repo.inner.hash;
    let natives: Vec<(usize, Bytes)> = futures::stream::iter(native.into_iter().map(|(i, key, r, range)| {
        let storage = storage.clone();
        async move {
            let rg = range.map(|x| x.clamp(r.len()));
            chunks::read_chunk(&storage, hash, &key, &r, rg).await.map(|b| (i, b))
        }
    }))
    .buffer_unordered(NATIVE_CONCURRENCY)
    .try_collect()
    .await?;
    for (i, b) in natives {
        out[i] = Some(b);
    }
    if !wants.is_empty() {
        for (i, b) in read_all(&Policy::for_repo(repo), wants).await? {
            out[i] = Some(b);
        }
    }
    Ok(out)
}
