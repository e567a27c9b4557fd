"""Requests per operation on S3, as ``repo.request_counts()`` reports them (a moto server on
127.0.0.1, started and stopped here). Prints the table that docs/storage.md shows.

Usage: .venv/bin/python benches/s3_requests.py
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import numpy as np  # noqa: E402
import zarr  # noqa: E402
import zarrlake  # noqa: E402
from s3kit import MotoS3  # noqa: E402

KINDS = ("get", "head", "put", "list", "delete")


def main() -> None:
    rows: list[tuple[str, dict[str, int]]] = []
    with MotoS3(process=True) as m:
        m.create_bucket("lake")
        opts = {
            "endpoint": m.endpoint,
            "allow_http": "true",
            "access_key_id": "testing",
            "secret_access_key": "testing",
            "region": "us-east-1",
        }
        client = zarrlake.Client("s3://lake/requests", storage_options=opts)
        holder: dict[str, Any] = {}

        def step(name: str, fn: Callable[[], Any], repo: Callable[[], zarrlake.Repo]) -> None:
            repo().request_counts(reset=True)
            fn()
            rows.append((name, repo().request_counts()))

        holder["repo"] = client.create_repo("org/repo")
        current = lambda: holder["repo"]  # noqa: E731
        rows.append(("create repo (includes the one-time conditional-write check)", current().request_counts()))
        step(
            "create an array (zarr.json)",
            lambda: zarr.create_array(
                current().store, name="x", shape=(64, 1024), chunks=(1, 1024), dtype="f8", compressors=None
            ),
            current,
        )
        data = np.random.default_rng(0).random((64, 1024))
        step("write 1 chunk of 8 KiB", lambda: current().store.set_sync("x/c/0/0", _buf(data[0])), current)
        step(
            "write 64 chunks in one batch (session.set_many)",
            lambda: current()._core.session_native.set_many([(f"x/c/{i}/0", data[i].tobytes()) for i in range(64)]),
            current,
        )
        step("commit", lambda: current().commit("c"), current)
        reopened = zarrlake.Client("s3://lake/requests", storage_options=opts)
        holder["repo"] = reopened.get_repo("org/repo", checkout=False)
        rows.append(("open a repo", current().request_counts()))
        step("checkout main", lambda: current().checkout("main"), current)
        step("read 1 chunk", lambda: current().store.get_sync("x/c/5/0"), current)
        step("read the whole array (64 chunks)", lambda: zarr.open_array(current().store, path="x")[:], current)
        step("list the array's keys", lambda: list(current()._core.session_native.list_prefix("x/")), current)
    print("| operation | GET | HEAD | PUT | LIST | DELETE | total |")
    print("|---|---|---|---|---|---|---|")
    for name, c in rows:
        cells = " | ".join(str(c[k]) for k in KINDS)
        print(f"| {name} | {cells} | {sum(c.values())} |")


def _buf(a: np.ndarray) -> Any:
    from zarr.core.buffer import cpu

    return cpu.Buffer.from_bytes(a.tobytes())


if __name__ == "__main__":
    main()
