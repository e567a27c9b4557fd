//! The envelope every stored object is wrapped in:
//! `b"ZLAK"` | format version (u16 LE) | object kind (u8) | codec (u8) | checksum | payload.
//! Payloads are MessagePack with named fields, zstd-compressed. The checksum (format 2
//! on; 8 bytes of the BLAKE3 hash of the payload, and from format 3 of the header too)
//! makes any damage a `Corrupt` error: without it a flipped bit could decode to another
//! valid object, say a manifest that maps a key to another key's chunk. Covering the
//! header means a flipped version bit cannot pass as an older format either.

use std::cell::RefCell;
use std::io;
use std::thread::LocalKey;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

const MAGIC: &[u8; 4] = b"ZLAK";
/// Format 3: small change summaries inline in commits, private sessions.
/// Format 4: manifests in columns (`manifest_wire`).
pub const FORMAT_VERSION: u16 = 4;
/// The first version whose objects carry a checksum.
const CHECKSUMMED: u16 = 2;
/// The first version whose checksum covers the header as well.
const HEADER_CHECKSUMMED: u16 = 3;
const CODEC_MSGPACK_ZSTD: u8 = 1;
const HEADER_LEN: usize = 8;
const CHECKSUM_LEN: usize = 8;

fn checksum(version: u16, header: &[u8], payload: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut h = blake3::Hasher::new();
    if version >= HEADER_CHECKSUMMED {
        h.update(header);
    }
    h.update(payload);
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&h.finalize().as_bytes()[..CHECKSUM_LEN]);
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Manifest = 1,
    Snapshot = 2,
    Commit = 3,
    Ref = 4,
    SessionInfo = 5,
    SessionState = 6,
    Fragment = 7,
    Changes = 8,
    /// The commits whose history expiry cut (`expiry`).
    Expiry = 9,
    /// What a garbage collection remembers for the next (`gc::state`).
    GcState = 10,
}

pub fn encode<T: Serialize>(kind: Kind, value: &T) -> Result<bytes::Bytes> {
    let payload =
        rmp_serde::to_vec_named(value).map_err(|e| Error::InvalidInput(format!("cannot encode {kind:?}: {e}")))?;
    let compressed = with_cached(&COMPRESSOR, || zstd::bulk::Compressor::new(1), |c| c.compress(&payload))
        .map_err(|e| Error::Storage(format!("zstd: {e}")))?;
    let mut out = Vec::with_capacity(HEADER_LEN + CHECKSUM_LEN + compressed.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.push(kind as u8);
    out.push(CODEC_MSGPACK_ZSTD);
    let sum = checksum(FORMAT_VERSION, &out[..HEADER_LEN], &compressed);
    out.extend_from_slice(&sum);
    out.extend_from_slice(&compressed);
    Ok(out.into())
}

thread_local! {
    // zstd contexts are large (creating one was a tenth of a small commit's time, mostly
    // page faults); each thread keeps one of each.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's cached context (made on first use; a fresh one if the
/// cached one is in use further up the stack).
fn with_cached<C: 'static, R>(
    cache: &'static LocalKey<RefCell<Option<C>>>,
    make: impl Fn() -> io::Result<C>,
    f: impl FnOnce(&mut C) -> io::Result<R>,
) -> io::Result<R> {
    cache.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => match &mut *slot {
            Some(c) => f(c),
            empty => f(empty.insert(make()?)),
        },
        Err(_) => f(&mut make()?),
    })
}

/// No object decodes to more than this: a damaged or hostile one that claims to expand
/// without end fails rather than exhausting memory. Manifests are split long before it.
const MAX_DECODED: u64 = 1 << 30;

/// The largest decoded size allocated before decoding.
const PREALLOCATED: u64 = 64 << 20;

fn decompress(key: &str, compressed: &[u8]) -> Result<Vec<u8>> {
    use std::io::Read;
    let failed = |e: io::Error| Error::corrupt(key, format!("decompression failed: {e}"));
    // Every object written here is one frame that states its size: decode it in one call
    // into a buffer of that size (several times faster than the stream below). Only a
    // modest claim is believed up front; a larger one goes to the stream, which allocates
    // as it really expands and stops at the cap.
    if let Ok(Some(size)) = zstd::zstd_safe::get_frame_content_size(compressed) {
        if size <= PREALLOCATED {
            return with_cached(&DECOMPRESSOR, zstd::bulk::Decompressor::new, |d| {
                d.decompress(compressed, size as usize)
            })
            .map_err(failed);
        }
    }
    let decoder = zstd::stream::read::Decoder::with_buffer(compressed).map_err(failed)?;
    let mut payload = Vec::new();
    decoder
        .take(MAX_DECODED + 1)
        .read_to_end(&mut payload)
        .map_err(failed)?;
    if payload.len() as u64 > MAX_DECODED {
        return Err(Error::corrupt(key, "decodes to more than 1 GiB"));
    }
    Ok(payload)
}

