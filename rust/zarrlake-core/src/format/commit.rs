//! A commit: parent, snapshot, message, author, time, and what it changed.

use serde::{Deserialize, Serialize};

use super::{KeyList, ObjectId};

/// What a commit changed, at the granularity conflicts are checked at: Zarr keys. A small
/// summary rides in the commit record (one object fewer per commit); a large one is stored
/// apart (`changes/<commit id>`) so checkouts and logs never decode it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSummary {
    /// Every key written or deleted, sorted.
    pub keys: KeyList,
    /// Node paths whose node document was deleted, sorted.
    pub deleted_nodes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    pub id: ObjectId,
    pub parent: Option<ObjectId>,
    pub snapshot: ObjectId,
    pub message: String,
    pub author_name: String,
    pub author_email: String,
    pub time_micros: i64,
    pub session_start_micros: i64,
    /// The change summary, when it is small enough to ride along (`INLINE_SUMMARY_BYTES`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<ChangeSummary>,
    /// The write session that made it: a private session records its commit nowhere else,
    /// and history rewrites and GC must tell a session that committed from a live one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

/// Summaries whose keys take at most this many bytes are kept in the commit record.
pub const INLINE_SUMMARY_BYTES: usize = 128 * 1024;

impl ChangeSummary {
    /// Whether the summary is small enough to ride in its commit record.
    pub fn fits_inline(&self) -> bool {
        let nodes: usize = self.deleted_nodes.iter().map(|k| k.len() + 1).sum();
        let bytes = self.keys.text_len() + self.keys.len() + nodes;
        bytes <= INLINE_SUMMARY_BYTES
    }
}
