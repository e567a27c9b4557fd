//! Writing and reading many chunks of one array through a session: the parallel,
//! GIL-free part of zarrlake's codec pipeline.
//!
//! Work goes in batches of about `BATCH_BYTES`, so memory stays bounded whatever the
//! selection's size. Encoding (on the rayon pool) of one batch overlaps the storing of
//! the one before; a write is acknowledged only once every batch is stored.

use std::sync::Arc;

use bytes::Bytes;
use futures::channel::oneshot;
use futures::future::{self, BoxFuture, FutureExt};
use rayon::prelude::*;
use zarrlake_core::{Error, Result, Session};
use zarrs::array::CodecOptions;

use crate::chunk_codec::ChunkCodec;
use crate::strided::{c_order_view, check_selection, copy_box, Span, Strided};
use zarrlake_core::buffer_pool;

/// Roughly how many decoded bytes one batch holds.
const BATCH_BYTES: usize = 16 << 20;

/// One chunk's part of a write: `value_sel` of the value goes to `chunk_sel` of the chunk.
pub struct ChunkWrite {
    pub key: String,
    pub chunk_sel: Vec<Span>,
    pub value_sel: Vec<Span>,
    /// The selection covers the whole chunk, so its old content is not read.
    pub complete: bool,
}

/// One chunk's part of a read: `chunk_sel` of the chunk goes to `out_sel` of the output.
pub struct ChunkRead {
    pub key: String,
    pub chunk_sel: Vec<Span>,
    pub out_sel: Vec<Span>,
}

/// Runs CPU work on the rayon pool without blocking the async runtime.
async fn on_pool<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let (tx, rx) = oneshot::channel();
    rayon::spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        let _ = tx.send(result);
    });
    match rx.await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) | Err(_) => Err(Error::Storage(
            "internal error (this is a zarrlake bug): the chunk engine panicked".into(),
        )),
    }
}

fn batches<T>(items: Vec<T>, chunk_nbytes: usize) -> Vec<Vec<T>> {
    let per_batch = (BATCH_BYTES / chunk_nbytes.max(1)).clamp(1, 4096);
    let mut out = Vec::with_capacity(items.len().div_ceil(per_batch));
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        out.push(items.by_ref().take(per_batch).collect());
    }
    out
}

fn options(items_in_batch: usize) -> CodecOptions {
    // Parallel over chunks; a lone chunk may use the pool inside its codecs instead.
    let threads = rayon::current_num_threads().max(1);
    let target = if items_in_batch >= threads { 1 } else { threads };
    CodecOptions::default().with_concurrent_target(target)
}

/// An encoded chunk to store, or `None`: the chunk holds only fill values and is deleted.
type Encoded = (String, Option<Bytes>);

fn merge_and_encode(
    codec: &ChunkCodec,
    value: &Strided,
    item: ChunkWrite,
    old: Option<Bytes>,
    write_empty: bool,
    opts: &CodecOptions,
) -> Result<Encoded> {
    let shape = codec.chunk_shape();
    let nbytes = codec.chunk_nbytes();
    let whole = item
        .chunk_sel
        .iter()
        .zip(&shape)
        .all(|(s, &n)| s.start == 0 && s.count == n && s.step == 1);
    let mut chunk = buffer_pool::take(nbytes);
    match (&old, item.complete && whole) {
        // Every element is about to be written: the buffer needs no content first.
        (_, true) => {}
        (Some(bytes), false) => chunk.extend_from_slice(&codec.decode(&item.key, bytes, opts)?),
        (None, false) => chunk.extend_from_slice(&codec.filled_chunk()),
    }
    // SAFETY: the buffer has room for the whole chunk; for a whole-chunk selection the copy
    // initialises every byte before `set_len` below, otherwise they already are.
    unsafe {
        let dst = c_order_view(chunk.as_mut_ptr(), &shape, codec.itemsize(), true);
        copy_box(value, &item.value_sel, &dst, &item.chunk_sel)?;
        chunk.set_len(nbytes);
    }
    if !write_empty && codec.is_fill(&chunk) {
        buffer_pool::give(chunk);
        return Ok((item.key, None));
    }
    let encoded = codec.encode(&item.key, chunk, opts)?;
    Ok((item.key, Some(buffer_pool::into_bytes(encoded))))
}

async fn store(session: &Session, encoded: Vec<Encoded>) -> Result<()> {
    let mut sets = Vec::with_capacity(encoded.len());
    let mut deletes = Vec::new();
    for (key, bytes) in encoded {
        match bytes {
            Some(b) => sets.push((key, b)),
            None => deletes.push(key),
        }
    }
    if !sets.is_empty() {
        session.set_many(sets).await?;
    }
    if !deletes.is_empty() {
        session.delete_many(deletes).await?;
    }
    Ok(())
}

