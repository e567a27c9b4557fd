//! Fuzzing of every decoder of stored objects, with a fixed budget so it runs in `cargo test`.
//!
//! Whatever bytes a store hands back (random, a damaged envelope, a damaged valid object,
//! well-formed MessagePack of the wrong shape), a decoder never panics: it either yields a
//! value, which the code that reads it then uses without panicking, or fails with
//! `Error::Corrupt` (`corrupt_object`) naming the object.

mod damage;
mod garbage;
mod uses;
mod values;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use bytes::Bytes;
use proptest::prelude::*;
use proptest::sample::Index;
use zarrlake_core::chunks::{self, HashMethod};
use zarrlake_core::format::codec::{Kind, FORMAT_VERSION};
use zarrlake_core::format::{ChunkRef, ObjectId, RefVersion, RepoConfig, SessionState};
use zarrlake_core::refs::VersionedCells;
use zarrlake_core::storage::{Location, Storage};
use zarrlake_core::{ByteRange, Error, Repository};

use damage::{arb_damage, arb_random_bytes};
use garbage::{arb_config, arb_edit, arb_json, arb_msg, Msg};
use uses::decode_and_use;
use values::{arb_kind, arb_ref_version, arb_session_state, arb_stored, Stored};

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

const KINDS: [Kind; 10] = [
    Kind::Manifest,
    Kind::Snapshot,
    Kind::Commit,
    Kind::Ref,
    Kind::SessionInfo,
    Kind::SessionState,
    Kind::Fragment,
    Kind::Changes,
    Kind::Expiry,
    Kind::GcState,
];

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

// ---- in-memory storage for the properties that read through it ---------------------------

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
