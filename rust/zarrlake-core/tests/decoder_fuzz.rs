//! Fuzzing of every decoder of stored objects, with a fixed budget so it runs in `cargo test`.
//!
//! Whatever bytes a store hands back (random, a damaged envelope, a damaged valid object,
//! well-formed MessagePack of the wrong shape), a decoder never panics: it either yields a
//! value, which the code that reads it then uses without panicking, or fails with
//! `Error::Corrupt` (`corrupt_object`) naming the object.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use proptest::prelude::*;
use proptest::sample::Index;
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zarrlake_core::chunks::{self, HashMethod};
use zarrlake_core::conflict::find_conflicts;
use zarrlake_core::format::codec::{self, Kind, FORMAT_VERSION};
use zarrlake_core::format::{
    ChangeSummary, ChunkRef, Commit, Fragment, Manifest, ManifestPiece, ObjectId, RefVersion, RepoConfig, SessionInfo,
    SessionState, Snapshot, Value,
};
use zarrlake_core::refs::VersionedCells;
use zarrlake_core::session::changeset::{ChangeSet, Order};
use zarrlake_core::storage::{Location, Storage};
use zarrlake_core::{ByteRange, Error, Repository};

/// Cases per property. The whole file runs in a few seconds in release mode on 2 cores;
/// the budget is fixed (not read from the environment) so CI time cannot drift.
const CASES: u32 = 1024;

