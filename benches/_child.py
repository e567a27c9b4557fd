"""Fresh-process side of the benchmarks: ``python benches/_child.py COMMAND ...``.

Prints one JSON line. Library imports happen before the timer starts (import time is its own
workload).

Commands:
    read-bulk BACKEND PATH      read the whole "bulk" array (for an S3 backend PATH is its key
                                prefix; the endpoint comes from ZL_BENCH_S3_ENDPOINT); timed:
                                repo open + checkout + array open + read
    write-bulk BACKEND PATH CODEC PAYLOAD
                                create the repo (or store) at PATH and the "bulk" array with
                                CODEC (raw, zstd), then write the payload (a .npy file, loaded
                                first) into it with one ``arr[...] = data`` and commit; timed:
                                the write + commit. Also reports the peak resident memory of the
                                write above the resident memory right before it (payload loaded)
    stream-bulk BACKEND PATH TOTAL SLAB
                                create the repo (or store) at PATH and a raw f4 "bulk" array of
                                TOTAL bytes, then write it slab by slab (SLAB bytes each: one
                                slab generated once and written at every position), as a
                                streaming ingest does, and commit; reports the time and the peak
                                resident memory above the resident memory before the first slab
    commit-refs BACKEND PATH N  create the repo at PATH, a 1-D int32 array "refs" of N one-element
                                (4-byte) chunks and commit it; then write N distinct chunks
                                through the Store API (``Store._set_many``, batches of 10,000)
                                and commit them. Reports the write's and the commit's time, the
                                resident memory right before each and its peak during each
                                (absolute, VmHWM reset right before), then reads three chunks
                                back from a fresh read-only store (untimed) for the parent

The backend's zarr config (its codec pipeline) is in force for the whole command.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def read_bulk(name: str, path: str) -> dict[str, object]:
    import backends
    import numpy as np
    import zarr

    backend = backends.BACKENDS[name]
    backend.warm()
    with warnings.catch_warnings(record=True) as caught, backend.configured():
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        if backend.is_tensorstore:
            obj = arr = backends.tensorstore_open(Path(path) / "bulk")
            data = arr.read().result()
        else:
            obj = backend.open_repo_read(Path(path))
            store = obj if backend.is_localstore else obj.store
            arr = zarr.open_array(store, path="bulk", mode="r")
            data = arr[...]
        seconds = time.perf_counter() - t0
    out: dict[str, object] = {
        "seconds": seconds,
        "checksum": float(data.sum(dtype=np.float64)),
        "shape": list(data.shape),
        "pipeline": pipeline_info(arr),
        "warnings": sorted({str(w.message) for w in caught}),
    }
    if backend.s3 and backend.is_zarrlake:  # the handle's own count of its S3 requests
        out["requests"] = {k: v for k, v in sorted(obj.request_counts().items()) if v}
    return out


def write_bulk(name: str, path: str, codec: str, payload: str) -> dict[str, object]:
    import backends
    import numpy as np
    import zarr
    from bench_bulk import create_bulk_array

    backend = backends.BACKENDS[name]
    backend.warm()
    data = np.load(payload)
    with warnings.catch_warnings(record=True) as caught, backend.configured():
        warnings.simplefilter("always")
        if backend.is_tensorstore:  # zarr's own metadata for this array, codecs included
            metadata = create_bulk_array(zarr.storage.MemoryStore(), data.shape, codec).metadata.to_dict()
            arr = backends.tensorstore_open(Path(path) / "bulk", metadata)

            def write() -> None:
                arr.write(data).result()  # returns once the chunks are written
        else:
            handle = backend.create(Path(path))
            arr = create_bulk_array(handle.store, data.shape, codec)

            def write() -> None:
                arr[...] = data
                handle.commit("bulk write")

        m = measured(write)
    return {
        **m,
        "peak_above_payload": m["peak_rss"] - m["rss_before"],
        "payload_bytes": data.nbytes,
        # inherited: at least the parent's resident memory when it started this process
        "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "pipeline": pipeline_info(arr),
        "warnings": sorted({str(w.message) for w in caught}),
    }


def stream_bulk(name: str, path: str, total: str, slab: str) -> dict[str, object]:
    import backends
    import numpy as np
    import zarr
    from bench_bulk import CHUNKS

    backend = backends.BACKENDS[name]
    backend.warm()
    cols = 8192
    rows, slab_rows = int(total) // (4 * cols), int(slab) // (4 * cols)
    data = np.random.default_rng(0).random((slab_rows, cols), dtype="f4")
    with warnings.catch_warnings(record=True) as caught, backend.configured():
        warnings.simplefilter("always")
        handle = backend.create(Path(path))
        arr = zarr.create_array(
            store=handle.store, name="bulk", shape=(rows, cols), chunks=CHUNKS, dtype="f4", compressors=None
        )

        def write() -> None:
            for start in range(0, rows, slab_rows):
                arr[start : start + slab_rows] = data
            handle.commit("stream")

        m = measured(write)
    return {
        **m,
        "peak_above_start": m["peak_rss"] - m["rss_before"],
        "total_bytes": rows * cols * 4,
        "pipeline": pipeline_info(arr),
        "warnings": sorted({str(w.message) for w in caught}),
    }


def commit_refs(name: str, path: str, n: str) -> dict[str, object]:
    import backends
    import harness
    import zarr

    backend = backends.BACKENDS[name]
    backend.warm()
    count = int(n)
    handle = backend.create(Path(path))
    harness.create_tiny_array(handle.store, "refs", count, dtype="i4", fill_value=0)
    handle.commit("create array")
    written: list[int] = []
    write = measured(lambda: written.append(harness.set_raw(handle.store, harness.tiny_int_items("refs", count))))
    commit = measured(lambda: handle.commit(f"{count} chunks"))
    rss_after = proc_status_bytes("VmRSS")
    arr = zarr.open_array(backend.open_read(Path(path)), path="refs", mode="r")
    probes = sorted({0, count // 2, count - 1})
    return {
        "n": count,
        "written": written[0],
        "write": write,
        "commit": commit,
        "rss_after_commit": rss_after,
        # inherited: at least the parent's resident memory when it started this process
        "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "probes": {str(i): int(arr[i]) for i in probes},
    }


def pipeline_info(arr: Any) -> dict[str, object]:
    """Which codec pipeline the array got, and whether its native part is in use."""
    pipe = getattr(getattr(arr, "_async_array", None), "codec_pipeline", None)
    if pipe is None:
        return {"class": type(arr).__module__ + "." + type(arr).__qualname__}
    info: dict[str, object] = {"class": type(pipe).__module__ + "." + type(pipe).__qualname__}
    if hasattr(pipe, "_engine"):  # zarrlake's pipeline
        info["native_engine"] = pipe._engine is not None
        info["native_writes"] = bool(getattr(pipe, "_native_writes", False))
    if hasattr(pipe, "impl"):  # zarrs's pipeline
        info["native_engine"] = pipe.impl is not None
    return info


def measured(write: Any) -> dict[str, Any]:
    """Runs ``write``: its time, the resident memory before it and the peak during it."""
    reset = reset_peak_rss()
    rss_before = proc_status_bytes("VmRSS")
    t0 = time.perf_counter()
    write()
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "rss_before": rss_before,
        "peak_rss": proc_status_bytes("VmHWM"),
        "peak_reset": reset,
    }


def reset_peak_rss() -> bool:
    """Reset the kernel's peak resident set size (VmHWM) to the current one (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def proc_status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def main(argv: list[str]) -> int:
    cmd, *args = argv
    if cmd == "read-bulk":
        out = read_bulk(*args)
    elif cmd == "write-bulk":
        out = write_bulk(*args)
    elif cmd == "stream-bulk":
        out = stream_bulk(*args)
    elif cmd == "commit-refs":
        out = commit_refs(*args)
    else:
        raise SystemExit(f"unknown command {cmd!r}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
