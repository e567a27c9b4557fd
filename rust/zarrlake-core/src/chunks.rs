//! Chunk I/O: content hashing, inlining and content-addressed storage of chunk bytes.

use bytes::Bytes;
use sha2::Digest;

use crate::error::{Error, Result};
use crate::format::{ChunkHash, ChunkRef};
use crate::storage::Storage;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashMethod {
    Sha256,
    Blake3,
}

impl HashMethod {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "sha256" => Ok(HashMethod::Sha256),
            "blake3" => Ok(HashMethod::Blake3),
            other => Err(Error::InvalidInput(format!("unknown hash method '{other}'"))),
        }
    }

    pub fn digest(self, data: &[u8]) -> ChunkHash {
        let hash = match self {
            HashMethod::Sha256 => <[u8; 32]>::from(sha2::Sha256::digest(data)),
            HashMethod::Blake3 => *blake3::hash(data).as_bytes(),
        };
        ChunkHash::from_digest(hash)
    }
}

pub fn chunk_key(hash: &[u8]) -> String {
    format!("chunks/{}", hex::encode(hash))
}

/// Large chunks are hashed off the async worker threads.
const BLOCKING_HASH_BYTES: usize = 256 * 1024;

fn local_writers() -> &'static tokio::sync::Semaphore {
    static WRITERS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    WRITERS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores.max(2))
    })
}

/// Whether a chunk of `len` bytes rides in the manifest instead of being stored.
pub fn is_inline(inline_threshold: u64, len: usize) -> bool {
    len as u64 <= inline_threshold
}

/// Stores `data` (unless small enough to inline) and returns its ref.
pub async fn write_chunk(
    storage: &Storage,
    method: HashMethod,
    inline_threshold: u64,
    data: Bytes,
) -> Result<ChunkRef> {
    if is_inline(inline_threshold, data.len()) {
        return Ok(ChunkRef::Inline(data));
    }
    let len = data.len() as u64;
    if data.len() >= BLOCKING_HASH_BYTES && storage.is_local() {
        // Hashed and written in one blocking task: run inline, a local write (plain system
        // calls) would serialize a batch's concurrent puts on the one task that polls them.
        // As many at once as there are cores: more only contend in the kernel.
        let _permit = local_writers()
            .acquire()
            .await
            .map_err(|e| Error::Storage(e.to_string()))?;
        let storage = storage.clone();
        return tokio::task::spawn_blocking(move || {
            let hash = method.digest(&data);
            storage.put_immutable_local(&chunk_key(&hash), &data)?;
            Ok(ChunkRef::Native { hash, len })
        })
        .await?;
    }
    let hash = digest_of(method, &data).await?;
    // Content-addressed: an existing object already holds exactly these bytes.
    storage.put_immutable(&chunk_key(&hash), data).await?;
    Ok(ChunkRef::Native { hash, len })
}

/// Hashes `data`, off the async workers when it is large.
async fn digest_of(method: HashMethod, data: &Bytes) -> Result<ChunkHash> {
    if data.len() >= BLOCKING_HASH_BYTES {
        let d = data.clone();
        Ok(tokio::task::spawn_blocking(move || method.digest(&d)).await?)
    } else {
        Ok(method.digest(data))
    }
}

/// Checks bytes read from a chunk object: always their length; their content hash when the
/// whole object was read. A mismatch is corruption, never data handed to the caller.
async fn verify(
    method: HashMethod,
    ck: &str,
    key: &str,
    hash: &[u8],
    want_len: u64,
    whole: bool,
    got: &Bytes,
) -> Result<()> {
    if got.len() as u64 != want_len {
        return Err(Error::corrupt(
            ck,
            format!(
                "chunk of '{key}' has {} bytes where {want_len} were expected (truncated or overwritten)",
                got.len()
            ),
        ));
    }
    if whole && digest_of(method, got).await?.as_bytes() != hash {
        return Err(Error::corrupt(
            ck,
            format!("chunk of '{key}' does not match its content hash (its bytes were changed)"),
        ));
    }
    Ok(())
}

