//! The decoders and what reads their values: `decode_and_use` and the `use_*` consumers.

use std::sync::Arc;

use zarrlake_core::chunks;
use zarrlake_core::conflict::find_conflicts;
use zarrlake_core::expiry::{history_parent, Cuts};
use zarrlake_core::format::codec::{self, Kind};
use zarrlake_core::format::{
    ChangeSummary, ChunkHash, ChunkRef, Commit, Fragment, Manifest, ObjectId, RefVersion, SessionInfo, SessionState,
    Snapshot, Value,
};
use zarrlake_core::gc::GcState;
use zarrlake_core::session::changeset::{ChangeSet, Order};
use zarrlake_core::ByteRange;

use super::KEY;

/// Decodes `bytes` as `kind`'s type and, when that works, does with the value what the
/// engine does with it. Any panic in either fails the property.
pub(crate) fn decode_and_use(kind: Kind, bytes: &[u8]) -> zarrlake_core::Result<()> {
    match kind {
        Kind::Manifest => use_manifest(&codec::decode(kind, KEY, bytes)?),
        Kind::Snapshot => use_snapshot(&codec::decode(kind, KEY, bytes)?),
        Kind::Commit => use_commit(&codec::decode(kind, KEY, bytes)?),
        Kind::Ref => use_ref_version(&codec::decode(kind, KEY, bytes)?),
        Kind::SessionInfo => use_session_info(&codec::decode(kind, KEY, bytes)?),
        Kind::SessionState => use_session_state(&codec::decode(kind, KEY, bytes)?),
        Kind::Fragment => use_fragment(codec::decode(kind, KEY, bytes)?),
        Kind::Changes => use_changes(&codec::decode(kind, KEY, bytes)?),
        Kind::Expiry => use_cuts(&codec::decode(kind, KEY, bytes)?),
        Kind::GcState => use_gc_state(&codec::decode(kind, KEY, bytes)?),
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
    for (i, (k, r)) in m.iter().enumerate() {
        assert_eq!(m.get(k), Some(r));
        assert_eq!(m.lower_bound(k), i);
        use_chunk_ref(r);
    }
    for p in PROBES {
        let _ = m.get(p);
        assert!(m.lower_bound(p) <= m.len());
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
    let _ = zarrlake_core::session::changeset::Staged::new(Arc::new(set));
}

/// As history walks use the cuts.
fn use_cuts(c: &Cuts) {
    let cuts: std::collections::HashSet<ObjectId> = c.commits.iter().copied().collect();
    for id in &c.commits {
        let commit = Commit {
            id: *id,
            parent: Some(*id),
            snapshot: *id,
            message: String::new(),
            author_name: String::new(),
            author_email: String::new(),
            time_micros: c.time_micros,
            session_start_micros: 0,
            changes: None,
            session: None,
        };
        assert_eq!(history_parent(&commit, &cuts), None);
    }
}

/// As the next collection uses the last one's state.
fn use_gc_state(s: &GcState) {
    let _ = s.chunks.is_saturated();
    for e in s.commits.iter().take(100) {
        let probe = ChunkHash::new(e.id.to_string().as_bytes().get(..24).unwrap_or(&[])).unwrap();
        let _ = s.chunks.may_contain(&probe);
    }
    let _ = s.chunks.may_contain(&ChunkHash::from_digest([7; 32]));
}

fn use_changes(c: &ChangeSummary) {
    let _ = find_conflicts(c, &[c, &ChangeSummary::default()]);
    let _ = find_conflicts(&ChangeSummary::default(), &[c]);
}
