//! Durable session writes. Each writer group-commits its change records into fragment
//! objects under `sessions/<id>/fragments/`: concurrent writes share one object write,
//! and a write is acknowledged only once its fragment is stored and the session was
//! still open afterwards (see `Session::after_write_check`).
//!
//! A flush first waits, briefly, for the chunk puts that were already in flight when it
//! began (`PutTicket`): their writes would otherwise each need a fragment of their own
//! moments later. That is what makes a burst of N chunk writes cost N chunk puts and a
//! few fragments rather than 2N requests. The wait is bounded by about two typical chunk
//! puts, so one slow put delays the others' acknowledgement by little.
//!
//! Each stored fragment of a shared session is also recorded by an empty marker,
//! `sessions/<id>/acked/<name>`, written after the fragment and before the write is
//! acknowledged (a private session's are written when it is shared, see `sharing`). Fragments are found
//! by listing, so without the marker a deleted fragment would silently drop acknowledged
//! writes; with it, the loss of any one object is detected when the session is folded.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::{oneshot, Notify};

use super::changeset::Order;
use crate::error::{Error, Result};
use crate::format::codec::{self, Kind};
use crate::format::{now_micros, Fragment, Value};
use crate::process;
use crate::storage::Storage;

type Record = (String, Option<Value>);
type Ack = oneshot::Sender<Result<Order>>;

#[derive(Default)]
struct Pending {
    records: Vec<Record>,
    /// (index of the waiter's first record in `records`, its channel)
    waiters: Vec<(usize, Ack)>,
    flushing: bool,
    /// Chunk puts in flight, by the parity of the generation they started in; a flush
    /// closes the current generation and waits for its puts only (a put that outlived
    /// a timed-out wait is waited for again two generations on; each wait is bounded).
    in_flight: [u64; 2],
    generation: u64,
}

/// A chunk put in flight for this writer; dropped when the put is over, however it ended.
pub struct PutTicket {
    writer: Arc<FragmentWriter>,
    slot: usize,
    started: Instant,
}

impl Drop for PutTicket {
    fn drop(&mut self) {
        let took = self.started.elapsed().as_micros() as u64;
        // A rough running mean: it only sizes how long a flush may wait.
        let old = self.writer.put_micros.load(Ordering::Relaxed);
        let mean = if old == 0 { took } else { (old * 7 + took) / 8 };
        self.writer.put_micros.store(mean, Ordering::Relaxed);
        let drained = {
            let mut p = self.writer.pending.lock();
            p.in_flight[self.slot] -= 1;
            p.in_flight[self.slot] == 0
        };
        if drained {
            self.writer.drained.notify_waiters();
        }
    }
}

/// The longest a flush waits for puts in flight, whatever they take.
const MAX_GROUP_WAIT: Duration = Duration::from_millis(250);

pub struct FragmentWriter {
    storage: Storage,
    prefix: String,
    acked: String,
    writer_id: String,
    seq: AtomicU64,
    pending: Mutex<Pending>,
    drained: Notify,
    /// Running mean of chunk put times, in microseconds (0 before the first).
    put_micros: AtomicU64,
}

/// Called after each fragment is stored, with the key of its marker (which it writes if
/// the session needs markers); an error fails every write in the fragment.
pub type AfterWrite = Arc<dyn Fn(String) -> futures::future::BoxFuture<'static, Result<()>> + Send + Sync>;

impl FragmentWriter {
    pub fn new(storage: Storage, session_id: &str) -> Self {
        FragmentWriter {
            storage,
            prefix: fragments_prefix(session_id),
            acked: acked_prefix(session_id),
            writer_id: hex::encode(process::random_bytes::<6>()),
            seq: AtomicU64::new(0),
            pending: Mutex::new(Pending::default()),
            drained: Notify::new(),
            put_micros: AtomicU64::new(0),
        }
    }

    pub fn writer_id(&self) -> &str {
        &self.writer_id
    }

    /// Marks the start of a chunk put whose record will be appended when it is stored.
    pub fn begin_put(self: &Arc<Self>) -> PutTicket {
        let slot = {
            let mut p = self.pending.lock();
            let slot = (p.generation & 1) as usize;
            p.in_flight[slot] += 1;
            slot
        };
        PutTicket {
            writer: self.clone(),
            slot,
            started: Instant::now(),
        }
    }

    /// Waits until the puts that were in flight when it was called are over, or for
    /// about two typical puts, whichever is first.
    async fn wait_for_puts_in_flight(&self) {
        let slot = {
            let mut p = self.pending.lock();
            let slot = (p.generation & 1) as usize;
            p.generation += 1;
            if p.in_flight[slot] == 0 {
                return;
            }
            slot
        };
        let typical = Duration::from_micros(self.put_micros.load(Ordering::Relaxed).saturating_mul(2));
        let limit = typical.clamp(Duration::from_millis(1), MAX_GROUP_WAIT);
        let drained = async {
            loop {
                let woken = self.drained.notified();
                if self.pending.lock().in_flight[slot] == 0 {
                    return;
                }
                woken.await;
            }
        };
        let _ = tokio::time::timeout(limit, drained).await;
    }

