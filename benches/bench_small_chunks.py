"""Workload 3: many small chunks through zarr's codec pipeline.

A 1-D float32 array of N chunks of 1024 elements (4 KiB each, uncompressed; N = 10k quick,
100k full), written with one ``arr[:] = data`` and committed; then read back whole with a
fresh read-only store. Both go through zarr's codec pipeline, so zarr's per-chunk cost is in
every column; LocalStore's column is that floor.
"""

from __future__ import annotations

import backends
import harness
import numpy as np
import pytest
import zarr

CHUNK = 1024


def small_data(n_chunks):
    return (np.arange(n_chunks * CHUNK, dtype=np.int64) % 100_003).astype(np.float32)


def create_small_array(store, n_chunks):
    return zarr.create_array(
        store=store,
        name="small",
        shape=(n_chunks * CHUNK,),
        chunks=(CHUNK,),
        dtype="f4",
        compressors=None,
    )


@pytest.fixture(scope="module")
def data(sizes):
    return small_data(sizes.small_chunks)


@pytest.mark.parametrize("name", backends.ALL)
def test_small_chunks_write(benchmark, request, sizes, work, shared, data, name):
    rows = ["w3.write", "w3.commit"]
    if name == "icechunk-tuned":
        harness.same_as_writer(request, rows, name)
    backend = harness.use_backend(request, benchmark, rows, name, chunks=sizes.small_chunks)
    rounds = harness.Rounds(work / "w3" / name)

    def setup():
        h = backend.create(rounds.next())
        return (h, create_small_array(h.store, sizes.small_chunks)), {}

    def run(h, arr):
        sw = harness.Stopwatch()
        arr[:] = data
        harness.extra(benchmark, "w3.write.only", sw.lap())
        h.commit("small chunks")
        harness.commit_phase(benchmark, backend, "w3.commit", sw.lap())

    benchmark.pedantic(run, setup=setup, rounds=sizes.small_rounds, iterations=1)
    shared[("small", name)] = rounds.current


@pytest.mark.parametrize("name", backends.ALL)
def test_small_chunks_read(benchmark, request, sizes, work, shared, data, name):
    backend = harness.use_backend(request, benchmark, "w3.read", name, chunks=sizes.small_chunks)
    writer = backends.BACKENDS[backend.writer]
    path = shared.get(("small", writer.name))
    if path is None:
        path = work / "w3-read" / writer.name
        h = writer.create(path)
        create_small_array(h.store, sizes.small_chunks)[:] = data
        h.commit("small chunks")
        shared[("small", writer.name)] = path

    def setup():
        arr = zarr.open_array(backend.open_read(path), path="small", mode="r")
        return (arr,), {}

    def run(arr):
        return arr[:]

    out = benchmark.pedantic(run, setup=setup, rounds=sizes.small_read_rounds, iterations=1)
    assert np.array_equal(out, data)
