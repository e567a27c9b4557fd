//! End-to-end behaviour of the core: sessions, commits, refs, races and manifests.

use bytes::Bytes;
use zarrlake_core::{Author, Error, ObjectId, RepoConfig, Repository, Session};

const DAY: i64 = 24 * 3600 * 1_000_000;

fn author() -> Author {
    Author {
        name: "Ada".into(),
        email: "ada@example.org".into(),
    }
}

async fn new_repo() -> Repository {
    let loc = format!("memory://core-test-{}", ObjectId::new());
    Repository::create(&loc, RepoConfig::default()).await.unwrap()
}

async fn write_session(repo: &Repository, branch: &str) -> Session {
    let r = repo.resolve(branch).await.unwrap();
    repo.start_session(r.branch, r.commit, true, DAY, author(), None)
        .await
        .unwrap()
}

async fn get(s: &Session, key: &str) -> Option<Bytes> {
    s.get(key, None).await.unwrap()
}

#[tokio::test]
async fn commit_graph_and_time_travel() {
    let repo = new_repo().await;
    let s = write_session(&repo, "main").await;
    s.set("a/zarr.json", Bytes::from_static(b"{}")).await.unwrap();
    s.set("a/c/0", Bytes::from(vec![1u8; 2000])).await.unwrap();
    let c1 = s.commit("one", true).await.unwrap().unwrap();
    let s = write_session(&repo, "main").await;
    s.set("a/c/0", Bytes::from(vec![2u8; 2000])).await.unwrap();
    s.delete("a/zarr.json").await.unwrap();
    let c2 = s.commit("two", true).await.unwrap().unwrap();

    let log = repo.log(Some(c2), 0).await.unwrap();
    assert_eq!(log.iter().map(|c| c.id).collect::<Vec<_>>(), vec![c2, c1]);
    assert_eq!(log[0].parent, Some(c1));
    assert_eq!(
        repo.load_changes(&c2).await.unwrap().deleted_nodes,
        vec!["a".to_string()]
    );

    let old = repo
        .start_session(None, Some(c1), false, 0, author(), None)
        .await
        .unwrap();
    assert_eq!(get(&old, "a/c/0").await.unwrap()[0], 1);
    assert!(get(&old, "a/zarr.json").await.is_some());
    assert_eq!(old.check_writable().unwrap_err().kind(), "read_only");
    let new = write_session(&repo, "main").await;
    assert_eq!(get(&new, "a/c/0").await.unwrap()[0], 2);
    assert!(get(&new, "a/zarr.json").await.is_none());
    assert_eq!(new.list_prefix("").await.unwrap(), vec!["a/c/0".to_string()]);
}

#[tokio::test]
async fn empty_commit_is_none_and_main_exists_before_first_commit() {
    let repo = new_repo().await;
    let r = repo.resolve("main").await.unwrap();
    assert_eq!((r.commit, r.branch.as_deref()), (None, Some("main")));
    assert_eq!(repo.resolve("dev").await.unwrap_err().kind(), "ref_not_found");
    let s = write_session(&repo, "main").await;
    assert_eq!(s.commit("nothing", true).await.unwrap(), None);
}

