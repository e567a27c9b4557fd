//! Reading virtual chunks: byte ranges of external objects, from allowed prefixes only.

use std::ops::Range;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::format::ChunkRef;
use crate::repo::Repository;

/// Reads the (optionally sub-ranged) bytes of a virtual chunk ref.
pub async fn read(repo: &Repository, key: &str, r: &ChunkRef, range: Option<Range<u64>>) -> Result<Bytes> {
    let ChunkRef::Virtual { url, offset, len, .. } = r else {
        return Err(Error::InvalidInput(format!("'{key}' is not a virtual chunk")));
    };
    let _ = (repo, offset, len, range);
    Err(Error::VirtualNotAllowed(format!(
        "chunk '{key}' is a virtual reference to {url}, and this build cannot read virtual references yet"
    )))
}
