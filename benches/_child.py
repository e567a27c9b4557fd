"""Fresh-process side of the benchmarks: ``python benches/_child.py COMMAND ...``.

Prints one JSON line. Library imports happen before the timer starts (import time is its own
workload); the timed part is repo open + checkout + array open + read.

Commands:
    read-bulk BACKEND PATH      read the whole "bulk" array (for an S3 backend PATH is its key
                                prefix; the endpoint comes from ZL_BENCH_S3_ENDPOINT)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def read_bulk(name: str, path: str) -> dict[str, object]:
    import backends
    import numpy as np
    import zarr

    backend = backends.BACKENDS[name]
    backend.warm()
    t0 = time.perf_counter()
    obj = backend.open_repo_read(Path(path))
    store = obj if backend.name == "localstore" else obj.store
    arr = zarr.open_array(store, path="bulk", mode="r")
    data = arr[...]
    seconds = time.perf_counter() - t0
    out: dict[str, object] = {
        "seconds": seconds,
        "checksum": float(data.sum(dtype=np.float64)),
        "shape": list(data.shape),
    }
    if backend.s3 and backend.is_zarrlake:  # the handle's own count of its S3 requests
        out["requests"] = {k: v for k, v in sorted(obj.request_counts().items()) if v}
    return out


def main(argv: list[str]) -> int:
    cmd, *args = argv
    if cmd == "read-bulk":
        out = read_bulk(*args)
    else:
        raise SystemExit(f"unknown command {cmd!r}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
