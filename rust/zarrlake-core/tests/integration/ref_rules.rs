//! Ref names with '/', commit-id look-alike names, commit-id prefixes and the commit graph,
//! through sessions and commits.

use bytes::Bytes;
use zarrlake_core::{Author, ObjectId, RepoConfig, Repository, Session};

const DAY: i64 = 24 * 3600 * 1_000_000;

fn author() -> Author {
    Author {
        name: "Ada".into(),
        email: "ada@example.org".into(),
    }
}

async fn write_session(repo: &Repository, branch: &str) -> Session {
    let r = repo.resolve(branch).await.unwrap();
    repo.start_session(r.branch, r.commit, true, DAY, author(), None)
        .await
        .unwrap()
}

async fn commit_value(repo: &Repository, branch: &str, v: u8) -> ObjectId {
    let s = write_session(repo, branch).await;
    s.set("a/zarr.json", Bytes::from_static(b"{}")).await.unwrap();
    s.set("a/c/0", Bytes::from(vec![v; 100])).await.unwrap();
    s.commit(&format!("value {v}"), true).await.unwrap().unwrap()
}

async fn value_at(repo: &Repository, r: &str) -> u8 {
    let res = repo.resolve(r).await.unwrap();
    let s = repo
        .start_session(res.branch, res.commit, false, 0, author(), None)
        .await
        .unwrap();
    s.get("a/c/0", None).await.unwrap().unwrap()[0]
}

#[tokio::test]
async fn slash_branches_commit_and_resolve_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("repo").display().to_string();
    for loc in [local, format!("memory://ref-rules-{}", ObjectId::new())] {
        let repo = Repository::create(&loc, RepoConfig::default()).await.unwrap();
        let c1 = commit_value(&repo, "main", 1).await;
        repo.create_branch("feature/x", c1).await.unwrap();
        repo.create_branch("feature", c1).await.unwrap();
        let c2 = commit_value(&repo, "feature/x", 2).await;
        let c3 = commit_value(&repo, "feature/x", 3).await;
        let repo = Repository::open(&loc).await.unwrap();
        assert_eq!(
            repo.branches().await.unwrap(),
            vec![
                ("feature".to_string(), Some(c1)),
                ("feature/x".to_string(), Some(c3)),
                ("main".to_string(), Some(c1)),
            ]
        );
        assert_eq!(value_at(&repo, "feature/x").await, 3);
        assert_eq!(value_at(&repo, "feature").await, 1);
        let log: Vec<ObjectId> = repo.log(Some(c3), 0).await.unwrap().iter().map(|c| c.id).collect();
        assert_eq!(log, vec![c3, c2, c1]);
        repo.delete_branch("feature/x").await.unwrap();
        assert_eq!(repo.resolve("feature/x").await.unwrap_err().kind(), "ref_not_found");
        assert_eq!(value_at(&repo, "feature").await, 1);
    }
}

#[tokio::test]
async fn commit_prefixes_check_out_the_same_data_and_commit_ids_are_not_names() {
    let repo = Repository::create(
        &format!("memory://ref-rules-{}", ObjectId::new()),
        RepoConfig::default(),
    )
    .await
    .unwrap();
    let c1 = commit_value(&repo, "main", 1).await;
    let c2 = commit_value(&repo, "main", 2).await;
    let (s1, s2) = (c1.to_string(), c2.to_string());
    // Ids made in one process in one second share up to 18 characters.
    let unique = (8..=24).find(|&n| s1[..n] != s2[..n]).unwrap();
    assert_eq!(value_at(&repo, &s1[..unique]).await, 1);
    assert_eq!(value_at(&repo, &s2[..unique].to_uppercase()).await, 2);
    assert_eq!(repo.resolve_commit(&s2[..unique]).await.unwrap(), c2);
    if unique > 8 {
        let e = repo.resolve(&s1[..unique - 1]).await.unwrap_err();
        assert_eq!(e.kind(), "invalid_input", "{e}");
        assert!(e.to_string().contains(&s1) && e.to_string().contains(&s2), "{e}");
    }

    // The old trap: a tag named like c2 that points at c1 would shadow c2.
    let e = repo.create_tag(&s2, c1, None, &author()).await.unwrap_err();
    assert_eq!(e.kind(), "invalid_name");
    assert_eq!(
        repo.create_branch(&s2[..8], c1).await.unwrap_err().kind(),
        "invalid_name"
    );
    assert_eq!(value_at(&repo, &s2).await, 2);

    repo.create_branch("side", c1).await.unwrap();
    let c3 = commit_value(&repo, "side", 3).await;
    repo.create_tag("v1", c1, None, &author()).await.unwrap();
    let graph: Vec<ObjectId> = repo
        .commit_graph(vec![Some(c2), Some(c3), Some(c1), None])
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(graph, vec![c3, c2, c1]);
}
