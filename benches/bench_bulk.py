"""Workloads 1 and 2: bulk write + commit, and bulk read in a fresh process.

The payload is a 2-D float32 array (64 MiB quick, 1 GiB full) in 512 x 512 chunks of 1 MiB,
written with one ``arr[...] = data`` through zarr's codec pipeline, once uncompressed and once
with zarr's default compressor (zstd). Write rounds each start from an empty repo; the timed
part is the write plus the commit. The read runs ``_child.py`` in a new interpreter per round
and uses the time the child measured around open + checkout + array open + read.
"""

from __future__ import annotations

import backends
import harness
import numpy as np
import pytest
import zarr

CHUNKS = (512, 512)
CODECS = {"raw": None, "zstd": "auto"}


def create_bulk_array(store, shape, codec):
    return zarr.create_array(
        store=store, name="bulk", shape=shape, chunks=CHUNKS, dtype="f4", compressors=CODECS[codec]
    )


def build_bulk(backend, path, data, codec):
    harness.rmtree(path)
    h = backend.create(path)
    create_bulk_array(h.store, data.shape, codec)[...] = data
    h.commit("bulk")
    return path


@pytest.mark.parametrize("codec", list(CODECS))
@pytest.mark.parametrize("name", backends.ALL)
def test_bulk_write(benchmark, request, sizes, bulk, work, shared, name, codec):
    row = f"w1.{codec}"
    if name == "icechunk-tuned":
        harness.same_as_writer(request, row, name)
    backend = harness.use_backend(request, benchmark, row, name, bytes=bulk.nbytes)
    rounds = harness.Rounds(work / "w1" / codec / name)

    def setup():
        h = backend.create(rounds.next())
        arr = create_bulk_array(h.store, bulk.shape, codec)
        return (h, arr), {}

    def run(h, arr):
        sw = harness.Stopwatch()
        arr[...] = bulk
        harness.extra(benchmark, f"{row}.write", sw.lap())
        h.commit("bulk write")
        harness.commit_phase(benchmark, backend, f"{row}.commit", sw.lap())

    benchmark.pedantic(run, setup=setup, rounds=sizes.bulk_write_rounds, iterations=1)
    shared[("bulk", codec, name)] = rounds.current


@pytest.mark.parametrize("codec", list(CODECS))
@pytest.mark.parametrize("name", backends.ALL)
def test_bulk_read_fresh_process(benchmark, request, sizes, bulk, work, shared, name, codec):
    row = f"w2.{codec}"
    backend = harness.use_backend(request, benchmark, row, name, bytes=bulk.nbytes)
    writer = backends.BACKENDS[backend.writer]
    path = shared.get(("bulk", codec, writer.name))
    if path is None:
        path = build_bulk(writer, work / "w2" / codec / writer.name, bulk, codec)
        shared[("bulk", codec, writer.name)] = path
    if "bulk-checksum" not in shared:
        shared["bulk-checksum"] = float(bulk.sum(dtype=np.float64))

    out = harness.read_fresh(benchmark, name, path, sizes.bulk_read_rounds)
    assert out["shape"] == list(bulk.shape)
    assert out["checksum"] == shared["bulk-checksum"], "fresh-process read returned other data"
