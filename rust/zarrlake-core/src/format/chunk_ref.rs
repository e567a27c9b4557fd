//! Where a chunk's bytes are: in the repo's content-addressed chunk store, inline in the
//! manifest, or a byte range of an external file (a virtual reference).

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::ChunkHash;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChunkRef {
    /// `chunks/<hex(hash)>` in the repo; `len` bytes.
    #[serde(rename = "n")]
    Native { hash: ChunkHash, len: u64 },
    /// Small chunks live in the manifest itself.
    #[serde(rename = "i")]
    Inline(Bytes),
    /// A byte range of an external object. `etag`/`mtime` detect a changed source.
    #[serde(rename = "v")]
    Virtual {
        url: String,
        offset: u64,
        len: u64,
        #[serde(default)]
        etag: Option<String>,
        #[serde(default)]
        mtime: Option<i64>,
    },
}

impl ChunkRef {
    pub fn len(&self) -> u64 {
        match self {
            ChunkRef::Native { len, .. } | ChunkRef::Virtual { len, .. } => *len,
            ChunkRef::Inline(b) => b.len() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
