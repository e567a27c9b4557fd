"""History tools on every backend: diff, reset_branch, squash, expire, time travel by date,
and status per node."""

from __future__ import annotations

import datetime
import time

import numpy as np
import pytest
import zarr
import zarrlake
from conftest import fresh_client, put, quiet, read
from zarrlake.errors import InvalidInputError, ReadOnlyError, RefMovedError, RefNotFoundError

#: Elements per chunk: 2 KiB chunks are stored as objects of their own, not inline.
CHUNK = 256


def _array(repo, name: str = "t", n: int = 8) -> zarr.Array:
    """A 1-d f8 array of ``n`` chunks holding ``arange``."""
    a = zarr.create_array(
        repo.store,
        name=name,
        shape=(n * CHUNK,),
        chunks=(CHUNK,),
        dtype="f8",
        fill_value=-1,
        dimension_names=["x"],
        compressors=None,
    )
    a[:] = np.arange(n * CHUNK)
    return a


def _commit(repo, message: str) -> str:
    return quiet(repo.commit, message)


def test_diff_groups_changes_by_node(client):
    repo = client.create_repo("org/diff")
    g = zarr.open_group(repo.store, mode="w")
    g.attrs["title"] = "v1"
    _array(repo, "t")
    _array(repo, "gone", 2)
    v1 = _commit(repo, "one")
    repo.tag("v1")
    a = zarr.open_array(repo.store, path="t")
    a[2 * CHUNK : 4 * CHUNK] = 99
    zarr.open_group(repo.store).attrs["title"] = "v2"
    _array(repo, "new", 3)
    del zarr.open_group(repo.store, mode="a")["gone"]
    # Against the session first (uncommitted), then between the commits: the same.
    live = repo.diff("v1")
    v2 = _commit(repo, "two")
    d = repo.diff(v1, v2, chunk_keys=True)
    assert [(n.path, n.status, n.chunks_added, n.chunks_changed, n.chunks_deleted) for n in live] == [
        (n.path, n.status, n.chunks_added, n.chunks_changed, n.chunks_deleted) for n in d
    ]
    assert d.added == ["new"] and d.deleted == ["gone"]
    assert set(d.modified) == {"", "t"}
    t = d["t"]
    assert (t.chunks_added, t.chunks_changed, t.chunks_deleted) == (0, 2, 0)
    assert t.changed_keys == ["t/c/2", "t/c/3"]
    assert t.kind == "array" and not t.metadata
    root = d[""]
    assert root.attributes_changed
    (doc,) = root.metadata
    assert doc.old["attributes"]["title"] == "v1" and doc.new["attributes"]["title"] == "v2"
    assert d["new"].chunks_added == 3 and d["gone"].chunks_deleted == 2
    # Displays: short text, HTML with every node, and no changes said as such.
    text = repr(d)
    assert "1 added, 1 deleted, 2 modified (4 nodes)" in text
    assert "/t" in text and "2 chunks changed" in text
    assert "<table>" in d._repr_html_() and "/gone" in d._repr_html_()
    assert repr(repo.diff(v2, v2)).endswith("no changes")
    assert len(repo.diff("main", "v1")) == 4
    with pytest.raises(RefNotFoundError):
        repo.diff("nope")


def test_reset_branch_is_a_compare_and_swap(client):
    repo = client.create_repo("org/reset")
    put(repo, "k/zarr.json", b'{"node_type":"group","zarr_format":3}')
    first = _commit(repo, "one")
    put(repo, "k/c/0", b"x")
    second = _commit(repo, "two")
    repo.reset_branch("main", first, expected=second)
    # The repo's own session followed the branch back.
    assert repo.session.base_commit == first
    assert read(repo, "k/c/0") is None
    with pytest.raises(RefMovedError, match="not at"):
        repo.reset_branch("main", second, expected=second)
    repo.reset_branch("main", second)
    other = fresh_client(client).get_repo("org/reset")
    assert other.commit_log()[0].id == second
    with pytest.raises(RefNotFoundError):
        repo.reset_branch("nope", first)
    with pytest.raises(RefNotFoundError):
        repo.reset_branch("main", "0" * 24)


def test_squash_replaces_a_run_of_commits_with_one(client):
    repo = client.create_repo("org/squash")
    put(repo, "k/zarr.json", b'{"node_type":"group","zarr_format":3}')
    base = _commit(repo, "base")
    repo.tag("base")
    for i in range(4):
        put(repo, f"k/c/{i}", bytes([i]))
        _commit(repo, f"step {i}")
    before = {k: read(repo, k) for k in ("k/c/0", "k/c/3")}
    old_tip = repo.commit_log()[0].id
    new = repo.squash("main", since="base", message="four steps")
    log = repo.commit_log()
    assert [c.message for c in log] == ["four steps", "base"]
    assert log[0].id == new and log[0].parent_commit == base
    assert {k: read(repo, k) for k in before} == before
    assert repo.commit_log("base")[0].id == base  # the tag did not move
    with pytest.raises(InvalidInputError, match="not an ancestor"):
        repo.squash("main", since=old_tip, message="x")
    assert repo.squash("main", since="base", message="again") == new  # nothing left to squash


