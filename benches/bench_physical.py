"""Physical limits of this machine for the bulk payload, measured in the same run.

- memcpy: ``numpy.copyto`` of the payload into a preallocated array of the same size.
- sequential write: the payload to one new file in 8 MiB writes, closed (no fsync: no backend
  under test fsyncs either, so all of them write into the page cache).
- sequential read: that file back into a preallocated buffer (from the page cache, as the
  backends' reads of data they have just written are).
"""

from __future__ import annotations

import os

import harness
import numpy as np

BLOCK = 8 * harness.MIB


def test_memcpy(benchmark, request, sizes, bulk):
    harness.tag(benchmark, request, "phys.memcpy", "phys", bytes=bulk.nbytes)
    dst = np.empty_like(bulk)
    dst.fill(0)  # fault the pages in before timing
    benchmark.pedantic(np.copyto, args=(dst, bulk), rounds=sizes.phys_rounds, iterations=1)
    assert np.array_equal(dst[::97], bulk[::97])


def _write(path, mv):
    with open(path, "wb", buffering=0) as f:
        for off in range(0, len(mv), BLOCK):
            f.write(mv[off : off + BLOCK])


def test_sequential_write(benchmark, request, sizes, bulk, work):
    harness.tag(benchmark, request, "phys.write", "phys", bytes=bulk.nbytes)
    path = work / "phys" / "payload.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    mv = memoryview(bulk).cast("B")

    def setup():
        if path.exists():
            path.unlink()
        return (path, mv), {}

    benchmark.pedantic(_write, setup=setup, rounds=sizes.phys_rounds, iterations=1)
    assert os.path.getsize(path) == bulk.nbytes


def test_sequential_read(benchmark, request, sizes, bulk, work):
    harness.tag(benchmark, request, "phys.read", "phys", bytes=bulk.nbytes)
    path = work / "phys" / "payload-read.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, memoryview(bulk).cast("B"))
    out = np.empty(bulk.nbytes, dtype=np.uint8)
    out.fill(0)
    omv = memoryview(out)

    def read():
        with open(path, "rb", buffering=0) as f:
            off = 0
            while off < len(omv):
                n = f.readinto(omv[off : off + BLOCK])
                if not n:
                    break
                off += n
        return off

    n = benchmark.pedantic(read, rounds=sizes.phys_rounds, iterations=1)
    assert n == bulk.nbytes
    assert np.array_equal(out.view(np.float32).reshape(bulk.shape)[::97], bulk[::97])
    path.unlink()
