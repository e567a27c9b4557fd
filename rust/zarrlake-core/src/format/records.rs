//! Small records: ref versions, session info and state, and session change fragments.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{ChunkRef, ObjectId};

/// One version of a branch or tag. Refs are append-only sequences of these.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefVersion {
    /// `None` with `deleted == true` is a tombstone.
    pub commit: Option<ObjectId>,
    pub deleted: bool,
    pub time_micros: i64,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub author_name: Option<String>,
    #[serde(default)]
    pub author_email: Option<String>,
    /// The commit's snapshot, when the writer knew it: a checkout then reads the snapshot
    /// without first reading the commit (one round trip fewer on object storage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<ObjectId>,
}

impl RefVersion {
    /// A version pointing at `commit`.
    pub fn pointing(commit: ObjectId) -> Self {
        RefVersion {
            commit: Some(commit),
            deleted: false,
            time_micros: super::now_micros(),
            message: None,
            author_name: None,
            author_email: None,
            snapshot: None,
        }
    }

    /// A version that deletes the ref.
    pub fn tombstone() -> Self {
        RefVersion {
            commit: None,
            deleted: true,
            ..Self::pointing(ObjectId([0; 12]))
        }
    }
}

/// A write session's immutable record, `sessions/<id>/info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    pub branch: Option<String>,
    pub base_commit: Option<ObjectId>,
    pub author_name: String,
    pub author_email: String,
    pub message: Option<String>,
    pub start_micros: i64,
    pub expires_micros: i64,
    /// Stored by a write before its id was handed out: nobody else may join it unless a
    /// later state version says `shared` (see `session::sharing`).
    #[serde(default)]
    pub private: bool,
}

/// A version of a write session's mutable state, `sessions/<id>/state/<seq>`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    pub expires_micros: i64,
    pub abandoned: bool,
    /// A committer has started folding fragments; writers that see this must not ack.
    pub sealed: bool,
    /// Which session handle holds the seal, and since when (see `session::state`).
    #[serde(default)]
    pub sealed_by: Option<String>,
    #[serde(default)]
    pub sealed_micros: i64,
    pub committed: Option<ObjectId>,
    pub branch: Option<String>,
    pub base_commit: Option<ObjectId>,
    pub time_micros: i64,
    /// A private session's id was handed out since: others may join it now.
    #[serde(default)]
    pub shared: bool,
}

/// What a key was set to: a metadata document or a chunk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Value {
    #[serde(rename = "m")]
    Meta(Bytes),
    #[serde(rename = "c")]
    Chunk(ChunkRef),
}

/// A batch of acknowledged writes from one writer. `None` is a delete.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fragment {
    pub records: Vec<(String, Option<Value>)>,
}