def test_squash_refuses_under_a_write_session_based_on_a_replaced_commit(client):
    repo = client.create_repo("org/squash2")
    put(repo, "a/c/0", b"0")
    base = _commit(repo, "base")
    put(repo, "a/c/1", b"1")
    _commit(repo, "one")
    put(repo, "a/c/2", b"2")
    _commit(repo, "two")
    writer = fresh_client(client).get_repo("org/squash2")
    put(writer, "b/c/0", b"w")
    with pytest.raises(InvalidInputError, match="write session"):
        repo.squash("main", since=base, message="s")
    quiet(writer.commit, "writer")
    repo.squash("main", since=base, message="s")


def test_expire_keeps_tips_and_tags_and_garbage_collection_reclaims(client):
    repo = client.create_repo("org/expire")
    _array(repo, "t", 4)
    first = _commit(repo, "one")
    repo.tag("first")
    a = zarr.open_array(repo.store, path="t")
    for v in (10, 20):
        a[:] = v
        _commit(repo, f"fill {v}")
    time.sleep(0.01)
    result = repo.expire(older_than=datetime.timedelta(0))
    assert len(result.expired) == 1 and "expired" in repr(result)
    assert len(repo.commit_log()) == 1
    assert repo.commit_log("first")[0].id == first
    report = repo.garbage_collect(older_than=datetime.timedelta(0))
    # The expired commit's chunks were all 10.0: one object, held by nothing else.
    assert report.deleted["commits"][0] == 1 and report.deleted["chunks"][0] == 1
    assert "deleted" in repr(report) and "<table>" in report._repr_html_()
    fresh = fresh_client(client).get_repo("org/expire")
    assert (zarr.open_array(fresh.store, path="t")[:] == 20).all()
    quiet(fresh.checkout, "first")
    assert (zarr.open_array(fresh.store, path="t")[:] == np.arange(4 * CHUNK)).all()
    with pytest.raises(InvalidInputError, match="future"):
        repo.expire(older_than=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1))


def test_garbage_collect_dry_run_deletes_nothing_and_grace_keeps_everything(client):
    repo = client.create_repo("org/gc")
    put(repo, "a/c/0", b"x" * 2000)
    _commit(repo, "one")
    repo.new_branch("side")
    put(repo, "b/c/0", b"y" * 2000)
    _commit(repo, "side")
    quiet(repo.checkout, "main")
    repo.delete_branch("side")
    kept = repo.garbage_collect()  # the default grace period is a day
    assert kept.objects == 0 and kept.kept_young > 0
    dry = repo.garbage_collect(older_than=datetime.timedelta(0), dry_run=True)
    assert dry.dry_run and dry.deleted["chunks"][0] == 1 and "would delete" in repr(dry)
    real = repo.garbage_collect(older_than=datetime.timedelta(0))
    assert real.deleted == dry.deleted
    assert read(repo, "a/c/0") == b"x" * 2000
    with pytest.raises(InvalidInputError):
        repo.garbage_collect(older_than=datetime.timedelta(seconds=-1))
    with pytest.raises(TypeError):
        repo.garbage_collect(older_than=3600)  # type: ignore[arg-type]


def test_checkout_as_of_and_to_xarray_as_of(client):
    repo = client.create_repo("org/asof")
    a = _array(repo, "t", 4)
    _commit(repo, "one")
    time.sleep(0.05)
    between = datetime.datetime.now(datetime.UTC)
    time.sleep(0.05)
    a[:] = 7
    _commit(repo, "two")
    ds = repo.to_xarray(as_of=between)
    assert (ds["t"].values == np.arange(4 * CHUNK)).all()
    assert (zarr.open_array(repo.store, path="t")[:] == 7).all()  # the session stayed
    quiet(repo.checkout, "main", as_of=between)
    with pytest.raises(ReadOnlyError):
        put(repo, "t/c/0", b"x")
    assert (zarr.open_array(repo.store, path="t")[:] == np.arange(4 * CHUNK)).all()
    with pytest.raises(RefNotFoundError, match="at or before"):
        repo.checkout("main", as_of=between - datetime.timedelta(days=1))
    with pytest.raises(TypeError):
        repo.checkout("main", as_of="yesterday")  # type: ignore[arg-type]


def test_status_nodes_summarise_per_node(repo):
    _array(repo, "t", 3)
    nodes = repo.status().nodes
    (t,) = [n for n in nodes if n.path == "t"]
    assert t.chunks == 3 and t.metadata == 1


def test_async_repo_has_the_history_tools():
    import asyncio

    async def go() -> None:
        arepo = await zarrlake.AsyncClient(f"memory://hist-{time.time_ns()}").create_repo("org/asyncrepo")
        await arepo.checkout()
        put(arepo, "a/c/0", b"1")
        first = await arepo.commit("one")
        put(arepo, "a/c/0", b"2")
        await arepo.commit("two")
        assert len(await arepo.diff(first, "main")) == 1
        await arepo.reset_branch("main", first)
        report = await arepo.garbage_collect(older_than=datetime.timedelta(0), dry_run=True)
        assert report.dry_run

    asyncio.run(go())
