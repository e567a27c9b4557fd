//! Structured garbage: any MessagePack tree (`Msg`) and edits of real ones, random JSON, repo configs.

use std::fmt;

use proptest::prelude::*;
use proptest::sample::Index;
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zarrlake_core::format::codec::FORMAT_VERSION;
use zarrlake_core::format::RepoConfig;

/// Every field and variant name of the stored types: structured garbage built from these
/// reaches past "unknown field" into the type checks of each field.
const NAMES: &[&str] = &[
    "entries",
    "metadata",
    "manifests",
    "first",
    "id",
    "count",
    "keys",
    "deleted_nodes",
    "parent",
    "snapshot",
    "message",
    "author_name",
    "author_email",
    "time_micros",
    "session_start_micros",
    "commit",
    "deleted",
    "branch",
    "base_commit",
    "start_micros",
    "expires_micros",
    "abandoned",
    "sealed",
    "committed",
    "records",
    "hash",
    "len",
    "url",
    "offset",
    "etag",
    "mtime",
    "n",
    "i",
    "v",
    "m",
    "c",
    "format_version",
    "hash_method",
    "inline_threshold",
    "virtual_prefixes",
    "blake3",
    "sha256",
];

/// Any MessagePack value, with map keys of any type.
#[derive(Clone, Debug)]
pub(crate) enum Msg {
    Nil,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Bin(Vec<u8>),
    Array(Vec<Msg>),
    Map(Vec<(Msg, Msg)>),
}

impl Serialize for Msg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Msg::Nil => s.serialize_unit(),
            Msg::Bool(b) => s.serialize_bool(*b),
            Msg::Int(i) => s.serialize_i64(*i),
            Msg::UInt(u) => s.serialize_u64(*u),
            Msg::Float(f) => s.serialize_f64(*f),
            Msg::Str(t) => s.serialize_str(t),
            Msg::Bin(b) => s.serialize_bytes(b),
            Msg::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Msg::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// Reads any MessagePack back into a tree, so real objects can have parts replaced.
