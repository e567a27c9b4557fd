//! 12-byte, time-ordered object ids (4-byte seconds, 5 random bytes, 3-byte counter),
//! shown as 24 lowercase hex characters: the format Arraylake users already know.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(pub [u8; 12]);

fn process_random() -> &'static [u8; 5] {
    static R: OnceLock<[u8; 5]> = OnceLock::new();
    R.get_or_init(rand::random)
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl ObjectId {
    pub fn new() -> Self {
        let secs = (super::now_micros() / 1_000_000) as u32;
        let count = COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_add(counter_seed());
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&secs.to_be_bytes());
        b[4..9].copy_from_slice(process_random());
        b[9..].copy_from_slice(&count.to_be_bytes()[1..]);
        ObjectId(b)
    }

    pub fn is_hex_id(s: &str) -> bool {
        s.len() == 24 && s.bytes().all(|c| c.is_ascii_hexdigit())
    }
}

fn counter_seed() -> u32 {
    static SEED: OnceLock<u32> = OnceLock::new();
    *SEED.get_or_init(rand::random)
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
}
