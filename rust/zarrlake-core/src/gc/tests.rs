use std::sync::Arc;

use bytes::Bytes;

use super::*;
use crate::repo::tests::memory_repo;
use crate::repo::Author;
use crate::Session;

const HOUR: i64 = 3_600_000_000;

async fn on(repo: &Repository, branch: &str) -> Session {
    let r = repo.resolve(branch).await.unwrap();
    repo.start_session(r.branch, r.commit, true, HOUR, Author::default(), None)
        .await
        .unwrap()
}

/// A chunk big enough to be stored as an object of its own (not inline).
fn chunk(tag: &str, n: usize) -> Bytes {
    Bytes::from(format!("{tag}-{n}-").repeat(200))
}

async fn write(s: &Session, prefix: &str, tag: &str, n: usize) {
    let items = (0..n).map(|i| (format!("{prefix}/c/{i}"), chunk(tag, i))).collect();
    s.set_many(items).await.unwrap();
}

/// Every key of every ref reads (the repo is whole), and the count of chunks stored.
async fn reads_fully(repo: &Repository) -> usize {
    let fresh = Repository::open(&repo.location()).await.unwrap();
    let mut refs: Vec<String> = fresh.branches().await.unwrap().into_iter().map(|(n, _)| n).collect();
    refs.extend(fresh.tags().await.unwrap().into_iter().map(|(n, _)| n));
    for r in refs {
        let res = fresh.resolve(&r).await.unwrap();
        let s = fresh
            .start_session(None, res.commit, false, HOUR, Author::default(), None)
            .await
            .unwrap();
        for key in s.list_prefix("").await.unwrap() {
            assert!(s.get(&key, None).await.unwrap().is_some(), "{r}: {key}");
        }
    }
    fresh.object_keys("chunks/").await.unwrap().len()
}

#[tokio::test]
async fn unreachable_objects_go_and_everything_reachable_stays() {
    let repo = memory_repo().await;
    let s = on(&repo, "main").await;
    write(&s, "a", "v1", 10).await;
    let first = s.commit("one", false).await.unwrap().unwrap();
    // Overwritten history stays: the tag and the branch history both reach v1.
    repo.create_tag("v1", first, None, &Author::default()).await.unwrap();
    let s = on(&repo, "main").await;
    write(&s, "a", "v2", 10).await;
    s.commit("two", false).await.unwrap();
    // A branch of its own, then deleted: its chunks become garbage.
    repo.create_branch("side", first).await.unwrap();
    let s = on(&repo, "side").await;
    write(&s, "b", "side", 5).await;
    s.commit("side", false).await.unwrap();
    repo.delete_branch("side").await.unwrap();
    // An abandoned session's chunks, and a live one's (kept).
    let gone = on(&repo, "main").await;
    write(&gone, "c", "abandoned", 3).await;
    gone.abandon().await.unwrap();
    let live = on(&repo, "main").await;
    write(&live, "d", "live", 4).await;
    assert_eq!(reads_fully(&repo).await, 10 + 10 + 5 + 3 + 4);

    // Within the grace period nothing goes.
    let kept = repo.garbage_collect(HOUR, false, false).await.unwrap();
    assert!(kept.deleted.is_empty(), "{kept:?}");
    assert!(kept.young > 0);
    // A dry run reports what a real run then does.
    let dry = repo.garbage_collect(0, true, false).await.unwrap();
    assert_eq!(reads_fully(&repo).await, 32);
    let report = repo.garbage_collect(0, false, false).await.unwrap();
    assert_eq!(dry.deleted, report.deleted);
    assert_eq!(report.deleted["chunks"].0, 5 + 3, "{report:?}");
    assert_eq!(report.deleted["commits"].0, 1);
    assert_eq!(report.deleted["snapshots"].0, 1);
    assert!(report.deleted["manifests"].0 >= 1);
    // The abandoned session, and the committed ones, are gone; the live one stays.
    assert_eq!(report.deleted["sessions"].0, 4);
    assert_eq!(reads_fully(&repo).await, 10 + 10 + 4);
    assert_eq!(live.get("d/c/3", None).await.unwrap(), Some(chunk("live", 3)));
    live.commit("live", false).await.unwrap();
    assert_eq!(reads_fully(&repo).await, 24);
    // A second run finds nothing more.
    let again = repo.garbage_collect(0, false, false).await.unwrap();
    assert_eq!(again.deleted.get("chunks"), None, "{again:?}");
}

#[tokio::test]
async fn expired_history_is_reclaimed_and_the_tips_read() {
    let repo = memory_repo().await;
    for v in ["v1", "v2", "v3"] {
        let s = on(&repo, "main").await;
        write(&s, "a", v, 4).await;
        s.commit(v, false).await.unwrap();
    }
    assert_eq!(reads_fully(&repo).await, 12);
    let expired = repo.expire(now_micros()).await.unwrap();
    assert_eq!(expired.commits.len(), 2);
    let report = repo.garbage_collect(0, false, false).await.unwrap();
    assert_eq!(report.deleted["chunks"].0, 8);
    assert_eq!(report.deleted["commits"].0, 2);
    assert_eq!(reads_fully(&repo).await, 4);
}

