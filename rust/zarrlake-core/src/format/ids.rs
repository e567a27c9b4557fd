//! 12-byte, time-ordered object ids (4-byte seconds, 5 random bytes, 3-byte counter),
//! shown as 24 lowercase hex characters: the format Arraylake users already know.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;
use crate::process::{self, ForkLocal};

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(pub [u8; 12]);

/// The per-process part of ids: random bytes and a counter starting at a random value.
/// A forked child draws its own (see `crate::process`); keeping the parent's would make
/// it produce the very ids the parent makes next.
struct IdSource {
    random: [u8; 5],
    counter: AtomicU32,
}

static SOURCE: ForkLocal<IdSource> = ForkLocal::new();

fn source_in(cell: &ForkLocal<IdSource>) -> &IdSource {
    cell.get_or_init(|| IdSource {
        random: process::random_bytes(),
        counter: AtomicU32::new(u32::from_le_bytes(process::random_bytes())),
    })
}

impl ObjectId {
    pub fn new() -> Self {
        Self::from_source(source_in(&SOURCE))
    }

    fn from_source(src: &IdSource) -> Self {
        let secs = (super::now_micros() / 1_000_000) as u32;
        let count = src.counter.fetch_add(1, Ordering::Relaxed);
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&secs.to_be_bytes());
        b[4..9].copy_from_slice(&src.random);
        b[9..].copy_from_slice(&count.to_be_bytes()[1..]);
        ObjectId(b)
    }
}

impl Default for ObjectId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({self})")
    }
}

impl FromStr for ObjectId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let mut b = [0u8; 12];
        if s.len() != 24 {
            return Err(Error::InvalidInput(format!("'{s}' is not a 24-character commit id")));
        }
        hex::decode_to_slice(s.to_ascii_lowercase(), &mut b)
            .map_err(|_| Error::InvalidInput(format!("'{s}' is not a hex commit id")))?;
        Ok(ObjectId(b))
    }
}

impl Serialize for ObjectId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ObjectId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_sort_by_creation() {
        let a = ObjectId::new();
        let b = ObjectId::new();
        assert!(a < b, "ids made later sort later within a process");
        let s = a.to_string();
        assert_eq!(s.len(), 24);
        assert_eq!(s.parse::<ObjectId>().unwrap(), a);
        assert!("xyz".parse::<ObjectId>().is_err());
        assert!("zzzzzzzzzzzzzzzzzzzzzzzz".parse::<ObjectId>().is_err());
    }

    #[test]
    fn a_forked_child_draws_its_own_random_part_and_counter() {
        let cell = ForkLocal::new();
        let parent = ObjectId::from_source(source_in(&cell));
        crate::process::pretend_forked(&cell);
        let child = ObjectId::from_source(source_in(&cell));
        assert_ne!(
            parent.0[4..9],
            child.0[4..9],
            "the child reused the parent's random part"
        );
        assert_ne!(parent.0[9..], child.0[9..], "the child continued the parent's counter");
        let later = ObjectId::from_source(source_in(&cell));
        assert_eq!(later.0[4..9], child.0[4..9], "one random part per process");
    }
}
