from __future__ import annotations

import pathlib

import pytest
import zarrlake
from conftest import put, read
from zarr.core.buffer import cpu


@pytest.mark.parametrize("key", ["../escape", "a/../../b", "a//b", "/abs", "a/./b", "trailing/", "a\\b"])
def test_path_traversal_and_malformed_keys(repo, key):
    with pytest.raises(zarrlake.InvalidNameError, match="invalid key"):
        put(repo, key, b"x")
    with pytest.raises(zarrlake.InvalidNameError):
        repo.store.get_sync(key)


def test_bad_byte_range_type(repo):
    import asyncio

    put(repo, "a", b"0123456789")
    with pytest.raises(TypeError, match="Unexpected byte_range"):
        asyncio.run(repo.store.get("a", cpu.buffer_prototype, byte_range=(1, 2)))  # type: ignore[arg-type]


def test_byte_ranges(repo):
    import asyncio

    from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest

    data = bytes(range(200)) * 10  # not inlined
    put(repo, "arr/c/0", data)
    put(repo, "small", b"0123456789")
    for key, payload in (("arr/c/0", data), ("small", b"0123456789")):
        for req, want in (
            (RangeByteRequest(2, 7), payload[2:7]),
            (OffsetByteRequest(5), payload[5:]),
            (SuffixByteRequest(3), payload[-3:]),
        ):
            got = asyncio.run(repo.store.get(key, cpu.buffer_prototype, byte_range=req))
            assert got.to_bytes() == want
    repo.commit("c")
    got = asyncio.run(
        repo.store.get_partial_values(
            cpu.buffer_prototype, [("arr/c/0", RangeByteRequest(10, 20)), ("missing", None), ("small", None)]
        )
    )
    assert [g.to_bytes() if g else None for g in got] == [data[10:20], None, b"0123456789"]


def test_bad_refs_and_names(repo):
    with pytest.raises(zarrlake.RefNotFoundError):
        repo.checkout("../../etc")
    with pytest.raises(zarrlake.InvalidNameError):
        repo.new_branch("a//b")
    with pytest.raises(zarrlake.RefNotFoundError):
        repo.delete_tag("../x")
    with pytest.raises(TypeError):
        repo.checkout(expires_in=5)  # type: ignore[arg-type]


def test_corrupt_objects_give_clear_errors(local_client):
    client = local_client
    repo = client.create_repo("org/repo")
    put(repo, "arr/c/0", b"y" * 1000)
    cid = repo.commit("c")
    root = pathlib.Path(client.root) / "org" / "repo"
    (root / "commits" / cid).write_bytes(b"garbage")
    reopened = client.get_repo("org/repo", checkout=False)
    # The branch version names the snapshot: the commit record is read where it is used.
    reopened.checkout("main")
    with pytest.raises(zarrlake.CorruptObjectError, match="bad magic"):
        list(reopened.commit_log())
    snapshot = next((root / "snapshots").iterdir())
    snapshot.write_bytes(snapshot.read_bytes()[:12])
    (root / "zarrlake.json").write_text("{not json")
    with pytest.raises(zarrlake.CorruptObjectError, match="zarrlake.json"):
        client.get_repo("org/repo")


def test_missing_chunk_object_is_reported(local_client):
    client = local_client
    repo = client.create_repo("org/repo")
    put(repo, "arr/c/0", b"z" * 1000)
    repo.commit("c")
    root = pathlib.Path(client.root) / "org" / "repo"
    for p in (root / "chunks").iterdir():
        p.unlink()
    with pytest.raises(zarrlake.CorruptObjectError, match="missing"):
        read(repo, "arr/c/0")


def test_errors_share_a_base_and_kind():
    for cls in (zarrlake.ConflictError, zarrlake.ReadOnlyError, zarrlake.CommitFailedError):
        assert issubclass(cls, zarrlake.ZarrlakeError)
    assert zarrlake.RepoNotFoundError.kind == "repo_not_found"
