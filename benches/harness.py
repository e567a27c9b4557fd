"""Shared pieces of the benchmark suite: sizes per mode, the row registry, data and helpers.

Imported by the workload modules (pytest puts this directory on ``sys.path``), by the
fresh-process child script and by ``run.py`` (which only needs the row registry).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
BENCH_DIR = Path(__file__).resolve().parent
MODE = os.environ.get("ZL_BENCH_MODE", "full")


@dataclass(frozen=True)
class Sizes:
    # workload 1/2: 2-D float32, 1 MiB chunks of 512 x 512
    bulk_side: int
    bulk_write_rounds: int
    bulk_read_rounds: int
    # workload 3
    small_chunks: int
    small_rounds: int
    small_read_rounds: int
    # workload 3s (bench_store_api.py), N = small_chunks
    store_api_rounds: int
    # workload 4
    scaling: tuple[int, ...]
    one_chunk_rounds: int
    # workload 4m (bench_commit_scaling.py): a commit of this many new chunk references, in a
    # fresh process (1 round)
    commit_refs: int
    # workload 5
    n_arrays: int
    arrays_rounds: int
    # workload 6
    n_commits: int
    commits_rounds: int
    # workload 7
    open_chunks: int
    open_rounds: int
    list_rounds: int
    # workload 8
    n_nodes: int
    meta_rounds: int
    # workload 9
    import_rounds: int
    # workload 10 (bench_history.py): repos of this many 520-byte chunk objects
    history_chunks: tuple[int, ...]
    history_rounds: int
    # physical limits
    phys_rounds: int
    # S3 workloads (bench_s3.py), S1-S5
    s3_bulk_side: int  # S1: (s3_bulk_rows x s3_bulk_side) float32 in 512 x 512 chunks of 1 MiB
    s3_bulk_rows: int
    s3_bulk_rounds: int
    s3_bulk_read_rounds: int
    s3_small_chunks: int  # S2: 4 KiB chunks
    s3_small_rounds: int
    s3_small_read_rounds: int
    s3_n_arrays: int  # S3
    s3_arrays_rounds: int
    s3_n_commits: int  # S4
    s3_commits_rounds: int
    s3_open_rounds: int  # S5, on the S2 repo
    #: rounds for the commit-after-N test, by N (default 3)
    scaling_rounds: dict[int, int] = field(default_factory=dict)

    @property
    def bulk_bytes(self) -> int:
        return self.bulk_side * self.bulk_side * 4

    @property
    def s3_bulk_bytes(self) -> int:
        return self.s3_bulk_rows * self.s3_bulk_side * 4

    def scaling_rounds_for(self, n: int) -> int:
        return self.scaling_rounds.get(n, 3)


SIZES = {
    "quick": Sizes(
        bulk_side=4096,  # 64 MiB
        bulk_write_rounds=3,
        bulk_read_rounds=3,
        small_chunks=10_000,
        small_rounds=1,
        small_read_rounds=3,
        store_api_rounds=3,
        scaling=(1_000, 10_000),
        one_chunk_rounds=5,
        commit_refs=200_000,
        n_arrays=50,
        arrays_rounds=3,
        n_commits=20,
        commits_rounds=3,
        open_chunks=10_000,
        open_rounds=5,
        list_rounds=3,
        n_nodes=1_000,
        meta_rounds=3,
        import_rounds=5,
        history_chunks=(10_000,),
        history_rounds=3,
        phys_rounds=5,
        s3_bulk_side=4096,
        s3_bulk_rows=2048,  # 32 MiB
        s3_bulk_rounds=3,
        s3_bulk_read_rounds=3,
        s3_small_chunks=2_000,
        s3_small_rounds=1,
        s3_small_read_rounds=1,
        s3_n_arrays=100,
        s3_arrays_rounds=1,
        s3_n_commits=30,
        s3_commits_rounds=1,
        s3_open_rounds=5,
    ),
    "full": Sizes(
        bulk_side=16384,  # 1 GiB
        bulk_write_rounds=3,
        bulk_read_rounds=3,
        small_chunks=100_000,
        small_rounds=1,
        small_read_rounds=1,
        store_api_rounds=1,
        scaling=(1_000, 10_000, 100_000, 1_000_000),
        one_chunk_rounds=5,
        commit_refs=10_000_000,
        n_arrays=500,
        arrays_rounds=3,
        n_commits=200,
        commits_rounds=3,
        open_chunks=100_000,
        open_rounds=7,
        list_rounds=3,
        n_nodes=10_000,
        meta_rounds=3,
        import_rounds=11,
        history_chunks=(100_000, 1_000_000),
        history_rounds=3,
        phys_rounds=5,
        s3_bulk_side=8192,
        s3_bulk_rows=8192,  # 256 MiB
        s3_bulk_rounds=3,
        s3_bulk_read_rounds=3,
        s3_small_chunks=10_000,
        s3_small_rounds=1,
        s3_small_read_rounds=1,
        s3_n_arrays=500,
        s3_arrays_rounds=2,
        s3_n_commits=200,
        s3_commits_rounds=1,
        s3_open_rounds=5,
        scaling_rounds={100_000: 2, 1_000_000: 1},
    ),
}


def sizes(mode: str | None = None) -> Sizes:
    return SIZES[mode or MODE]


def sizes_dict(mode: str | None = None) -> dict[str, Any]:
    d = asdict(sizes(mode))
    d["scaling_rounds"] = {str(k): v for k, v in d["scaling_rounds"].items()}
    return d


def human_count(n: int) -> str:
    for exp in range(9, 2, -1):
        if n == 10**exp:
            return f"1e{exp}"
    return f"{n:,}"


def human_bytes(n: int) -> str:
    if n >= 1024**3 and n % 1024**3 == 0:
        return f"{n // 1024**3} GiB"
    if n >= MIB:
        return f"{n / MIB:g} MiB"
    return f"{n / 1024:g} KiB"


# ---- the row registry: ids, labels and the order of the table -----------------------------
def rows(mode: str | None = None) -> list[tuple[str, str]]:
    """(row id, label) in table order. Labels carry the sizes of the mode."""
    s = sizes(mode)
    bulk = human_bytes(s.bulk_bytes)
    small = human_count(s.small_chunks)
    out = [
        ("phys.memcpy", f"0 memcpy {bulk}"),
        ("phys.write", f"0 sequential file write {bulk}"),
        ("phys.read", f"0 sequential file read {bulk}"),
        ("w1.raw", f"1 write {bulk} f4, 1 MiB chunks, raw + commit"),
        ("w1.zstd", f"1 write {bulk} f4, 1 MiB chunks, zstd + commit"),
        ("w2.raw", f"2 read {bulk} raw, fresh process"),
        ("w2.zstd", f"2 read {bulk} zstd, fresh process"),
        ("w3.write", f"3 write {small} x 4 KiB chunks + commit"),
        ("w3.commit", "3   of which: commit"),
        ("w3.read", f"3 read {small} x 4 KiB chunks"),
        ("w3s.set", f"3s store API: {small} x 4 KiB set, 1,000 in flight"),
        ("w3s.get", f"3s store API: {small} x 4 KiB get, 1,000 in flight"),
    ]
    for n in s.scaling:
        out += [
            (f"w4.write.{n}", f"4 write {human_count(n)} tiny chunks (store API)"),
            (f"w4.commit.{n}", f"4 commit {human_count(n)} new chunks"),
            (f"w4.one.{n}", f"4 change 1 chunk + commit, on {human_count(n)}"),
        ]
    refs = human_count(s.commit_refs)
    out += [
        ("w4m.write", f"4m write {refs} tiny chunks (store API), fresh process"),
        ("w4m.write.rss", "4m   peak RSS during the write"),
        ("w4m.commit", f"4m commit {refs} new chunks"),
        ("w4m.before.rss", "4m   RSS before the commit"),
        ("w4m.commit.rss", "4m   peak RSS during the commit (target < 2 GiB)"),
    ]
    out += [
        ("w5.create", f"5 create {s.n_arrays} arrays with attrs + commit"),
        ("w5.create.commit", "5   of which: commit"),
        ("w5.update", f"5 1 chunk in each of {s.n_arrays} arrays + commit"),
        ("w5.update.commit", "5   of which: commit"),
        ("w6.commits", f"6 {s.n_commits} sequential small commits"),
        ("w7.open", f"7 open repo+checkout+array ({human_count(s.open_chunks)} chunks)"),
        ("w7.first", "7   then read first chunk"),
        ("w7.list", f"7 list_prefix over {human_count(s.open_chunks)} keys"),
        ("w8.filter", f"8 filter_metadata, {human_count(s.n_nodes)} nodes (others: walk)"),
        ("w8.walk", "8 walk hierarchy + jmespath (zarr API)"),
        ("w9.import", "9 import (fresh interpreter)"),
    ]
    for n in s.history_chunks:
        c = human_count(n)
        out += [
            (f"w10.write.{n}", f"10 write {c} chunks of 520 B (store API) + commit"),
            (f"w10.gc.full.{n}", f"10 GC, first (full) run, on {c} chunks"),
            (f"w10.gc.incr.{n}", f"10 GC after 10 small commits, on {c} (target: 20x faster)"),
            (f"w10.diff.{n}", f"10 diff across 10 small commits, on {c}"),
        ]
    return out


def s3_rows(mode: str | None = None) -> list[tuple[str, str]]:
    """(row id, label) of the S3 section (bench_s3.py), in table order."""
    s = sizes(mode)
    bulk = human_bytes(s.s3_bulk_bytes)
    small = human_count(s.s3_small_chunks)
    return [
        ("s3.w1.write", f"S1 write {bulk} f4, 1 MiB chunks, raw + commit"),
        ("s3.w1.commit", "S1   of which: commit"),
        ("s3.w1.read", f"S1 read {bulk} raw, fresh process"),
        ("s3.w2.write", f"S2 write {small} x 4 KiB chunks + commit"),
        ("s3.w2.commit", "S2   of which: commit"),
        ("s3.w2.read", f"S2 read {small} x 4 KiB chunks"),
        ("s3.w3.create", f"S3 create {s.s3_n_arrays} arrays (attrs + 1 chunk each) + commit"),
        ("s3.w3.commit", "S3   of which: commit"),
        ("s3.w4.total", f"S4 {s.s3_n_commits} sequential commits of 1 chunk, total"),
        ("s3.w4.commit", "S4   per commit (median of all)"),
        ("s3.w5.open", f"S5 open repo+checkout+array ({small} chunks)"),
        ("s3.w5.first", "S5   then read first chunk"),
    ]


def native_rows(mode: str | None = None) -> list[tuple[str, str]]:
    """(row id, label) of the native-engine section (bench_native.py), in table order."""
    bulk = human_bytes(sizes(mode).bulk_bytes)
    out = []
    for codec in ("raw", "zstd"):
        out += [
            (f"n1.{codec}", f"N1 write {bulk} f4, 1 MiB chunks, {codec} + commit"),
            (f"n1.{codec}.rss", "N1   peak RSS above the payload"),
        ]
    out += [(f"n2.{codec}", f"N2 read {bulk} {codec}, fresh process") for codec in ("raw", "zstd")]
    slab = human_bytes(stream_slab_bytes(mode))
    for total in stream_sizes(mode):
        out += [
            (f"n3.{total}", f"N3 stream {human_bytes(total)} raw in {slab} slabs + commit"),
            (f"n3.{total}.rss", "N3   peak RSS above the start"),
        ]
    return out


def stream_sizes(mode: str | None = None) -> list[int]:
    """Array sizes of the streaming rows (N3): the same slab size, arrays 4x apart."""
    s = sizes(mode)
    return [s.bulk_bytes, 4 * s.bulk_bytes]


def stream_slab_bytes(mode: str | None = None) -> int:
    """Whole rows of 1 MiB chunks (16 MiB: 512 rows of 8192 f4), so no slab splits a chunk."""
    return max(16 << 20, sizes(mode).bulk_bytes // 16)


def is_native_row(row: str) -> bool:
    return row[:1] == "n" and row[1:2].isdigit()


# ---- recording ------------------------------------------------------------------------------
def tag(benchmark: Any, request: Any, row: str, backend: str, **info: Any) -> None:
    """Label a benchmark with its table row and backend.

    The labels go into pytest-benchmark's ``extra_info`` (and so into its JSON) and into the
    test report's ``user_properties``, which conftest uses to report skips and failures.
    """
    if benchmark is not None:
        benchmark.extra_info.update({"row": row, "backend": backend, **info})
    request.node.user_properties.append(("row", row))
    request.node.user_properties.append(("backend", backend))


def not_available(request: Any, row: str | Iterable[str], backend: str, reason: str) -> None:
    """Record that ``backend`` cannot do ``row`` (shown as n/a) and skip the test."""
    import pytest

    for r in [row] if isinstance(row, str) else row:
        request.node.user_properties.append(("row", r))
    request.node.user_properties.append(("backend", backend))
    pytest.skip(f"n/a: {reason}")


def same_as_writer(
    request: Any,
    row: str | Iterable[str],
    backend: str,
    reason: str = "only the read request size differs; writes are the Icechunk column's",
) -> None:
    """Skip a row that a read-side configuration cannot change; the table shows "=" there."""
    import pytest

    for r in [row] if isinstance(row, str) else row:
        request.node.user_properties.append(("row", r))
    request.node.user_properties.append(("backend", backend))
    pytest.skip(f"same: {reason}")


def extra(benchmark: Any, row: str, seconds: float) -> None:
    """A secondary measurement taken during the rounds (e.g. the commit phase of a write)."""
    benchmark.extra_info.setdefault("extra_rows", {}).setdefault(row, []).append(seconds)


def requests(benchmark: Any, row: str, meter: Any) -> None:
    """The HTTP requests counted during one window of ``row`` (an ``s3env.Meter``)."""
    benchmark.extra_info.setdefault("requests", {}).setdefault(row, []).append(meter.as_dict())


def na_row(benchmark: Any, row: str, reason: str) -> None:
    """Mark a secondary row n/a for this benchmark's backend (e.g. no commit step)."""
    benchmark.extra_info.setdefault("na_rows", {})[row] = reason


