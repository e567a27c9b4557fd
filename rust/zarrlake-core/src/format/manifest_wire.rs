//! How a manifest is stored (format 4 on): in columns, not as a list of entries.
//!
//! A manifest of 1e4 refs is read before the first chunk of a fresh checkout, so its decode
//! is on the latency path. As a MessagePack list of named entries it took about 2 ms to decode
//! (two maps and four field names per ref). As columns it is a handful of byte strings:
//! each key as the length of the prefix it shares with the key before it plus the rest,
//! the hashes of stored chunks back to back with their lengths as little-endian u64s, and
//! inline chunks back to back with their lengths. Refs of other kinds (virtual, or a hash
//! of another length) go in `others`, in entry order, as ordinary `ChunkRef`s.
//!
//! Format 3 manifests, `{"entries": [...]}`, still decode.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{ChunkHash, ChunkRef, Manifest};

/// `tags[i]`: entry `i` is a stored chunk whose hash and length are in the columns.
const TAG_STORED: u8 = 0;
/// `tags[i]`: entry `i` is the next ref of `others`.
const TAG_OTHER: u8 = 1;
/// `tags[i]`: entry `i` is the next chunk of `inline`.
const TAG_INLINE: u8 = 2;

#[derive(Serialize, Deserialize)]
struct Columns<'a> {
    /// Each key without the prefix it shares with the key before it (keys are sorted, so
    /// `tiny/c/1234` after `tiny/c/1233` is stored as `4`): a tenth of the bytes to compress.
    #[serde(with = "serde_bytes", borrow)]
    suffixes: &'a [u8],
    /// Varints: how many leading bytes each key shares with the one before it.
    #[serde(with = "serde_bytes", borrow)]
    shared: &'a [u8],
    /// Varints: the length of each key's suffix.
    #[serde(with = "serde_bytes", borrow)]
    suffix_lens: &'a [u8],
    #[serde(with = "serde_bytes", borrow)]
    tags: &'a [u8],
    hash_len: u8,
    #[serde(with = "serde_bytes", borrow)]
    hashes: &'a [u8],
    /// u64 LE: the length of each stored chunk.
    #[serde(with = "serde_bytes", borrow)]
    lens: &'a [u8],
    #[serde(with = "serde_bytes", borrow)]
    inline: &'a [u8],
    /// Varints: the length of each inline chunk.
    #[serde(with = "serde_bytes", borrow)]
    inline_lens: &'a [u8],
    /// Borrowed when writing: a manifest of virtual refs is not copied to be stored.
    others: Cow<'a, [ChunkRef]>,
}

