//! zarrlake's native Zarr engine: the codec pipeline's heavy half.
//!
//! zarr-python works out which chunks a selection touches; this crate does the rest in
//! parallel and without the GIL: gathering each chunk's elements from the caller's array,
//! merging partial chunks, skipping chunks of fill values, encoding with the array's
//! codec chain (the `zarrs` crate's codecs), and storing through a zarrlake `Session`.
//! Reads go the other way. It lives apart from `zarrlake-core`, which knows nothing of
//! codecs.

mod chunk_codec;
mod chunk_io;
mod fill;
mod foreign_zstd;
mod strided;

pub use chunk_codec::ChunkCodec;
pub use chunk_io::{read_chunks, write_chunks, ChunkRead, ChunkWrite};
pub use fill::ElementKind;
pub use foreign_zstd::{register as register_zstd, registered_version as registered_zstd_version, ZstdAddresses};
pub use strided::{check_selection, Owner, Span, Strided};

/// The version number of the libzstd the codecs use (`major * 10000 + minor * 100 + patch`).
pub fn zstd_version() -> u32 {
    zstd::zstd_safe::version_number()
}
