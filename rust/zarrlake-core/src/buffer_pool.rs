//! Chunk-sized buffers, reused.
//!
//! A fresh buffer of a megabyte or more comes from the kernel as untouched pages, and
//! every first write to one of them faults and zeroes a page: for bulk reads and writes
//! that is as much work as the copy itself. Buffers handed out here go back to the pool
//! when the last holder of the bytes lets go (a write's store, a read's decoder), so a
//! long transfer cycles through the same few megabytes.
//!
//! Only large buffers are pooled, and a buffer is handed out only for a size it fits
//! closely, so that a small object kept for long (a cached manifest) never pins a big one.

use std::sync::{Mutex, PoisonError};

use bytes::Bytes;

/// At most this many bytes wait in the pool (the rest are freed).
const POOL_BYTES: usize = 64 << 20;
/// Smaller buffers come and go through the allocator as usual.
pub const MIN_POOLED: usize = 64 << 10;

struct Pool {
    free: Vec<Vec<u8>>,
    bytes: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    free: Vec::new(),
    bytes: 0,
});

/// An empty buffer with room for at least `capacity` bytes.
pub fn take(capacity: usize) -> Vec<u8> {
    if capacity < MIN_POOLED {
        return Vec::with_capacity(capacity);
    }
    let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    let fits = |b: &Vec<u8>| b.capacity() >= capacity && b.capacity() / 2 <= capacity;
    if let Some(i) = pool.free.iter().position(fits) {
        let mut buf = pool.free.swap_remove(i);
        pool.bytes -= buf.capacity();
        buf.clear();
        return buf;
    }
    drop(pool);
    Vec::with_capacity(capacity)
}

/// Gives a buffer back for reuse.
pub fn give(buf: Vec<u8>) {
    if buf.capacity() < MIN_POOLED {
        return;
    }
    let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    if buf.capacity() >= MIN_POOLED && pool.bytes + buf.capacity() <= POOL_BYTES {
        pool.bytes += buf.capacity();
        pool.free.push(buf);
    }
}

/// Owns a pooled buffer inside `Bytes`, and returns it to the pool when dropped.
struct Pooled(Vec<u8>);

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        give(std::mem::take(&mut self.0));
    }
}

/// The buffer as `Bytes`, without a copy; it returns to the pool with the last clone.
pub fn into_bytes(buf: Vec<u8>) -> Bytes {
    Bytes::from_owner(Pooled(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_requests_never_get_big_buffers() {
        give(Vec::with_capacity(8 << 20));
        assert!(take(100).capacity() < MIN_POOLED);
        assert!(take(1 << 20).capacity() < 8 << 20); // too loose a fit: a new one
    }

    #[test]
    fn buffers_come_back_when_their_bytes_are_dropped() {
        let mut buf = take(3 << 20);
        buf.extend_from_slice(&[7u8; 3 << 20]);
        let ptr = buf.as_ptr();
        let bytes = into_bytes(buf);
        let clone = bytes.clone();
        drop(bytes);
        assert_eq!(clone[5], 7);
        drop(clone);
        // The pool is shared by the tests of this process: look for our buffer in it.
        let pool = POOL.lock().unwrap();
        assert!(pool.free.iter().any(|b| b.as_ptr() == ptr));
        assert!(pool.bytes <= POOL_BYTES);
    }
}