fn put_varint(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The next varint of `column`, named in the error if it runs out or overflows.
fn next_varint(column: &mut &[u8], name: &str) -> Result<usize, String> {
    let mut v = 0usize;
    for shift in (0..usize::BITS).step_by(7) {
        let (&b, rest) = column
            .split_first()
            .ok_or_else(|| format!("the {name} column ran out"))?;
        *column = rest;
        v |= ((b & 0x7f) as usize).checked_shl(shift).unwrap_or(0);
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(format!("a varint of the {name} column does not end"))
}

/// The keys of a manifest rebuilt from shared prefixes add up to at most this. Without a
/// cap, a small crafted manifest could claim keys that each repeat the one before it and
/// add a byte: their total grows with the square of their number.
const MAX_KEYS_LEN: usize = 1 << 30;

/// The most allocated for the keys before they are rebuilt; beyond it the string grows as
/// they really do.
const PREALLOCATED_KEYS_LEN: usize = 64 << 20;

/// The columns of a manifest, owned while it is being written.
struct Owned {
    suffixes: Vec<u8>,
    shared: Vec<u8>,
    suffix_lens: Vec<u8>,
    tags: Vec<u8>,
    hash_len: u8,
    hashes: Vec<u8>,
    lens: Vec<u8>,
    inline: Vec<u8>,
    inline_lens: Vec<u8>,
    others: Vec<ChunkRef>,
}

impl Owned {
    fn of(m: &Manifest) -> Self {
        let n = m.len();
        // The hash length of the repo's method; a manifest mixing lengths keeps the rest in `others`.
        let hash_len = m
            .iter()
            .find_map(|(_, r)| match r {
                // At most 32 bytes (`ChunkHash`).
                ChunkRef::Native { hash, .. } => Some(hash.len() as u8),
                _ => None,
            })
            .unwrap_or(0);
        let mut out = Owned {
            suffixes: Vec::with_capacity(4 * n),
            shared: Vec::with_capacity(n),
            suffix_lens: Vec::with_capacity(n),
            tags: Vec::with_capacity(n),
            hash_len,
            hashes: Vec::with_capacity(hash_len as usize * n),
            lens: Vec::with_capacity(8 * n),
            inline: Vec::new(),
            inline_lens: Vec::new(),
            others: Vec::new(),
        };
        let mut prev: &[u8] = &[];
        for (key, r) in m.iter() {
            let key = key.as_bytes();
            let shared = prev.iter().zip(key).take_while(|(a, b)| a == b).count();
            put_varint(&mut out.shared, shared);
            put_varint(&mut out.suffix_lens, key.len() - shared);
            out.suffixes.extend_from_slice(&key[shared..]);
            prev = key;
            match r {
                ChunkRef::Native { hash, len } if hash.len() == hash_len as usize => {
                    out.tags.push(TAG_STORED);
                    out.hashes.extend_from_slice(hash);
                    out.lens.extend_from_slice(&len.to_le_bytes());
                }
                ChunkRef::Inline(data) => {
                    out.tags.push(TAG_INLINE);
                    out.inline.extend_from_slice(data);
                    put_varint(&mut out.inline_lens, data.len());
                }
                other => {
                    out.tags.push(TAG_OTHER);
                    out.others.push(other.clone());
                }
            }
        }
        out
    }

    fn columns(&self) -> Columns<'_> {
        Columns {
            suffixes: &self.suffixes,
            shared: &self.shared,
            suffix_lens: &self.suffix_lens,
            tags: &self.tags,
            hash_len: self.hash_len,
            hashes: &self.hashes,
            lens: &self.lens,
            inline: &self.inline,
            inline_lens: &self.inline_lens,
            others: Cow::Borrowed(&self.others),
        }
    }
}

impl Columns<'_> {
    /// The entries, checking that the columns agree with each other and that the keys
    /// are UTF-8, sorted and unique (lookups binary-search them).
    fn into_manifest(self) -> Result<Manifest, String> {
        let n = self.tags.len();
        let stored = self.tags.iter().filter(|&&t| t == TAG_STORED).count();
        let hash_len = self.hash_len as usize;
        if self.hashes.len() != stored * hash_len || self.lens.len() != stored * 8 {
            return Err(format!(
                "the hash or length column does not hold {stored} stored chunks"
            ));
        }
        let inlined = self.tags.iter().filter(|&&t| t == TAG_INLINE).count();
        let others = n - stored - inlined;
        if self.others.len() != others {
            return Err(format!("{} other refs for {others} entries", self.others.len()));
        }
        let (keys, ends) = self.keys(n)?;
        let mut others = self.others.into_owned().into_iter();
        // One copy of the inline column; each chunk is a slice of it.
        let inline = Bytes::copy_from_slice(self.inline);
        let mut inline_lens = self.inline_lens;
        let mut inline_at = 0usize;
        let mut refs = Vec::with_capacity(n);
        let mut s = 0usize;
        for &tag in self.tags {
            refs.push(match tag {
                TAG_STORED => {
                    let hash = ChunkHash::new(&self.hashes[s * hash_len..(s + 1) * hash_len])
                        .ok_or_else(|| format!("hashes of {hash_len} bytes"))?;
                    let len = &self.lens[8 * s..8 * s + 8];
                    s += 1;
                    ChunkRef::Native {
                        hash,
                        len: u64::from_le_bytes([len[0], len[1], len[2], len[3], len[4], len[5], len[6], len[7]]),
                    }
                }
                TAG_INLINE => {
                    let end = inline_at
                        .checked_add(next_varint(&mut inline_lens, "inline length")?)
                        .filter(|&e| e <= inline.len())
                        .ok_or("an inline chunk ends outside the inline column")?;
                    let data = inline.slice(inline_at..end);
                    inline_at = end;
                    ChunkRef::Inline(data)
                }
                TAG_OTHER => others.next().ok_or("the other refs ran out")?,
                t => return Err(format!("unknown entry tag {t}")),
            });
        }
        if inline_at != inline.len() || !inline_lens.is_empty() {
            return Err("bytes after the last inline chunk".into());
        }
        Ok(Manifest::with_parts(keys, ends, refs))
    }

    /// The `n` keys rebuilt from their shared prefixes and suffixes: one string, and the
    /// end of each key in it.
    fn keys(&self, n: usize) -> Result<(String, Vec<usize>), String> {
        // The whole length up front (one allocation): the suffixes plus every shared prefix.
        let mut shared_total = 0usize;
        let mut column = self.shared;
        for _ in 0..n {
            shared_total = shared_total.saturating_add(next_varint(&mut column, "shared prefix")?);
        }
        let total = self.suffixes.len().saturating_add(shared_total);
        if total > MAX_KEYS_LEN {
            return Err(format!("the keys add up to {total} bytes, more than {MAX_KEYS_LEN}"));
        }
        let mut full: Vec<u8> = Vec::with_capacity(total.min(PREALLOCATED_KEYS_LEN));
        let mut ends = Vec::with_capacity(n);
        let (mut shared_col, mut lens_col, mut suffixes) = (self.shared, self.suffix_lens, self.suffixes);
        let mut prev_start = 0usize;
        for i in 0..n {
            let shared = next_varint(&mut shared_col, "shared prefix")?;
            let len = next_varint(&mut lens_col, "suffix length")?;
            let start = full.len();
            let prev_len = start - prev_start;
            if shared > prev_len {
                return Err(format!("key {i} shares more than the key before it"));
            }
            if len > suffixes.len() {
                return Err(format!("key {i} ends outside the key column"));
            }
            let (suffix, rest) = suffixes.split_at(len);
            suffixes = rest;
            // After `shared` equal bytes, the key is greater than the one before it exactly
            // when its next byte is; the full comparison is only for a non-maximal prefix.
            let greater = match (suffix.first(), full.get(prev_start + shared)) {
                _ if i == 0 => true,
                (None, _) => false,
                (Some(_), None) => true,
                (Some(&b), Some(&a)) if a != b => b > a,
                _ => {
                    let mut key = full[prev_start..prev_start + shared].to_vec();
                    key.extend_from_slice(suffix);
                    full[prev_start..start] < key[..]
                }
            };
            full.extend_from_within(prev_start..prev_start + shared);
            full.extend_from_slice(suffix);
            if !greater {
                return Err(format!(
                    "keys are not sorted and unique at '{}'",
                    String::from_utf8_lossy(&full[start..])
                ));
            }
            ends.push(full.len());
            prev_start = start;
        }
        if !suffixes.is_empty() || !shared_col.is_empty() || !lens_col.is_empty() {
            return Err("bytes after the last key".into());
        }
        let full = String::from_utf8(full).map_err(|_| "the keys are not UTF-8".to_string())?;
        if !ends.iter().all(|&e| full.is_char_boundary(e)) {
            return Err("a key ends inside a character".into());
        }
        Ok((full, ends))
    }
}

