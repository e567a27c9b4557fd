//! Garbage collection: deletes what no branch, tag or live session reaches, once it is
//! older than a grace period.
//!
//! Why it is safe (see `docs/design.md`, "Garbage collection"):
//! - Everything a ref or a live session reaches is marked first (`mark`); only unmarked
//!   objects are candidates.
//! - A candidate is deleted only if it was last written before the cutoff (now minus the
//!   grace period). Whatever a writer or committer is doing right now (chunks stored,
//!   manifests and commits written before their ref moves) is younger than that.
//! - Chunks are content-addressed: a writer may store bytes that already exist, and so
//!   reference an old object. Storing it again rewrites it (a PUT) or, on local disk,
//!   sets its time, so it is young again; and each chunk's age is read once more right
//!   before it is deleted.
//! - Sessions go last: a session that ended (committed, abandoned or expired) before the
//!   cutoff loses its records and fragments; the chunks only it wrote go with the next
//!   run (they were marked by nothing, but were younger than the session's end).
//! - Deletion order never matters for readers: nothing deleted is reachable, so a run
//!   killed at any point leaves a repo that reads fully; the next run finishes the job.

mod bloom;
mod mark;
mod state;

pub use bloom::Bloom;
pub use state::{CommitEntry, GcState};

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};

use crate::error::Result;
use crate::format::{now_micros, ChunkHash, ObjectId};
use crate::repo::Repository;
use crate::session::MAX_EXPIRY_MICROS;
use crate::storage::{ObjectMeta, Storage};

/// Deletes at once, per run.
const DELETE_CONCURRENCY: usize = 32;

/// `progress(phase, done, total)` follows a run's long steps: "reading manifests",
/// "deleting chunks" and the like. It is called from runtime threads, often.
pub type Progress<'a> = dyn Fn(&str, u64, u64) + Send + Sync + 'a;

/// What one run deleted (or, in a dry run, would delete), per kind of object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    /// kind (`chunks`, `manifests`, `snapshots`, `commits`, `changes`, `sessions`) ->
    /// (objects, bytes).
    pub deleted: BTreeMap<&'static str, (u64, u64)>,
    /// Unreachable objects kept because they are younger than the grace period.
    pub young: u64,
    pub dry_run: bool,
    /// Whether the run built on the last one (O(changed)) instead of reading everything.
    pub incremental: bool,
}

impl GcReport {
    fn add(&mut self, kind: &'static str, size: u64) {
        let e = self.deleted.entry(kind).or_default();
        e.0 += 1;
        e.1 += size;
    }
}

/// The id an object's key names (`manifests/<id>` and the like), if any.
fn object_id(key: &str) -> Option<ObjectId> {
    key.rsplit_once('/')?.1.parse().ok()
}

fn chunk_hash(key: &str) -> Option<ChunkHash> {
    let bytes = hex::decode(key.rsplit_once('/')?.1).ok()?;
    ChunkHash::new(&bytes)
}

struct Sweep<'a> {
    cutoff: i64,
    dry_run: bool,
    report: &'a mut GcReport,
    progress: &'a Progress<'a>,
}

impl Sweep<'_> {
    /// Deletes the objects of `kind` under `dir` that `keep` refuses and that are older
    /// than the cutoff. `recheck`: read each one's age again just before deleting it.
    async fn run(
        &mut self,
        storage: &Storage,
        dir: &str,
        kind: &'static str,
        keep: impl Fn(&str) -> bool,
        recheck: bool,
    ) -> Result<()> {
        let listed = storage.list_meta(dir).await?;
        let mut doomed: Vec<ObjectMeta> = Vec::new();
        for m in listed {
            if keep(&m.key) {
                continue;
            }
            if m.modified_micros >= self.cutoff {
                self.report.young += 1;
                continue;
            }
            doomed.push(m);
        }
        let (cutoff, dry_run) = (self.cutoff, self.dry_run);
        let (total, phase) = (doomed.len() as u64, format!("deleting {kind}"));
        // Each delete owns what it uses: futures that borrow into a closure's argument are
        // not `Send` for every lifetime, and the collector must run on any runtime thread.
        let mut deletes = futures::stream::iter(doomed.into_iter().map(|m| {
            let storage = storage.clone();
            async move {
                if recheck {
                    match storage.head(&m.key).await? {
                        Some(now) if now.modified_micros < cutoff => {}
                        Some(_) => return Ok(None), // written again meanwhile: in use
                        None => return Ok(None),
                    }
                }
                if !dry_run {
                    storage.delete(&m.key).await?;
                }
                Ok::<_, crate::error::Error>(Some(m))
            }
        }))
        .buffer_unordered(DELETE_CONCURRENCY);
        let mut done = 0;
        while let Some(m) = deletes.try_next().await? {
            match m {
                Some(m) => self.report.add(kind, m.size),
                None => self.report.young += 1,
            }
            done += 1;
            (self.progress)(&phase, done, total);
        }
        Ok(())
    }
}

impl Repository {
    /// Deletes every object no branch, tag or live session reaches and that was last
    /// written more than `older_than_micros` ago; with `dry_run`, deletes nothing and
    /// reports what it would delete. Incremental when it can be (see `state`); `full`
    /// forces a run over every object (it also reclaims what a crashed writer left).
    pub async fn garbage_collect(&self, older_than_micros: i64, dry_run: bool, full: bool) -> Result<GcReport> {
        self.garbage_collect_with(older_than_micros, dry_run, full, &|_, _, _| {})
            .await
    }

