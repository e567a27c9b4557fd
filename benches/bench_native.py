"""The native-engine section (N1-N3): zarrlake's native codec pipeline against the others.

The bulk payload of workloads 1 and 2 (2-D float32, 64 MiB quick / 1 GiB full, 512 x 512
chunks of 1 MiB, raw and zstd) written and read by:

- zarrlake-native: a zarrlake repo with ``zarrlake.codec_pipeline.ZarrlakeCodecPipeline``
- zarrlake: the same repo type with zarr-python's default pipeline
- localstore: zarr's ``LocalStore``, default pipeline (the baseline)
- localstore-zarrs: ``LocalStore`` with the ``zarrs`` package's pipeline (strict: no fallback)
- tensorstore: TensorStore's ``zarr3`` driver on a local directory, with the metadata (codecs
  included) zarr writes for the same array
- icechunk: as in the main table

N1: each round is a new interpreter (``_child.py write-bulk``) that loads the payload (a
``.npy`` file the parent saved once), creates the repo and the array, and then measures one
``arr[...] = data`` plus the commit (TensorStore: ``.write(data).result()``), and the peak
resident memory of that write above the resident memory right before it (the payload, the
interpreter and the libraries): the ``.rss`` rows. N2 reads the last round's array whole in a
new interpreter per round (``_child.py read-bulk``, timed by the child around open + checkout +
array open + read, as in workload 2). Each child reports the codec pipeline its array got; the
test checks it is the backend's, and for zarrlake-native and zarrs that their native part is
in use (for zarrlake-native writes, whether the engine or its fallback wrote is recorded).

N3 streams a raw array of the bulk size and of 4 times it, slab by slab (one generated slab
written at every position, as an ingest of many files does), in a new interpreter each: the
time of all slabs plus the commit, and the peak resident memory above the start. The peak
must not grow with the array (zarrlake-native, zarrlake and LocalStore).
"""

from __future__ import annotations

import backends
import bench_physical
import harness
import numpy as np
import pytest
from bench_bulk import CODECS


@pytest.fixture(scope="module")
def payload(bulk, work):
    """The bulk payload as a .npy file, for the write children to load."""
    path = work / "payload.npy"
    np.save(path, bulk)
    return path


def check_pipeline(backend, out):
    """The array got the backend's codec pipeline (and its native part, where it has one)."""
    info = out["pipeline"]
    if backend.is_tensorstore:
        assert info["class"].startswith("tensorstore"), info
        return
    assert info["class"].endswith("." + backend.pipeline), f"{backend.name} got {info['class']}"
    if backend.config:
        assert info.get("native_engine"), f"{backend.name}: native part not in use: {out['warnings']}"


def record_pipeline(benchmark, out):
    benchmark.extra_info["pipeline"] = out["pipeline"]
    benchmark.extra_info["warnings"] = out["warnings"]


@pytest.mark.parametrize("codec", list(CODECS))
@pytest.mark.parametrize("name", backends.NATIVE)
def test_native_write(benchmark, request, sizes, bulk, payload, work, shared, name, codec):
    row = f"n1.{codec}"
    backend = harness.use_backend(request, benchmark, [row, f"{row}.rss"], name, bytes=bulk.nbytes)
    rounds = harness.Rounds(work / "n1" / codec / name)

    def setup():
        return (rounds.next(),), {}

    def run(path):
        out = harness.run_child("write-bulk", name, str(path), codec, str(payload))
        harness.inner(benchmark, out["seconds"])
        harness.memory(benchmark, f"{row}.rss", out["peak_above_payload"])
        benchmark.extra_info.setdefault("rss", []).append(
            {k: out[k] for k in ("rss_before", "peak_rss", "peak_reset", "ru_maxrss", "payload_bytes")}
        )
        return out

    out = benchmark.pedantic(run, setup=setup, rounds=sizes.bulk_write_rounds, iterations=1)
    check_pipeline(backend, out)
    record_pipeline(benchmark, out)
    shared[("native", codec, name)] = rounds.current


@pytest.mark.parametrize("codec", list(CODECS))
@pytest.mark.parametrize("name", backends.NATIVE)
def test_native_read_fresh_process(benchmark, request, sizes, bulk, payload, work, shared, name, codec):
    row = f"n2.{codec}"
    backend = harness.use_backend(request, benchmark, row, name, bytes=bulk.nbytes)
    path = shared.get(("native", codec, name))
    if path is None:  # the write test did not run (-k): write once, untimed
        path = work / "n2" / codec / name
        harness.rmtree(path)
        harness.run_child("write-bulk", name, str(path), codec, str(payload))
        shared[("native", codec, name)] = path
    if "bulk-checksum" not in shared:
        shared["bulk-checksum"] = float(bulk.sum(dtype=np.float64))

    out = harness.read_fresh(benchmark, name, path, sizes.bulk_read_rounds)
    check_pipeline(backend, out)
    record_pipeline(benchmark, out)
    assert out["shape"] == list(bulk.shape)
    assert out["checksum"] == shared["bulk-checksum"], "fresh-process read returned other data"


STREAMERS = ["zarrlake-native", "zarrlake", "localstore"]


@pytest.mark.parametrize("total", harness.stream_sizes())
@pytest.mark.parametrize("name", STREAMERS)
def test_native_stream(benchmark, request, work, name, total):
    """N3: a streaming write's peak memory does not grow with the array (4x apart)."""
    row = f"n3.{total}"
    backend = harness.use_backend(request, benchmark, [row, f"{row}.rss"], name, bytes=total)
    rounds = harness.Rounds(work / "n3" / str(total) / name)
    slab = harness.stream_slab_bytes()

    def setup():
        return (rounds.next(),), {}

    def run(path):
        out = harness.run_child("stream-bulk", name, str(path), str(total), str(slab))
        harness.inner(benchmark, out["seconds"])
        harness.memory(benchmark, f"{row}.rss", out["peak_above_start"])
        return out

    out = benchmark.pedantic(run, setup=setup, rounds=1, iterations=1)
    check_pipeline(backend, out)
    record_pipeline(benchmark, out)
    assert out["total_bytes"] == total
    harness.rmtree(rounds.current)


@pytest.mark.parametrize("kind", ["write", "read"])
def test_native_physical(benchmark, request, sizes, bulk, work, kind):
    """This section's physical limits (rows 0) when bench_physical.py is not selected (-k native)."""
    if any(getattr(item.module, "__name__", "") == "bench_physical" for item in request.session.items):
        pytest.skip("measured by bench_physical.py in this run")
    test = bench_physical.test_sequential_write if kind == "write" else bench_physical.test_sequential_read
    test(benchmark, request, sizes, bulk, work)