fn budget(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Never write regression files into the repo.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The key every decoded object is said to come from: errors must name it.
const KEY: &str = "fuzz/object";

const KINDS: [Kind; 8] = [
    Kind::Manifest,
    Kind::Snapshot,
    Kind::Commit,
    Kind::Ref,
    Kind::SessionInfo,
    Kind::SessionState,
    Kind::Fragment,
    Kind::Changes,
];

/// Every field and variant name of the stored types: structured garbage built from these
/// reaches past "unknown field" into the type checks of each field.
const NAMES: &[&str] = &[
    "entries",
    "metadata",
    "manifests",
    "first",
    "id",
    "count",
    "keys",
    "deleted_nodes",
    "parent",
    "snapshot",
    "message",
    "author_name",
    "author_email",
    "time_micros",
    "session_start_micros",
    "commit",
    "deleted",
    "branch",
    "base_commit",
    "start_micros",
    "expires_micros",
    "abandoned",
    "sealed",
    "committed",
    "records",
    "hash",
    "len",
    "url",
    "offset",
    "etag",
    "mtime",
    "n",
    "i",
    "v",
    "m",
    "c",
    "format_version",
    "hash_method",
    "inline_threshold",
    "virtual_prefixes",
    "blake3",
    "sha256",
];

// ---- the decoders and what reads their values ---------------------------------------

/// Decodes `bytes` as `kind`'s type and, when that works, does with the value what the
/// engine does with it. Any panic in either fails the property.
fn decode_and_use(kind: Kind, bytes: &[u8]) -> zarrlake_core::Result<()> {
    match kind {
        Kind::Manifest => use_manifest(&codec::decode(kind, KEY, bytes)?),
        Kind::Snapshot => use_snapshot(&codec::decode(kind, KEY, bytes)?),
        Kind::Commit => use_commit(&codec::decode(kind, KEY, bytes)?),
        Kind::Ref => use_ref_version(&codec::decode(kind, KEY, bytes)?),
        Kind::SessionInfo => use_session_info(&codec::decode(kind, KEY, bytes)?),
        Kind::SessionState => use_session_state(&codec::decode(kind, KEY, bytes)?),
        Kind::Fragment => use_fragment(codec::decode(kind, KEY, bytes)?),
        Kind::Changes => use_changes(&codec::decode(kind, KEY, bytes)?),
    }
    Ok(())
}

/// Probes for lookups: the edges of the key space and a typical key.
const PROBES: [&str; 4] = ["", "a/c/0", "zarr.json", "\u{10FFFF}"];

fn use_chunk_ref(r: &ChunkRef) {
    let len = r.len();
    assert_eq!(r.is_empty(), len == 0);
    for range in [
        ByteRange::Range(0, u64::MAX),
        ByteRange::Range(u64::MAX, 0),
        ByteRange::Offset(len / 2),
        ByteRange::Suffix(u64::MAX),
    ] {
        let rg = range.clamp(len);
        assert!(
            rg.start <= rg.end && rg.end <= len,
            "{range:?} clamped to {rg:?} of {len}"
        );
    }
    if let ChunkRef::Native { hash, .. } = r {
        assert!(chunks::chunk_key(hash).starts_with("chunks/"));
    }
}

fn use_manifest(m: &Manifest) {
    for (k, r) in &m.entries {
        let _ = m.get(k);
        assert!(m.lower_bound(k) <= m.entries.len());
        use_chunk_ref(r);
    }
    for p in PROBES {
        let _ = m.get(p);
        assert!(m.lower_bound(p) <= m.entries.len());
    }
}

fn use_snapshot(s: &Snapshot) {
    let pieces = s.manifests.len();
    let check = |key: &str| match s.piece_for(key) {
        None => assert_eq!(pieces, 0),
        Some(i) => assert!(i < pieces, "piece {i} of {pieces}"),
    };
    s.metadata.keys().for_each(|k| check(k));
    s.manifests.iter().for_each(|p| check(&p.first));
    PROBES.iter().for_each(|p| check(p));
    let total = s.chunk_count();
    assert!(s.manifests.iter().all(|p| p.count <= total));
    ids_round_trip(s.manifests.iter().map(|p| Some(p.id)));
}

/// Ids are shown to users and parsed back (`checkout(id)`): every decoded one must be.
fn ids_round_trip(ids: impl IntoIterator<Item = Option<ObjectId>>) {
    for id in ids.into_iter().flatten() {
        assert_eq!(id.to_string().parse::<ObjectId>().ok(), Some(id));
    }
}

fn use_commit(c: &Commit) {
    let _first_line = c.message.lines().next(); // what error messages show
    ids_round_trip([Some(c.id), c.parent, Some(c.snapshot)]);
}

// Refs and session records are plain fields the engine reads as they are.
fn use_ref_version(v: &RefVersion) {
    ids_round_trip([v.commit]);
}

fn use_session_info(i: &SessionInfo) {
    ids_round_trip([i.base_commit]);
}

fn use_session_state(s: &SessionState) {
    ids_round_trip([s.committed, s.base_commit]);
}

/// Folds the fragment into a change set as joining writers do, then summarises it as a
/// commit does.
fn use_fragment(f: Fragment) {
    let mut set = ChangeSet::default();
    for (i, (key, v)) in f.records.into_iter().enumerate() {
        if let Some(Value::Chunk(r)) = &v {
            use_chunk_ref(r);
        }
        let order = Order {
            fragment: Arc::from("0000000000000000-writer"),
            index: i as u32,
        };
        set.apply(key, v, order);
    }
    let summary = set.summary();
    let _ = set.contested();
    use_changes(&summary);
    let _ = set.into_values();
}

fn use_changes(c: &ChangeSummary) {
    let _ = find_conflicts(c, &[c, &ChangeSummary::default()]);
    let _ = find_conflicts(&ChangeSummary::default(), &[c]);
}

// ---- what the properties assert -------------------------------------------------------

fn assert_corrupt(e: &Error, what: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(e.kind(), "corrupt_object", "{} failed with the wrong kind: {}", what, e);
    prop_assert!(
        e.to_string().contains(KEY),
        "{} error does not name the object: {}",
        what,
        e
    );
    Ok(())
}

/// The bytes decode to a usable value, or fail as corrupt.
fn decodes_or_corrupt(kind: Kind, bytes: &[u8]) -> Result<(), TestCaseError> {
    match decode_and_use(kind, bytes) {
        Ok(()) => Ok(()),
        Err(e) => assert_corrupt(&e, &format!("{kind:?}")),
    }
}

/// The bytes cannot be a valid object: they must fail as corrupt.
fn rejected(kind: Kind, bytes: &[u8]) -> Result<(), TestCaseError> {
    match decode_and_use(kind, bytes) {
        Ok(()) => Err(TestCaseError::fail(format!(
            "{kind:?} accepted {} invalid bytes",
            bytes.len()
        ))),
        Err(e) => assert_corrupt(&e, &format!("{kind:?}")),
    }
}

/// An envelope around `payload`, exactly as `codec::encode` builds one: from format 2
/// on, with the payload's checksum.
fn envelope(version: u16, kind: u8, codec_byte: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = b"ZLAK".to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&[kind, codec_byte]);
    if version >= 2 {
        out.extend_from_slice(&blake3::hash(payload).as_bytes()[..CHECKSUM_LEN]);
    }
    out.extend_from_slice(payload);
    out
}

/// The header and checksum `codec::encode` puts before the compressed payload.
const CHECKSUM_LEN: usize = 8;
const PREAMBLE_LEN: usize = 8 + CHECKSUM_LEN;

