//! Injected storage faults: a commit is reported exactly as it happened, whichever put
//! fails, and a session whose commit failed recovers by itself.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, ObjectStoreExt,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use parking_lot::Mutex;
use zarrlake_core::storage::register_memory_store;
use zarrlake_core::{Author, ObjectId, RepoConfig, Repository, Session};

const DAY: i64 = 24 * 3600 * 1_000_000;

/// Decides, for each put, whether it fails.
type Rule = Box<dyn FnMut(&str) -> bool + Send>;

/// Objects to store once a GET of `.0` has missed: a writer landing between a reader's
/// probes.
type LandAfterMiss = (String, Vec<(Path, Bytes)>);

/// An in-memory store whose puts fail when the rule says so.
struct FaultyStore {
    inner: InMemory,
    rule: Mutex<Option<Rule>>,
    puts: AtomicUsize,
    land_after_miss: Mutex<Option<LandAfterMiss>>,
}

impl FaultyStore {
    fn new() -> Arc<Self> {
        Arc::new(FaultyStore {
            inner: InMemory::new(),
            rule: Mutex::new(None),
            puts: AtomicUsize::new(0),
            land_after_miss: Mutex::new(None),
        })
    }

    fn fail_when(&self, rule: impl FnMut(&str) -> bool + Send + 'static) {
        *self.rule.lock() = Some(Box::new(rule));
    }

    fn heal(&self) {
        *self.rule.lock() = None;
    }
}

impl fmt::Debug for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyStore")
    }
}

impl fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyStore")
    }
}

