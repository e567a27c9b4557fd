//! `ChunkCodec`: one array's codec chain, from its `zarr.json`, encoding and decoding
//! whole chunks held in C order in memory.

use std::borrow::Cow;
use std::num::NonZeroU64;
use std::sync::Arc;

use zarrlake_core::{Error, Result};
use zarrs::array::{Array, ArrayBytes, ArrayMetadata, CodecChain, DataType, FillValue};
use zarrs::array::{ArrayToBytesCodecTraits, CodecError, CodecOptions};
use zarrs::storage::store::MemoryStore;

use crate::fill::{all_fill, ElementKind};

pub struct ChunkCodec {
    codecs: Arc<CodecChain>,
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
            .map_err(|e| unsupported(e.to_string()))?;
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
        Ok(ChunkCodec {
            codecs: array.codecs(),
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
        let encoded = self
            .codecs
            .encode(
                ArrayBytes::new_flen(Cow::Borrowed(chunk.as_slice())),
                &self.shape,
                &self.data_type,
                &self.fill_value,
                options,
            )
            .map_err(|e| Error::InvalidInput(format!("cannot encode chunk '{key}': {e}")))?;
        Ok(match encoded {
            Cow::Borrowed(_) => chunk,
            Cow::Owned(bytes) => bytes,
        })
    }

    /// Decodes a stored chunk to its C-ordered elements.
    pub fn decode(&self, key: &str, encoded: &[u8], options: &CodecOptions) -> Result<Vec<u8>> {
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
        Ok(decoded.into_owned())
    }
}
