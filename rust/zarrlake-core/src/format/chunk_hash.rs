//! A stored chunk's content hash, held inline rather than on the heap: a manifest of 1e4
//! refs then decodes with no allocation per ref, and a change set of 1e6 refs holds no
//! 1e6 small buffers. Every hash method used here gives 32 bytes; longer is refused.

use std::fmt;
use std::ops::Deref;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub const MAX_HASH_LEN: usize = 32;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChunkHash {
    len: u8,
    bytes: [u8; MAX_HASH_LEN],
}

impl ChunkHash {
    /// `None` if `hash` is longer than any hash method's output.
    pub fn new(hash: &[u8]) -> Option<Self> {
        if hash.len() > MAX_HASH_LEN {
            return None;
        }
        let mut bytes = [0u8; MAX_HASH_LEN];
        bytes[..hash.len()].copy_from_slice(hash);
        Some(ChunkHash {
            len: hash.len() as u8,
            bytes,
        })
    }

    pub fn from_digest(bytes: [u8; MAX_HASH_LEN]) -> Self {
        ChunkHash {
            len: MAX_HASH_LEN as u8,
            bytes,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl Deref for ChunkHash {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for ChunkHash {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ChunkHash({})", hex::encode(self.as_bytes()))
    }
}

impl Serialize for ChunkHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.as_bytes())
    }
}

impl<'de> Deserialize<'de> for ChunkHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Bytes;
        impl<'de> Visitor<'de> for Bytes {
            type Value = ChunkHash;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a hash of at most {MAX_HASH_LEN} bytes")
            }

            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<ChunkHash, E> {
                ChunkHash::new(v).ok_or_else(|| E::invalid_length(v.len(), &self))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ChunkHash, A::Error> {
                let mut bytes = Vec::with_capacity(MAX_HASH_LEN);
                while let Some(b) = seq.next_element::<u8>()? {
                    if bytes.len() == MAX_HASH_LEN {
                        return Err(de::Error::invalid_length(MAX_HASH_LEN + 1, &self));
                    }
                    bytes.push(b);
                }
                self.visit_bytes(&bytes)
            }
        }
        d.deserialize_bytes(Bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_round_trip_as_bytes_and_longer_ones_are_refused() {
        for len in [0, 5, 32] {
            let h = ChunkHash::new(&vec![7u8; len]).unwrap();
            let packed = rmp_serde::to_vec(&h).unwrap();
            // The same bytes as the `serde_bytes` field it replaces.
            assert_eq!(
                packed,
                rmp_serde::to_vec(&serde_bytes::Bytes::new(&vec![7u8; len])).unwrap()
            );
            assert_eq!(rmp_serde::from_slice::<ChunkHash>(&packed).unwrap(), h);
            assert_eq!(h.as_bytes().len(), len);
        }
        assert!(ChunkHash::new(&[0u8; 33]).is_none());
        let long = rmp_serde::to_vec(&serde_bytes::Bytes::new(&[1u8; 33])).unwrap();
        let err = rmp_serde::from_slice::<ChunkHash>(&long).unwrap_err().to_string();
        assert!(err.contains("at most 32 bytes"), "{err}");
    }
}
