"""Workload 4: commit scaling. Does commit cost grow with the repo, or with the change?

For N in (1e3, 1e4[, 1e5, 1e6]): a 1-D float32 array of N one-element chunks (4 bytes each:
inlined by both versioned backends) is created, its N chunk keys are written through the zarr
Store API (``Store._set_many`` in batches of 10,000, the same calls for every backend; zarr's
codec pipeline would dominate at 1e6 chunks), and the session is committed. The timed part is
the commit; the write is reported on its own row. Then, on top of each repo, one chunk is
changed and committed (timed together), several times: O(changed) means this stays flat as N
grows.

LocalStore has no commit, so it is n/a here.
"""

from __future__ import annotations

import harness
import pytest

VERSIONED = ["zarrlake", "icechunk", "icechunk-tuned", "localstore"]


def ids(n):
    return harness.human_count(n)


def _params():
    return [pytest.param(n, id=ids(n)) for n in harness.sizes().scaling]


@pytest.mark.parametrize("n", _params())
@pytest.mark.parametrize("name", VERSIONED)
def test_commit_after_n_chunks(benchmark, request, sizes, work, shared, name, n):
    rows = [f"w4.commit.{n}", f"w4.write.{n}"]
    if name == "localstore":
        harness.not_available(request, rows, name, "no commit step")
    if name == "icechunk-tuned":
        harness.same_as_writer(request, rows, name)
    backend = harness.use_backend(request, benchmark, rows, name, chunks=n)
    rounds = harness.Rounds(work / "w4" / name / str(n))

    def setup():
        h = backend.create(rounds.next())
        harness.create_tiny_array(h.store, "tiny", n)
        h.commit("create array")
        items = harness.tiny_items("tiny", n)
        seconds, written = harness.clock(lambda: harness.set_raw(h.store, items))
        assert written == n
        harness.extra(benchmark, f"w4.write.{n}", seconds)
        return (h,), {}

    def run(h):
        h.commit(f"{n} chunks")

    benchmark.pedantic(run, setup=setup, rounds=sizes.scaling_rounds_for(n), iterations=1)
    shared[("scaling", name, n)] = rounds.current


@pytest.mark.parametrize("n", _params())
@pytest.mark.parametrize("name", VERSIONED)
def test_one_chunk_commit_on_top(benchmark, request, sizes, work, shared, name, n):
    row = f"w4.one.{n}"
    if name == "localstore":
        harness.not_available(request, row, name, "no commit step")
    if name == "icechunk-tuned":
        harness.same_as_writer(request, row, name)
    backend = harness.use_backend(request, benchmark, row, name, chunks=n)
    path = shared.get(("scaling", name, n))
    if path is None:
        path = work / "w4-one" / name / str(n)
        h = backend.create(path)
        harness.create_tiny_array(h.store, "tiny", n)
        harness.set_raw(h.store, harness.tiny_items("tiny", n))
        h.commit(f"{n} chunks")
    h = backend.open_write(path)
    counter = iter(range(10**9))

    def run():
        i = next(counter)
        harness.set_raw(h.store, [(f"tiny/c/{(i * 7919) % n}", b"\x00\x00\x80\xbf")])
        h.commit("one chunk")

    benchmark.pedantic(run, rounds=sizes.one_chunk_rounds, iterations=1)