def commit_phase(benchmark: Any, backend: Any, row: str, seconds: float) -> None:
    """Record the commit phase, or n/a for a backend without commits."""
    if backend.commits:
        extra(benchmark, row, seconds)
    else:
        na_row(benchmark, row, "no commit step")


def memory(benchmark: Any, row: str, nbytes: int, source: str | None = None) -> None:
    """A memory measurement (bytes) taken during the rounds; shown on its own row.

    ``source`` says what the number is (the JSON keeps it); without it, a peak above the
    resident memory right before the measured part, as the native section's rows are.
    """
    benchmark.extra_info.setdefault("memory_rows", {}).setdefault(row, []).append(nbytes)
    if source is not None:
        benchmark.extra_info.setdefault("memory_sources", {})[row] = source


def read_fresh(benchmark: Any, name: str, path: Any, rounds: int) -> dict[str, Any]:
    """Rounds of reading the "bulk" array in a new interpreter each, timed by the child."""

    def run() -> dict[str, Any]:
        out = run_child("read-bulk", name, str(path))
        inner(benchmark, out["seconds"])
        return out

    return benchmark.pedantic(run, rounds=rounds, iterations=1)


def inner(benchmark: Any, seconds: float) -> None:
    """A time measured inside a child process; the table uses these instead of wall time."""
    benchmark.extra_info.setdefault("inner_s", []).append(seconds)


