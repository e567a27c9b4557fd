"""Forked children use zarrlake: the parent's runtime threads are gone there, so the
runtime (and the id source, and the session's writer) must be re-created in the child.

Python 3.12 forks by default for multiprocessing on Linux. Every test has a timeout, so
a child that hangs fails the test instead of blocking CI.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import signal
import time
import traceback
from collections.abc import Callable

import numpy as np
import pytest
import zarr
import zarrlake
from conftest import fresh_client, object_keys
from zarr.core.buffer import default_buffer_prototype

# The parent has runtime threads when it forks; the child never touches their state.
pytestmark = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")

TIMEOUT = 60.0
CHUNK = 4
WORKERS = 4
N = CHUNK * (WORKERS + 1)  # chunk 0 is the parent's; chunk w + 1 is worker w's


def _is_memory(client: zarrlake.Client) -> bool:
    return client.root.startswith("memory://")


def _started_repo(client: zarrlake.Client) -> zarrlake.Repo:
    """A repo with array `a` committed, after sync and async calls started the runtime."""
    repo = client.get_or_create_repo("org/fork")
    arr = zarr.create_array(repo.store, name="a", shape=(N,), chunks=(CHUNK,), dtype="i4", fill_value=-1)
    arr[:CHUNK] = np.arange(CHUNK)
    assert zarr.open_array(repo.store, path="a", mode="r")[:CHUNK].tolist() == list(range(CHUNK))
    got = asyncio.run(repo.store.get("a/c/0", prototype=default_buffer_prototype()))
    assert got is not None
    repo.commit("base")
    return repo


def _values(repo: zarrlake.Repo) -> list[int]:
    return zarr.open_array(repo.store, path="a", mode="r")[:].tolist()


def _block(w: int) -> slice:
    return slice((w + 1) * CHUNK, (w + 2) * CHUNK)


def _expected(workers: range) -> list[int]:
    out = list(range(CHUNK)) + [-1] * (N - CHUNK)
    for w in workers:
        out[_block(w)] = [100 + w] * CHUNK
    return out


def _run_in_child(fn: Callable[[], bool], timeout: float = TIMEOUT) -> int:
    """Runs `fn` in an `os.fork()` child; returns the child's exit code (0: fn returned True)."""
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 3
        try:
            code = 0 if fn() else 1
        except BaseException:
            traceback.print_exc()
            code = 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"forked child {pid} hung for {timeout:.0f}s")
        time.sleep(0.02)


# ---- multiprocessing.Pool with the fork start method ------------------------------------


def _write_block(args: tuple[zarrlake.Repo, int]) -> tuple[int, list[int]]:
    """Pool task: writes worker `w`'s whole chunk through the (unpickled) repo's store."""
    repo, w = args
    arr = zarr.open_array(repo.store, path="a", mode="r+")
    arr[_block(w)] = np.full(CHUNK, 100 + w, dtype="i4")
    return os.getpid(), arr[_block(w)].tolist()


def test_fork_pool_writes_through_pickled_repo(client: zarrlake.Client) -> None:
    repo = _started_repo(client)
    session_id = repo.session.id
    tasks = [(repo, w) for w in range(WORKERS)]
    with mp.get_context("fork").Pool(2) as pool:
        results = pool.map_async(_write_block, tasks, chunksize=1).get(timeout=TIMEOUT)
    assert os.getpid() not in {pid for pid, _ in results}
    assert [vals for _, vals in results] == [[100 + w] * CHUNK for w in range(WORKERS)]
    if _is_memory(client):
        # A memory:// repo is per process: the children wrote their own copies.
        assert _values(repo) == _expected(range(0))
        return
    # Each task joined the session with a writer of its own: sibling children must not
    # draw the same writer id from the random state they inherited.
    fragments = object_keys(repo, f"sessions/{session_id}/fragments")
    assert len({k.split("/")[0] for k in fragments}) == WORKERS
    assert repo.commit("children's chunks") is not None
    repo.checkout("main")
    assert _values(repo) == _expected(range(WORKERS))


# ---- os.fork() ---------------------------------------------------------------------------


def test_fork_child_reads_committed_values(client: zarrlake.Client) -> None:
    repo = _started_repo(client)
    want = _values(repo)

    def child() -> bool:
        ok = _values(repo) == want  # the inherited repo object
        if not _is_memory(client):  # a fresh client in the child
            ok = ok and _values(fresh_client(client).get_repo("org/fork")) == want
        return ok

    assert _run_in_child(child) == 0


def test_fork_child_awaits_store_get(client: zarrlake.Client) -> None:
    repo = _started_repo(client)
    want = repo.store.get_sync("a/c/0")
    assert want is not None

    async def reads() -> bool:
        proto = default_buffer_prototype()
        got = await repo.store.get("a/c/0", prototype=proto)
        many = await repo.store.get_partial_values(proto, [("a/c/0", None), ("a/zarr.json", None)])
        return (
            got is not None
            and got.to_bytes() == want.to_bytes()
            and many[0] is not None
            and many[0].to_bytes() == want.to_bytes()
            and await repo.store.exists("a/zarr.json")
        )

    assert _run_in_child(lambda: asyncio.run(reads())) == 0


def test_fork_child_writes_through_inherited_session(client: zarrlake.Client) -> None:
    """The child keeps using the parent's write session; its writes are in the next commit."""
    repo = _started_repo(client)

    def child() -> bool:
        arr = zarr.open_array(repo.store, path="a", mode="r+")
        arr[_block(0)] = np.full(CHUNK, 100, dtype="i4")
        return _values(repo) == _expected(range(1))

    assert _run_in_child(child) == 0
    # The parent writes after the child did, in the same session, then commits.
    zarr.open_array(repo.store, path="a", mode="r+")[_block(1)] = np.full(CHUNK, 101, dtype="i4")
    repo.commit("parent and child")
    repo.checkout("main")
    if _is_memory(client):
        assert _values(repo) == _expected(range(1, 2))
    else:
        assert _values(repo) == _expected(range(2))


def test_fork_ids_made_in_parent_and_child_differ(client: zarrlake.Client) -> None:
    """ObjectIds are 4 bytes of seconds, 5 per-process random bytes and a counter: a child
    that kept the parent's random bytes and counter would make the parent's next ids."""
    repo = _started_repo(client)
    r, w = os.pipe()

    def child() -> bool:
        os.close(r)
        repo.checkout("main")  # a session of its own, made in the child
        arr = zarr.open_array(repo.store, path="a", mode="r+")
        arr[_block(0)] = np.full(CHUNK, 100, dtype="i4")
        commit = repo.commit("child")
        os.write(w, f"{commit} {repo.session.id}".encode())
        os.close(w)
        return commit is not None

    code = _run_in_child(child)
    os.close(w)
    with os.fdopen(r) as f:
        child_ids = f.read().split()
    assert code == 0
    repo.checkout("main")
    zarr.open_array(repo.store, path="a", mode="r+")[_block(1)] = np.full(CHUNK, 101, dtype="i4")
    parent_ids = [repo.commit("parent"), repo.session.id]
    assert len(child_ids) == 2 and all(parent_ids)
    for ours, theirs in zip(parent_ids, child_ids, strict=True):
        assert ours != theirs
        assert ours[8:18] != theirs[8:18], "parent and child share the per-process random part"
    if not _is_memory(client):
        repo.checkout("main")
        assert _values(repo) == _expected(range(2))
