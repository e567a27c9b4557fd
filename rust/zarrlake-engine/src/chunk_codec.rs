//! `ChunkCodec`: one array's codec chain, from its `zarr.json`, encoding and decoding
//! whole chunks held in C order in memory.

use std::borrow::Cow;
use std::num::NonZeroU64;
use std::sync::Arc;

use zarrlake_core::{Error, Result};
use zarrs::array::codec::{ShardingCodecOptions, SubchunkWriteOrder};
use zarrs::array::CodecSpecificOptions;
use zarrs::array::{Array, ArrayBytes, ArrayMetadata, CodecChain, DataType, FillValue};
use zarrs::array::{ArrayToBytesCodecTraits, BytesToBytesCodecTraits, Codec, CodecError, CodecOptions};
use zarrs::metadata::v3::MetadataV3;
use zarrs::storage::store::MemoryStore;

use crate::fill::{all_fill, ElementKind};
use crate::foreign_zstd::{self, ZstdFunctions};
use zarrlake_core::buffer_pool;

/// A step after the array-to-bytes codec, when zstd is compressed by a registered libzstd.
enum Tail {
    Zstd {
        zstd: ZstdFunctions,
        level: i32,
        checksum: bool,
    },
    Codec(Arc<dyn BytesToBytesCodecTraits>),
}

/// How chunks are encoded: the whole chain, or its head and then each bytes step.
enum Encoder {
    Chain,
    Split { head: Arc<CodecChain>, tail: Vec<Tail> },
}

pub struct ChunkCodec {
    codecs: Arc<CodecChain>,
    encoder: Encoder,
    data_type: DataType,
    fill_value: FillValue,
    shape: Vec<NonZeroU64>,
    kind: ElementKind,
    itemsize: usize,
}

impl ChunkCodec {
    /// From a Zarr v3 array's metadata document. `kind` is how its elements are read.
    pub fn from_metadata(document: &str, kind: ElementKind) -> Result<Self> {
        let unsupported =
            |reason: String| Error::InvalidInput(format!("the native engine cannot handle this array: {reason}"));
        let metadata: ArrayMetadata =
            serde_json::from_str(document).map_err(|e| unsupported(format!("its metadata does not parse ({e})")))?;
        let array = Array::new_with_metadata(Arc::new(MemoryStore::new()), "/", metadata)
            .map_err(|e| unsupported(e.to_string()))?
            .with_codec_specific_options(&deterministic());
        let data_type = array.data_type().clone();
        let itemsize = data_type
            .fixed_size()
            .ok_or_else(|| unsupported("its data type has no fixed size".into()))?;
        let fill_value = array.fill_value().clone();
        if fill_value.size() != itemsize {
            return Err(unsupported("its fill value is not one element".into()));
        }
        let origin = vec![0u64; array.dimensionality()];
        let shape = array
            .chunk_shape(&origin)
            .map_err(|e| unsupported(e.to_string()))?
            .to_vec();
        let encoder = split_encoder(document).map_err(unsupported)?;
        Ok(ChunkCodec {
            codecs: array.codecs(),
            encoder,
            data_type,
            fill_value,
            shape,
            kind,
            itemsize,
        })
    }

    pub fn chunk_shape(&self) -> Vec<usize> {
        self.shape.iter().map(|n| n.get() as usize).collect()
    }

    pub fn itemsize(&self) -> usize {
        self.itemsize
    }

    pub fn chunk_nbytes(&self) -> usize {
        self.shape.iter().map(|n| n.get() as usize).product::<usize>() * self.itemsize
    }

    /// A chunk of fill values.
    pub fn filled_chunk(&self) -> Vec<u8> {
        let fill = self.fill_value.as_ne_bytes();
        if fill.iter().all(|&b| b == 0) {
            return vec![0u8; self.chunk_nbytes()];
        }
        fill.iter().copied().cycle().take(self.chunk_nbytes()).collect()
    }

    pub fn fill_bytes(&self) -> &[u8] {
        self.fill_value.as_ne_bytes()
    }

    pub fn is_fill(&self, chunk: &[u8]) -> bool {
        all_fill(chunk, self.fill_value.as_ne_bytes(), self.kind)
    }

    /// Encodes a whole chunk. Where the chain leaves the bytes as they are (the `bytes`
    /// codec alone, native byte order), the chunk's own buffer is returned, uncopied.
    pub fn encode(&self, key: &str, chunk: Vec<u8>, options: &CodecOptions) -> Result<Vec<u8>> {
        let failed = |e: CodecError| Error::InvalidInput(format!("cannot encode chunk '{key}': {e}"));
        let input = ArrayBytes::new_flen(Cow::Borrowed(chunk.as_slice()));
        let (head, tail) = match &self.encoder {
            Encoder::Chain => (&self.codecs, &[][..]),
            Encoder::Split { head, tail } => (head, tail.as_slice()),
        };
        let mut encoded = head
            .encode(input, &self.shape, &self.data_type, &self.fill_value, options)
            .map_err(failed)?;
        for step in tail {
            encoded = match step {
                Tail::Zstd { zstd, level, checksum } => Cow::Owned(zstd.compress(&encoded, *level, *checksum)?),
                Tail::Codec(codec) => codec.encode(encoded, options).map_err(failed)?,
            };
        }
        Ok(match encoded {
            Cow::Borrowed(_) => chunk,
            Cow::Owned(bytes) => {
                buffer_pool::give(chunk);
                bytes
            }
        })
    }

