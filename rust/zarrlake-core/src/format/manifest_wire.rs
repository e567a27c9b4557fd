//! How a manifest is stored (format 4 on): in columns, not as a list of entries.
//!
//! A manifest of 1e4 refs is read before the first chunk of a fresh checkout, so its decode
//! is on the latency path. As a MessagePack list of named entries it took about 2 ms to decode
//! (two maps and four field names per ref). As columns it is a handful of byte strings: every
//! key in one, their lengths in another, the hashes of stored chunks back to back, their
//! lengths as little-endian u64s. Refs that are not stored chunks of the common hash length
//! (inline, virtual) go in `others`, in entry order, as ordinary `ChunkRef`s.
//!
//! Format 3 manifests, `{"entries": [...]}`, still decode.

use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{ChunkHash, ChunkRef, Manifest};

/// `tags[i]`: entry `i` is a stored chunk whose hash and length are in the columns.
const TAG_STORED: u8 = 0;
/// `tags[i]`: entry `i` is the next ref of `others`.
const TAG_OTHER: u8 = 1;

#[derive(Serialize, Deserialize)]
struct Columns<'a> {
    #[serde(with = "serde_bytes", borrow)]
    keys: &'a [u8],
    /// u32 LE: the length of each key in `keys` (lengths compress better than offsets).
    #[serde(with = "serde_bytes", borrow)]
    key_lens: &'a [u8],
    #[serde(with = "serde_bytes", borrow)]
    tags: &'a [u8],
    hash_len: u8,
    #[serde(with = "serde_bytes", borrow)]
    hashes: &'a [u8],
    /// u64 LE: the length of each stored chunk.
    #[serde(with = "serde_bytes", borrow)]
    lens: &'a [u8],
    others: Vec<ChunkRef>,
}

/// The columns of a manifest, owned while it is being written.
struct Owned {
    keys: Vec<u8>,
    key_lens: Vec<u8>,
    tags: Vec<u8>,
    hash_len: u8,
    hashes: Vec<u8>,
    lens: Vec<u8>,
    others: Vec<ChunkRef>,
}

impl Owned {
    fn of(m: &Manifest) -> Result<Self, String> {
        let n = m.len();
        // The hash length of the repo's method; a manifest mixing lengths keeps the rest in `others`.
        let hash_len = m
            .iter()
            .find_map(|(_, r)| match r {
                ChunkRef::Native { hash, .. } if hash.len() <= u8::MAX as usize => Some(hash.len() as u8),
                _ => None,
            })
            .unwrap_or(0);
        let mut out = Owned {
            keys: Vec::with_capacity(m.iter().map(|(k, _)| k.len()).sum()),
            key_lens: Vec::with_capacity(4 * n),
            tags: Vec::with_capacity(n),
            hash_len,
            hashes: Vec::with_capacity(hash_len as usize * n),
            lens: Vec::with_capacity(8 * n),
            others: Vec::new(),
        };
        for (key, r) in m.iter() {
            out.keys.extend_from_slice(key.as_bytes());
            u32::try_from(out.keys.len()).map_err(|_| "a manifest's keys exceed 4 GiB".to_string())?;
            out.key_lens.extend_from_slice(&(key.len() as u32).to_le_bytes());
            match r {
                ChunkRef::Native { hash, len } if hash.len() == hash_len as usize => {
                    out.tags.push(TAG_STORED);
                    out.hashes.extend_from_slice(hash);
                    out.lens.extend_from_slice(&len.to_le_bytes());
                }
                other => {
                    out.tags.push(TAG_OTHER);
                    out.others.push(other.clone());
                }
            }
        }
        Ok(out)
    }

    fn columns(&self) -> Columns<'_> {
        Columns {
            keys: &self.keys,
            key_lens: &self.key_lens,
            tags: &self.tags,
            hash_len: self.hash_len,
            hashes: &self.hashes,
            lens: &self.lens,
            others: self.others.clone(),
        }
    }
}

impl Columns<'_> {
    /// The entries, checking that the columns agree with each other and that the keys
    /// are sorted and unique (lookups binary-search them).
    fn into_manifest(self) -> Result<Manifest, String> {
        let n = self.tags.len();
        if self.key_lens.len() != 4 * n {
            return Err(format!("{} key lengths for {n} entries", self.key_lens.len() / 4));
        }
        let stored = self.tags.iter().filter(|&&t| t == TAG_STORED).count();
        let hash_len = self.hash_len as usize;
        if self.hashes.len() != stored * hash_len || self.lens.len() != stored * 8 {
            return Err(format!(
                "the hash or length column does not hold {stored} stored chunks"
            ));
        }
        if self.others.len() != n - stored {
            return Err(format!("{} other refs for {} entries", self.others.len(), n - stored));
        }
        let keys = std::str::from_utf8(self.keys).map_err(|_| "the keys are not UTF-8".to_string())?;
        let mut ends = Vec::with_capacity(n);
        let mut prev: Option<&str> = None;
        let mut start = 0usize;
        for (i, len) in self.key_lens.chunks_exact(4).enumerate() {
            let end = start + u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            let key = keys
                .get(start..end)
                .ok_or_else(|| format!("key {i} ends outside the key column or inside a character"))?;
            if prev.is_some_and(|p| p >= key) {
                return Err(format!("keys are not sorted and unique at '{key}'"));
            }
            prev = Some(key);
            ends.push(end);
            start = end;
        }
        if start != keys.len() {
            return Err("bytes after the last key".into());
        }
        let mut others = self.others.into_iter();
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
                TAG_OTHER => others.next().ok_or("the other refs ran out")?,
                t => return Err(format!("unknown entry tag {t}")),
            });
        }
        Ok(Manifest::with_parts(keys.to_string(), ends, refs))
    }
}

impl Serialize for Manifest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let owned = Owned::of(self).map_err(serde::ser::Error::custom)?;
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
    use bytes::Bytes;

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
                ChunkRef::Virtual {
                    url: "s3://x/y.nc".into(),
                    offset: 10,
                    len: 20,
                    etag: Some("e".into()),
                    mtime: None,
                },
            ),
            ("é/c/0", stored(5)),
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

    #[test]
    fn columns_that_disagree_are_refused() {
        #[derive(Serialize)]
        struct Wrap<'a, 'b> {
            columns: &'b Columns<'a>,
        }
        let m = Manifest::from_sorted([("a", stored(0)), ("b", stored(1))]);
        let owned = Owned::of(&m).unwrap();
        let one = || Columns {
            hashes: &owned.hashes[..32],
            lens: &owned.lens[..8],
            ..owned.columns()
        };
        let cases = [
            (
                Columns {
                    tags: &owned.tags[..1],
                    ..owned.columns()
                },
                "key lengths",
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
                    keys: b"ba",
                    ..owned.columns()
                },
                "sorted",
            ),
            (
                Columns {
                    keys: b"aa",
                    ..owned.columns()
                },
                "sorted",
            ),
            (
                Columns {
                    keys: b"abc",
                    ..owned.columns()
                },
                "after the last key",
            ),
            (
                Columns {
                    keys: b"a",
                    ..owned.columns()
                },
                "outside",
            ),
            (
                Columns {
                    keys: b"a\xff",
                    ..owned.columns()
                },
                "UTF-8",
            ),
            (
                Columns {
                    keys: "é".as_bytes(),
                    ..owned.columns()
                },
                "inside a character",
            ),
            (
                Columns {
                    others: vec![stored(3)],
                    ..owned.columns()
                },
                "other refs",
            ),
            (
                Columns {
                    tags: &[0, 9],
                    others: vec![stored(3)],
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
