//! Coalescing concurrent single reads of one remote source.
//!
//! zarr reads chunk by chunk, a few at a time, through `Session::get`. A read of a remote
//! virtual chunk joins a queue per source (URL and recorded version); the first read in an
//! empty queue waits `WINDOW` for company, then takes the queue and fetches it like
//! `get_many` does: nearby ranges merged into one ranged GET, the bytes sliced back out.
//! Every waiter gets its own slice, or the error of its request. Local files skip this.
//! The queues are per process: a forked child never sees the parent's waiters.

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::coalesce::{plan, CONCURRENCY, MAX_GAP, MAX_MERGED};
use super::fetch::{fetch, Source, Version};
use crate::error::{Error, Result};
use crate::process::ForkLocal;

/// How long the first read of a source waits for others to join it.
pub const WINDOW: Duration = Duration::from_millis(2);

type QueueKey = (String, Option<String>, Option<i64>);

struct Waiter {
    key: String,
    range: Range<u64>,
    tx: oneshot::Sender<Result<Bytes>>,
}

type Queues = Mutex<HashMap<QueueKey, Vec<Waiter>>>;

static QUEUES: ForkLocal<Queues> = ForkLocal::new();

fn queues() -> &'static Queues {
    QUEUES.get_or_init(Default::default)
}

/// Reads `range` of `src` together with the other reads of it that arrive within `WINDOW`.
pub async fn read(
    src: Source,
    key: &str,
    range: Range<u64>,
    etag: Option<String>,
    mtime: Option<i64>,
) -> Result<Bytes> {
    let (tx, rx) = oneshot::channel();
    let qk: QueueKey = (src.url.clone(), etag.clone(), mtime);
    let first = {
        let mut queues = queues().lock();
        let q = queues.entry(qk.clone()).or_default();
        q.push(Waiter {
            key: key.to_string(),
            range,
            tx,
        });
        q.len() == 1
    };
    if first {
        tokio::spawn(async move {
            tokio::time::sleep(WINDOW).await;
            let waiters = queues().lock().remove(&qk).unwrap_or_default();
            flush(src, etag, mtime, waiters).await;
        });
    }
    rx.await
        .map_err(|_| Error::Storage(format!("the read of virtual chunk '{key}' was cancelled")))?
}

async fn flush(src: Source, etag: Option<String>, mtime: Option<i64>, waiters: Vec<Waiter>) {
    let ranges: Vec<(usize, Range<u64>)> = waiters.iter().enumerate().map(|(i, w)| (i, w.range.clone())).collect();
    let mut slots: Vec<Option<Waiter>> = waiters.into_iter().map(Some).collect();
    let groups: Vec<(Range<u64>, Vec<Waiter>)> = plan(ranges, MAX_GAP, MAX_MERGED)
        .into_iter()
        .map(|m| {
            (
                m.range,
                m.parts
                    .iter()
                    .filter_map(|(i, _)| slots.get_mut(*i).and_then(Option::take))
                    .collect(),
            )
        })
        .collect();
    futures::stream::iter(groups)
        .for_each_concurrent(CONCURRENCY, |(range, group)| {
            let (src, etag) = (&src, etag.as_deref());
            async move {
                let Some(first) = group.first() else { return };
                let got = fetch(src, &first.key, range.clone(), Version { etag, mtime }).await;
                for w in group {
                    let out = match &got {
                        Ok(b) => {
                            Ok(b.slice((w.range.start - range.start) as usize..(w.range.end - range.start) as usize))
                        }
                        Err(e) => Err(e.clone()),
                    };
                    // A waiter that went away no longer needs its bytes.
                    let _ = w.tx.send(out);
                }
            }
        })
        .await;
}