    /// Stores `records` durably, returning the order of the first one (the rest follow).
    pub async fn append(self: &Arc<Self>, records: Vec<Record>, after: AfterWrite) -> Result<Order> {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut p = self.pending.lock();
            let at = p.records.len();
            p.records.extend(records);
            p.waiters.push((at, tx));
            if p.flushing {
                false
            } else {
                p.flushing = true;
                true
            }
        };
        if start {
            let me = self.clone();
            tokio::spawn(async move { me.flush_loop(after).await });
        }
        rx.await.map_err(|_| Error::Storage("session writer stopped".into()))?
    }

    async fn flush_loop(self: Arc<Self>, after: AfterWrite) {
        loop {
            {
                let mut p = self.pending.lock();
                if p.records.is_empty() {
                    p.flushing = false;
                    return;
                }
            }
            self.wait_for_puts_in_flight().await;
            let (records, waiters) = {
                let mut p = self.pending.lock();
                (std::mem::take(&mut p.records), std::mem::take(&mut p.waiters))
            };
            let result = self.write_fragment(records, &after).await;
            for (at, tx) in waiters {
                let r = match &result {
                    Ok(name) => Ok(Order {
                        fragment: name.clone(),
                        index: at as u32,
                    }),
                    Err(e) => Err(e.clone()),
                };
                let _ = tx.send(r);
            }
        }
    }

    async fn write_fragment(&self, records: Vec<Record>, after: &AfterWrite) -> Result<Arc<str>> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let name = fragment_name(now_micros(), &self.writer_id, seq);
        let bytes = codec::encode(Kind::Fragment, &Fragment { records })?;
        let key = format!("{}/{}/{}", self.prefix, self.writer_id, name);
        if !self.storage.put_if_absent(&key, bytes).await? {
            return Err(Error::Storage(format!("fragment {key} already exists")));
        }
        // The marker only once the fragment is stored: a marker proves its fragment existed.
        after(format!("{}/{}", self.acked, name)).await?;
        Ok(Arc::from(name.as_str()))
    }
}

pub fn fragments_prefix(session_id: &str) -> String {
    format!("sessions/{session_id}/fragments")
}

pub fn acked_prefix(session_id: &str) -> String {
    format!("sessions/{session_id}/acked")
}

/// Time first so names sort in write order across writers; writer and seq make them unique.
fn fragment_name(micros: i64, writer: &str, seq: u64) -> String {
    format!("{micros:016x}-{writer}-{seq:010x}")
}

/// The writer that stored a fragment, from its name.
pub fn writer_of(fragment: &str) -> Option<&str> {
    fragment.split('-').nth(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::tests::memory_repo;

    fn no_marker() -> AfterWrite {
        Arc::new(|_| Box::pin(async { Ok(()) }))
    }

    #[tokio::test]
    async fn a_flush_waits_for_the_puts_in_flight_and_records_them_together() {
        let repo = memory_repo().await;
        let w = Arc::new(FragmentWriter::new(repo.storage().clone(), "s1"));
        let tickets: Vec<PutTicket> = (0..3).map(|_| w.begin_put()).collect();
        let first = {
            let w = w.clone();
            tokio::spawn(async move { w.append(vec![("a/c/0".into(), None)], no_marker()).await })
        };
        tokio::time::sleep(Duration::from_micros(200)).await;
        // The puts in flight end and append their records while the flush waits, each
        // in its own task, as `Session::set` does.
        let mut rest = Vec::new();
        for (i, t) in tickets.into_iter().enumerate() {
            let w = w.clone();
            rest.push(tokio::spawn(async move {
                drop(t);
                w.append(vec![(format!("a/c/{}", i + 1), None)], no_marker()).await
            }));
        }
        let first = first.await.unwrap().unwrap();
        for r in rest {
            assert_eq!(r.await.unwrap().unwrap().fragment, first.fragment);
        }
        let stored = repo.storage().list(&fragments_prefix("s1")).await.unwrap();
        assert_eq!(stored.len(), 1, "{stored:?}");
    }

    #[tokio::test]
    async fn a_put_that_never_ends_delays_a_flush_only_briefly() {
        let repo = memory_repo().await;
        let w = Arc::new(FragmentWriter::new(repo.storage().clone(), "s2"));
        let _stuck = w.begin_put();
        let started = Instant::now();
        w.append(vec![("a/c/0".into(), None)], no_marker()).await.unwrap();
        assert!(started.elapsed() < MAX_GROUP_WAIT * 4, "{:?}", started.elapsed());
    }

    #[test]
    fn names_sort_by_time_then_writer() {
        let a = fragment_name(5, "abc", 9);
        let b = fragment_name(16, "abc", 0);
        assert!(a < b);
        assert!(fragment_name(5, "abc", 0) < fragment_name(5, "abd", 0));
        assert_eq!(writer_of(&fragment_name(5, "abc", 3)), Some("abc"));
    }
}
