//! Proptest strategies for values of the real stored types, and `Stored`: one value of any kind.

use bytes::Bytes;
use proptest::prelude::*;
use zarrlake_core::format::chunk_hash::MAX_HASH_LEN;
use zarrlake_core::format::codec::{self, Kind};
use zarrlake_core::format::{
    ChangeSummary, ChunkHash, ChunkRef, Commit, Fragment, Manifest, ManifestPiece, ObjectId, RefVersion, SessionInfo,
    SessionState, Snapshot, Value,
};

use super::{KEY, KINDS};

fn arb_id() -> impl Strategy<Value = ObjectId> {
    any::<[u8; 12]>().prop_map(ObjectId)
}

/// Zarr-like keys mostly, any Unicode string sometimes.
fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z]{1,3}(/[a-z0-9.]{1,6}){0,3}",
        1 => any::<String>(),
    ]
}

fn arb_bytes(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn arb_chunk_ref() -> impl Strategy<Value = ChunkRef> {
    prop_oneof![
        (prop::collection::vec(any::<u8>(), 0..=MAX_HASH_LEN), any::<u64>()).prop_map(|(hash, len)| {
            ChunkRef::Native {
                hash: ChunkHash::new(&hash).expect("at most MAX_HASH_LEN bytes"),
                len,
            }
        }),
        arb_bytes(64).prop_map(ChunkRef::Inline),
        (
            any::<String>(),
            any::<u64>(),
            any::<u64>(),
            any::<Option<String>>(),
            any::<Option<i64>>()
        )
            .prop_map(|(url, offset, len, etag, mtime)| ChunkRef::new_virtual(url, offset, len, etag, mtime)),
    ]
}

fn arb_manifest() -> impl Strategy<Value = Manifest> {
    prop::collection::btree_map(arb_key(), arb_chunk_ref(), 0..12)
        .prop_map(|m| Manifest::from_sorted(m.iter().map(|(k, r)| (k.as_str(), r.clone()))))
}

fn arb_snapshot() -> impl Strategy<Value = Snapshot> {
    (
        prop::collection::btree_map(arb_key(), arb_bytes(32), 0..6),
        prop::collection::btree_map(arb_key(), (arb_id(), any::<u64>()), 0..6),
    )
        .prop_map(|(metadata, pieces)| Snapshot {
            metadata,
            manifests: pieces
                .into_iter()
                .map(|(first, (id, count))| ManifestPiece { first, id, count })
                .collect(),
        })
}

fn arb_commit() -> impl Strategy<Value = Commit> {
    (
        arb_id(),
        proptest::option::of(arb_id()),
        arb_id(),
        any::<String>(),
        any::<String>(),
        any::<String>(),
        any::<i64>(),
        any::<i64>(),
    )
        .prop_map(
            |(id, parent, snapshot, message, author_name, author_email, t, s)| Commit {
                id,
                parent,
                snapshot,
                message,
                author_name,
                author_email,
                time_micros: t,
                session_start_micros: s,
                changes: None,
                session: None,
            },
        )
}

fn arb_changes() -> impl Strategy<Value = ChangeSummary> {
    (
        prop::collection::btree_set(arb_key(), 0..10),
        prop::collection::btree_set(arb_key(), 0..4),
    )
        .prop_map(|(keys, nodes)| ChangeSummary {
            keys: keys.iter().map(String::as_str).collect(),
            deleted_nodes: nodes.into_iter().collect(),
        })
}

pub(crate) fn arb_ref_version() -> impl Strategy<Value = RefVersion> {
    (
        proptest::option::of(arb_id()),
        any::<bool>(),
        any::<i64>(),
        any::<Option<String>>(),
        any::<Option<String>>(),
        any::<Option<String>>(),
    )
        .prop_map(
            |(commit, deleted, time_micros, message, author_name, author_email)| RefVersion {
                commit,
                deleted,
                time_micros,
                message,
                author_name,
                author_email,
                snapshot: commit.filter(|_| deleted),
            },
        )
}

fn arb_session_info() -> impl Strategy<Value = SessionInfo> {
    (
        any::<String>(),
        any::<Option<String>>(),
        proptest::option::of(arb_id()),
        any::<String>(),
        any::<String>(),
        any::<Option<String>>(),
        any::<i64>(),
        any::<i64>(),
    )
        .prop_map(
            |(id, branch, base_commit, author_name, author_email, message, start, expires)| SessionInfo {
                id,
                branch,
                base_commit,
                author_name,
                author_email,
                message,
                start_micros: start,
                expires_micros: expires,
                private: start % 2 == 0,
            },
        )
}

pub(crate) fn arb_session_state() -> impl Strategy<Value = SessionState> {
    (
        any::<i64>(),
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(arb_id()),
        any::<Option<String>>(),
        proptest::option::of(arb_id()),
        any::<i64>(),
    )
        .prop_map(
            |(expires_micros, abandoned, sealed, committed, branch, base_commit, time_micros)| SessionState {
                expires_micros,
                abandoned,
                sealed,
                sealed_by: sealed.then(|| "a1b2c3".to_string()),
                sealed_micros: time_micros,
                committed,
                branch,
                base_commit,
                time_micros,
                shared: abandoned && sealed,
            },
        )
}

fn arb_fragment() -> impl Strategy<Value = Fragment> {
    let value = prop_oneof![
        arb_bytes(48).prop_map(Value::Meta),
        arb_chunk_ref().prop_map(Value::Chunk),
    ];
    prop::collection::vec((arb_key(), proptest::option::of(value)), 0..10).prop_map(|records| Fragment { records })
}

/// One value of any stored kind.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Stored {
    Manifest(Manifest),
    Snapshot(Snapshot),
    Commit(Commit),
    Ref(RefVersion),
    SessionInfo(SessionInfo),
    SessionState(SessionState),
    Fragment(Fragment),
    Changes(ChangeSummary),
}