/// Reads a non-virtual chunk, optionally a byte range of it (already clamped to its length),
/// verified against its ref (see `verify`).
pub async fn read_chunk(
    storage: &Storage,
    method: HashMethod,
    key: &str,
    r: &ChunkRef,
    range: Option<std::ops::Range<u64>>,
) -> Result<Bytes> {
    match r {
        ChunkRef::Inline(b) => Ok(match range {
            Some(rg) => b.slice(rg.start as usize..rg.end as usize),
            None => b.clone(),
        }),
        ChunkRef::Native { hash, len } => {
            let ck = chunk_key(hash);
            // A range that covers the whole chunk is read, and verified, as the whole chunk.
            let range = range.filter(|rg| !(rg.start == 0 && rg.end >= *len));
            let (got, want) = match &range {
                Some(rg) => match storage.get_range(&ck, rg.clone()).await {
                    Ok(got) => (got, rg.end - rg.start),
                    Err(e) => {
                        // Stores refuse a range starting past the object's end: for a chunk
                        // of known length that is truncation (corrupt), not a storage failure.
                        if let Ok(Some(whole)) = storage.get(&ck).await {
                            verify(method, &ck, key, hash, *len, false, &whole).await?;
                        }
                        return Err(e);
                    }
                },
                None => (storage.get(&ck).await?, *len),
            };
            let got = got.ok_or_else(|| Error::corrupt(&ck, format!("chunk object for key '{key}' is missing")))?;
            verify(method, &ck, key, hash, want, range.is_none(), &got).await?;
            Ok(got)
        }
        ChunkRef::Virtual { .. } => Err(Error::InvalidInput(
            "virtual chunks are read through the virtual reader".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Location;

    #[tokio::test]
    async fn damaged_chunks_are_corrupt_never_returned() {
        let loc = Location::Memory(format!("chunks-test-{}", crate::format::ObjectId::new()));
        let storage = Storage::open(&loc).unwrap();
        for method in [HashMethod::Blake3, HashMethod::Sha256] {
            let data = Bytes::from((0..300_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>());
            let r = write_chunk(&storage, method, 0, data.clone()).await.unwrap();
            assert_eq!(read_chunk(&storage, method, "a/c/0", &r, None).await.unwrap(), data);
            let ChunkRef::Native { hash, .. } = &r else {
                panic!("not native")
            };
            let ck = chunk_key(hash);
            let mut flipped = data.to_vec();
            flipped[1234] ^= 1;
            let damaged = [Bytes::from(flipped), data.slice(..data.len() - 1)];
            for bad in damaged {
                let truncated = bad.len() < data.len();
                storage.delete(&ck).await.unwrap();
                assert!(storage.put_if_absent(&ck, bad).await.unwrap());
                let err = read_chunk(&storage, method, "a/c/0", &r, None).await.unwrap_err();
                assert_eq!(err.kind(), "corrupt_object");
                assert!(
                    err.to_string().contains("a/c/0") && err.to_string().contains(&ck),
                    "{err}"
                );
                // A range covering the whole chunk is verified as the whole chunk.
                let whole = read_chunk(&storage, method, "a/c/0", &r, Some(0..data.len() as u64)).await;
                assert_eq!(whole.unwrap_err().kind(), "corrupt_object");
                // So is a range past the end of a truncated chunk, which stores refuse.
                let tail = read_chunk(
                    &storage,
                    method,
                    "a/c/0",
                    &r,
                    Some(data.len() as u64 - 1..data.len() as u64),
                )
                .await;
                if truncated {
                    assert_eq!(tail.unwrap_err().kind(), "corrupt_object");
                }
            }
            storage.delete(&ck).await.unwrap();
            assert!(storage.put_if_absent(&ck, data.clone()).await.unwrap());
            let part = read_chunk(&storage, method, "a/c/0", &r, Some(10..20)).await.unwrap();
            assert_eq!(part, data.slice(10..20));
        }
    }
}