#[tokio::test]
async fn a_chunk_stored_again_by_a_writer_is_young_again() {
    let repo = memory_repo().await;
    let s = on(&repo, "main").await;
    write(&s, "a", "same", 2).await;
    s.abandon().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let cutoff_age = 10_000; // 10 ms: the abandoned session's chunks are older than that
                             // The same bytes again, from a new writer: dedup onto the garbage objects.
    let s = on(&repo, "main").await;
    write(&s, "b", "same", 2).await;
    let r = repo.garbage_collect(cutoff_age, false, false).await.unwrap();
    assert_eq!(r.deleted.get("chunks"), None, "{r:?}");
    s.commit("reuse", false).await.unwrap();
    assert_eq!(reads_fully(&repo).await, 2);
}

/// Collection running back to back, with a grace period of 1 s, while three writers
/// each, per round: store a draft and abandon it (garbage), wait until the draft is older
/// than the grace period, then store the same bytes again (onto the garbage objects, as
/// content addressing does) and commit them, racing each other (fast-forwards, lost
/// races). On local disk, where storing existing bytes again sets the file's time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn collection_while_writers_write_and_commit_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::create(dir.path().to_str().unwrap(), crate::RepoConfig::default())
        .await
        .unwrap();
    // Longer than any write or commit here takes, even on a loaded 2-core machine: the
    // grace period must be (see `docs/design.md`).
    const GRACE: i64 = 1_000_000;
    const ROUNDS: usize = 4;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let collector = {
        let (repo, stop) = (repo.clone(), stop.clone());
        tokio::spawn(async move {
            let mut deleted = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = repo.garbage_collect(GRACE, false, false).await.unwrap();
                deleted += r.deleted.get("chunks").map_or(0, |c| c.0);
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            deleted
        })
    };
    let mut writers = Vec::new();
    for w in 0..3 {
        let repo = repo.clone();
        writers.push(tokio::spawn(async move {
            let prefix = format!("w{w}");
            for round in 0..ROUNDS {
                let items = || {
                    (0..4)
                        .map(|i| (format!("{prefix}/c/{i}"), chunk(&prefix, round * 10 + i)))
                        .collect()
                };
                let draft = on(&repo, "main").await;
                draft.set_many(items()).await.unwrap();
                draft.abandon().await.unwrap();
                tokio::time::sleep(std::time::Duration::from_micros(GRACE as u64 + 50_000)).await;
                let s = on(&repo, "main").await;
                s.set_many(items()).await.unwrap();
                s.commit(&format!("{w}-{round}"), true).await.unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    collector.await.unwrap();
    // Every commit of main reads fully, and the last one holds every writer's last round.
    let fresh = Repository::open(&repo.location()).await.unwrap();
    let tip = fresh.resolve("main").await.unwrap().commit;
    let log = fresh.log(tip, 0).await.unwrap();
    assert_eq!(log.len(), 3 * ROUNDS);
    for c in &log {
        let s = fresh
            .start_session(None, Some(c.id), false, HOUR, Author::default(), None)
            .await
            .unwrap();
        for key in s.list_prefix("").await.unwrap() {
            assert!(s.get(&key, None).await.unwrap().is_some(), "{}: {key}", c.id);
        }
    }
    let s = fresh
        .start_session(None, tip, false, HOUR, Author::default(), None)
        .await
        .unwrap();
    for w in 0..3 {
        let got = s.get(&format!("w{w}/c/3"), None).await.unwrap();
        assert_eq!(got, Some(chunk(&format!("w{w}"), (ROUNDS - 1) * 10 + 3)));
    }
    // The drafts' bytes were all committed again, so no chunk was garbage for good; the
    // abandoned sessions themselves were.
    let last = fresh.garbage_collect(0, false, false).await.unwrap();
    assert_eq!(last.deleted.get("chunks"), None, "{last:?}");
}

#[test]
fn storing_existing_bytes_again_makes_a_local_object_young() {
    let dir = tempfile::tempdir().unwrap();
    let loc = crate::storage::Location::parse(dir.path().to_str().unwrap()).unwrap();
    let storage = Storage::open(&loc).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        storage
            .put_immutable("chunks/ab", Bytes::from_static(b"x"))
            .await
            .unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        let f = std::fs::File::options()
            .write(true)
            .open(dir.path().join("chunks/ab"))
            .unwrap();
        f.set_modified(old).unwrap();
        let before = storage.head("chunks/ab").await.unwrap().unwrap().modified_micros;
        assert!(before < now_micros() - 3_000_000_000);
        storage
            .put_immutable("chunks/ab", Bytes::from_static(b"x"))
            .await
            .unwrap();
        let after = storage.head("chunks/ab").await.unwrap().unwrap().modified_micros;
        assert!(after > now_micros() - 60_000_000, "{before} -> {after}");
        // Gone meanwhile: written anew.
        std::fs::remove_file(dir.path().join("chunks/ab")).unwrap();
        storage
            .put_immutable("chunks/ab", Bytes::from_static(b"x"))
            .await
            .unwrap();
        assert_eq!(storage.get("chunks/ab").await.unwrap().as_deref(), Some(&b"x"[..]));
        assert!(storage.head("chunks/none").await.unwrap().is_none());
        let listed = storage.list_meta("chunks").await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].size, 1);
    });
}