impl Stored {
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Stored::Manifest(_) => Kind::Manifest,
            Stored::Snapshot(_) => Kind::Snapshot,
            Stored::Commit(_) => Kind::Commit,
            Stored::Ref(_) => Kind::Ref,
            Stored::SessionInfo(_) => Kind::SessionInfo,
            Stored::SessionState(_) => Kind::SessionState,
            Stored::Fragment(_) => Kind::Fragment,
            Stored::Changes(_) => Kind::Changes,
        }
    }

    pub(crate) fn encode(&self) -> Bytes {
        let kind = self.kind();
        match self {
            Stored::Manifest(v) => codec::encode(kind, v),
            Stored::Snapshot(v) => codec::encode(kind, v),
            Stored::Commit(v) => codec::encode(kind, v),
            Stored::Ref(v) => codec::encode(kind, v),
            Stored::SessionInfo(v) => codec::encode(kind, v),
            Stored::SessionState(v) => codec::encode(kind, v),
            Stored::Fragment(v) => codec::encode(kind, v),
            Stored::Changes(v) => codec::encode(kind, v),
        }
        .unwrap()
    }

    /// The MessagePack payload inside the envelope.
    pub(crate) fn msgpack(&self) -> Vec<u8> {
        match self {
            Stored::Manifest(v) => rmp_serde::to_vec_named(v),
            Stored::Snapshot(v) => rmp_serde::to_vec_named(v),
            Stored::Commit(v) => rmp_serde::to_vec_named(v),
            Stored::Ref(v) => rmp_serde::to_vec_named(v),
            Stored::SessionInfo(v) => rmp_serde::to_vec_named(v),
            Stored::SessionState(v) => rmp_serde::to_vec_named(v),
            Stored::Fragment(v) => rmp_serde::to_vec_named(v),
            Stored::Changes(v) => rmp_serde::to_vec_named(v),
        }
        .unwrap()
    }

    /// Decodes `bytes` as this value's kind.
    pub(crate) fn decode_same_kind(&self, bytes: &[u8]) -> zarrlake_core::Result<Stored> {
        let kind = self.kind();
        Ok(match self {
            Stored::Manifest(_) => Stored::Manifest(codec::decode(kind, KEY, bytes)?),
            Stored::Snapshot(_) => Stored::Snapshot(codec::decode(kind, KEY, bytes)?),
            Stored::Commit(_) => Stored::Commit(codec::decode(kind, KEY, bytes)?),
            Stored::Ref(_) => Stored::Ref(codec::decode(kind, KEY, bytes)?),
            Stored::SessionInfo(_) => Stored::SessionInfo(codec::decode(kind, KEY, bytes)?),
            Stored::SessionState(_) => Stored::SessionState(codec::decode(kind, KEY, bytes)?),
            Stored::Fragment(_) => Stored::Fragment(codec::decode(kind, KEY, bytes)?),
            Stored::Changes(_) => Stored::Changes(codec::decode(kind, KEY, bytes)?),
        })
    }
}

pub(crate) fn arb_stored() -> impl Strategy<Value = Stored> {
    prop_oneof![
        arb_manifest().prop_map(Stored::Manifest),
        arb_snapshot().prop_map(Stored::Snapshot),
        arb_commit().prop_map(Stored::Commit),
        arb_ref_version().prop_map(Stored::Ref),
        arb_session_info().prop_map(Stored::SessionInfo),
        arb_session_state().prop_map(Stored::SessionState),
        arb_fragment().prop_map(Stored::Fragment),
        arb_changes().prop_map(Stored::Changes),
    ]
}

pub(crate) fn arb_kind() -> impl Strategy<Value = Kind> {
    prop::sample::select(KINDS.to_vec())
}
