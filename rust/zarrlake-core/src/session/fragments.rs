//! Durable session writes. Each writer group-commits its change records into fragment
//! objects under `sessions/<id>/fragments/`: concurrent writes share one object write,
//! and a write is acknowledged only once its fragment is stored and the session was
//! still open afterwards (see `Session::after_write_check`).
//!
//! Each stored fragment of a shared session is also recorded by an empty marker,
//! `sessions/<id>/acked/<name>`, written after the fragment and before the write is
//! acknowledged (a private session's are written when it is shared, see `sharing`). Fragments are found
//! by listing, so without the marker a deleted fragment would silently drop acknowledged
//! writes; with it, the loss of any one object is detected when the session is folded.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::oneshot;

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
}

pub struct FragmentWriter {
    storage: Storage,
    prefix: String,
    acked: String,
    writer_id: String,
    seq: AtomicU64,
    pending: Mutex<Pending>,
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
        }
    }

    pub fn writer_id(&self) -> &str {
        &self.writer_id
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
            let (records, waiters) = {
                let mut p = self.pending.lock();
                if p.records.is_empty() {
                    p.flushing = false;
                    return;
                }
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

    #[test]
    fn names_sort_by_time_then_writer() {
        let a = fragment_name(5, "abc", 9);
        let b = fragment_name(16, "abc", 0);
        assert!(a < b);
        assert!(fragment_name(5, "abc", 0) < fragment_name(5, "abd", 0));
        assert_eq!(writer_of(&fragment_name(5, "abc", 3)), Some("abc"));
    }
}
