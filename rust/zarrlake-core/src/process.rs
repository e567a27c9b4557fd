//! Process-local state that must not cross `fork()`.
//!
//! A forked child is a copy of one thread of its parent: the parent's other threads (the
//! tokio workers) are gone, and any lock one of them held stays locked forever. State
//! tied to those threads, or that must be unique per process (id randomness, a session
//! writer's id), lives in a [`ForkLocal`]: read through the process id, it is re-created
//! the first time a new process touches it.
//!
//! The rule that keeps a child from deadlocking: the child never uses, locks or drops
//! the parent's value. A `ForkLocal` takes no lock (one atomic pointer), so nothing the
//! parent's threads were doing at fork time can block it; the parent's value is leaked
//! in the child, never dropped (dropping a runtime or a connection pool there would touch
//! threads and sockets that are not the child's). Locks inside ordinary objects that the
//! child inherits (a repo's caches, a session's state) are only held during a zarrlake
//! call, so forking while another thread is inside a zarrlake call is not supported.

use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};

use rand::rngs::OsRng;
use rand::RngCore;

/// The id of the running process: it changes in a `fork()` child.
pub fn id() -> u32 {
    std::process::id()
}

/// Forks this process has made, as far as it was told (`note_fork`, which the Python
/// package calls after each fork in the parent). A private write session that lived
/// through a fork may have a child writing to it, so it takes the shared protocol.
static FORKS: AtomicU64 = AtomicU64::new(0);

pub fn note_fork() {
    FORKS.fetch_add(1, Ordering::SeqCst);
}

pub fn forks() -> u64 {
    FORKS.load(Ordering::SeqCst)
}

/// `N` random bytes from the operating system, fresh in every process.
///
/// Not `rand::random`: a forked child continues the forking thread's generator from the
/// same buffered output, so two children of one parent would draw the same bytes.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    if OsRng.try_fill_bytes(&mut out).is_ok() {
        return out;
    }
    // No OS randomness: mix what differs between processes and between calls.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut h = blake3::Hasher::new();
    h.update(&id().to_le_bytes());
    h.update(&nanos.to_le_bytes());
    h.update(&rand::random::<[u8; 32]>());
    h.finalize_xof().fill(&mut out);
    out
}

struct Slot<T> {
    /// The process that built `value` (atomic only so that tests can fake a fork).
    pid: AtomicU32,
    value: T,
}

/// A value per process: built on first use, and again in a forked child.
pub struct ForkLocal<T> {
    /// Null, or a `Box<Slot<T>>` that lives until `self` is dropped: replaced slots (the
    /// parent's, after a fork) are leaked, never freed, so every `&T` handed out stays valid.
    slot: AtomicPtr<Slot<T>>,
    /// Send and Sync exactly when an `RwLock<T>` would be: many threads read one `&T`.
    _value: PhantomData<std::sync::RwLock<T>>,
}

impl<T> Default for ForkLocal<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> ForkLocal<T> {
    pub const fn new() -> Self {
        ForkLocal {
            slot: AtomicPtr::new(ptr::null_mut()),
            _value: PhantomData,
        }
    }

    /// The value of this process, if it has been built here.
    pub fn get(&self) -> Option<&T> {
        self.of_process(self.slot.load(Ordering::Acquire), id())
    }