#[tokio::test]
async fn racing_committers_all_land() {
    let repo = new_repo().await;
    let s = write_session(&repo, "main").await;
    s.set("zarr.json", Bytes::from_static(b"{}")).await.unwrap();
    s.commit("base", true).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let repo = repo.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..5 {
                let s = write_session(&repo, "main").await;
                s.set(&format!("w{w}/c/{i}"), Bytes::from(format!("{w}-{i}")))
                    .await
                    .unwrap();
                s.commit("race", true).await.unwrap().unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (_, tip) = repo.branch_tip("main").await.unwrap();
    assert_eq!(repo.log(tip, 0).await.unwrap().len(), 41);
    let s = write_session(&repo, "main").await;
    for w in 0..8 {
        for i in 0..5 {
            assert_eq!(
                get(&s, &format!("w{w}/c/{i}")).await.unwrap(),
                Bytes::from(format!("{w}-{i}"))
            );
        }
    }
}

#[tokio::test]
async fn racing_branch_and_tag_creation_has_one_winner() {
    let repo = new_repo().await;
    let s = write_session(&repo, "main").await;
    s.set("k", Bytes::from_static(b"v")).await.unwrap();
    let c = s.commit("c", true).await.unwrap().unwrap();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let repo = repo.clone();
        tasks.push(tokio::spawn(async move { repo.create_branch("dev", c).await.is_ok() }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += t.await.unwrap() as usize;
    }
    assert_eq!(wins, 1);
    assert_eq!(
        repo.create_tag("dev", c, None, &author()).await.unwrap_err().kind(),
        "ref_exists"
    );
    repo.create_tag("v1", c, Some("m".into()), &author()).await.unwrap();
    assert_eq!(
        repo.create_tag("v1", c, None, &author()).await.unwrap_err().kind(),
        "ref_exists"
    );
    assert_eq!(repo.create_branch("v1", c).await.unwrap_err().kind(), "ref_exists");
    assert_eq!(repo.delete_branch("main").await.unwrap_err().kind(), "invalid_input");
    repo.delete_tag("v1").await.unwrap();
    assert_eq!(repo.delete_tag("v1").await.unwrap_err().kind(), "ref_not_found");
}

#[tokio::test]
async fn conflicts_are_reported_with_paths_and_nothing_is_lost() {
    let repo = new_repo().await;
    let s = write_session(&repo, "main").await;
    s.set("x/zarr.json", Bytes::from_static(b"{}")).await.unwrap();
    s.commit("base", true).await.unwrap();
    let a = write_session(&repo, "main").await;
    let b = write_session(&repo, "main").await;
    a.set("x/c/0", Bytes::from_static(b"a")).await.unwrap();
    a.set("x/c/1", Bytes::from_static(b"a")).await.unwrap();
    b.set("x/c/1", Bytes::from_static(b"b")).await.unwrap();
    b.set("x/zarr.json", Bytes::from_static(b"{\"b\":1}")).await.unwrap();
    let ca = a.commit("a", true).await.unwrap().unwrap();
    let err = b.commit("b", true).await.unwrap_err();
    assert_eq!(err.kind(), "conflict");
    assert_eq!(err.conflict_paths(), &["x/c/1".to_string()]);
    // The error names the commit that touched the key, and the way out.
    let Error::Conflict { commits, message, .. } = &err else {
        unreachable!()
    };
    assert_eq!(commits, &vec![ca.to_string()]);
    assert!(
        message.contains(&ca.to_string()) && message.contains("checkout('main')"),
        "{message}"
    );
    // b's session survived the failed commit: unseal, still writable, data intact.
    b.set("x/c/9", Bytes::from_static(b"b")).await.unwrap();
    assert_eq!(get(&b, "x/c/1").await.unwrap(), Bytes::from_static(b"b"));
    assert_eq!(b.fast_forward().await.unwrap_err().kind(), "conflict");
    // Without auto_ff, a moved branch is refused before any conflict check.
    let c = write_session(&repo, "main").await;
    let d = write_session(&repo, "main").await;
    c.set("p", Bytes::from_static(b"1")).await.unwrap();
    d.set("q", Bytes::from_static(b"1")).await.unwrap();
    c.commit("c", true).await.unwrap();
    assert_eq!(d.commit("d", false).await.unwrap_err().kind(), "commit_failed");
    d.fast_forward().await.unwrap();
    assert!(d.commit("d", false).await.unwrap().is_some());
}

#[tokio::test]
async fn commit_and_continue_starts_the_next_session_at_the_new_commit() {
    let repo = new_repo().await;
    let s = write_session(&repo, "main").await;
    // Nothing written: nothing committed, no next session, and nothing stored.
    let (outcome, next) = s.commit_and_continue("empty", true, true, &|_, _| {}).await.unwrap();
    assert_eq!((outcome.commit, next.is_none()), (None, true));
    assert!(repo.list_active_sessions().await.unwrap().is_empty());
    s.set("k", Bytes::from_static(b"v")).await.unwrap();
    let (outcome, next) = s.commit_and_continue("one", true, true, &|_, _| {}).await.unwrap();
    let next = next.unwrap();
    assert_eq!(next.base_commit(), outcome.commit);
    assert_eq!(next.branch().as_deref(), Some("main"));
    assert!(!next.is_stored() && next.writable());
    assert_eq!(get(&next, "k").await.unwrap(), Bytes::from_static(b"v"));
    assert_eq!(s.set("k", Bytes::new()).await.unwrap_err().kind(), "session_expired");
    let (_, read) = next.commit_and_continue("none", true, false, &|_, _| {}).await.unwrap();
    assert!(read.is_none());
}

#[tokio::test]
async fn commit_progress_counts_every_chunk_change() {
    let repo = new_repo().await;
    let s = write_session(&repo, "main").await;
    // 40,000 keys: more than one manifest's worth, so several pieces report.
    let items = (0..40_000)
        .map(|i| (format!("a/c/{i}"), Bytes::from(vec![1u8; 8])))
        .collect();
    s.set_many(items).await.unwrap();
    s.set("a/zarr.json", Bytes::from_static(b"{}")).await.unwrap();
    let seen = std::sync::Mutex::new(Vec::new());
    let record = |done: u64, total: u64| seen.lock().unwrap().push((done, total));
    let (outcome, _) = s.commit_and_continue("many", true, true, &record).await.unwrap();
    assert!(outcome.commit.is_some());
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.last(), Some(&(40_000, 40_000)), "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "{seen:?}");
}

#[tokio::test]
async fn a_one_chunk_commit_rewrites_one_manifest() {
    let repo = new_repo().await;
    let s = write_session(&repo, "main").await;
    let n = 50_000;
    let items = (0..n)
        .map(|i| (format!("big/c/{i}"), Bytes::from(format!("{i}"))))
        .collect();
    s.set_many(items).await.unwrap();
    let c1 = s.commit("many", true).await.unwrap().unwrap();
    let snap1 = repo.snapshot_of(Some(c1)).await.unwrap();
    assert!(
        snap1.manifests.len() >= 3,
        "large key spaces are split: {}",
        snap1.manifests.len()
    );
    assert_eq!(snap1.chunk_count(), n);

    let s = write_session(&repo, "main").await;
    s.set("big/c/777", Bytes::from_static(b"changed")).await.unwrap();
    s.set("aaa/c/0", Bytes::from_static(b"new array at the front"))
        .await
        .unwrap();
    let c2 = s.commit("one", true).await.unwrap().unwrap();
    let snap2 = repo.snapshot_of(Some(c2)).await.unwrap();
    let old: std::collections::HashSet<_> = snap1.manifests.iter().map(|p| p.id).collect();
    let rewritten = snap2.manifests.iter().filter(|p| !old.contains(&p.id)).count();
    assert!(
        rewritten <= 2,
        "only the touched manifests are rewritten, got {rewritten}"
    );
    assert_eq!(snap2.chunk_count(), n + 1);

    let s = write_session(&repo, "main").await;
    assert_eq!(get(&s, "big/c/777").await.unwrap(), Bytes::from_static(b"changed"));
    assert_eq!(get(&s, "big/c/49999").await.unwrap(), Bytes::from_static(b"49999"));
    assert_eq!(
        s.list_dir("").await.unwrap(),
        vec!["aaa".to_string(), "big".to_string()]
    );
    assert_eq!(s.list_dir("big").await.unwrap(), vec!["c".to_string()]);
    assert_eq!(s.list_prefix("big/c/").await.unwrap().len(), n as usize);
}

#[tokio::test]
async fn joined_writers_are_folded_into_one_commit() {
    let repo = new_repo().await;
    let s = write_session(&repo, "main").await;
    // A session is stored lazily: nobody can join it before it is.
    assert_eq!(repo.join_session(s.id()).await.unwrap_err().kind(), "session_not_found");
    assert!(!s.is_stored());
    s.persist().await.unwrap();
    let joined = repo.join_session(s.id()).await.unwrap();
    s.set("a", Bytes::from_static(b"1")).await.unwrap();
    joined.set("b", Bytes::from_static(b"2")).await.unwrap();
    joined.set("a", Bytes::from_static(b"later")).await.unwrap();
    let outcome = s.commit_outcome("both", true).await.unwrap();
    // Two writers wrote "a": the later write is kept, and the commit says so.
    assert_eq!(outcome.overwritten, vec!["a".to_string()]);
    let c = outcome.commit.unwrap();
    let r = repo
        .start_session(None, Some(c), false, 0, author(), None)
        .await
        .unwrap();
    assert_eq!(get(&r, "a").await.unwrap(), Bytes::from_static(b"later"));
    assert_eq!(get(&r, "b").await.unwrap(), Bytes::from_static(b"2"));
    assert_eq!(
        joined.set("c", Bytes::from_static(b"3")).await.unwrap_err().kind(),
        "session_expired"
    );
    assert_eq!(repo.join_session(s.id()).await.unwrap_err().kind(), "session_expired");
}

#[tokio::test]
async fn sessions_expire_and_abandon() {
    let repo = new_repo().await;
    assert_eq!(
        repo.start_session(Some("main".into()), None, true, 8 * DAY, author(), None)
            .await
            .unwrap_err()
            .kind(),
        "invalid_input"
    );
    let s = write_session(&repo, "main").await;
    assert_eq!(s.update_expiration(-1).await.unwrap_err().kind(), "invalid_input");
    assert_eq!(s.update_expiration(0).await.unwrap_err().kind(), "invalid_input");
    s.update_expiration(1).await.unwrap(); // one µs after its start: already over
    assert_eq!(s.set("a", Bytes::new()).await.unwrap_err().kind(), "session_expired");
    let s = write_session(&repo, "main").await;
    s.persist().await.unwrap();
    let other = repo.join_session(s.id()).await.unwrap();
    s.abandon().await.unwrap();
    // Every use of the abandoned handle fails, reads included.
    assert_eq!(s.get("a", None).await.unwrap_err().kind(), "session_expired");
    assert_eq!(s.status(0).await.unwrap_err().kind(), "session_expired");
    assert_eq!(s.commit("x", true).await.unwrap_err().kind(), "session_expired");
    // The other handle learns of the abandon when its write reaches storage.
    assert_eq!(
        other.set("a", Bytes::new()).await.unwrap_err().kind(),
        "session_expired"
    );
    assert!(repo.list_active_sessions().await.unwrap().is_empty());
}

#[tokio::test]
async fn local_repos_reopen_and_refuse_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let loc = dir.path().join("r").to_string_lossy().to_string();
    let repo = Repository::create(&loc, RepoConfig::default()).await.unwrap();
    assert_eq!(
        Repository::create(&loc, RepoConfig::default())
            .await
            .unwrap_err()
            .kind(),
        "repo_exists"
    );
    let s = write_session(&repo, "main").await;
    s.set("k/c/0", Bytes::from(vec![9u8; 4096])).await.unwrap();
    let c = s.commit("c", true).await.unwrap().unwrap();
    let reopened = Repository::open(&loc).await.unwrap();
    assert_eq!(reopened.branch_tip("main").await.unwrap().1, Some(c));
    std::fs::write(dir.path().join("r").join("commits").join(c.to_string()), b"junk").unwrap();
    let fresh = Repository::open(&loc).await.unwrap();
    assert_eq!(fresh.load_commit(&c).await.unwrap_err().kind(), "corrupt_object");
    assert_eq!(
        Repository::open("/nonexistent/zarrlake/x").await.unwrap_err().kind(),
        "repo_not_found"
    );
    assert_eq!(
        Repository::open("ftp://host/x").await.unwrap_err().kind(),
        "invalid_input"
    );
}