def timed_part(benchmark: Any, seconds: float) -> None:
    """The timed part of a round that also does untimed work; the table uses these."""
    inner(benchmark, seconds)
    benchmark.extra_info["inner_source"] = "the timed part of each round (perf_counter)"


def run_child(*args: str) -> dict[str, Any]:
    """Run ``_child.py`` with ``args`` in a new interpreter and return the JSON it printed."""
    import json
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, str(BENCH_DIR / "_child.py"), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed: {proc.stderr.strip()[-1000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


class Stopwatch:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def lap(self) -> float:
        t = time.perf_counter()
        dt, self.t0 = t - self.t0, t
        return dt


def clock(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


# ---- temp directories -----------------------------------------------------------------------
def tmp_root() -> Path:
    root = os.environ.get("ZL_BENCH_TMP")
    if not root:
        import tempfile

        root = tempfile.mkdtemp(prefix="zarrlake-bench-")
        os.environ["ZL_BENCH_TMP"] = root
    p = Path(root)
    p.mkdir(parents=True, exist_ok=True)
    return p


class Rounds:
    """Fresh directories for successive rounds, deleting the previous round's as it goes."""

    def __init__(self, base: Path) -> None:
        self.base = Path(base)
        self.n = 0
        self.current: Path | None = None

    def next(self) -> Path:
        if self.current is not None:
            rmtree(self.current)
        self.current = self.base / f"r{self.n}"
        self.n += 1
        rmtree(self.current)
        return self.current


def rmtree(p: Path) -> None:
    shutil.rmtree(p, ignore_errors=True)


# ---- data -----------------------------------------------------------------------------------
def bulk_data(side: int) -> Any:
    """A reproducible float32 field: smooth large-scale structure plus noise.

    Smooth enough that zstd finds something to do, noisy enough that it is not trivial.
    """
    import numpy as np

    rng = np.random.default_rng(20240601)
    y = np.sin(np.linspace(0, 8 * np.pi, side, dtype=np.float32))
    x = np.cos(np.linspace(0, 6 * np.pi, side, dtype=np.float32))
    out = np.empty((side, side), dtype=np.float32)
    step = 1024
    for i in range(0, side, step):
        block = out[i : i + step]
        np.multiply(y[i : i + step, None], x[None, :], out=block)
        block *= 20.0
        block += 280.0
        block += rng.standard_normal(block.shape, dtype=np.float32) * 0.5
    return out


def tiny_items(prefix: str, n: int, start: int = 0) -> Iterator[tuple[str, bytes]]:
    """Chunk keys ``{prefix}/c/{i}`` with a 4-byte float32 payload each."""
    import struct

    pack = struct.Struct("<f").pack
    for i in range(start, start + n):
        yield f"{prefix}/c/{i}", pack(float(i))


def tiny_int_items(prefix: str, n: int) -> Iterator[tuple[str, bytes]]:
    """Chunk keys ``{prefix}/c/{i}`` holding the int32 ``i + 1``: all distinct, none the fill value 0."""
    import struct

    pack = struct.Struct("<i").pack
    for i in range(n):
        yield f"{prefix}/c/{i}", pack(i + 1)


def set_raw(store: Any, items: Iterable[tuple[str, bytes]], batch: int = 10_000) -> int:
    """Write ``(key, bytes)`` through the zarr Store API (``Store._set_many``), in batches."""
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    from_bytes = default_buffer_prototype().buffer.from_bytes

    async def go() -> int:
        n = 0
        pending: list[tuple[str, Any]] = []
        for key, data in items:
            pending.append((key, from_bytes(data)))
            if len(pending) >= batch:
                await store._set_many(pending)
                n += len(pending)
                pending = []
        if pending:
            await store._set_many(pending)
            n += len(pending)
        return n

    return sync(go())


def count_prefix(store: Any, prefix: str) -> int:
    from zarr.core.sync import sync

    async def go() -> int:
        n = 0
        async for _ in store.list_prefix(prefix):
            n += 1
        return n

    return sync(go())


def create_tiny_array(store: Any, name: str, n: int, dtype: str = "f4", fill_value: Any = -1) -> Any:
    """A 1-D array of ``n`` one-element (4-byte) chunks, no compression (float32 by default)."""
    import zarr

    return zarr.create_array(
        store=store, name=name, shape=(n,), chunks=(1,), dtype=dtype, compressors=None, fill_value=fill_value
    )


def jmespath_truthy(value: Any) -> bool:
    """JMESPath's notion of truth (0 is true; empty string/list/object, false, null are not)."""
    if value is None or value is False:
        return False
    if isinstance(value, str | list | dict) and len(value) == 0:
        return False
    return True


def use_backend(request: Any, benchmark: Any, rows: str | list[str], name: str, **info: Any) -> Any:
    """Tag the benchmark with its row(s) and return the warmed-up backend, or n/a."""
    import backends

    row_list = [rows] if isinstance(rows, str) else list(rows)
    tag(benchmark, request, row_list[0], name, **info)
    for r in row_list[1:]:
        request.node.user_properties.append(("row", r))
    backend = backends.BACKENDS[name]
    if backend.s3:
        import s3env

        if s3env.S3Env.current is None:
            not_available(request, row_list, name, "no local S3 server (moto) running")
    try:
        backend.warm()
    except ImportError as e:
        not_available(request, row_list, name, f"cannot import: {e}")
    return backend
