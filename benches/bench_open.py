"""Workload 7: opening a repo, and listing, with N chunks (1e4 quick, 1e5 full).

The repo holds one 1-D float32 array of N one-element chunks, written through the Store API
and committed. Each round uses new objects:

- open: repo open + read-only checkout of ``main`` + ``zarr.open_array``.
- first chunk: open untimed, then the timed read of one chunk (from the middle of the
  array); a design that loads the chunk index lazily pays for it here instead.
- list_prefix: a fresh read-only store is opened untimed; the timed part iterates
  ``store.list_prefix("tiny/")`` to the end (N chunk keys + ``zarr.json``).

LocalStore "open" is ``LocalStore(dir)`` + ``zarr.open_array`` (it has no repo or checkout).
"""

from __future__ import annotations

import backends
import harness
import pytest
import zarr


@pytest.fixture(scope="module")
def repos(sizes, work):
    """Writer name -> path of its N-chunk repo, built on first use."""
    built = {}

    def get(writer_name):
        if writer_name not in built:
            writer = backends.BACKENDS[writer_name]
            path = work / "w7" / writer_name
            h = writer.create(path)
            harness.create_tiny_array(h.store, "tiny", sizes.open_chunks)
            harness.set_raw(h.store, harness.tiny_items("tiny", sizes.open_chunks))
            h.commit("chunks")
            built[writer_name] = path
        return built[writer_name]

    return get


@pytest.mark.parametrize("name", backends.ALL)
def test_open_repo_checkout_array(benchmark, request, sizes, repos, name):
    backend = harness.use_backend(request, benchmark, "w7.open", name, chunks=sizes.open_chunks)
    path = repos(backend.writer)

    def run():
        return zarr.open_array(backend.open_read(path), path="tiny", mode="r")

    arr = benchmark.pedantic(run, rounds=sizes.open_rounds, iterations=1)
    assert arr.shape == (sizes.open_chunks,)


@pytest.mark.parametrize("name", backends.ALL)
def test_first_chunk_after_open(benchmark, request, sizes, repos, name):
    backend = harness.use_backend(request, benchmark, "w7.first", name, chunks=sizes.open_chunks)
    path = repos(backend.writer)

    def setup():
        return (zarr.open_array(backend.open_read(path), path="tiny", mode="r"),), {}

    def run(arr):
        return arr[sizes.open_chunks // 2]

    value = benchmark.pedantic(run, setup=setup, rounds=sizes.open_rounds, iterations=1)
    assert value == float(sizes.open_chunks // 2)


@pytest.mark.parametrize("name", backends.ALL)
def test_list_prefix(benchmark, request, sizes, repos, name):
    backend = harness.use_backend(request, benchmark, "w7.list", name, keys=sizes.open_chunks)
    path = repos(backend.writer)

    def setup():
        return (backend.open_read(path),), {}

    def run(store):
        return harness.count_prefix(store, "tiny/")

    n = benchmark.pedantic(run, setup=setup, rounds=sizes.list_rounds, iterations=1)
    assert n == sizes.open_chunks + 1
