"""Ingesting 1,000,000 kerchunk references with ``add_kerchunk_references``.

The references are a kerchunk version 1 set: ten source files (sparse, 10 MB each) named
through ``templates``, and one array of 1,000,000 chunks of 100 bytes, 100,000 per file.
Each round ingests into a new repo, with the progress bar on (rich, imported lazily) and
source versions recorded; the commit that follows is timed separately (``extra_info``).
Quick mode (``ZL_BENCH_MODE=quick``) uses 100,000 references.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import zarrlake

N_REFS = 100_000 if os.environ.get("ZL_BENCH_MODE") == "quick" else 1_000_000
N_FILES = 10
CHUNK_BYTES = 100


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("virtual-ingest")
    for j in range(N_FILES):
        with open(d / f"src{j}.bin", "wb") as f:
            f.truncate(N_REFS // N_FILES * CHUNK_BYTES)
    return d


def _references(src: Path) -> dict[str, Any]:
    per_file = N_REFS // N_FILES
    zarray = {
        "shape": [N_REFS * CHUNK_BYTES // 4],
        "chunks": [CHUNK_BYTES // 4],
        "dtype": "<i4",
        "fill_value": 0,
        "order": "C",
        "filters": None,
        "compressor": None,
        "zarr_format": 2,
    }
    refs: dict[str, Any] = {".zgroup": '{"zarr_format": 2}', "v/.zarray": json.dumps(zarray)}
    templates = [f"{{{{u{j}}}}}" for j in range(N_FILES)]
    for i in range(N_REFS):
        refs[f"v/{i}"] = [templates[i // per_file], (i % per_file) * CHUNK_BYTES, CHUNK_BYTES]
    return {"version": 1, "templates": {f"u{j}": str(src / f"src{j}.bin") for j in range(N_FILES)}, "refs": refs}


def test_ingest_kerchunk_references(benchmark: Any, sources: Path, tmp_path: Path) -> None:
    refs = _references(sources)
    rounds: list[zarrlake.Repo] = []

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        client = zarrlake.Client(tmp_path / f"lake{len(rounds)}", allow_virtual=[str(sources)])
        repo = client.create_repo("org/ingest")
        rounds.append(repo)
        return (repo,), {}

    def ingest(repo: zarrlake.Repo) -> None:
        repo.add_kerchunk_references(refs, "big", progress=True)

    benchmark.pedantic(ingest, setup=setup, rounds=2, iterations=1)
    repo = rounds[-1]
    t0 = time.perf_counter()
    repo.commit("1,000,000 virtual references")
    benchmark.extra_info["commit_seconds"] = round(time.perf_counter() - t0, 3)
    benchmark.extra_info["references"] = N_REFS
    benchmark.extra_info["references_per_second"] = round(N_REFS / benchmark.stats.stats.min)
    last = repo._core.session_native.get(f"big/v/{N_REFS - 1}")
    assert last == bytes(CHUNK_BYTES)