    /// The value of this process, built with `init` if this process has none yet.
    pub fn get_or_init(&self, init: impl FnOnce() -> T) -> &T {
        match self.get_or_try_init(|| Ok::<T, std::convert::Infallible>(init())) {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// Like [`ForkLocal::get_or_init`], for an `init` that can fail (nothing is stored then).
    pub fn get_or_try_init<E>(&self, init: impl FnOnce() -> Result<T, E>) -> Result<&T, E> {
        let pid = id();
        let mut seen = self.slot.load(Ordering::Acquire);
        if let Some(v) = self.of_process(seen, pid) {
            return Ok(v);
        }
        let mut fresh = Box::new(Slot {
            pid: AtomicU32::new(pid),
            value: init()?,
        });
        loop {
            let raw = Box::into_raw(fresh);
            match self
                .slot
                .compare_exchange(seen, raw, Ordering::AcqRel, Ordering::Acquire)
            {
                // `seen` was null or another process's slot: it is leaked, never dropped here.
                // SAFETY: `raw` came from `Box::into_raw` just above and is now owned by
                // `self.slot`, which frees it only when `self` is dropped.
                Ok(_) => return Ok(unsafe { &(*raw).value }),
                Err(now) => {
                    // SAFETY: the exchange failed, so `raw` was never published: we own it.
                    fresh = unsafe { Box::from_raw(raw) };
                    // Another thread of this process was first: use its value, drop ours.
                    if let Some(v) = self.of_process(now, pid) {
                        return Ok(v);
                    }
                    seen = now;
                }
            }
        }
    }

    fn of_process(&self, p: *mut Slot<T>, pid: u32) -> Option<&T> {
        self.slot_at(p)
            .filter(|slot| slot.pid.load(Ordering::Relaxed) == pid)
            .map(|slot| &slot.value)
    }

    fn slot_at(&self, p: *mut Slot<T>) -> Option<&Slot<T>> {
        // SAFETY: non-null pointers in `self.slot` come from `Box::into_raw` and are freed
        // only in `drop` (which needs `&mut self`); replaced ones are leaked. So `p` is
        // valid for as long as `&self` is.
        (!p.is_null()).then(|| unsafe { &*p })
    }
}

/// Makes `cell`'s value look like the parent's, as it does in a forked child.
#[cfg(test)]
pub(crate) fn pretend_forked<T>(cell: &ForkLocal<T>) {
    if let Some(slot) = cell.slot_at(cell.slot.load(Ordering::Acquire)) {
        slot.pid.store(id().wrapping_add(1), Ordering::Relaxed);
    }
}

impl<T> Drop for ForkLocal<T> {
    fn drop(&mut self) {
        let p = *self.slot.get_mut();
        if p.is_null() {
            return;
        }
        // SAFETY: `p` came from `Box::into_raw` and nothing else frees it; we own `self`.
        let slot = unsafe { Box::from_raw(p) };
        if slot.pid.load(Ordering::Relaxed) != id() {
            // The parent's value: never run its destructor in a forked child.
            std::mem::forget(slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[test]
    fn built_once_per_process() {
        let cell: ForkLocal<u64> = ForkLocal::new();
        assert!(cell.get().is_none());
        let builds = AtomicUsize::new(0);
        let a = *cell.get_or_init(|| {
            builds.fetch_add(1, Ordering::Relaxed);
            7
        });
        let b = *cell.get_or_init(|| {
            builds.fetch_add(1, Ordering::Relaxed);
            8
        });
        assert_eq!((a, b, builds.load(Ordering::Relaxed)), (7, 7, 1));
        assert_eq!(cell.get(), Some(&7));
    }

    #[test]
    fn failed_init_stores_nothing() {
        let cell: ForkLocal<u8> = ForkLocal::new();
        assert_eq!(cell.get_or_try_init(|| Err::<u8, &str>("no")), Err("no"));
        assert!(cell.get().is_none());
        assert_eq!(cell.get_or_try_init(|| Ok::<u8, &str>(1)), Ok(&1));
    }

    /// A value stored by another process (as a fork child inherits it) is not used: the
    /// child builds its own, and the parent's is leaked rather than dropped.
    #[test]
    fn another_process_value_is_replaced_not_dropped() {
        struct Counted(u8, Arc<AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.1.fetch_add(1, Ordering::Relaxed);
            }
        }
        let drops = Arc::new(AtomicUsize::new(0));
        let cell: ForkLocal<Counted> = ForkLocal::new();
        assert_eq!(cell.get_or_init(|| Counted(1, drops.clone())).0, 1);
        pretend_forked(&cell);
        assert!(cell.get().is_none(), "the parent's value is not this process's");
        assert_eq!(cell.get_or_init(|| Counted(2, drops.clone())).0, 2);
        assert_eq!(cell.get().map(|v| v.0), Some(2));
        drop(cell);
        assert_eq!(drops.load(Ordering::Relaxed), 1, "only this process's value is dropped");
    }

    #[test]
    fn random_bytes_differ_between_calls() {
        let (a, b) = (random_bytes::<16>(), random_bytes::<16>());
        assert_ne!(a, b);
        assert_ne!(random_bytes::<5>(), [0u8; 5]);
    }

    #[test]
    fn racing_threads_share_one_value() {
        let cell: Arc<ForkLocal<usize>> = Arc::new(ForkLocal::new());
        let builds = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let (cell, builds) = (cell.clone(), builds.clone());
                std::thread::spawn(move || {
                    *cell.get_or_init(|| {
                        builds.fetch_add(1, Ordering::Relaxed);
                        i
                    })
                })
            })
            .collect();
        let seen: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert!(seen.iter().all(|v| *v == seen[0]), "{seen:?}");
        assert!(builds.load(Ordering::Relaxed) >= 1);
    }
}