#[tokio::test]
async fn an_incremental_run_finds_what_a_full_one_would() {
    let repo = memory_repo().await;
    let s = on(&repo, "main").await;
    write(&s, "a", "base", 6).await;
    s.commit("base", false).await.unwrap();
    let first = repo.garbage_collect(0, false, false).await.unwrap();
    assert!(!first.incremental, "no state yet: a full run");
    // Since then: a commit, an abandoned session, a chunk overwritten before its commit.
    let s = on(&repo, "main").await;
    write(&s, "b", "more", 5).await;
    let kept_tip = s.commit("more", false).await.unwrap().unwrap();
    let g = on(&repo, "main").await;
    write(&g, "c", "abandoned", 3).await;
    g.abandon().await.unwrap();
    let o = on(&repo, "main").await;
    o.set("d/c/0", chunk("draft", 0)).await.unwrap();
    o.set("d/c/0", chunk("final", 0)).await.unwrap();
    o.commit("overwrite", false).await.unwrap();
    let full = repo.garbage_collect(0, true, true).await.unwrap();
    let inc = repo.garbage_collect(0, false, false).await.unwrap();
    assert!(inc.incremental && !full.incremental);
    assert_eq!(inc.deleted.get("chunks"), full.deleted.get("chunks"));
    assert_eq!(inc.deleted["chunks"].0, 3 + 1, "{inc:?}");
    assert_eq!(reads_fully(&repo).await, 6 + 5 + 1);
    // Dropping history (main back one commit) makes the next run a full one.
    let r = repo.resolve("main").await.unwrap();
    repo.reset_branch("main", kept_tip, r.commit).await.unwrap();
    let after = repo.garbage_collect(0, false, false).await.unwrap();
    assert!(!after.incremental);
    assert_eq!(after.deleted["chunks"].0, 1, "{after:?}");
    assert_eq!(reads_fully(&repo).await, 6 + 5);
    assert!(repo.garbage_collect(0, false, false).await.unwrap().incremental);
}

#[tokio::test]
async fn progress_follows_reading_and_deleting() {
    let repo = memory_repo().await;
    let s = on(&repo, "main").await;
    write(&s, "a", "v1", 6).await;
    s.commit("one", false).await.unwrap();
    let gone = on(&repo, "main").await;
    write(&gone, "b", "abandoned", 4).await;
    gone.abandon().await.unwrap();
    let seen = std::sync::Mutex::new(Vec::new());
    let record = |phase: &str, done: u64, total: u64| seen.lock().unwrap().push((phase.to_string(), done, total));
    let report = repo.garbage_collect_with(0, false, true, &record).await.unwrap();
    assert_eq!(report.deleted["chunks"].0, 4);
    let seen = seen.into_inner().unwrap();
    let last = |phase: &str| seen.iter().rfind(|(p, _, _)| p == phase).map(|&(_, d, t)| (d, t));
    let (read, manifests) = last("reading manifests").expect("manifest progress");
    assert!(manifests >= 1 && read == manifests, "{seen:?}");
    assert_eq!(last("deleting chunks"), Some((4, 4)), "{seen:?}");
    // Counts only grow within a phase.
    for w in seen.windows(2) {
        if w[0].0 == w[1].0 {
            assert!(w[1].1 >= w[0].1, "{seen:?}");
        }
    }
}

/// A commit object stored before its ref moves (or one that lost a race and is being
/// retried) names its session; the session is still writing, and the chunks only its
/// fragments name must stay.
#[tokio::test]
async fn a_commit_not_yet_on_a_branch_does_not_end_its_session() {
    let repo = memory_repo().await;
    let s = on(&repo, "main").await;
    write(&s, "a", "v1", 3).await;
    let base = s.commit("one", false).await.unwrap();
    let writing = on(&repo, "main").await;
    write(&writing, "b", "in-flight", 4).await;
    // The chunks are older than the grace period; the commit (written a moment before its
    // ref moves, as a commit must be shorter than the grace period) is not.
    let grace = 300_000;
    tokio::time::sleep(std::time::Duration::from_micros(grace as u64 + 100_000)).await;
    // What a committer has stored right before it moves the ref: a commit naming the session.
    let tip = repo.load_commit(&base.unwrap()).await.unwrap();
    let pending = crate::format::Commit {
        id: ObjectId::new(),
        parent: base,
        session: Some(writing.id().to_string()),
        ..(*tip).clone()
    };
    repo.write_commit(pending).await.unwrap();
    for full in [true, false] {
        let report = repo.garbage_collect(grace, false, full).await.unwrap();
        assert_eq!(report.deleted.get("chunks"), None, "{report:?}");
    }
    writing.commit("two", false).await.unwrap();
    assert_eq!(reads_fully(&repo).await, 3 + 4);
}
