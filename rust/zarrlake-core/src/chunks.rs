//! Chunk I/O: content hashing, inlining and content-addressed storage of chunk bytes.

use bytes::Bytes;
use sha2::Digest;

use crate::error::{Error, Result};
use crate::format::ChunkRef;
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

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashMethod::Sha256 => sha2::Sha256::digest(data).to_vec(),
            HashMethod::Blake3 => blake3::hash(data).as_bytes().to_vec(),
        }
    }
}

pub fn chunk_key(hash: &[u8]) -> String {
    format!("chunks/{}", hex::encode(hash))
}

/// Large chunks are hashed off the async worker threads.
const BLOCKING_HASH_BYTES: usize = 256 * 1024;

/// Stores `data` (unless small enough to inline) and returns its ref.
pub async fn write_chunk(
    storage: &Storage,
    method: HashMethod,
    inline_threshold: u64,
    data: Bytes,
) -> Result<ChunkRef> {
    if data.len() as u64 <= inline_threshold {
        return Ok(ChunkRef::Inline(data));
    }
    let hash = if data.len() >= BLOCKING_HASH_BYTES {
        let d = data.clone();
        tokio::task::spawn_blocking(move || method.digest(&d)).await?
    } else {
        method.digest(&data)
    };
    let len = data.len() as u64;
    // Content-addressed: an existing object already holds exactly these bytes.
    storage.put_if_absent(&chunk_key(&hash), data).await?;
    Ok(ChunkRef::Native { hash, len })
}

/// Reads a non-virtual chunk, optionally a byte range of it (already clamped to its length).
pub async fn read_chunk(
    storage: &Storage,
    key: &str,
    r: &ChunkRef,
    range: Option<std::ops::Range<u64>>,
) -> Result<Bytes> {
    match r {
        ChunkRef::Inline(b) => Ok(match range {
            Some(rg) => b.slice(rg.start as usize..rg.end as usize),
            None => b.clone(),
        }),
        ChunkRef::Native { hash, .. } => {
            let ck = chunk_key(hash);
            let got = match range {
                Some(rg) => storage.get_range(&ck, rg).await?,
                None => storage.get(&ck).await?,
            };
            got.ok_or_else(|| Error::corrupt(ck, format!("chunk object for key '{key}' is missing")))
        }
        ChunkRef::Virtual { .. } => Err(Error::InvalidInput(
            "virtual chunks are read through the virtual reader".into(),
        )),
    }
}
