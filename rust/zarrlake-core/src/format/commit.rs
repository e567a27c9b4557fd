//! A commit: parent, snapshot, message, author, time, and what it changed.

use serde::{Deserialize, Serialize};

use super::ObjectId;

/// What a commit changed, at the granularity conflicts are checked at: Zarr keys. Stored
/// apart from the commit (`changes/<commit id>`) so checkouts and logs never decode it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSummary {
    /// Every key written or deleted, sorted.
    pub keys: Vec<String>,
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
}