/// Decodes an object read from `key`; anything malformed is a `Corrupt` error naming the key.
pub fn decode<T: DeserializeOwned>(kind: Kind, key: &str, bytes: &[u8]) -> Result<T> {
    if bytes.len() < HEADER_LEN || &bytes[..4] != MAGIC {
        return Err(Error::corrupt(key, "not a zarrlake object (bad magic)"));
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version == 0 {
        return Err(Error::corrupt(key, "format version 0 does not exist"));
    }
    if version > FORMAT_VERSION {
        return Err(Error::corrupt(
            key,
            format!("written by a newer zarrlake (format {version}); upgrade zarrlake"),
        ));
    }
    if bytes[6] != kind as u8 {
        return Err(Error::corrupt(
            key,
            format!("expected a {kind:?} object, found kind {}", bytes[6]),
        ));
    }
    if bytes[7] != CODEC_MSGPACK_ZSTD {
        return Err(Error::corrupt(key, format!("unknown codec {}", bytes[7])));
    }
    let mut compressed = &bytes[HEADER_LEN..];
    if version >= CHECKSUMMED {
        if compressed.len() < CHECKSUM_LEN {
            return Err(Error::corrupt(key, "truncated: no checksum"));
        }
        let (sum, rest) = compressed.split_at(CHECKSUM_LEN);
        if sum != checksum(version, &bytes[..HEADER_LEN], rest) {
            return Err(Error::corrupt(key, "checksum mismatch: the object is damaged"));
        }
        compressed = rest;
    }
    let payload = decompress(key, compressed)?;
    rmp_serde::from_slice(&payload).map_err(|e| Error::corrupt(key, format!("cannot decode: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trips_and_rejects_garbage() {
        let v = vec!["a".to_string(), "b".to_string()];
        let bytes = encode(Kind::Commit, &v).unwrap();
        let back: Vec<String> = decode(Kind::Commit, "k", &bytes).unwrap();
        assert_eq!(back, v);
        let wrong_kind = decode::<Vec<String>>(Kind::Manifest, "k", &bytes).unwrap_err();
        assert_eq!(wrong_kind.kind(), "corrupt_object");
        let mut truncated = bytes.to_vec();
        truncated.truncate(bytes.len() - 3);
        assert_eq!(
            decode::<Vec<String>>(Kind::Commit, "k", &truncated).unwrap_err().kind(),
            "corrupt_object"
        );
        assert_eq!(
            decode::<Vec<String>>(Kind::Commit, "k", b"hello world")
                .unwrap_err()
                .kind(),
            "corrupt_object"
        );
        // Every single bit flip is caught.
        for i in 0..bytes.len() * 8 {
            let mut flipped = bytes.to_vec();
            flipped[i / 8] ^= 1 << (i % 8);
            let err = decode::<Vec<String>>(Kind::Commit, "k", &flipped).unwrap_err();
            assert_eq!(err.kind(), "corrupt_object", "bit {i}");
        }
        let mut newer = bytes.to_vec();
        newer[4] = 99;
        let err = decode::<Vec<String>>(Kind::Commit, "k", &newer).unwrap_err();
        assert!(err.to_string().contains("newer zarrlake"));
    }

    #[test]
    fn format_1_objects_without_checksum_still_decode() {
        let v = vec!["old".to_string()];
        let payload = zstd::bulk::compress(&rmp_serde::to_vec_named(&v).unwrap(), 1).unwrap();
        let mut old = b"ZLAK".to_vec();
        old.extend_from_slice(&1u16.to_le_bytes());
        old.extend_from_slice(&[Kind::Commit as u8, CODEC_MSGPACK_ZSTD]);
        old.extend_from_slice(&payload);
        assert_eq!(decode::<Vec<String>>(Kind::Commit, "k", &old).unwrap(), v);
    }

    #[test]
    fn an_object_that_expands_without_end_is_corrupt() {
        use std::io::Write;
        let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..(MAX_DECODED >> 20) + 1 {
            enc.write_all(&zeros).unwrap();
        }
        let compressed = enc.finish().unwrap();
        let err = decompress("k", &compressed).unwrap_err();
        assert!(err.to_string().contains("more than 1 GiB"), "{err}");
    }
}
