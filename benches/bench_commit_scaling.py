"""Workload 4: commit scaling. Does commit cost grow with the repo, or with the change?

For N in (1e3, 1e4[, 1e5, 1e6]): a 1-D float32 array of N one-element chunks (4 bytes each:
inlined by both versioned backends) is created, its N chunk keys are written through the zarr
Store API (``Store._set_many`` in batches of 10,000, the same calls for every backend; zarr's
codec pipeline would dominate at 1e6 chunks), and the session is committed. The timed part is
the commit; the write is reported on its own row. Then, on top of each repo, one chunk is
changed and committed (timed together), several times: O(changed) means this stays flat as N
grows.

Workload 4m (issue 10, target 7: a commit of 1e7 references stays under 2 GiB of resident
memory): in a new interpreter (``_child.py commit-refs``), a 1-D int32 array of N one-element
chunks (N = 2e5 quick, 1e7 full) is created and committed, N distinct chunks are written the
same way, and committed. The child reports the write's and the commit's time, the resident
memory right before the commit and the peak resident memory (absolute: the whole process) of
the write and of the commit. zarrlake only: Icechunk's 1e6-chunk write alone takes minutes.

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


REFS_ROWS = ["w4m.write", "w4m.write.rss", "w4m.commit", "w4m.before.rss", "w4m.commit.rss"]
RSS_PEAK = "peak RSS of the whole child process (VmHWM, reset with clear_refs right before), absolute"
RSS_NOW = "RSS of the whole child process (VmRSS), absolute"


@pytest.mark.parametrize("name", VERSIONED)
def test_commit_refs_fresh_process(benchmark, request, sizes, work, name):
    """4m: write N tiny chunks and commit them in a new interpreter; times and resident memory."""
    n = sizes.commit_refs
    if name == "localstore":
        harness.not_available(request, REFS_ROWS, name, "no commit step")
    if name == "icechunk":
        full = harness.human_count(harness.sizes("full").commit_refs)
        harness.not_available(
            request,
            REFS_ROWS,
            name,
            f"not run: the full-size row is {full} chunks, and Icechunk's 1e6-chunk write (row 4) "
            f"alone takes about 200 s on a 2-core machine, so {full} would take over half an hour",
        )
    if name == "icechunk-tuned":
        harness.same_as_writer(request, REFS_ROWS, name)
    harness.use_backend(request, benchmark, REFS_ROWS, name, chunks=n)
    path = work / "w4m" / name

    def setup():
        harness.rmtree(path)
        return (), {}

    def run():
        out = harness.run_child("commit-refs", name, str(path), str(n))
        write, commit = out["write"], out["commit"]
        harness.inner(benchmark, write["seconds"])
        harness.extra(benchmark, "w4m.commit", commit["seconds"])
        harness.memory(benchmark, "w4m.write.rss", write["peak_rss"], RSS_PEAK)
        harness.memory(benchmark, "w4m.before.rss", commit["rss_before"], RSS_NOW)
        harness.memory(benchmark, "w4m.commit.rss", commit["peak_rss"], RSS_PEAK)
        benchmark.extra_info.setdefault("rss", []).append(
            {"write": write, "commit": commit, **{k: out[k] for k in ("rss_after_commit", "ru_maxrss")}}
        )
        return out

    out = benchmark.pedantic(run, setup=setup, rounds=1, iterations=1)
    harness.rmtree(path)
    assert out["n"] == out["written"] == n
    assert out["probes"] == {str(i): i + 1 for i in sorted({0, n // 2, n - 1})}, out["probes"]
    assert out["write"]["peak_reset"] and out["commit"]["peak_reset"], "VmHWM could not be reset"