    /// [`Repository::garbage_collect`], calling `progress` as it goes.
    pub async fn garbage_collect_with(
        &self,
        older_than_micros: i64,
        dry_run: bool,
        full: bool,
        progress: &Progress<'_>,
    ) -> Result<GcReport> {
        if older_than_micros < 0 {
            return Err(crate::Error::InvalidInput(
                "garbage_collect: older_than must not be negative".into(),
            ));
        }
        let cutoff = now_micros().saturating_sub(older_than_micros);
        let prev = state::load(self).await?;
        let live = mark::mark(self, prev.as_ref().map(|(_, s)| s).filter(|_| !full), cutoff, progress).await?;
        let mut report = GcReport {
            dry_run,
            incremental: live.maybe.is_some(),
            ..GcReport::default()
        };
        let mut sweep = Sweep {
            cutoff,
            dry_run,
            report: &mut report,
            progress,
        };
        let storage = self.storage();
        let by_id = |set: &std::collections::HashSet<ObjectId>| {
            let set = set.clone();
            move |k: &str| object_id(k).is_none_or(|id| set.contains(&id))
        };
        // Ended sessions first: a private session that committed is told from a live one
        // by its commit (`Repository::committed_sessions`), so its commit must outlive it.
        // Then referrers before what they refer to: a run stopped half-way leaves no
        // commit whose snapshot is gone (both unreachable: readers never notice either way).
        self.sweep_sessions(&live, cutoff, dry_run, sweep.report).await?;
        sweep
            .run(storage, "commits", "commits", by_id(&live.commits), false)
            .await?;
        sweep
            .run(storage, "changes", "changes", by_id(&live.commits), false)
            .await?;
        sweep
            .run(storage, "snapshots", "snapshots", by_id(&live.snapshots), false)
            .await?;
        sweep
            .run(storage, "manifests", "manifests", by_id(&live.manifests), false)
            .await?;
        if live.maybe.is_none() {
            let keep_chunk = |k: &str| chunk_hash(k).is_none_or(|h| live.chunk_is_live(&h));
            sweep
                .run(self.chunk_storage(), "chunks", "chunks", keep_chunk, true)
                .await?;
        }
        if !dry_run {
            state::store(self, prev.map_or(0, |(seq, _)| seq), &live.next).await?;
        }
        Ok(report)
    }

    /// Removes the records and fragments of sessions that ended before `cutoff`. In an
    /// incremental run, the chunks their fragments name are the chunk candidates: a
    /// session goes only once each of them is live or deleted (none still too young).
    async fn sweep_sessions(&self, live: &mark::Live, cutoff: i64, dry_run: bool, report: &mut GcReport) -> Result<()> {
        let storage = self.storage();
        let chunks = self.chunk_storage();
        for id in storage.list_dirs("sessions").await? {
            if live.sessions.contains(&id) {
                continue;
            }
            // One whose record cannot be read might still be in use: only once it is
            // older than any session can live.
            let cutoff = match self.session_info(&id).await {
                Ok(_) => cutoff,
                Err(_) => cutoff.min(now_micros() - MAX_EXPIRY_MICROS),
            };
            let objects = storage.list_meta(&format!("sessions/{id}")).await?;
            if objects.is_empty() {
                // Not removed: a session being created has its directory a moment before
                // its record (removing it then failed the writer's store).
                continue;
            }
            // Ended, and nothing of it written since the cutoff (its last state version
            // included): a session that ended a moment ago waits for the next run.
            if objects.iter().any(|m| m.modified_micros >= cutoff) {
                report.young += 1;
                continue;
            }
            if live.maybe.is_some() {
                let mut deferred = false;
                for h in mark::fragment_chunks(self, &id).await? {
                    if live.chunk_is_live(&h) {
                        continue;
                    }
                    let key = crate::chunks::chunk_key(h.as_bytes());
                    match chunks.head(&key).await? {
                        None => {}
                        Some(m) if m.modified_micros >= cutoff => {
                            report.young += 1;
                            deferred = true;
                        }
                        Some(m) => {
                            if !dry_run {
                                chunks.delete(&key).await?;
                            }
                            report.add("chunks", m.size);
                        }
                    }
                }
                if deferred {
                    continue;
                }
            }
            // The record last: a run stopped half-way leaves a session that still says
            // how it ended, and the next run finishes it.
            let (info, rest): (Vec<ObjectMeta>, Vec<ObjectMeta>) =
                objects.into_iter().partition(|m| m.key.ends_with("/info"));
            let size: u64 = info.iter().chain(&rest).map(|m| m.size).sum();
            if !dry_run {
                let keys: Vec<String> = rest.into_iter().map(|m| m.key).collect();
                storage.delete_many(&keys, &|_| {}).await?;
                for m in &info {
                    storage.delete(&m.key).await?;
                }
                storage.remove_empty_dirs(&format!("sessions/{id}"));
            }
            let e = report.deleted.entry("sessions").or_default();
            e.0 += 1;
            e.1 += size;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
