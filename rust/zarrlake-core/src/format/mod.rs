//! On-disk objects. Every object is written once; `codec` wraps each in a versioned envelope.

pub mod chunk_hash;
pub mod chunk_ref;
pub mod codec;
pub mod commit;
pub mod config;
pub mod ids;
pub mod key_list;
pub mod manifest;
mod manifest_wire;
pub mod records;
pub mod snapshot;

pub use chunk_hash::ChunkHash;
pub use chunk_ref::{ChunkRef, VirtualRef};
pub use commit::{ChangeSummary, Commit};
pub use config::RepoConfig;
pub use ids::ObjectId;
pub use key_list::KeyList;
pub use manifest::Manifest;
pub use records::{Fragment, RefVersion, SessionInfo, SessionState, Value};
pub use snapshot::{ManifestPiece, Snapshot};

/// Microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}
