//! A Bloom filter of chunk hashes: what an incremental collection remembers of the chunks
//! every ref reached at the last run, in ~10 bits a chunk instead of the 32-byte hashes.
//!
//! It can only say "certainly not there" or "maybe": a chunk it calls maybe-live is kept
//! (about 1 in 100 garbage chunks stays until the next full run), never one it calls
//! not-there that is live. Chunk hashes are cryptographic, so their bytes serve directly
//! as the filter's hash values.

use serde::{Deserialize, Serialize};

use crate::format::ChunkHash;

/// Bits per expected entry: about a 1% false-positive rate with `PROBES` probes.
const BITS_PER_ENTRY: usize = 10;
const PROBES: u32 = 7;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bloom {
    #[serde(with = "serde_bytes")]
    bits: Vec<u8>,
    /// Entries added (for sizing the next filter).
    pub entries: u64,
}

impl Bloom {
    /// A filter sized for `expected` entries.
    pub fn with_capacity(expected: usize) -> Self {
        let bytes = (expected.max(1024) * BITS_PER_ENTRY).div_ceil(8);
        Bloom {
            bits: vec![0; bytes],
            entries: 0,
        }
    }

    /// Probe positions: double hashing over two 64-bit words of the hash.
    fn probes(&self, h: &ChunkHash) -> impl Iterator<Item = usize> {
        let b = h.as_bytes();
        let word = |i: usize| {
            let mut w = [0u8; 8];
            for (j, x) in w.iter_mut().enumerate() {
                *x = b.get(i + j).copied().unwrap_or(0);
            }
            u64::from_le_bytes(w)
        };
        let (h1, h2) = (word(0), word(8) | 1);
        let n = (self.bits.len() as u64 * 8).max(1);
        (0..PROBES).map(move |k| (h1.wrapping_add(u64::from(k).wrapping_mul(h2)) % n) as usize)
    }

    pub fn insert(&mut self, h: &ChunkHash) {
        if self.bits.is_empty() {
            *self = Bloom::with_capacity(1024);
        }
        let probes: Vec<usize> = self.probes(h).collect();
        for p in probes {
            self.bits[p / 8] |= 1 << (p % 8);
        }
        self.entries += 1;
    }

    /// False only if `h` was certainly never inserted.
    pub fn may_contain(&self, h: &ChunkHash) -> bool {
        !self.bits.is_empty() && self.probes(h).all(|p| self.bits[p / 8] & (1 << (p % 8)) != 0)
    }

    /// Whether it holds so many more entries than it was sized for that most lookups
    /// would say maybe (a full run then rebuilds it).
    pub fn is_saturated(&self) -> bool {
        self.entries as usize * BITS_PER_ENTRY > self.bits.len() * 8 * 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: u32) -> ChunkHash {
        ChunkHash::from_digest(*blake3::hash(&i.to_le_bytes()).as_bytes())
    }

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let mut b = Bloom::with_capacity(10_000);
        for i in 0..10_000 {
            b.insert(&h(i));
        }
        assert!((0..10_000).all(|i| b.may_contain(&h(i))));
        let false_pos = (10_000..30_000).filter(|i| b.may_contain(&h(*i))).count();
        assert!(false_pos < 20_000 / 50, "{false_pos} false positives in 20,000");
        assert!(!b.is_saturated());
        assert!(!Bloom::default().may_contain(&h(1)));
        let bytes = rmp_serde::to_vec_named(&b).unwrap();
        assert_eq!(rmp_serde::from_slice::<Bloom>(&bytes).unwrap(), b);
    }
}
