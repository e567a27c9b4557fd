"""Repo and AsyncRepo are one API: AsyncRepo's methods are coroutines generated from the
shared implementation, with the same signatures and docstrings."""

from __future__ import annotations

import inspect

import pytest
import zarrlake
from zarrlake.repo import ASYNC_METHODS


def _public(cls: type) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("_")}


def test_both_facades_have_the_same_methods():
    assert _public(zarrlake.Repo) - {"from_metastore_and_chunkstore"} == _public(zarrlake.AsyncRepo)


@pytest.mark.parametrize("name", ASYNC_METHODS)
def test_async_method_mirrors_sync_one(name):
    sync, coro = getattr(zarrlake.Repo, name), getattr(zarrlake.AsyncRepo, name)
    assert not inspect.iscoroutinefunction(sync)
    assert inspect.iscoroutinefunction(coro)
    assert inspect.signature(coro) == inspect.signature(sync)
    assert coro.__doc__ and coro.__doc__ == sync.__doc__


def test_every_management_method_is_async():
    shared_sync = {"store", "root_group", "to_xarray", "session", "repo_name", "request_counts"}
    assert _public(zarrlake.AsyncRepo) - shared_sync == set(ASYNC_METHODS)


async def test_async_repo_round_trip(tmp_path):
    client = zarrlake.AsyncClient(tmp_path / "lake")
    repo = await client.create_repo("org/async")
    from zarr.core.buffer import cpu

    await repo.store.set("k", cpu.Buffer.from_bytes(b"v"))
    cid = await repo.commit("async")
    assert [c.id for c in await repo.commit_log(limit=1)] == [cid]
    other = await client.get_repo("org/async", checkout=False)
    await other.create_session()
    assert (await other.status()).modified_paths == []


def test_repo_stub_is_current():
    """``repo.pyi`` (what type checkers read) is regenerated from the runtime classes."""
    import pathlib
    import subprocess
    import sys

    script = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "gen_repo_stub.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