#[async_trait]
impl ObjectStore for FaultyStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.puts.fetch_add(1, Ordering::SeqCst);
        let fail = self.rule.lock().as_mut().is_some_and(|rule| rule(location.as_ref()));
        if fail {
            return Err(object_store::Error::Generic {
                store: "FaultyStore",
                source: format!("injected fault writing {location}").into(),
            });
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> object_store::Result<GetResult> {
        let got = self.inner.get_opts(location, options).await;
        if matches!(got, Err(object_store::Error::NotFound { .. })) {
            let due = {
                let mut armed = self.land_after_miss.lock();
                match armed.as_ref() {
                    Some((key, _)) if location.as_ref().ends_with(key.as_str()) => armed.take(),
                    _ => None,
                }
            };
            for (path, bytes) in due.map(|(_, objects)| objects).unwrap_or_default() {
                self.inner.put(&path, PutPayload::from_bytes(bytes)).await?;
            }
        }
        got
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

fn author() -> Author {
    Author {
        name: "Ada".into(),
        email: "ada@example.org".into(),
    }
}

/// A repo on a fresh faulty store, with one commit on `main`, and its location.
async fn faulty_repo() -> (Repository, Arc<FaultyStore>, String) {
    let store = FaultyStore::new();
    let name = format!("faults-{}", ObjectId::new());
    register_memory_store(&name, store.clone());
    let loc = format!("memory://{name}");
    let repo = Repository::create(&loc, RepoConfig::default()).await.unwrap();
    let s = write_session(&repo).await;
    s.set("a/zarr.json", Bytes::from_static(b"{}")).await.unwrap();
    s.commit("setup", true).await.unwrap().unwrap();
    (repo, store, loc)
}

async fn write_session(repo: &Repository) -> Session {
    let r = repo.resolve("main").await.unwrap();
    repo.start_session(r.branch, r.commit, true, DAY, author(), None)
        .await
        .unwrap()
}

/// The tip of `main` as a fresh process would see it.
async fn fresh_tip(loc: &str) -> Option<ObjectId> {
    Repository::open(loc).await.unwrap().branch_tip("main").await.unwrap().1
}

/// Every single put of a commit, and every put from some point on (a full disk), fails
/// in turn: the commit is reported as it happened, and nothing acknowledged is lost. For
/// a private session and a shared one (which seals, and records "committed" after).
#[tokio::test]
async fn a_commit_is_reported_as_it_happened_whichever_put_fails() {
    for share in [false, true] {
        let (failed_cleanly, landed_with_warning) = commit_under_put_faults(share).await;
        eprintln!("shared {share}: {failed_cleanly} failed cleanly, {landed_with_warning} landed with a warning");
        if share {
            // Both outcomes were exercised: faults before the branch moved, and after.
            assert!(
                failed_cleanly > 0 && landed_with_warning > 0,
                "{failed_cleanly} {landed_with_warning}"
            );
        } else {
            // A private commit writes nothing after the branch moves (but the witness).
            assert!(
                failed_cleanly >= 5 && landed_with_warning == 0,
                "{failed_cleanly} {landed_with_warning}"
            );
        }
    }
}

async fn commit_under_put_faults(share: bool) -> (usize, usize) {
    let mut landed_with_warning = 0;
    let mut failed_cleanly = 0;
    for from_on in [false, true] {
        for k in 0.. {
            let (repo, store, loc) = faulty_repo().await;
            let before = fresh_tip(&loc).await;
            let s = write_session(&repo).await;
            s.set("a/c/0", Bytes::from(vec![7u8; 3000])).await.unwrap();
            s.set("a/c/1", Bytes::from(vec![8u8; 10])).await.unwrap();
            if share {
                s.persist().await.unwrap();
            }
            let seen = Arc::new(AtomicUsize::new(0));
            let counter = seen.clone();
            store.fail_when(move |key| {
                if is_witness(key) {
                    return false; // best effort by design: see the test below
                }
                let n = counter.fetch_add(1, Ordering::SeqCst);
                if from_on {
                    n >= k
                } else {
                    n == k
                }
            });
            let result = s.commit_outcome("two", true).await;
            let puts = seen.load(Ordering::SeqCst);
            store.heal();
            let tip = fresh_tip(&loc).await;
            match result {
                Ok(outcome) => {
                    let id = outcome.commit.expect("there were changes");
                    assert_eq!(
                        tip,
                        Some(id),
                        "k={k}: commit returned an id a fresh reader does not see"
                    );
                    if k < puts {
                        landed_with_warning += 1;
                        assert!(!outcome.warnings.is_empty(), "k={k}: a failed put went unreported");
                    }
                }
                Err(e) => {
                    assert_eq!(tip, before, "k={k}: commit raised {e} but the branch moved");
                    failed_cleanly += 1;
                    // Healed, the same session commits, and loses nothing it acknowledged.
                    let id = s.commit("two, again", true).await.unwrap().unwrap();
                    assert_eq!(fresh_tip(&loc).await, Some(id));
                }
            }
            let reader = write_session(&repo).await;
            assert_eq!(reader.get("a/c/0", None).await.unwrap().unwrap(), vec![7u8; 3000]);
            assert_eq!(reader.get("a/c/1", None).await.unwrap().unwrap(), vec![8u8; 10]);
            if k >= puts {
                break; // every put of this commit has had its turn
            }
        }
    }
    (failed_cleanly, landed_with_warning)
}

/// A ref version's witness (see `refs`) is written after the version is in place.
fn is_witness(key: &str) -> bool {
    key.ends_with(".w")
}

/// Witnesses only help detect a deleted version: failing to write them fails nothing.
#[tokio::test]
async fn failed_witnesses_fail_no_commit() {
    let (repo, store, loc) = faulty_repo().await;
    let s = write_session(&repo).await;
    s.set("a/c/0", Bytes::from_static(b"x")).await.unwrap();
    store.fail_when(is_witness);
    let outcome = s.commit_outcome("two", true).await.unwrap();
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
    assert_eq!(fresh_tip(&loc).await, outcome.commit);
}

/// A commit that fails, and whose seal release fails too, reports the first failure;
/// the session then reopens by itself on its next write, and commits everything.
#[tokio::test]
async fn a_failed_unseal_reports_the_cause_and_the_session_recovers() {
    let (repo, store, loc) = faulty_repo().await;
    let s = write_session(&repo).await;
    s.set("a/c/0", Bytes::from_static(b"first")).await.unwrap();
    s.persist().await.unwrap(); // shared: a private session has no seal
    let id = s.id().to_string();
    // Fail the snapshot write (the cause), then every session-state write (the unseal).
    let mut cause_seen = false;
    store.fail_when(move |key| {
        if key.starts_with("snapshots/") {
            cause_seen = true;
        }
        cause_seen && (key.starts_with("snapshots/") || key.contains("/state/"))
    });
    let err = s.commit("two", true).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("snapshots/"), "the cause comes first: {msg}");
    assert!(msg.contains("reopening the session for writes failed too"), "{msg}");
    store.heal();

    // Another handle on the session sees the seal, which is still held.
    let other = repo.join_session(&id).await.unwrap();
    let refused = other.set("a/c/9", Bytes::from_static(b"x")).await.unwrap_err();
    assert!(refused.to_string().contains("being committed"), "{refused}");

    // The holder's next write reopens the session, and is acknowledged.
    s.set("a/c/1", Bytes::from_static(b"second")).await.unwrap();
    other.set("a/c/2", Bytes::from_static(b"third")).await.unwrap();
    let c = s.commit("two", true).await.unwrap().unwrap();
    assert_eq!(fresh_tip(&loc).await, Some(c));
    let reader = write_session(&repo).await;
    for (key, want) in [("a/c/0", "first"), ("a/c/1", "second"), ("a/c/2", "third")] {
        assert_eq!(reader.get(key, None).await.unwrap().unwrap(), want.as_bytes());
    }
}

/// A commit whose seal release failed also recovers on the holder's next commit.
#[tokio::test]
async fn a_failed_unseal_is_repaired_by_the_next_commit() {
    let (repo, store, _loc) = faulty_repo().await;
    let s = write_session(&repo).await;
    s.set("a/c/0", Bytes::from_static(b"first")).await.unwrap();
    let mut cause_seen = false;
    store.fail_when(move |key| {
        cause_seen |= key.starts_with("snapshots/");
        cause_seen
    });
    s.commit("two", true).await.unwrap_err();
    store.heal();
    let c = s.commit("two", true).await.unwrap().unwrap();
    let log = repo.log(Some(c), 0).await.unwrap();
    assert_eq!(log[0].message, "two");
}

/// A deleted fragment of another writer's acknowledged writes fails the commit as
/// corruption; it never commits without them.
#[tokio::test]
async fn a_deleted_fragment_fails_the_commit() {
    use futures::TryStreamExt;
    let (repo, store, loc) = faulty_repo().await;
    let before = fresh_tip(&loc).await;
    let writer = write_session(&repo).await;
    writer.set("a/c/0", Bytes::from_static(b"acked")).await.unwrap();
    // Sharing marks the fragment that was stored while the session was private.
    writer.persist().await.unwrap();
    let committer = repo.join_session(writer.id()).await.unwrap();
    let prefix = Path::from(format!("sessions/{}/fragments", writer.id()));
    let fragments: Vec<ObjectMeta> = store.inner.list(Some(&prefix)).try_collect().await.unwrap();
    assert_eq!(fragments.len(), 1);
    let fragment = fragments[0].location.clone();
    store.inner.delete(&fragment).await.unwrap();

    let err = committer.commit("two", true).await.unwrap_err();
    assert_eq!(err.kind(), "corrupt_object", "{err}");
    assert!(err.to_string().contains(fragment.as_ref()), "names the fragment: {err}");
    assert_eq!(fresh_tip(&loc).await, before);
    // A new joiner is told too, rather than shown a session without the write.
    assert_eq!(
        repo.join_session(writer.id()).await.unwrap_err().kind(),
        "corrupt_object"
    );
}

/// A version and its witness that land between a reader's GET of that version (a miss)
/// and its hole probes are the new tip, not a hole.
#[tokio::test]
async fn a_version_landing_between_the_probes_is_the_tip_not_a_hole() {
    let (repo, store, loc) = faulty_repo().await;
    let reader = Repository::open(&loc).await.unwrap();
    assert_eq!(
        reader.branch_tip("main").await.unwrap().0,
        1,
        "the reader has seen version 1"
    );
    let s = write_session(&repo).await;
    s.set("a/c/0", Bytes::from(vec![1u8; 1000])).await.unwrap();
    let second = s.commit("second", true).await.unwrap().unwrap();
    // Take version 2 and its witness back out, to land them right after the reader misses.
    let mut objects = Vec::new();
    for key in [
        "refs/branches/main/00000000000000000002",
        "refs/branches/main/00000000000000000002.w",
    ] {
        let path = Path::from(key);
        objects.push((
            path.clone(),
            store.inner.get(&path).await.unwrap().bytes().await.unwrap(),
        ));
        store.inner.delete(&path).await.unwrap();
    }
    *store.land_after_miss.lock() = Some(("refs/branches/main/00000000000000000002".into(), objects));
    assert_eq!(reader.branch_tip("main").await.unwrap(), (2, Some(second)));
    assert!(
        store.land_after_miss.lock().is_none(),
        "the version landed after the reader's miss"
    );
}