impl<'de> Deserialize<'de> for Msg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AnyValue;
        impl<'de> Visitor<'de> for AnyValue {
            type Value = Msg;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any MessagePack value")
            }
            fn visit_unit<E>(self) -> Result<Msg, E> {
                Ok(Msg::Nil)
            }
            fn visit_none<E>(self) -> Result<Msg, E> {
                Ok(Msg::Nil)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Msg, D2::Error> {
                Msg::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Msg, E> {
                Ok(Msg::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Msg, E> {
                Ok(Msg::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Msg, E> {
                Ok(Msg::UInt(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Msg, E> {
                Ok(Msg::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Msg, E> {
                Ok(Msg::Str(v.to_string()))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Msg, E> {
                Ok(Msg::Bin(v.to_vec()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Msg, A::Error> {
                let mut items = Vec::new();
                while let Some(v) = seq.next_element()? {
                    items.push(v);
                }
                Ok(Msg::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Msg, A::Error> {
                let mut entries = Vec::new();
                while let Some(e) = map.next_entry()? {
                    entries.push(e);
                }
                Ok(Msg::Map(entries))
            }
        }
        d.deserialize_any(AnyValue)
    }
}

impl Msg {
    fn children(&mut self) -> Vec<&mut Msg> {
        match self {
            Msg::Array(items) => items.iter_mut().collect(),
            Msg::Map(entries) => entries.iter_mut().flat_map(|(k, v)| [k, v]).collect(),
            _ => Vec::new(),
        }
    }

    /// Nodes in the tree, itself included.
    pub(crate) fn nodes(&self) -> usize {
        1 + match self {
            Msg::Array(items) => items.iter().map(Msg::nodes).sum(),
            Msg::Map(entries) => entries.iter().map(|(k, v)| k.nodes() + v.nodes()).sum(),
            _ => 0,
        }
    }

    /// Applies `f` to the `n`-th node in pre-order (0 is this one); else returns how many
    /// nodes of `n` are left once this tree is passed.
    pub(crate) fn at(&mut self, n: usize, f: &mut dyn FnMut(&mut Msg)) -> Result<(), usize> {
        let Some(mut n) = n.checked_sub(1) else {
            f(self);
            return Ok(());
        };
        for c in self.children() {
            match c.at(n, f) {
                Ok(()) => return Ok(()),
                Err(rest) => n = rest,
            }
        }
        Err(n)
    }
}

/// A change to one node of a MessagePack tree.
#[derive(Clone, Debug)]
pub(crate) enum Edit {
    /// Any value in its place.
    Replace(Msg),
    /// Another value of the same MessagePack type: the type checks pass, the value is odd.
    Vary {
        text: String,
        int: i64,
        uint: u64,
        bin: Vec<u8>,
    },
    /// Drops one element of an array or entry of a map (a missing field).
    Drop(Index),
    /// Doubles one (a duplicate field).
    Dup(Index),
    /// A map as the array of its values: the struct layout MessagePack readers also accept.
    Unname,
}

impl Edit {
    pub(crate) fn apply(&self, node: &mut Msg) {
        match (self, node) {
            (Edit::Replace(with), node) => *node = with.clone(),
            (Edit::Vary { text, .. }, Msg::Str(s)) => s.clone_from(text),
            (Edit::Vary { int, .. }, Msg::Int(i)) => *i = *int,
            (Edit::Vary { uint, .. }, Msg::UInt(u)) => *u = *uint,
            (Edit::Vary { bin, .. }, Msg::Bin(b)) => b.clone_from(bin),
            (Edit::Vary { .. }, Msg::Bool(b)) => *b = !*b,
            (Edit::Drop(i), Msg::Array(items)) if !items.is_empty() => {
                items.remove(i.index(items.len()));
            }
            (Edit::Drop(i), Msg::Map(entries)) if !entries.is_empty() => {
                entries.remove(i.index(entries.len()));
            }
            (Edit::Dup(i), Msg::Array(items)) if !items.is_empty() => {
                let j = i.index(items.len());
                items.insert(j, items[j].clone());
            }
            (Edit::Dup(i), Msg::Map(entries)) if !entries.is_empty() => {
                let j = i.index(entries.len());
                entries.insert(j, entries[j].clone());
            }
            (Edit::Unname, node @ Msg::Map(_)) => {
                let Msg::Map(entries) = std::mem::replace(node, Msg::Nil) else {
                    unreachable!("matched a map")
                };
                *node = Msg::Array(entries.into_iter().map(|(_, v)| v).collect());
            }
            _ => {}
        }
    }
}

pub(crate) fn arb_edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        2 => arb_msg().prop_map(Edit::Replace),
        4 => (arb_name(), any::<i64>(), prop_oneof![any::<u64>(), 0u64..64], prop::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(text, int, uint, bin)| Edit::Vary { text, int, uint, bin }),
        1 => any::<Index>().prop_map(Edit::Drop),
        1 => any::<Index>().prop_map(Edit::Dup),
        1 => Just(Edit::Unname),
    ]
}

/// Strings that are mostly field names (so maps look like the real structs), else anything.
fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(NAMES).prop_map(str::to_string),
        1 => "[0-9a-f]{24}",
        1 => any::<String>(),
    ]
}

pub(crate) fn arb_msg() -> impl Strategy<Value = Msg> {
    let leaf = prop_oneof![
        Just(Msg::Nil),
        any::<bool>().prop_map(Msg::Bool),
        any::<i64>().prop_map(Msg::Int),
        prop_oneof![any::<u64>(), 0u64..32].prop_map(Msg::UInt),
        any::<f64>().prop_map(Msg::Float),
        arb_name().prop_map(Msg::Str),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Msg::Bin),
    ];
    leaf.prop_recursive(5, 96, 8, |inner| {
        let key = prop_oneof![4 => arb_name().prop_map(Msg::Str), 1 => inner.clone()];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Msg::Array),
            prop::collection::vec((key, inner), 0..8).prop_map(Msg::Map),
        ]
    })
}

/// JSON values for the repo config, mostly shaped like one.
pub(crate) fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value as J;
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        any::<i64>().prop_map(J::from),
        any::<u64>().prop_map(J::from),
        (0u64..3).prop_map(J::from),
        (0u64..70_000).prop_map(J::from),
        any::<f64>().prop_map(J::from),
        arb_name().prop_map(J::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(J::Array),
            prop::collection::btree_map(arb_name(), inner, 0..6).prop_map(|m| J::Object(m.into_iter().collect())),
        ]
    })
}

pub(crate) fn arb_config() -> impl Strategy<Value = RepoConfig> {
    (
        0..=FORMAT_VERSION,
        prop::sample::select(vec!["blake3", "sha256"]),
        0..=zarrlake_core::format::config::MAX_INLINE_THRESHOLD,
        prop::collection::vec(any::<String>(), 0..4),
        prop::option::of(prop::sample::select(vec![
            "s3://bucket/chunks",
            "gs://b/c",
            "memory://c",
            "/data/c",
        ])),
    )
        .prop_map(
            |(format_version, hash, inline_threshold, virtual_prefixes, chunk_location)| RepoConfig {
                format_version,
                hash_method: hash.to_string(),
                inline_threshold,
                virtual_prefixes,
                chunk_location: chunk_location.map(str::to_string),
                checksum: None,
            },
        )
}
