//! zarrlake-core: a version-controlled store for Zarr arrays.
//!
//! Layers: `storage` (object stores, put-if-absent), `format` (on-disk objects),
//! `refs` (append-only branch/tag versions), `repo` (commit graph and ref resolution),
//! `session` (change sets and durable fragments), `conflict` and `commit`
//! (fast-forward detection, manifest merging), `chunks` and `virtual_read` (chunk I/O);
//! `process` keeps per-process state correct across `fork()`.

pub mod chunks;
pub mod commit;
pub mod conflict;
pub mod error;
pub mod format;
pub mod keys;
pub mod process;
pub mod refs;
pub mod repo;
pub mod session;
pub mod storage;
pub mod virtual_read;

pub use error::{Error, Result};
pub use format::{ChunkRef, Commit, ObjectId, RepoConfig, SessionInfo};
pub use repo::{Author, Repository, Resolved};
pub use session::{ByteRange, Session};
