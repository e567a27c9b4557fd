"""S3 workloads S1-S5: zarrlake and Icechunk on one local S3 server, side by side.

The module starts a moto S3 server on 127.0.0.1 and a counting proxy in front of it
(``s3env.py``), and stops both when it is done. Both systems connect to the proxy, so every
timing includes the same extra local hop, and the proxy counts each system's HTTP requests the
same way: its counters are reset right before a measured call and read right after it. For
zarrlake the handle's own ``request_counts()`` over the same window is recorded alongside (the
proxy's GET is zarrlake's get + list). Each backend writes under its own prefix of one bucket;
a round's objects are deleted (untimed, straight to moto) when the next round starts.

- S1 bulk: 32 MiB / 256 MiB of float32, 2-D, 512 x 512 chunks of 1 MiB, uncompressed; one
  ``arr[...] = data`` then commit (rows: both, and the commit); then read whole in a fresh
  process (``_child.py``; the child's own time around open + checkout + array open + read).
- S2 small chunks: 2e3 / 1e4 chunks of 4 KiB, one ``arr[:] = data`` then commit; then read back
  whole through a fresh read-only store (opened untimed).
- S3 many arrays: 100 / 500 arrays with attributes, one chunk written in each, then commit.
- S4 sequential commits: 30 / 200 times write one chunk (Store API) and commit.
- S5 open: repo open + read-only checkout + ``zarr.open_array`` of the S2 repo; then (opened
  untimed) the read of one chunk.

"commit" is exactly the commit call: ``repo.commit`` for zarrlake (which also starts the next
session) and ``session.commit`` for Icechunk; Icechunk's next ``writable_session("main")`` is
measured separately in S4 (row ``s3.w4.next``, shown in the notes).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import backends
import harness
import numpy as np
import pytest
import s3env
import zarr
from bench_bulk import create_bulk_array
from bench_many_arrays import attrs
from bench_small_chunks import CHUNK, create_small_array, small_data

CHILD = Path(__file__).resolve().parent / "_child.py"


# ---- fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def s3():
    """The local S3 (moto + counting proxy) for this module; None (cells n/a) without moto."""
    t0 = time.perf_counter()
    try:
        env = s3env.S3Env.start()
    except ImportError as e:
        s3env.INFO["unavailable"] = f"cannot start moto: {e}"
        yield None
        return
    try:
        s3env.INFO["icechunk_s3_settings"] = _safe(backends.icechunk_s3_settings_description)
        s3env.INFO["warm_up_s"] = round(harness.clock(lambda: warm_up(env))[0], 3)
        yield env
    finally:
        env.stop()
        # the whole S3 part: server start, warm-up, every S3 test, server stop
        s3env.INFO["wall_s"] = round(time.perf_counter() - t0, 1)


def _safe(fn):
    try:
        return fn()
    except Exception as e:  # pragma: no cover - recorded, not fatal
        return f"unavailable: {e}"


def warm_up(env):
    """One tiny write + commit + read per backend before anything is measured, so that
    one-time client setup (connection pools, zarrlake's once-per-process conditional-put check
    of the bucket) falls in no measured window."""
    for name in backends.S3:
        backend = backends.BACKENDS[name]
        prefix = f"{name}/warm-up"
        h = backend.create(prefix)
        harness.create_tiny_array(h.store, "tiny", 4)
        harness.set_raw(h.store, harness.tiny_items("tiny", 4))
        h.commit("warm up")
        arr = zarr.open_array(backend.open_read(prefix), path="tiny", mode="r")
        assert arr[3] == 3.0
        env.delete_prefix(prefix)


@pytest.fixture(scope="module")
def s3_bulk(sizes):
    """The S1 payload: the first rows of the bulk field (32 MiB quick, 256 MiB full)."""
    return np.ascontiguousarray(harness.bulk_data(sizes.s3_bulk_side)[: sizes.s3_bulk_rows])


@pytest.fixture(scope="module")
def s3_small(sizes):
    return small_data(sizes.s3_small_chunks)


class S3Rounds:
    """A new prefix per round (``{backend}/{workload}/r{n}``); the previous round's objects
    are deleted as the next round starts."""

    def __init__(self, env, base):
        self.env, self.base, self.n, self.current = env, base, 0, None

    def next(self):
        if self.current is not None:
            self.env.delete_prefix(self.current)
        self.current = f"{self.base}/r{self.n}"
        self.n += 1
        return self.current


def metered(env, counter, fn):
    """Run ``fn`` with the proxy's (and zarrlake's own) counters reset right before it and
    read right after: (seconds, Meter, result)."""
    env.reset_counts(counter)
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    return dt, env.read_counts(counter), out


def summed(*meters):
    proxy = {}
    own = None if any(m.own is None for m in meters) else {}
    for m in meters:
        proxy = s3env.add(proxy, m.proxy)
        if own is not None:
            own = s3env.add(own, m.own)
    return s3env.Meter(proxy, own)


def start(request, benchmark, s3, rows, name, **info):
    backend = harness.use_backend(request, benchmark, rows, name, **info)
    assert s3 is not None  # use_backend made the cells n/a otherwise
    return backend


# ---- S1: bulk -------------------------------------------------------------------------------
def write_then_commit(benchmark, s3, h, row: str, write, message: str) -> None:
    """Times and meters ``write`` and then the commit on their own rows (``<row>.write.only``,
    ``<row>.commit``); the requests of both together go on ``<row>.write``."""
    tw, mw, _ = metered(s3, h.counter, write)
    tc, mc, _ = metered(s3, h.counter, lambda: h.commit_only(message))
    harness.extra(benchmark, f"{row}.write.only", tw)
    harness.extra(benchmark, f"{row}.commit", tc)
    harness.requests(benchmark, f"{row}.write", summed(mw, mc))
    harness.requests(benchmark, f"{row}.commit", mc)


@pytest.mark.parametrize("name", backends.S3)
def test_s3_bulk_write(benchmark, request, sizes, s3, s3_bulk, shared, name):
    rows = ["s3.w1.write", "s3.w1.commit"]
    backend = start(request, benchmark, s3, rows, name, bytes=s3_bulk.nbytes)
    rounds = S3Rounds(s3, f"{name}/w1")

    def setup():
        h = backend.create(rounds.next())
        return (h, create_bulk_array(h.store, s3_bulk.shape, "raw")), {}

    def run(h, arr):
        def write():
            arr[...] = s3_bulk

        write_then_commit(benchmark, s3, h, "s3.w1", write, "bulk write")

    benchmark.pedantic(run, setup=setup, rounds=sizes.s3_bulk_rounds, iterations=1)
    shared[("s3-bulk", name)] = rounds.current


@pytest.mark.parametrize("name", backends.S3)
def test_s3_bulk_read_fresh_process(benchmark, request, sizes, s3, s3_bulk, shared, name):
    backend = start(request, benchmark, s3, "s3.w1.read", name, bytes=s3_bulk.nbytes)
    prefix = shared.get(("s3-bulk", name))
    if prefix is None:
        prefix = f"{name}/w1-read"
        h = backend.create(prefix)
        create_bulk_array(h.store, s3_bulk.shape, "raw")[...] = s3_bulk
        h.commit("bulk")
    checksum = float(s3_bulk.sum(dtype=np.float64))

    def run():
        s3.reset_counts()
        proc = subprocess.run([sys.executable, str(CHILD), "read-bulk", name, prefix], capture_output=True, text=True)
        meter = s3.read_counts()
        if proc.returncode != 0:
            raise RuntimeError(f"child failed: {proc.stderr.strip()[-1000:]}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        meter.own = out.get("requests")
        harness.inner(benchmark, out["seconds"])
        harness.requests(benchmark, "s3.w1.read", meter)
        return out

    out = benchmark.pedantic(run, rounds=sizes.s3_bulk_read_rounds, iterations=1)
    assert out["shape"] == list(s3_bulk.shape)
    assert out["checksum"] == checksum, "fresh-process read returned other data"
    s3.delete_prefix(prefix)  # 256 MiB per backend in full mode: free moto's memory


# ---- S2: many small chunks ------------------------------------------------------------------
def s3_small_repo(s3, backend, shared, data, n):
    """The S2 repo of ``backend`` (the last write round's), built here if S2 write did not run."""
    prefix = shared.get(("s3-small", backend.name))
    if prefix is None:
        prefix = f"{backend.name}/w2-built"
        h = backend.create(prefix)
        create_small_array(h.store, n)[:] = data
        h.commit("small chunks")
        shared[("s3-small", backend.name)] = prefix
    return prefix


@pytest.mark.parametrize("name", backends.S3)
def test_s3_small_chunks_write(benchmark, request, sizes, s3, s3_small, shared, name):
    rows = ["s3.w2.write", "s3.w2.commit"]
    backend = start(request, benchmark, s3, rows, name, chunks=sizes.s3_small_chunks)
    rounds = S3Rounds(s3, f"{name}/w2")

    def setup():
        h = backend.create(rounds.next())
        return (h, create_small_array(h.store, sizes.s3_small_chunks)), {}

    def run(h, arr):
        def write():
            arr[:] = s3_small

        write_then_commit(benchmark, s3, h, "s3.w2", write, "small chunks")

    benchmark.pedantic(run, setup=setup, rounds=sizes.s3_small_rounds, iterations=1)
    shared[("s3-small", name)] = rounds.current


@pytest.mark.parametrize("name", backends.S3)
def test_s3_small_chunks_read(benchmark, request, sizes, s3, s3_small, shared, name):
    backend = start(request, benchmark, s3, "s3.w2.read", name, chunks=sizes.s3_small_chunks)
    prefix = s3_small_repo(s3, backend, shared, s3_small, sizes.s3_small_chunks)

    def setup():
        obj = backend.open_repo_read(prefix)
        arr = zarr.open_array(obj.store, path="small", mode="r")
        s3.reset_counts(_counter(backend, obj))
        return (obj, arr), {}

    def run(obj, arr):
        out = arr[:]
        harness.requests(benchmark, "s3.w2.read", s3.read_counts(_counter(backend, obj)))
        return out

    out = benchmark.pedantic(run, setup=setup, rounds=sizes.s3_small_read_rounds, iterations=1)
    assert np.array_equal(out, s3_small)


def _counter(backend, obj):
    return obj if backend.is_zarrlake else None


# ---- S3: many arrays in one commit ----------------------------------------------------------
@pytest.mark.parametrize("name", backends.S3)
def test_s3_many_arrays_commit(benchmark, request, sizes, s3, name):
    rows = ["s3.w3.create", "s3.w3.commit"]
    n = sizes.s3_n_arrays
    backend = start(request, benchmark, s3, rows, name, arrays=n)
    rounds = S3Rounds(s3, f"{name}/w3")
    chunk = np.arange(100, dtype="f4")

    def setup():
        return (backend.create(rounds.next()),), {}

    def run(h):
        def create():
            root = zarr.create_group(store=h.store)
            for i in range(n):
                a = root.create_array(f"v{i:04d}", shape=(1000,), chunks=(100,), dtype="f4", attributes=attrs(i))
                a[0:100] = chunk

        tw, mw, _ = metered(s3, h.counter, create)
        tc, mc, _ = metered(s3, h.counter, lambda: h.commit_only(f"{n} arrays"))
        harness.extra(benchmark, "s3.w3.create.only", tw)
        harness.extra(benchmark, "s3.w3.commit", tc)
        harness.requests(benchmark, "s3.w3.create", summed(mw, mc))
        harness.requests(benchmark, "s3.w3.commit", mc)

    benchmark.pedantic(run, setup=setup, rounds=sizes.s3_arrays_rounds, iterations=1)
    root = zarr.open_group(backend.open_read(rounds.current), mode="r")
    assert root[f"v{n - 1:04d}"][99] == 99.0
    assert root[f"v{n - 1:04d}"].attrs["level"] == n - 1
    s3.delete_prefix(rounds.current)


# ---- S4: sequential commits -----------------------------------------------------------------
@pytest.mark.parametrize("name", backends.S3)
def test_s3_sequential_commits(benchmark, request, sizes, s3, name):
    rows = ["s3.w4.total", "s3.w4.commit"]
    n = sizes.s3_n_commits
    backend = start(request, benchmark, s3, rows, name, commits=n)
    rounds = S3Rounds(s3, f"{name}/w4")

    def setup():
        h = backend.create(rounds.next())
        harness.create_tiny_array(h.store, "tiny", n)
        h.commit("create array")
        return (h,), {}

    def run(h):
        meters = []
        for key, data in harness.tiny_items("tiny", n):
            _, mw, _ = metered(s3, h.counter, lambda k=key, d=data: harness.set_raw(h.store, [(k, d)]))
            tc, mc, _ = metered(s3, h.counter, lambda k=key: h.commit_only(k))
            harness.extra(benchmark, "s3.w4.commit", tc)
            harness.requests(benchmark, "s3.w4.commit", mc)
            meters += [mw, mc]
            if backend.is_icechunk:  # zarrlake's commit started its next session itself
                tn, mn, _ = metered(s3, None, h.next_session)
                harness.extra(benchmark, "s3.w4.next", tn)
                harness.requests(benchmark, "s3.w4.next", mn)
                meters.append(mn)
        harness.requests(benchmark, "s3.w4.total", summed(*meters))

    benchmark.pedantic(run, setup=setup, rounds=sizes.s3_commits_rounds, iterations=1)
    arr = zarr.open_array(backend.open_read(rounds.current), path="tiny", mode="r")
    assert arr[n - 1] == float(n - 1)
    assert len(benchmark.extra_info["extra_rows"]["s3.w4.commit"]) == n * sizes.s3_commits_rounds
    s3.delete_prefix(rounds.current)


# ---- S5: open, checkout, first read ---------------------------------------------------------
@pytest.mark.parametrize("name", backends.S3)
def test_s3_open_repo_checkout_array(benchmark, request, sizes, s3, s3_small, shared, name):
    backend = start(request, benchmark, s3, "s3.w5.open", name, chunks=sizes.s3_small_chunks)
    prefix = s3_small_repo(s3, backend, shared, s3_small, sizes.s3_small_chunks)

    def run():
        s3.reset_counts()
        obj = backend.open_repo_read(prefix)
        arr = zarr.open_array(obj.store, path="small", mode="r")
        meter = s3.read_counts(_counter(backend, obj))  # a new handle counts from zero
        harness.requests(benchmark, "s3.w5.open", meter)
        return arr

    arr = benchmark.pedantic(run, rounds=sizes.s3_open_rounds, iterations=1)
    assert arr.shape == (sizes.s3_small_chunks * CHUNK,)


@pytest.mark.parametrize("name", backends.S3)
def test_s3_first_chunk_after_open(benchmark, request, sizes, s3, s3_small, shared, name):
    backend = start(request, benchmark, s3, "s3.w5.first", name, chunks=sizes.s3_small_chunks)
    prefix = s3_small_repo(s3, backend, shared, s3_small, sizes.s3_small_chunks)
    index = (sizes.s3_small_chunks // 2) * CHUNK + 7

    def setup():
        obj = backend.open_repo_read(prefix)
        arr = zarr.open_array(obj.store, path="small", mode="r")
        s3.reset_counts(_counter(backend, obj))
        return (obj, arr), {}

    def run(obj, arr):
        value = arr[index]
        harness.requests(benchmark, "s3.w5.first", s3.read_counts(_counter(backend, obj)))
        return value

    value = benchmark.pedantic(run, setup=setup, rounds=sizes.s3_open_rounds, iterations=1)
    assert value == s3_small[index]
