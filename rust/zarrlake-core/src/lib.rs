//! zarrlake-core: a version-controlled store for Zarr arrays.
//!
//! Layers: `storage` (object stores, put-if-absent), `format` (on-disk objects),
//! `ref_names` (branch/tag name rules), `refs` (append-only branch/tag versions), `repo`
//! (refs and ref resolution), `catalog` (repos by location: list, check, delete),
//! `graph` (commit history and reachability), `metadata_doc` (metadata documents are JSON objects), `session` (change sets and
//! durable fragments), `conflict` and `commit`
//! (fast-forward detection, manifest merging), `chunks` and `virtual_read` (chunk I/O);
//! `process` keeps per-process state correct across `fork()`.

pub mod buffer_pool;
pub mod catalog;
pub mod chunks;
pub mod commit;
pub mod conflict;
pub mod diff;
pub mod error;
pub mod expiry;
pub mod format;
pub mod gc;
pub mod graph;
pub mod history;
pub mod keys;
pub mod metadata_doc;
pub mod process;
pub mod ref_names;
pub mod refs;
pub mod repo;
pub mod session;
pub mod storage;
pub mod virtual_read;

pub use error::{Error, Result};
pub use format::{ChunkRef, Commit, ObjectId, RepoConfig, SessionInfo};
pub use repo::{Author, Repository, Resolved};
pub use session::{ByteRange, Session};
