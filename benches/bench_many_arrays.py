"""Workload 5: many arrays in one session.

Create N arrays (50 quick, 500 full; each 1-D float32 of 1000 elements in 10 chunks, with a few
attributes) under the root group through the zarr API and commit: timed together, with the
commit also on its own row. Then, in each round, open the N arrays (untimed), change one chunk
in each and commit (timed together; commit on its own row).
"""

from __future__ import annotations

import backends
import harness
import numpy as np
import pytest
import zarr


def attrs(i):
    return {
        "long_name": f"variable number {i}",
        "units": ["K", "m s-1", "Pa", "1"][i % 4],
        "level": i,
        "tags": ["bench", f"set{i % 7}"],
    }


def create_arrays(store, n):
    root = zarr.create_group(store=store)
    for i in range(n):
        root.create_array(f"v{i:04d}", shape=(1000,), chunks=(100,), dtype="f4", attributes=attrs(i))


@pytest.mark.parametrize("name", backends.ALL)
def test_create_arrays(benchmark, request, sizes, work, shared, name):
    rows = ["w5.create", "w5.create.commit"]
    if name == "icechunk-tuned":
        harness.same_as_writer(request, rows, name)
    backend = harness.use_backend(request, benchmark, rows, name, arrays=sizes.n_arrays)
    rounds = harness.Rounds(work / "w5" / name)

    def setup():
        return (backend.create(rounds.next()),), {}

    def run(h):
        sw = harness.Stopwatch()
        create_arrays(h.store, sizes.n_arrays)
        harness.extra(benchmark, "w5.create.only", sw.lap())
        h.commit(f"{sizes.n_arrays} arrays")
        harness.commit_phase(benchmark, backend, "w5.create.commit", sw.lap())

    benchmark.pedantic(run, setup=setup, rounds=sizes.arrays_rounds, iterations=1)
    shared[("arrays", name)] = rounds.current


@pytest.mark.parametrize("name", backends.ALL)
def test_update_one_chunk_each(benchmark, request, sizes, work, shared, name):
    rows = ["w5.update", "w5.update.commit"]
    if name == "icechunk-tuned":
        harness.same_as_writer(request, rows, name)
    backend = harness.use_backend(request, benchmark, rows, name, arrays=sizes.n_arrays)
    path = shared.get(("arrays", name))
    if path is None:
        path = work / "w5-update" / name
        h = backend.create(path)
        create_arrays(h.store, sizes.n_arrays)
        h.commit("arrays")
    h = backend.open_write(path)
    counter = iter(range(10**9))

    def setup():
        root = zarr.open_group(h.store, mode="r+")
        arrays = [root[f"v{i:04d}"] for i in range(sizes.n_arrays)]
        return (arrays, float(next(counter))), {}

    def run(arrays, value):
        sw = harness.Stopwatch()
        chunk = np.full(100, value, dtype="f4")
        for a in arrays:
            a[0:100] = chunk
        harness.extra(benchmark, "w5.update.only", sw.lap())
        h.commit("one chunk in each array")
        harness.commit_phase(benchmark, backend, "w5.update.commit", sw.lap())

    benchmark.pedantic(run, setup=setup, rounds=sizes.arrays_rounds, iterations=1)
    root = zarr.open_group(backend.open_read(path), mode="r")
    assert root[f"v{sizes.n_arrays - 1:04d}"][0] == float(sizes.arrays_rounds - 1)
