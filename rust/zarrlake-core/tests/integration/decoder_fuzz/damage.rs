//! What storage can do to an object's bytes (`Damage`), and random bytes of every size.

use proptest::prelude::*;
use proptest::sample::Index;

/// What storage can do to an object's bytes.
#[derive(Clone, Debug)]
pub(crate) enum Damage {
    FlipBit(Index, u8),
    Truncate(Index),
    /// Replaces `[a, b)` (in either order) with the given bytes.
    Splice(Index, Index, Vec<u8>),
    Append(Vec<u8>),
}

pub(crate) fn arb_damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Damage::FlipBit(i, b)),
        2 => any::<Index>().prop_map(Damage::Truncate),
        2 => (any::<Index>(), any::<Index>(), prop::collection::vec(any::<u8>(), 0..16))
            .prop_map(|(a, b, v)| Damage::Splice(a, b, v)),
        1 => prop::collection::vec(any::<u8>(), 1..16).prop_map(Damage::Append),
    ]
}

impl Damage {
    pub(crate) fn apply(&self, bytes: &[u8]) -> Vec<u8> {
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
pub(crate) fn arb_random_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..16),
        4 => prop::collection::vec(any::<u8>(), 0..1024),
        1 => prop::collection::vec(any::<u8>(), 0..(256 * 1024)),
    ]
}