    /// Decodes a stored chunk to its C-ordered elements (borrowed where the chain leaves
    /// the bytes as they are).
    pub fn decode<'a>(&self, key: &str, encoded: &'a [u8], options: &CodecOptions) -> Result<Cow<'a, [u8]>> {
        let decoded = self
            .codecs
            .decode(
                Cow::Borrowed(encoded),
                &self.shape,
                &self.data_type,
                &self.fill_value,
                options,
            )
            .and_then(|bytes| bytes.into_fixed().map_err(|e| CodecError::Other(e.to_string())))
            .map_err(|e| Error::corrupt(key, format!("cannot decode the chunk: {e}")))?;
        if decoded.len() != self.chunk_nbytes() {
            return Err(Error::corrupt(
                key,
                format!("decoded to {} bytes, not {}", decoded.len(), self.chunk_nbytes()),
            ));
        }
        Ok(decoded)
    }
}

/// With a registered libzstd and a top-level zstd codec, the chain split at its
/// array-to-bytes codec, so that zstd steps can be done by that library.
fn split_encoder(document: &str) -> std::result::Result<Encoder, String> {
    let Some(zstd) = foreign_zstd::registered() else {
        return Ok(Encoder::Chain);
    };
    let doc: serde_json::Value = serde_json::from_str(document).map_err(|e| e.to_string())?;
    let codecs: Vec<MetadataV3> = match doc.get("codecs") {
        Some(list) => serde_json::from_value(list.clone()).map_err(|e| e.to_string())?,
        None => return Ok(Encoder::Chain),
    };
    let Some(split) = codecs
        .iter()
        .position(|c| matches!(c.name(), "bytes" | "sharding_indexed"))
    else {
        return Ok(Encoder::Chain);
    };
    if !codecs[split + 1..].iter().any(|c| c.name() == "zstd") {
        return Ok(Encoder::Chain);
    }
    let head = CodecChain::from_metadata(&codecs[..=split])
        .map_err(|e| e.to_string())?
        .with_codec_specific_options(&deterministic());
    let mut tail = Vec::new();
    for metadata in &codecs[split + 1..] {
        tail.push(if metadata.name() == "zstd" {
            let config = metadata.configuration();
            let level = config
                .and_then(|c| c.get("level"))
                .and_then(|v| v.as_i64())
                .unwrap_or(0);
            let checksum = config
                .and_then(|c| c.get("checksum"))
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            let level = i32::try_from(level).map_err(|_| format!("zstd level {level} is out of range"))?;
            Tail::Zstd { zstd, level, checksum }
        } else {
            match Codec::from_metadata(metadata).map_err(|e| e.to_string())? {
                Codec::BytesToBytes(codec) => Tail::Codec(codec),
                _ => return Ok(Encoder::Chain),
            }
        });
    }
    Ok(Encoder::Split {
        head: Arc::new(head),
        tail,
    })
}

/// Shards' chunks in row-major order, not the order their parallel encoding finished in:
/// a shard's bytes must not depend on timing.
fn deterministic() -> CodecSpecificOptions {
    CodecSpecificOptions::default()
        .with_option(ShardingCodecOptions::default().with_subchunk_write_order(SubchunkWriteOrder::C))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sharded() -> String {
        serde_json::json!({
            "zarr_format": 3, "node_type": "array", "shape": [262144], "data_type": "uint16",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [262144]}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": 0,
            "codecs": [{"name": "sharding_indexed", "configuration": {
                "chunk_shape": [1024],
                "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "gzip", "configuration": {"level": 1}}],
                "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
                "index_location": "end"}}],
        })
        .to_string()
    }

    #[test]
    fn a_shard_encodes_to_the_same_bytes_however_its_chunks_are_scheduled() {
        let codec = ChunkCodec::from_metadata(&sharded(), ElementKind::UInt).unwrap();
        // Uneven work per chunk (some noisy, some smooth), so that parallel encodes finish
        // out of order.
        let mut x = 1u32;
        let chunk: Vec<u8> = (0..262144u32)
            .flat_map(|i| {
                x = x.wrapping_mul(1664525).wrapping_add(1013904223);
                let v = if (i / 1024) % 3 == 0 {
                    (x >> 16) as u16
                } else {
                    (i / 7) as u16 | 1
                };
                v.to_le_bytes()
            })
            .collect();
        let parallel = CodecOptions::default().with_concurrent_target(8);
        let first = codec.encode("k", chunk.clone(), &parallel).unwrap();
        for _ in 0..20 {
            assert_eq!(codec.encode("k", chunk.clone(), &parallel).unwrap(), first);
        }
        assert_eq!(codec.decode("k", &first, &parallel).unwrap(), chunk);
    }

    #[test]
    fn refuses_metadata_it_cannot_use() {
        let bad = |doc: &str| {
            ChunkCodec::from_metadata(doc, ElementKind::Float)
                .err()
                .map(|e| e.kind())
        };
        assert_eq!(bad("{"), Some("invalid_input"));
        let unknown = sharded().replace("\"gzip\"", "\"no-such-codec\"");
        assert_eq!(bad(&unknown), Some("invalid_input"));
    }

    #[test]
    fn corrupt_chunks_are_reported_as_corrupt() {
        let codec = ChunkCodec::from_metadata(&sharded(), ElementKind::UInt).unwrap();
        let err = codec.decode("a/c/0", b"garbage", &CodecOptions::default()).unwrap_err();
        assert_eq!(err.kind(), "corrupt_object");
        assert!(err.to_string().contains("a/c/0"));
    }
}