/// A valid envelope for `kind` around the zstd-compressed `msgpack`.
fn wrap(kind: Kind, msgpack: &[u8]) -> Vec<u8> {
    envelope(
        FORMAT_VERSION,
        kind as u8,
        1,
        &zstd::bulk::compress(msgpack, 1).unwrap(),
    )
}

// ---- generated values of the real types ------------------------------------------------

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
        (prop::collection::vec(any::<u8>(), 0..40), any::<u64>())
            .prop_map(|(hash, len)| ChunkRef::Native { hash, len }),
        arb_bytes(64).prop_map(ChunkRef::Inline),
        (
            any::<String>(),
            any::<u64>(),
            any::<u64>(),
            any::<Option<String>>(),
            any::<Option<i64>>()
        )
            .prop_map(|(url, offset, len, etag, mtime)| ChunkRef::Virtual {
                url,
                offset,
                len,
                etag,
                mtime,
            }),
    ]
}

fn arb_manifest() -> impl Strategy<Value = Manifest> {
    prop::collection::btree_map(arb_key(), arb_chunk_ref(), 0..12).prop_map(|m| Manifest {
        entries: m.into_iter().collect(),
    })
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
            },
        )
}

fn arb_changes() -> impl Strategy<Value = ChangeSummary> {
    (
        prop::collection::btree_set(arb_key(), 0..10),
        prop::collection::btree_set(arb_key(), 0..4),
    )
        .prop_map(|(keys, nodes)| ChangeSummary {
            keys: keys.into_iter().collect(),
            deleted_nodes: nodes.into_iter().collect(),
        })
}

fn arb_ref_version() -> impl Strategy<Value = RefVersion> {
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
            },
        )
}

