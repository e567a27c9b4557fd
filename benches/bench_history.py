"""Workload 10: history maintenance. Does garbage collection cost grow with the repo, or with
what changed since the last run? And a diff?

For N in (1e4) quick, (1e5, 1e6) full: a 1-D float32 array of N chunks of 130 elements (520
bytes, distinct, so each is a chunk object: both versioned backends inline only chunks of at
most 512 bytes) is written through the zarr Store API (``Store._set_many``, batches of 10,000)
and committed (untimed by pytest; shown on its own row). Then, on that repo:

- GC, first run: zarrlake's ``garbage_collect(full=True)``, which reads every ref, manifest and
  chunk object, as a first run must; Icechunk's ``garbage_collect`` (always a full run). There
  is nothing to delete; the cost is finding that out.
- GC after 10 small commits: each round first makes 10 commits of one changed chunk (untimed),
  then collects. zarrlake's run is incremental (it asserts so): it reads what changed since the
  last run. Issue 11's target: at least 20 times faster than the first run at 1e6.
- diff: from the commit before the last 10 small commits to the tip of ``main``, chunk keys
  included (Icechunk's diff always lists them).

Both collect with no grace period (zarrlake ``older_than=0``, Icechunk
``delete_object_older_than=now``). LocalStore has no versions, so it is n/a.
"""

from __future__ import annotations

import struct
from typing import Any

import harness
import pytest

BACKENDS = ["zarrlake", "icechunk", "icechunk-tuned", "localstore"]
#: elements per chunk: 520 bytes of float32, just over both backends' inline limit (512)
CHUNK = 130
PAD = bytes(CHUNK * 4 - 8)
#: Icechunk writes these chunk objects at about 4,000 per second on a 2-core machine
ICECHUNK_MAX = 100_000


def _params() -> list[Any]:
    return [pytest.param(n, id=harness.human_count(n)) for n in harness.sizes().history_chunks]


def _rows(n: int) -> list[str]:
    return [f"w10.write.{n}", f"w10.gc.full.{n}", f"w10.gc.incr.{n}", f"w10.diff.{n}"]


def _skip_unless_versioned(request: Any, rows: list[str], name: str, n: int) -> None:
    if name == "localstore":
        harness.not_available(request, rows, name, "no versions: nothing to collect or compare")
    if name == "icechunk-tuned":
        harness.same_as_writer(request, rows, name)
    if name == "icechunk" and n > ICECHUNK_MAX:
        harness.not_available(
            request,
            rows,
            name,
            f"not run: writing {harness.human_count(n)} chunk objects into Icechunk takes about "
            f"{n // 4000 // 60} min on a 2-core machine (see its {harness.human_count(ICECHUNK_MAX)} rows)",
        )


def _chunk(i: int, version: int = 0) -> bytes:
    return struct.pack("<ii", i, version) + PAD


class History:
    """One backend's repo of N chunk objects, shared by this module's tests."""

    def __init__(self, h: Any, n: int, head: str | None) -> None:
        self.h, self.n, self.head = h, n, head
        self.commits = 0
        self.base: str | None = None

    def small_commits(self, count: int = 10) -> None:
        """``count`` commits of one changed chunk each (a new chunk object every time); ``base``
        becomes the commit before them. Consecutive commits change distinct chunks."""
        self.base = self.head
        for _ in range(count):
            self.commits += 1
            i = (self.commits * 7919) % self.n
            harness.set_raw(self.h.store, [(f"a/c/{i}", _chunk(i, self.commits))])
            self.head = self.h.commit_only(f"small commit {self.commits}")
            self.h.next_session()


def _history(benchmark: Any, shared: dict[Any, Any], work: Any, backend: Any, n: int) -> History:
    key = ("history", backend.name, n)
    if key not in shared:
        import zarr

        h = backend.create(work / backend.name / str(n))
        zarr.create_array(
            store=h.store, name="a", shape=(n * CHUNK,), chunks=(CHUNK,), dtype="f4", compressors=None, fill_value=-1
        )
        h.commit("create array")
        items = ((f"a/c/{i}", _chunk(i)) for i in range(n))

        def write() -> str | None:
            assert harness.set_raw(h.store, items) == n
            return h.commit_only(f"{n} chunks")

        seconds, head = harness.clock(write)
        h.next_session()
        harness.extra(benchmark, f"w10.write.{n}", seconds)
        shared[key] = History(h, n, head)
    return shared[key]


@pytest.mark.parametrize("n", _params())
@pytest.mark.parametrize("name", BACKENDS)
def test_gc_first_run(benchmark, request, sizes, work, shared, name, n):
    rows = _rows(n)
    _skip_unless_versioned(request, rows, name, n)
    backend = harness.use_backend(request, benchmark, rows[1], name, chunks=n)
    hist = _history(benchmark, shared, work, backend, n)
    request.node.user_properties.append(("row", rows[0]))
    run = hist.h.garbage_collect_full if backend.is_zarrlake else hist.h.garbage_collect
    report = benchmark.pedantic(run, rounds=sizes.history_rounds, iterations=1)
    if backend.is_zarrlake:
        assert not report.incremental and report.objects == 0, report
    else:
        assert report.chunks_deleted == 0, report


@pytest.mark.parametrize("n", _params())
@pytest.mark.parametrize("name", BACKENDS)
def test_gc_after_small_commits(benchmark, request, sizes, work, shared, name, n):
    row = f"w10.gc.incr.{n}"
    _skip_unless_versioned(request, [row], name, n)
    backend = harness.use_backend(request, benchmark, row, name, chunks=n)
    hist = _history(benchmark, shared, work, backend, n)
    if backend.is_zarrlake:
        hist.h.garbage_collect_full()  # the last run before the small commits, if -k skipped it

    def setup() -> tuple[tuple[()], dict[str, Any]]:
        hist.small_commits()
        return (), {}

    reports: list[Any] = []
    benchmark.pedantic(lambda: reports.append(hist.h.garbage_collect()), setup=setup, rounds=sizes.history_rounds)
    for report in reports:
        if backend.is_zarrlake:
            # Nothing became unreachable; the ended sessions of the 10 commits go.
            assert report.incremental and set(report.deleted) <= {"sessions"}, report
        else:
            assert report.chunks_deleted == 0, report


@pytest.mark.parametrize("n", _params())
@pytest.mark.parametrize("name", BACKENDS)
def test_diff_across_small_commits(benchmark, request, sizes, work, shared, name, n):
    row = f"w10.diff.{n}"
    _skip_unless_versioned(request, [row], name, n)
    backend = harness.use_backend(request, benchmark, row, name, chunks=n)
    hist = _history(benchmark, shared, work, backend, n)
    if hist.base is None:
        hist.small_commits()
    diff = benchmark.pedantic(hist.h.diff, args=(hist.base,), rounds=sizes.history_rounds * 2, iterations=1)
    if backend.is_zarrlake:
        changed = diff["a"].changed_keys
    else:
        changed = [f"a/c/{i}" for (i,) in diff.updated_chunks["/a"]]
    assert len(changed) == 10, changed
