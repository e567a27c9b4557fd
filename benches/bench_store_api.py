"""Workload 3s: 4 KiB chunks straight through the zarr Store API, no codec pipeline.

This is the path every Zarr client (zarr-python, xarray, dask) sits on, so its per-call cost
bounds them all. N chunk keys of an array (1e4 quick, 1e5 full) get one 4 KiB payload each,
written with ``store.set``, 1,000 calls in flight at a time (``asyncio.gather`` per batch),
the same calls for every backend; then the repo is committed (untimed) and the N keys are
read back the same way with ``store.get`` from a fresh read-only store. The set row times the sets alone (the
commit that the read needs is outside it). Rates are N / time.
"""

from __future__ import annotations

import asyncio
import os

import backends
import harness
import pytest
import zarr
from zarr.core.buffer import default_buffer_prototype

IN_FLIGHT = 1_000


def keys(n: int) -> list[str]:
    return [f"raw/c/{i}" for i in range(n)]


def create_raw_array(store, n: int) -> None:
    # Icechunk accepts chunk keys only under an existing array.
    zarr.create_array(store=store, name="raw", shape=(n * 1024,), chunks=(1024,), dtype="f4", compressors=None)


async def _set_all(store, names, value) -> None:
    for i in range(0, len(names), IN_FLIGHT):
        await asyncio.gather(*(store.set(k, value) for k in names[i : i + IN_FLIGHT]))


async def _get_all(store, names, prototype) -> int:
    got = 0
    for i in range(0, len(names), IN_FLIGHT):
        values = await asyncio.gather(*(store.get(k, prototype) for k in names[i : i + IN_FLIGHT]))
        got += sum(len(v) for v in values if v is not None)
    return got


@pytest.mark.parametrize("name", backends.ALL)
def test_store_api_set(benchmark, request, sizes, work, shared, name):
    if name == "icechunk-tuned":
        harness.same_as_writer(request, "w3s.set", name)
    backend = harness.use_backend(request, benchmark, "w3s.set", name, keys=sizes.small_chunks)
    rounds = harness.Rounds(work / "w3s" / name)
    names = keys(sizes.small_chunks)
    value = default_buffer_prototype().buffer.from_bytes(os.urandom(4096))

    def setup():
        h = backend.create(rounds.next())
        create_raw_array(h.store, sizes.small_chunks)
        return (h,), {}

    def run(h):
        seconds, _ = harness.clock(lambda: asyncio.run(_set_all(h.store, names, value)))
        harness.timed_part(benchmark, seconds)
        h.commit("store api")

    benchmark.pedantic(run, setup=setup, rounds=sizes.store_api_rounds, iterations=1)
    shared[("store_api", name)] = rounds.current


@pytest.mark.parametrize("name", backends.ALL)
def test_store_api_get(benchmark, request, sizes, shared, name):
    backend = harness.use_backend(request, benchmark, "w3s.get", name, keys=sizes.small_chunks)
    path = shared.get(("store_api", backend.writer))
    if path is None:
        pytest.skip("needs test_store_api_set of the same writer in this run")
    names = keys(sizes.small_chunks)
    prototype = default_buffer_prototype()

    def setup():
        return (backend.open_read(path),), {}

    def run(store):
        return asyncio.run(_get_all(store, names, prototype))

    got = benchmark.pedantic(run, setup=setup, rounds=sizes.store_api_rounds, iterations=1)
    assert got == 4096 * sizes.small_chunks
