from __future__ import annotations

import pytest
import zarrlake
from conftest import object_keys, put, read


def other_handle(client, repo):
    return client.get_repo(repo.repo_name)


def test_commit_returns_id_and_starts_new_session(repo):
    put(repo, "a", b"1")
    sid = repo.session.id
    cid = repo.commit("one")
    assert len(cid) == 24
    assert repo.session.id != sid
    assert repo.session.base_commit == cid
    assert repo.session.branch == "main"
    assert repo.status().modified_paths == []


def test_empty_commit_warns_and_returns_base(repo):
    with pytest.warns(UserWarning, match="No changes to commit"):
        assert repo.commit("nothing") is None
    put(repo, "a", b"1")
    cid = repo.commit("one")
    with pytest.warns(UserWarning, match="No changes to commit"):
        assert repo.commit("nothing") == cid


def test_commit_for_reading_leaves_read_only_session(repo):
    put(repo, "a", b"1")
    repo.commit("one", checkout_for_writing=False)
    with pytest.raises(zarrlake.ReadOnlyError):
        put(repo, "a", b"2")


def test_commit_message_limits(repo):
    put(repo, "a", b"1")
    with pytest.raises(ValueError, match="maximum allowed message"):
        repo.commit("x" * 6000)
    with pytest.raises(TypeError):
        repo.commit(None)  # type: ignore[arg-type]


def test_auto_ff_rebases_disjoint_changes(client, repo):
    put(repo, "arr/zarr.json", b"{}")
    repo.commit("base")
    other = other_handle(client, repo)
    put(repo, "arr/c/0", b"mine")
    put(other, "arr/c/1", b"theirs")
    put(other, "arr/zarr.json", b'{"changed": true}')  # metadata vs chunks never conflict
    theirs = other.commit("theirs")
    mine = repo.commit("mine")
    log = [c.id for c in repo.commit_log()]
    assert log[:2] == [mine, theirs]
    assert read(repo, "arr/c/0") == b"mine"
    assert read(repo, "arr/c/1") == b"theirs"
    assert read(repo, "arr/zarr.json") == b'{"changed": true}'


def test_auto_ff_false_refuses_moved_branch(client, repo):
    put(repo, "a", b"0")
    repo.commit("base")
    other = other_handle(client, repo)
    put(other, "b", b"1")
    other.commit("theirs")
    put(repo, "c", b"2")
    with pytest.raises(zarrlake.CommitFailedError, match="fast_forward"):
        repo.commit("mine", auto_ff=False)
    # The session is intact: fast-forward, then commit.
    repo.fast_forward()
    assert read(repo, "b") == b"1"
    cid = repo.commit("mine", auto_ff=False)
    assert read(repo, "c") == b"2" and repo.session.base_commit == cid


def test_conflicts_list_every_path(client, repo):
    put(repo, "x/zarr.json", b"{}")
    repo.commit("base")
    other = other_handle(client, repo)
    for k in ("x/c/0", "x/c/1", "y"):
        put(other, k, b"theirs")
    other.commit("theirs")
    for k in ("x/c/0", "x/c/1", "z"):
        put(repo, k, b"mine")
    with pytest.raises(zarrlake.ConflictError) as ei:
        repo.commit("mine")
    assert ei.value.paths == ["x/c/0", "x/c/1"]
    assert isinstance(ei.value, RuntimeError)
    with pytest.raises(zarrlake.ConflictError, match="conflicting paths"):
        repo.fast_forward()
    # Nothing was lost: the session still holds our writes.
    assert read(repo, "x/c/0") == b"mine"


def test_delete_vs_change_conflicts(client, repo):
    put(repo, "arr/zarr.json", b"{}")
    put(repo, "arr/c/0", b"0")
    repo.commit("base")
    other = other_handle(client, repo)
    other.store.delete_sync("arr/zarr.json")
    other.store.delete_sync("arr/c/0")
    other.commit("delete arr")
    put(repo, "arr/c/5", b"new chunk in deleted array")
    with pytest.raises(zarrlake.ConflictError) as ei:
        repo.commit("write into arr")
    assert ei.value.paths == ["arr/c/5"]


def test_fast_forward_moves_base(client, repo):
    put(repo, "a", b"0")
    repo.commit("base")
    other = other_handle(client, repo)
    put(other, "b", b"1")
    tip = other.commit("theirs")
    put(repo, "c", b"mine")
    assert repo.fast_forward() == tip
    assert repo.session.base_commit == tip
    assert read(repo, "b") == b"1" and read(repo, "c") == b"mine"


def test_status(repo):
    put(repo, "a", b"1")
    put(repo, "a", b"2")
    put(repo, "b", b"1")
    repo.commit("c")
    put(repo, "c", b"1")
    repo.store.delete_sync("a")
    st = repo.status()
    assert st.repo_name == "org/repo"
    assert sorted(st.modified_paths) == [("a", True), ("c", False)]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(repo.status(limit=0).modified_paths) == 2
    with pytest.warns(UserWarning, match="limited to the first 1"):
        assert len(repo.status(limit=1).modified_paths) == 1
    with pytest.raises(ValueError):
        repo.status(limit=-1)
    assert "2 changed keys in 1 node" in str(st)  # summed up per node (key "c" is a root chunk)


def test_dedup_identical_chunks(repo):
    payload = bytes(range(256)) * 64
    for i in range(5):
        put(repo, f"arr/c/{i}", payload)
    repo.commit("dups")
    assert len(object_keys(repo, "chunks")) == 1
    assert read(repo, "arr/c/4") == payload


def test_many_keys_span_manifests_and_one_change_rewrites_one(repo):
    session = repo._core.session_native
    session.set_many([(f"big/c/{i}", i.to_bytes(4, "little")) for i in range(45_000)])
    repo.commit("many")
    before = set(object_keys(repo, "manifests"))
    assert len(before) >= 3  # split into bounded pieces
    put(repo, "big/c/123", b"new!")
    repo.commit("one change")
    assert len(set(object_keys(repo, "manifests")) - before) == 1
    assert read(repo, "big/c/123") == b"new!"
    assert read(repo, "big/c/44999") == (44999).to_bytes(4, "little")
    assert len(repo._core.session_native.list_prefix("big/")) == 45_000