impl Serialize for Manifest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let owned = Owned::of(self);
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry("columns", &owned.columns())?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for Manifest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Manifest;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a manifest")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Manifest, A::Error> {
                let mut out = None;
                while let Some(field) = map.next_key::<String>()? {
                    match field.as_str() {
                        "columns" => {
                            let columns: Columns<'de> = map.next_value()?;
                            out = Some(columns.into_manifest().map_err(de::Error::custom)?);
                        }
                        // Format 3.
                        "entries" => {
                            let entries: Vec<(String, ChunkRef)> = map.next_value()?;
                            if entries.windows(2).any(|w| w[0].0 >= w[1].0) {
                                return Err(de::Error::custom("keys are not sorted and unique"));
                            }
                            out = Some(Manifest::from_sorted(entries));
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                out.ok_or_else(|| de::Error::missing_field("columns"))
            }
        }
        d.deserialize_map(Fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::codec::{decode, encode, Kind};

    fn stored(i: u32) -> ChunkRef {
        ChunkRef::Native {
            hash: ChunkHash::from_digest(*blake3::hash(&i.to_le_bytes()).as_bytes()),
            len: 4096 + i as u64,
        }
    }

    #[test]
    fn every_kind_of_ref_round_trips() {
        let entries = [
            ("a/c/0", stored(0)),
            ("a/c/1", ChunkRef::Inline(Bytes::from_static(b"tiny"))),
            ("a/c/2", stored(2)),
            // Another hash length than the first stored chunk's rides in `others`.
            (
                "a/c/3",
                ChunkRef::Native {
                    hash: ChunkHash::new(&[7; 5]).unwrap(),
                    len: 9,
                },
            ),
            (
                "b/c/0",
                ChunkRef::new_virtual("s3://x/y.nc".into(), 10, 20, Some("e".into()), None),
            ),
            ("é/c/0", stored(5)),
            // Shares half of a character with the key before it.
            ("ê/c/0", stored(6)),
        ];
        let m = Manifest::from_sorted(entries);
        for m in [m, Manifest::default()] {
            let bytes = encode(Kind::Manifest, &m).unwrap();
            assert_eq!(decode::<Manifest>(Kind::Manifest, "k", &bytes).unwrap(), m);
        }
    }

    #[test]
    fn a_format_3_manifest_still_decodes() {
        #[derive(Serialize)]
        struct V3<'a> {
            entries: &'a [(String, ChunkRef)],
        }
        let entries = vec![
            ("a/c/0".to_string(), stored(0)),
            ("a/c/1".to_string(), ChunkRef::Inline(Bytes::new())),
        ];
        let payload = rmp_serde::to_vec_named(&V3 { entries: &entries }).unwrap();
        let back: Manifest = rmp_serde::from_slice(&payload).unwrap();
        let back: Vec<(String, ChunkRef)> = back.iter().map(|(k, r)| (k.to_string(), r.clone())).collect();
        assert_eq!(back, entries);
    }

    /// A manifest payload holding `columns` as given.
    #[derive(Serialize)]
    struct Wrap<'a, 'b> {
        columns: &'b Columns<'a>,
    }

    #[test]
    fn a_shorter_shared_prefix_still_decodes() {
        let m = Manifest::from_sorted([("ab", stored(0)), ("ac", stored(1))]);
        let owned = Owned::of(&m);
        // "ac" written whole, sharing nothing, instead of as "c" after "a".
        let c = Columns {
            suffixes: b"abac",
            shared: &[0, 0],
            suffix_lens: &[2, 2],
            ..owned.columns()
        };
        let bytes = rmp_serde::to_vec_named(&Wrap { columns: &c }).unwrap();
        assert_eq!(rmp_serde::from_slice::<Manifest>(&bytes).unwrap(), m);
    }

    #[test]
    fn columns_that_disagree_are_refused() {
        let m = Manifest::from_sorted([("a", stored(0)), ("b", stored(1))]);
        let owned = Owned::of(&m);
        let one = || Columns {
            hashes: &owned.hashes[..32],
            lens: &owned.lens[..8],
            ..owned.columns()
        };
        let cases = [
            (
                Columns {
                    tags: &owned.tags[..1],
                    ..one()
                },
                "after the last key",
            ),
            (
                Columns {
                    hashes: &owned.hashes[1..],
                    ..owned.columns()
                },
                "stored chunks",
            ),
            (
                Columns {
                    suffixes: b"ba",
                    ..owned.columns()
                },
                "sorted",
            ),
            (
                Columns {
                    suffixes: b"aa",
                    ..owned.columns()
                },
                "sorted",
            ),
            (
                Columns {
                    suffixes: b"abc",
                    ..owned.columns()
                },
                "after the last key",
            ),
            (
                Columns {
                    suffixes: b"a",
                    ..owned.columns()
                },
                "outside the key column",
            ),
            (
                Columns {
                    suffixes: b"a\xff",
                    ..owned.columns()
                },
                "UTF-8",
            ),
            (
                Columns {
                    suffixes: "aéb".as_bytes(),
                    suffix_lens: &[2, 2],
                    ..owned.columns()
                },
                "inside a character",
            ),
            (
                Columns {
                    shared: &[0, 5],
                    ..owned.columns()
                },
                "shares more",
            ),
            (
                Columns {
                    shared: &[0],
                    ..owned.columns()
                },
                "shared prefix column ran out",
            ),
            (
                Columns {
                    shared: &[0x80; 11],
                    ..owned.columns()
                },
                "does not end",
            ),
            (
                Columns {
                    others: vec![stored(3)].into(),
                    ..owned.columns()
                },
                "other refs",
            ),
            (
                Columns {
                    // Key 1 claims to share 2^31 bytes with key 0.
                    shared: &[0, 0x80, 0x80, 0x80, 0x80, 0x08],
                    ..owned.columns()
                },
                "more than 1073741824",
            ),
            (
                Columns {
                    tags: &[0, 2],
                    inline_lens: &[3],
                    inline: b"ab",
                    ..one()
                },
                "outside the inline column",
            ),
            (
                Columns {
                    tags: &[0, 2],
                    inline_lens: &[1],
                    inline: b"ab",
                    ..one()
                },
                "after the last inline chunk",
            ),
            (
                Columns {
                    tags: &[0, 9],
                    others: vec![stored(3)].into(),
                    ..one()
                },
                "unknown entry tag 9",
            ),
        ];
        for (c, want) in cases {
            let bytes = rmp_serde::to_vec_named(&Wrap { columns: &c }).unwrap();
            let err = rmp_serde::from_slice::<Manifest>(&bytes).unwrap_err().to_string();
            assert!(err.contains(want), "{err} should mention {want}");
        }
    }
}