fn arb_session_state() -> impl Strategy<Value = SessionState> {
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
enum Stored {
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
    fn kind(&self) -> Kind {
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

    fn encode(&self) -> Bytes {
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
    fn msgpack(&self) -> Vec<u8> {
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
    fn decode_same_kind(&self, bytes: &[u8]) -> zarrlake_core::Result<Stored> {
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

fn arb_stored() -> impl Strategy<Value = Stored> {
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

fn arb_kind() -> impl Strategy<Value = Kind> {
    prop::sample::select(KINDS.to_vec())
}

// ---- damage -----------------------------------------------------------------------------

/// What storage can do to an object's bytes.
#[derive(Clone, Debug)]
enum Damage {
    FlipBit(Index, u8),
    Truncate(Index),
    /// Replaces `[a, b)` (in either order) with the given bytes.
    Splice(Index, Index, Vec<u8>),
    Append(Vec<u8>),
}

fn arb_damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Damage::FlipBit(i, b)),
        2 => any::<Index>().prop_map(Damage::Truncate),
        2 => (any::<Index>(), any::<Index>(), prop::collection::vec(any::<u8>(), 0..16))
            .prop_map(|(a, b, v)| Damage::Splice(a, b, v)),
        1 => prop::collection::vec(any::<u8>(), 1..16).prop_map(Damage::Append),
    ]
}

impl Damage {
    fn apply(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        if out.is_empty() {
            return out;
        }
        match self {
            Damage::FlipBit(i, bit) => out[i.index(bytes.len())] ^= 1 << bit,
            Damage::Truncate(i) => out.truncate(i.index(bytes.len())),
            Damage::Splice(a, b, with) => {
                let (a, b) = (a.index(bytes.len() + 1), b.index(bytes.len() + 1));
                out.splice(a.min(b)..a.max(b), with.iter().copied());
            }
            Damage::Append(more) => out.extend_from_slice(more),
        }
        out
    }
}

/// Random bytes of every size class: empty and tiny, typical, and long.
fn arb_random_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..16),
        4 => prop::collection::vec(any::<u8>(), 0..1024),
        1 => prop::collection::vec(any::<u8>(), 0..(256 * 1024)),
    ]
}

// ---- structured MessagePack garbage ------------------------------------------------------

/// Any MessagePack value, with map keys of any type.
#[derive(Clone, Debug)]
enum Msg {
    Nil,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Bin(Vec<u8>),
    Array(Vec<Msg>),
    Map(Vec<(Msg, Msg)>),
}

impl Serialize for Msg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Msg::Nil => s.serialize_unit(),
            Msg::Bool(b) => s.serialize_bool(*b),
            Msg::Int(i) => s.serialize_i64(*i),
            Msg::UInt(u) => s.serialize_u64(*u),
            Msg::Float(f) => s.serialize_f64(*f),
            Msg::Str(t) => s.serialize_str(t),
            Msg::Bin(b) => s.serialize_bytes(b),
            Msg::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Msg::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// Reads any MessagePack back into a tree, so real objects can have parts replaced.
impl<'de> Deserialize<'de> for Msg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AnyValue;
        impl<'de> Visitor<'de> for AnyValue {
            type Value = Msg;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any MessagePack value")
            }
            fn visit_unit<E>(self) -> Result<Msg, E> {
                Ok(Msg::Nil)
            }
            fn visit_none<E>(self) -> Result<Msg, E> {
                Ok(Msg::Nil)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Msg, D2::Error> {
                Msg::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Msg, E> {
                Ok(Msg::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Msg, E> {
                Ok(Msg::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Msg, E> {
                Ok(Msg::UInt(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Msg, E> {
                Ok(Msg::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Msg, E> {
                Ok(Msg::Str(v.to_string()))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Msg, E> {
                Ok(Msg::Bin(v.to_vec()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Msg, A::Error> {
                let mut items = Vec::new();
                while let Some(v) = seq.next_element()? {
                    items.push(v);
                }
                Ok(Msg::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Msg, A::Error> {
                let mut entries = Vec::new();
                while let Some(e) = map.next_entry()? {
                    entries.push(e);
                }
                Ok(Msg::Map(entries))
            }
        }
        d.deserialize_any(AnyValue)
    }
}

impl Msg {
    fn children(&mut self) -> Vec<&mut Msg> {
        match self {
            Msg::Array(items) => items.iter_mut().collect(),
            Msg::Map(entries) => entries.iter_mut().flat_map(|(k, v)| [k, v]).collect(),
            _ => Vec::new(),
        }
    }

    /// Nodes in the tree, itself included.
    fn nodes(&self) -> usize {
        1 + match self {
            Msg::Array(items) => items.iter().map(Msg::nodes).sum(),
            Msg::Map(entries) => entries.iter().map(|(k, v)| k.nodes() + v.nodes()).sum(),
            _ => 0,
        }
    }

    /// Applies `f` to the `n`-th node in pre-order (0 is this one); else returns how many
    /// nodes of `n` are left once this tree is passed.
    fn at(&mut self, n: usize, f: &mut dyn FnMut(&mut Msg)) -> Result<(), usize> {
        let Some(mut n) = n.checked_sub(1) else {
            f(self);
            return Ok(());
        };
        for c in self.children() {
            match c.at(n, f) {
                Ok(()) => return Ok(()),
                Err(rest) => n = rest,
            }
        }
        Err(n)
    }
}

/// A change to one node of a MessagePack tree.
#[derive(Clone, Debug)]
enum Edit {
    /// Any value in its place.
    Replace(Msg),
    /// Another value of the same MessagePack type: the type checks pass, the value is odd.
    Vary {
        text: String,
        int: i64,
        uint: u64,
        bin: Vec<u8>,
    },
    /// Drops one element of an array or entry of a map (a missing field).
    Drop(Index),
    /// Doubles one (a duplicate field).
    Dup(Index),
    /// A map as the array of its values: the struct layout MessagePack readers also accept.
    Unname,
}

impl Edit {
    fn apply(&self, node: &mut Msg) {
        match (self, node) {
            (Edit::Replace(with), node) => *node = with.clone(),
            (Edit::Vary { text, .. }, Msg::Str(s)) => s.clone_from(text),
            (Edit::Vary { int, .. }, Msg::Int(i)) => *i = *int,
            (Edit::Vary { uint, .. }, Msg::UInt(u)) => *u = *uint,
            (Edit::Vary { bin, .. }, Msg::Bin(b)) => b.clone_from(bin),
            (Edit::Vary { .. }, Msg::Bool(b)) => *b = !*b,
            (Edit::Drop(i), Msg::Array(items)) if !items.is_empty() => {
                items.remove(i.index(items.len()));
            }
            (Edit::Drop(i), Msg::Map(entries)) if !entries.is_empty() => {
                entries.remove(i.index(entries.len()));
            }
            (Edit::Dup(i), Msg::Array(items)) if !items.is_empty() => {
                let j = i.index(items.len());
                items.insert(j, items[j].clone());
            }
            (Edit::Dup(i), Msg::Map(entries)) if !entries.is_empty() => {
                let j = i.index(entries.len());
                entries.insert(j, entries[j].clone());
            }
            (Edit::Unname, node @ Msg::Map(_)) => {
                let Msg::Map(entries) = std::mem::replace(node, Msg::Nil) else {
                    unreachable!("matched a map")
                };
                *node = Msg::Array(entries.into_iter().map(|(_, v)| v).collect());
            }
            _ => {}
        }
    }
}

fn arb_edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        2 => arb_msg().prop_map(Edit::Replace),
        4 => (arb_name(), any::<i64>(), prop_oneof![any::<u64>(), 0u64..64], prop::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(text, int, uint, bin)| Edit::Vary { text, int, uint, bin }),
        1 => any::<Index>().prop_map(Edit::Drop),
        1 => any::<Index>().prop_map(Edit::Dup),
        1 => Just(Edit::Unname),
    ]
}

/// Strings that are mostly field names (so maps look like the real structs), else anything.
fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(NAMES).prop_map(str::to_string),
        1 => "[0-9a-f]{24}",
        1 => any::<String>(),
    ]
}

fn arb_msg() -> impl Strategy<Value = Msg> {
    let leaf = prop_oneof![
        Just(Msg::Nil),
        any::<bool>().prop_map(Msg::Bool),
        any::<i64>().prop_map(Msg::Int),
        prop_oneof![any::<u64>(), 0u64..32].prop_map(Msg::UInt),
        any::<f64>().prop_map(Msg::Float),
        arb_name().prop_map(Msg::Str),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Msg::Bin),
    ];
    leaf.prop_recursive(5, 96, 8, |inner| {
        let key = prop_oneof![4 => arb_name().prop_map(Msg::Str), 1 => inner.clone()];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Msg::Array),
            prop::collection::vec((key, inner), 0..8).prop_map(Msg::Map),
        ]
    })
}

/// JSON values for the repo config, mostly shaped like one.
fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value as J;
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        any::<i64>().prop_map(J::from),
        any::<u64>().prop_map(J::from),
        (0u64..3).prop_map(J::from),
        (0u64..70_000).prop_map(J::from),
        any::<f64>().prop_map(J::from),
        arb_name().prop_map(J::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(J::Array),
            prop::collection::btree_map(arb_name(), inner, 0..6).prop_map(|m| J::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_config() -> impl Strategy<Value = RepoConfig> {
    (
        0..=FORMAT_VERSION,
        prop::sample::select(vec!["blake3", "sha256"]),
        0..=zarrlake_core::format::config::MAX_INLINE_THRESHOLD,
        prop::collection::vec(any::<String>(), 0..4),
    )
        .prop_map(
            |(format_version, hash, inline_threshold, virtual_prefixes)| RepoConfig {
                format_version,
                hash_method: hash.to_string(),
                inline_threshold,
                virtual_prefixes,
                checksum: None,
            },
        )
}

/// Runs `f` to completion on a runtime of its own (cheap next to what a case does).
fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// One in-memory store per property, shared by its cases (memory stores live as long as
/// the process, so each property's has a name of its own).
fn memory_storage(cell: &'static OnceLock<(Location, Storage)>, what: &str) -> (Location, Storage) {
    cell.get_or_init(|| {
        let loc = Location::Memory(format!("decoder-fuzz-{what}-{}", ObjectId::new()));
        let storage = Storage::open(&loc).unwrap();
        (loc, storage)
    })
    .clone()
}

// ---- the properties -----------------------------------------------------------------------

proptest! {
    #![proptest_config(budget(CASES))]

    /// 1. Random bytes of any length are corrupt objects of every kind.
    #[test]
    fn random_bytes_are_corrupt(bytes in arb_random_bytes()) {
        for kind in KINDS {
            rejected(kind, &bytes)?;
        }
    }

    /// 1. Random bytes behind the magic alone still are.
    #[test]
    fn random_bytes_after_the_magic_are_corrupt(bytes in arb_random_bytes()) {
        let mut b = b"ZLAK".to_vec();
        b.extend_from_slice(&bytes);
        for kind in KINDS {
            rejected(kind, &b)?;
        }
    }

    /// 2. A valid header around a random payload: raw, it is corrupt (unless it happens to
    /// start like a zstd frame); compressed, it is corrupt or (rarely, when the bytes are
    /// MessagePack of the right shape) a value.
    #[test]
    fn valid_header_random_payload_is_corrupt(kind in arb_kind(), payload in arb_random_bytes()) {
        let raw = envelope(FORMAT_VERSION, kind as u8, 1, &payload);
        if !payload.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            rejected(kind, &raw)?;
        }
        decodes_or_corrupt(kind, &wrap(kind, &payload))?;
    }

    /// 2. A header that is not this kind's, not this format's or not this codec's.
    #[test]
    fn foreign_headers_are_corrupt(
        value in arb_stored(),
        version in any::<u16>(),
        kind_byte in any::<u8>(),
        codec_byte in any::<u8>(),
    ) {
        let kind = value.kind();
        let good = value.encode();
        let bad = envelope(version, kind_byte, codec_byte, &good[PREAMBLE_LEN..]);
        if (1..=FORMAT_VERSION).contains(&version) && kind_byte == kind as u8 && codec_byte == 1 {
            prop_assert_eq!(value.decode_same_kind(&bad).ok(), Some(value));
        } else {
            rejected(kind, &bad)?;
        }
        for other in KINDS.into_iter().filter(|k| *k != kind) {
            rejected(other, &good)?;
        }
    }

    /// 3. A damaged stored object is corrupt, whatever the damage: the checksum sees it.
    #[test]
    fn damaged_objects_are_corrupt(value in arb_stored(), damage in arb_damage()) {
        let good = value.encode();
        let bytes = damage.apply(&good);
        if bytes != good {
            rejected(value.kind(), &bytes)?;
        }
    }

    /// 3. The same damage done to the MessagePack inside an intact envelope, which reaches
    /// the field decoders rather than stopping at zstd.
    #[test]
    fn damaged_payloads_decode_or_are_corrupt(value in arb_stored(), damage in arb_damage()) {
        let bytes = wrap(value.kind(), &damage.apply(&value.msgpack()));
        decodes_or_corrupt(value.kind(), &bytes)?;
    }

    /// 3. Several kinds of damage at once.
    #[test]
    fn repeatedly_damaged_payloads_decode_or_are_corrupt(
        value in arb_stored(),
        damages in prop::collection::vec(arb_damage(), 2..6),
    ) {
        let payload = damages.iter().fold(value.msgpack(), |b, d| d.apply(&b));
        decodes_or_corrupt(value.kind(), &wrap(value.kind(), &payload))?;
    }

    /// 4. What is encoded decodes back to itself.
    #[test]
    fn objects_round_trip(value in arb_stored()) {
        let bytes = value.encode();
        prop_assert_eq!(value.decode_same_kind(&bytes).ok(), Some(value.clone()));
        prop_assert!(decode_and_use(value.kind(), &bytes).is_ok());
    }

    /// 5. Well-formed MessagePack of any shape is a value or corrupt, for every kind.
    #[test]
    fn structured_msgpack_decodes_or_is_corrupt(msg in arb_msg()) {
        let payload = rmp_serde::to_vec_named(&msg).unwrap();
        for kind in KINDS {
            decodes_or_corrupt(kind, &wrap(kind, &payload))?;
        }
    }

    /// 5. Real objects with a few nodes (field values, map keys, elements, the whole
    /// object) changed: to garbage of any shape, to odd values of the right type, or with
    /// fields dropped, doubled or unnamed.
    #[test]
    fn edited_objects_decode_or_are_corrupt(
        value in arb_stored(),
        edits in prop::collection::vec((any::<Index>(), arb_edit()), 1..4),
    ) {
        let mut tree: Msg = rmp_serde::from_slice(&value.msgpack()).unwrap();
        for (at, edit) in &edits {
            let n = at.index(tree.nodes());
            prop_assert!(tree.at(n, &mut |node| edit.apply(node)).is_ok());
        }
        let payload = rmp_serde::to_vec_named(&tree).unwrap();
        decodes_or_corrupt(value.kind(), &wrap(value.kind(), &payload))?;
    }

    /// 6. The repo marker: random bytes, random JSON and damaged configs are corrupt or
    /// valid, and a valid config reads back as written.
    #[test]
    fn repo_config_parses_or_is_corrupt(
        bytes in arb_random_bytes(),
        json in arb_json(),
        config in arb_config(),
        damage in arb_damage(),
    ) {
        let check = |b: &[u8]| -> Result<(), TestCaseError> {
            match RepoConfig::from_json(KEY, b) {
                Ok(c) => {
                    prop_assert!(c.validate().is_ok());
                    prop_assert!(c.format_version <= FORMAT_VERSION);
                    Ok(())
                }
                Err(e) => assert_corrupt(&e, "RepoConfig"),
            }
        };
        check(&bytes)?;
        check(&serde_json::to_vec(&json).unwrap())?;
        let good = config.to_json().unwrap();
        prop_assert_eq!(RepoConfig::from_json(KEY, &good).ok(), Some(config));
        check(&damage.apply(&good))?;
    }

    /// 6. Object ids from strings: only 24 hex digits parse; anything else is a clean error.
    #[test]
    fn object_id_parse_never_panics(
        s in prop_oneof![
            any::<String>(),
            "[0-9a-fA-F]{20,28}",
            "[0-9a-fA-F]{0,23}[^0-9a-fA-F][0-9a-fA-F]{0,23}",
            proptest::collection::vec(any::<char>(), 24).prop_map(|c| c.into_iter().collect::<String>()),
        ],
    ) {
        let is_id = s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit());
        match s.parse::<ObjectId>() {
            Ok(id) => {
                prop_assert!(is_id, "'{}' parsed", s);
                prop_assert_eq!(id.to_string(), s.to_ascii_lowercase());
            }
            Err(e) => {
                prop_assert!(!is_id, "'{}' did not parse: {}", s, e);
                prop_assert_eq!(e.kind(), "invalid_input");
            }
        }
    }
}

proptest! {
    // Each case here does a few in-memory storage round trips: fewer of them.
    #![proptest_config(budget(CASES / 2))]

    /// Chunk reads: damaged chunk bytes are corrupt, or (when only a range is read and only
    /// the length can be checked) bytes of the right length; a whole read is never wrong.
    #[test]
    fn damaged_chunks_are_corrupt_or_right(
        data in prop::collection::vec(any::<u8>(), 1..4096),
        sha in any::<bool>(),
        damage in proptest::option::of(arb_damage()),
        missing in prop::bool::weighted(0.05),
        range in proptest::option::of(prop_oneof![
            (any::<u64>(), any::<u64>()).prop_map(|(a, b)| ByteRange::Range(a % 5000, b % 5000)),
            any::<u64>().prop_map(|o| ByteRange::Offset(o % 5000)),
            any::<u64>().prop_map(|n| ByteRange::Suffix(n % 5000)),
        ]),
    ) {
        static STORE: OnceLock<(Location, Storage)> = OnceLock::new();
        let method = if sha { HashMethod::Sha256 } else { HashMethod::Blake3 };
        let data = Bytes::from(data);
        let (_, storage) = memory_storage(&STORE, "chunks");
        let (rg, got) = block_on(async {
            let r = chunks::write_chunk(&storage, method, 0, data.clone()).await.unwrap();
            let ChunkRef::Native { hash, .. } = &r else { unreachable!("threshold 0 never inlines") };
            let ck = chunks::chunk_key(hash);
            storage.delete(&ck).await.unwrap();
            let stored = damage.as_ref().map_or(data.to_vec(), |d| d.apply(&data));
            if !missing {
                storage.put_if_absent(&ck, Bytes::from(stored)).await.unwrap();
            }
            let rg = range.map(|x| x.clamp(r.len()));
            let got = chunks::read_chunk(&storage, method, "a/c/0", &r, rg.clone()).await;
            (rg, got)
        });
        let whole = rg.as_ref().is_none_or(|rg| rg.start == 0 && rg.end >= data.len() as u64);
        match got {
            Ok(b) => {
                let rg = rg.unwrap_or(0..data.len() as u64);
                prop_assert!(!missing);
                if whole || damage.is_none() {
                    prop_assert_eq!(b, data.slice(rg.start as usize..rg.end as usize));
                } else {
                    prop_assert_eq!(b.len() as u64, rg.end - rg.start);
                }
            }
            Err(e) => {
                prop_assert_eq!(e.kind(), "corrupt_object", "{}", e);
                prop_assert!(e.to_string().contains("a/c/0"), "{}", e);
            }
        }
    }

    /// Ref and session-state versions read through the versioned cells: any stored bytes
    /// are a version or corrupt, and the error names the version's key.
    #[test]
    fn stored_versions_read_or_are_corrupt(
        value in prop_oneof![
            arb_ref_version().prop_map(Stored::Ref),
            arb_session_state().prop_map(Stored::SessionState),
        ],
        damage in proptest::option::of(arb_damage()),
        random in proptest::option::of(arb_random_bytes()),
    ) {
        static N: AtomicU64 = AtomicU64::new(0);
        static STORE: OnceLock<(Location, Storage)> = OnceLock::new();
        let prefix = format!("refs/branches/b{}", N.fetch_add(1, Ordering::Relaxed));
        let version_key = format!("{prefix}/{:020}", 1);
        let good = value.encode();
        let bytes = match (&random, &damage) {
            (Some(r), _) => r.clone(),
            (None, Some(d)) => d.apply(&good),
            (None, None) => good.to_vec(),
        };
        let (_, storage) = memory_storage(&STORE, "cells");
        let got: Result<Option<Stored>, Error> = block_on(async {
            storage.put_if_absent(&version_key, Bytes::from(bytes)).await.unwrap();
            let cells = VersionedCells::new(storage.clone());
            let kind = value.kind();
            Ok(match &value {
                Stored::Ref(_) => cells.latest::<RefVersion>(kind, &prefix).await?.map(|(_, v)| Stored::Ref(v)),
                _ => cells
                    .latest::<SessionState>(kind, &prefix)
                    .await?
                    .map(|(_, v)| Stored::SessionState(v)),
            })
        });
        match got {
            Ok(v) => {
                prop_assert!(v.is_some(), "version 1 exists");
                if random.is_none() && damage.is_none() {
                    prop_assert_eq!(v, Some(value));
                }
            }
            Err(e) => {
                prop_assert_eq!(e.kind(), "corrupt_object", "{}", e);
                prop_assert!(e.to_string().contains(&version_key), "{}", e);
            }
        }
    }

    /// Opening a repo whose marker is damaged or garbage: a repo, or corrupt.
    #[test]
    fn opening_a_damaged_repo_is_corrupt_or_works(
        config in arb_config(),
        damage in proptest::option::of(arb_damage()),
        random in proptest::option::of(arb_random_bytes()),
    ) {
        static REPO: OnceLock<(Location, Storage)> = OnceLock::new();
        let good = config.to_json().unwrap();
        let bytes = match (&random, &damage) {
            (Some(r), _) => r.clone(),
            (None, Some(d)) => d.apply(&good),
            (None, None) => good.to_vec(),
        };
        let (loc, storage) = memory_storage(&REPO, "open");
        let Location::Memory(name) = loc else { unreachable!("a memory store") };
        let url = format!("memory://{name}");
        let opened = block_on(async {
            storage.delete("zarrlake.json").await.unwrap();
            storage.put_if_absent("zarrlake.json", Bytes::from(bytes)).await.unwrap();
            Repository::open(&url).await.map(|r| r.config().clone())
        });
        match opened {
            Ok(c) => {
                if random.is_none() && damage.is_none() {
                    prop_assert_eq!(c, config);
                }
            }
            Err(e) => {
                prop_assert_eq!(e.kind(), "corrupt_object", "{}", e);
                prop_assert!(e.to_string().contains("zarrlake.json"), "{}", e);
            }
        }
    }
}

// ---- fixed inputs that random ones almost never hit ------------------------------------------

/// Nesting far deeper than any real object must fail as corrupt, not overflow the stack.
#[test]
fn deeply_nested_input_is_corrupt_not_a_stack_overflow() {
    let depth = 100_000;
    let arrays = vec![0x91u8; depth]; // fixarray of one element, nested
    let maps: Vec<u8> = std::iter::repeat_n([0x81u8, 0xa1, b'n'], depth).flatten().collect();
    for kind in KINDS {
        for payload in [&arrays, &maps] {
            let err = decode_and_use(kind, &wrap(kind, payload)).unwrap_err();
            assert_eq!(err.kind(), "corrupt_object", "{kind:?}: {err}");
        }
    }
    let json = "[".repeat(depth);
    let err = RepoConfig::from_json(KEY, json.as_bytes()).unwrap_err();
    assert_eq!(err.kind(), "corrupt_object", "{err}");
}

/// Lengths that claim far more than the payload holds must not be trusted for allocation.
#[test]
fn huge_declared_lengths_are_corrupt_not_an_allocation() {
    let cases: [&[u8]; 4] = [
        &[0xdd, 0xff, 0xff, 0xff, 0xff],       // array32 of 4G elements
        &[0xdf, 0xff, 0xff, 0xff, 0xff],       // map32 of 4G entries
        &[0x91, 0xdd, 0xff, 0xff, 0xff, 0xff], // a struct whose first field is such an array
        &[0x91, 0xc6, 0xff, 0xff, 0xff, 0xff], // bin32 of 4 GiB
    ];
    for kind in KINDS {
        for payload in cases {
            let err = decode_and_use(kind, &wrap(kind, payload)).unwrap_err();
            assert_eq!(err.kind(), "corrupt_object", "{kind:?}: {err}");
        }
    }
}