/// Writes `value` into the chunks `items` describe, through `session`.
pub async fn write_chunks(
    session: &Session,
    codec: Arc<ChunkCodec>,
    value: Arc<Strided>,
    items: Vec<ChunkWrite>,
    write_empty_chunks: bool,
) -> Result<()> {
    session.check_writable()?;
    let shape = codec.chunk_shape();
    for item in &items {
        value.check(&item.value_sel, "value")?;
        check_selection(&shape, &item.chunk_sel, "chunk")?;
    }
    if value.itemsize() != codec.itemsize() {
        return Err(Error::InvalidInput(format!(
            "values of {} bytes for elements of {}",
            value.itemsize(),
            codec.itemsize()
        )));
    }
    let mut pending: Option<BoxFuture<'_, Result<()>>> = None;
    for batch in batches(items, codec.chunk_nbytes()) {
        let partial: Vec<(String, Option<zarrlake_core::ByteRange>)> = batch
            .iter()
            .filter(|i| !i.complete)
            .map(|i| (i.key.clone(), None))
            .collect();
        let mut old = if partial.is_empty() {
            Vec::new()
        } else {
            session.get_many(partial).await?
        }
        .into_iter();
        let inputs: Vec<(ChunkWrite, Option<Bytes>)> = batch
            .into_iter()
            .map(|item| {
                let prior = if item.complete { None } else { old.next().flatten() };
                (item, prior)
            })
            .collect();
        let (codec, value) = (codec.clone(), value.clone());
        let encode = on_pool(move || {
            let opts = options(inputs.len());
            inputs
                .into_par_iter()
                .map(|(item, prior)| merge_and_encode(&codec, &value, item, prior, write_empty_chunks, &opts))
                .collect::<Result<Vec<Encoded>>>()
        });
        let encoded = match pending.take() {
            Some(storing) => {
                let (encoded, stored) = future::join(encode, storing).await;
                stored?;
                encoded??
            }
            None => encode.await??,
        };
        pending = Some(store(session, encoded).boxed());
    }
    if let Some(storing) = pending {
        storing.await?;
    }
    Ok(())
}

fn decode_into(
    codec: &ChunkCodec,
    out: &Strided,
    item: &ChunkRead,
    stored: Option<&Bytes>,
    opts: &CodecOptions,
) -> Result<bool> {
    let shape = codec.chunk_shape();
    let chunk = match stored {
        Some(bytes) => codec.decode(&item.key, bytes, opts)?,
        None => {
            // A missing chunk reads as fill values: broadcast one element.
            let mut fill = codec.fill_bytes().to_vec();
            let sel: Vec<Span> = item
                .chunk_sel
                .iter()
                .map(|s| Span {
                    start: 0,
                    count: s.count,
                    step: 1,
                })
                .collect();
            // SAFETY: zero strides over one element of `fill`, which lives past the copy.
            unsafe {
                let src = Strided::from_raw(
                    fill.as_mut_ptr(),
                    sel.iter().map(|s| s.count).collect(),
                    vec![0; sel.len()],
                    codec.itemsize(),
                    false,
                    Arc::new(()),
                )?;
                copy_box(&src, &sel, out, &item.out_sel)?;
            }
            return Ok(false);
        }
    };
    // SAFETY: `chunk` outlives the copy and is only read; the caller keeps the output
    // boxes of concurrent reads apart.
    unsafe {
        let src = c_order_view(chunk.as_ptr().cast_mut(), &shape, codec.itemsize(), false);
        copy_box(&src, &item.chunk_sel, out, &item.out_sel)?;
    }
    Ok(true)
}

/// Reads the chunks `items` describe into `out`; for each, whether it was stored.
///
/// The output boxes of `items` must not overlap (zarr's indexers never make them so).
pub async fn read_chunks(
    session: &Session,
    codec: Arc<ChunkCodec>,
    out: Arc<Strided>,
    items: Vec<ChunkRead>,
) -> Result<Vec<bool>> {
    let shape = codec.chunk_shape();
    for item in &items {
        out.check(&item.out_sel, "output")?;
        check_selection(&shape, &item.chunk_sel, "chunk")?;
    }
    if out.itemsize() != codec.itemsize() {
        return Err(Error::InvalidInput(format!(
            "an output of {}-byte elements for elements of {}",
            out.itemsize(),
            codec.itemsize()
        )));
    }
    let mut present = Vec::with_capacity(items.len());
    let mut batches = batches(items, codec.chunk_nbytes()).into_iter();
    let fetch = |batch: &Vec<ChunkRead>| session.get_many(batch.iter().map(|i| (i.key.clone(), None)).collect());
    let Some(mut batch) = batches.next() else {
        return Ok(present);
    };
    let mut stored = fetch(&batch).await?;
    loop {
        let next = batches.next();
        let (codec, out) = (codec.clone(), out.clone());
        let decode = on_pool(move || {
            let opts = options(batch.len());
            batch
                .par_iter()
                .zip(stored.par_iter())
                .map(|(item, bytes)| decode_into(&codec, &out, item, bytes.as_ref(), &opts))
                .collect::<Result<Vec<bool>>>()
        });
        // Fetch the next batch while this one decodes.
        let (decoded, fetched) = match &next {
            Some(n) => {
                let (d, f) = future::join(decode, fetch(n)).await;
                (d, Some(f?))
            }
            None => (decode.await, None),
        };
        present.extend(decoded??);
        match (next, fetched) {
            (Some(n), Some(f)) => {
                batch = n;
                stored = f;
            }
            _ => return Ok(present),
        }
    }
}
