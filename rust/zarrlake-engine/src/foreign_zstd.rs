//! Compressing zstd chunks with the libzstd that zarr-python itself uses (numcodecs').
//!
//! zstd's output changes between library versions, so chunks are byte-identical to
//! zarr-python's only if compressed by the same libzstd, with the same calls (a context,
//! the level and checksum flag, `ZSTD_compress2`). The embedding program hands over that
//! library's functions once (`register`); until it does, zstd chunks are compressed by the
//! libzstd linked here. Decompression needs no such care: every version reads every frame.

use std::ffi::{c_int, c_uint, c_void};
use std::sync::OnceLock;

use zarrlake_core::{Error, Result};

type CreateCCtx = unsafe extern "C" fn() -> *mut c_void;
type FreeCCtx = unsafe extern "C" fn(*mut c_void) -> usize;
type SetParameter = unsafe extern "C" fn(*mut c_void, c_int, c_int) -> usize;
type Compress2 = unsafe extern "C" fn(*mut c_void, *mut c_void, usize, *const c_void, usize) -> usize;
type CompressBound = unsafe extern "C" fn(usize) -> usize;
type IsError = unsafe extern "C" fn(usize) -> c_uint;

/// libzstd's stable parameter numbers (zstd.h).
const COMPRESSION_LEVEL: c_int = 100;
const CHECKSUM_FLAG: c_int = 201;

/// The functions of one loaded libzstd.
#[derive(Clone, Copy)]
pub struct ZstdFunctions {
    create_cctx: CreateCCtx,
    free_cctx: FreeCCtx,
    set_parameter: SetParameter,
    compress2: Compress2,
    compress_bound: CompressBound,
    is_error: IsError,
    version: u32,
}

static FUNCTIONS: OnceLock<ZstdFunctions> = OnceLock::new();

/// Addresses of `ZSTD_createCCtx`, `ZSTD_freeCCtx`, `ZSTD_CCtx_setParameter`,
/// `ZSTD_compress2`, `ZSTD_compressBound` and `ZSTD_isError`, in that order.
pub type ZstdAddresses = [usize; 6];

/// Makes the libzstd at these addresses the one zstd chunks are compressed with.
/// The first registration stays; returns whether this one took.
///
/// # Safety
/// The addresses must be those functions, with zstd.h's signatures, of a library that
/// stays loaded for the rest of the process.
pub unsafe fn register(addresses: ZstdAddresses, version: u32) -> Result<bool> {
    if addresses.contains(&0) {
        return Err(Error::InvalidInput("a libzstd function address is null".into()));
    }
    let [create, free, set, compress, bound, is_error] = addresses;
    let functions = ZstdFunctions {
        create_cctx: std::mem::transmute::<usize, CreateCCtx>(create),
        free_cctx: std::mem::transmute::<usize, FreeCCtx>(free),
        set_parameter: std::mem::transmute::<usize, SetParameter>(set),
        compress2: std::mem::transmute::<usize, Compress2>(compress),
        compress_bound: std::mem::transmute::<usize, CompressBound>(bound),
        is_error: std::mem::transmute::<usize, IsError>(is_error),
        version,
    };
    Ok(FUNCTIONS.set(functions).is_ok())
}

/// The registered libzstd's version, if one is registered.
pub fn registered_version() -> Option<u32> {
    FUNCTIONS.get().map(|f| f.version)
}

pub(crate) fn registered() -> Option<ZstdFunctions> {
    FUNCTIONS.get().copied()
}

impl ZstdFunctions {
    /// One frame of `data`, as numcodecs' `Zstd(level, checksum).encode` makes it.
    pub fn compress(&self, data: &[u8], level: i32, checksum: bool) -> Result<Vec<u8>> {
        let failed = |what: &str| Error::InvalidInput(format!("zstd compression failed: {what}"));
        // SAFETY: `register`'s contract gives these functions their zstd.h signatures; the
        // context is created, used by this thread only and freed here.
        unsafe {
            let cctx = (self.create_cctx)();
            if cctx.is_null() {
                return Err(failed("no compression context"));
            }
            let result = (|| {
                if (self.is_error)((self.set_parameter)(cctx, COMPRESSION_LEVEL, level)) != 0
                    || (self.is_error)((self.set_parameter)(cctx, CHECKSUM_FLAG, c_int::from(checksum))) != 0
                {
                    return Err(failed("bad parameters"));
                }
                let bound = (self.compress_bound)(data.len());
                let mut out = zarrlake_core::buffer_pool::take(bound);
                let written = (self.compress2)(cctx, out.as_mut_ptr().cast(), bound, data.as_ptr().cast(), data.len());
                if (self.is_error)(written) != 0 || written > bound {
                    return Err(failed("the library reported an error"));
                }
                out.set_len(written);
                Ok(out)
            })();
            (self.free_cctx)(cctx);
            result
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The libzstd linked here, through the same entry points a foreign one is called by.
    fn linked() -> ZstdFunctions {
        use zstd::zstd_safe::zstd_sys as sys;
        unsafe extern "C" fn create() -> *mut c_void {
            sys::ZSTD_createCCtx().cast()
        }
        unsafe extern "C" fn free(c: *mut c_void) -> usize {
            sys::ZSTD_freeCCtx(c.cast())
        }
        unsafe extern "C" fn set(c: *mut c_void, p: c_int, v: c_int) -> usize {
            sys::ZSTD_CCtx_setParameter(c.cast(), std::mem::transmute::<c_int, sys::ZSTD_cParameter>(p), v)
        }
        unsafe extern "C" fn compress(c: *mut c_void, d: *mut c_void, dn: usize, s: *const c_void, sn: usize) -> usize {
            sys::ZSTD_compress2(c.cast(), d, dn, s, sn)
        }
        unsafe extern "C" fn bound(n: usize) -> usize {
            sys::ZSTD_compressBound(n)
        }
        unsafe extern "C" fn is_error(r: usize) -> c_uint {
            sys::ZSTD_isError(r)
        }
        ZstdFunctions {
            create_cctx: create,
            free_cctx: free,
            set_parameter: set,
            compress2: compress,
            compress_bound: bound,
            is_error,
            version: zstd::zstd_safe::version_number(),
        }
    }

    #[test]
    fn frames_decode_and_carry_the_checksum_asked_for() {
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let f = linked();
        let plain = f.compress(&data, 3, false).unwrap();
        let checked = f.compress(&data, 3, true).unwrap();
        assert_eq!(checked.len(), plain.len() + 4);
        assert_eq!(zstd::bulk::decompress(&checked, data.len()).unwrap(), data);
        assert_eq!(plain, zstd::bulk::compress(&data, 3).unwrap());
        assert!(f.compress(&data, 1000, false).is_ok()); // levels are clamped, as by numcodecs
    }
}
