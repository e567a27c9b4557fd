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
    /// A byte range of an external object, boxed: it is rare, and inline it would make
    /// every ref (1e7 of them in a large commit's change set) the size of its URL fields.
    #[serde(rename = "v")]
    Virtual(Box<VirtualRef>),
}

/// A byte range of an external object. `etag`/`mtime` detect a changed source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualRef {
    pub url: String,
    pub offset: u64,
    pub len: u64,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub mtime: Option<i64>,
}

impl ChunkRef {
    pub fn new_virtual(url: String, offset: u64, len: u64, etag: Option<String>, mtime: Option<i64>) -> Self {
        ChunkRef::Virtual(Box::new(VirtualRef {
            url,
            offset,
            len,
            etag,
            mtime,
        }))
    }

    pub fn len(&self) -> u64 {
        match self {
            ChunkRef::Native { len, .. } => *len,
            ChunkRef::Virtual(v) => v.len,
            ChunkRef::Inline(b) => b.len() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout before `Virtual` was boxed: stored fragments and manifests hold it.
    #[derive(Serialize)]
    enum Unboxed {
        #[serde(rename = "v")]
        Virtual {
            url: String,
            offset: u64,
            len: u64,
            etag: Option<String>,
            mtime: Option<i64>,
        },
    }

    #[test]
    fn boxing_the_virtual_variant_keeps_its_encoding() {
        let before = Unboxed::Virtual {
            url: "s3://b/f.nc".into(),
            offset: 7,
            len: 9,
            etag: Some("e".into()),
            mtime: None,
        };
        let now = ChunkRef::new_virtual("s3://b/f.nc".into(), 7, 9, Some("e".into()), None);
        let bytes = rmp_serde::to_vec_named(&before).unwrap();
        assert_eq!(rmp_serde::to_vec_named(&now).unwrap(), bytes);
        assert_eq!(rmp_serde::from_slice::<ChunkRef>(&bytes).unwrap(), now);
        // Small enough that a change set of 1e7 refs is not mostly URL-field padding.
        assert!(
            std::mem::size_of::<ChunkRef>() <= 48,
            "{}",
            std::mem::size_of::<ChunkRef>()
        );
    }
}
