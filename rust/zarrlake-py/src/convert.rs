//! Conversions between core types and plain Python values.

use pyo3::prelude::*;
use zarrlake_core::format::Commit;
use zarrlake_core::{ByteRange, ObjectId, SessionInfo};

use crate::errors::PyCoreError;

/// (id, parent, message, author_name, author_email, time_micros, session_start_micros)
pub type CommitDict = (String, Option<String>, String, String, String, i64, i64);

pub fn commit_dict(c: &Commit) -> CommitDict {
    (
        c.id.to_string(),
        opt_id(c.parent),
        c.message.clone(),
        c.author_name.clone(),
        c.author_email.clone(),
        c.time_micros,
        c.session_start_micros,
    )
}

/// Per changed node: (path, kind, [(metadata key, old JSON, new JSON)], chunks added, changed,
/// deleted, the chunk keys (added, changed, deleted) when asked for).
pub type NodeDiffTuple = (
    String,
    &'static str,
    Vec<(String, Option<String>, Option<String>)>,
    u64,
    u64,
    u64,
    Option<(Vec<String>, Vec<String>, Vec<String>)>,
);

pub fn diff_tuples(d: zarrlake_core::diff::Diff) -> Vec<NodeDiffTuple> {
    let text = |b: Option<bytes::Bytes>| b.map(|b| String::from_utf8_lossy(&b).into_owned());
    d.nodes
        .into_iter()
        .map(|n| {
            let meta = n.metadata.into_iter().map(|(k, a, b)| (k, text(a), text(b))).collect();
            let keys = n.keys.map(|[a, c, d]| (a, c, d));
            (
                n.path,
                n.kind,
                meta,
                n.chunks_added,
                n.chunks_changed,
                n.chunks_deleted,
                keys,
            )
        })
        .collect()
}

/// (id, branch, base_commit, author_name, author_email, message, start_micros, expires_micros)
pub type SessionInfoTuple = (
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<String>,
    i64,
    i64,
);

pub fn session_info_tuple(i: &SessionInfo) -> SessionInfoTuple {
    (
        i.id.clone(),
        i.branch.clone(),
        opt_id(i.base_commit),
        i.author_name.clone(),
        i.author_email.clone(),
        i.message.clone(),
        i.start_micros,
        i.expires_micros,
    )
}

pub fn opt_id(id: Option<ObjectId>) -> Option<String> {
    id.map(|c| c.to_string())
}

pub fn parse_id(s: &str) -> PyResult<ObjectId> {
    s.parse::<ObjectId>().map_err(|e| PyCoreError(e).into())
}

/// Byte ranges arrive as `None`, `("range", start, end)`, `("offset", n)` or `("suffix", n)`.
#[derive(FromPyObject)]
pub enum RangeArg {
    Tagged3(String, u64, u64),
    Tagged2(String, u64),
}

pub fn to_range(r: Option<RangeArg>) -> PyResult<Option<ByteRange>> {
    let bad = |t: &str| {
        PyCoreError(zarrlake_core::Error::InvalidInput(format!(
            "Unexpected byte_range, got {t}"
        )))
        .into()
    };
    Ok(match r {
        None => None,
        Some(RangeArg::Tagged3(t, s, e)) if t == "range" => {
            if e < s {
                return Err(PyCoreError(zarrlake_core::Error::InvalidInput(format!(
                    "byte range end {e} is before start {s}"
                )))
                .into());
            }
            Some(ByteRange::Range(s, e))
        }
        Some(RangeArg::Tagged2(t, n)) if t == "offset" => Some(ByteRange::Offset(n)),
        Some(RangeArg::Tagged2(t, n)) if t == "suffix" => Some(ByteRange::Suffix(n)),
        Some(RangeArg::Tagged3(t, ..)) | Some(RangeArg::Tagged2(t, _)) => return Err(bad(&t)),
    })
}
