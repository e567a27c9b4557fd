"""Reading a virtual netCDF4 variable through zarrlake vs ``xarray.open_dataset`` on the file.

The file holds one float32 variable (200 x 360 x 720, 207 MB; quick mode 50 x 360 x 720)
in zlib+shuffle chunks of 10 x 180 x 360 (2.6 MB), as xarray's netCDF4 writer makes it.
Both sides load the whole variable (``.values``) with the file in the page cache:

- ``xarray``: ``xarray.open_dataset(path)["v"].values`` (netCDF4 engine);
- ``zarrlake``: ``repo.to_xarray("nc")["v"].values`` on a repo holding the file as a
  virtual dataset (committed, read-only checkout).

``test_virtual_read_ratio`` records ``xarray time / zarrlake time`` (the issue asks for at
least 0.8) in ``extra_info`` and prints it, for zarr's default ``BatchedCodecPipeline`` and
for zarr's ``FusedCodecPipeline`` (opt-in in zarr 3.4, chosen when the dataset is opened).
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarrlake

T = 50 if os.environ.get("ZL_BENCH_MODE") == "quick" else 200
ROUNDS = 5
_TIMES: dict[str, float] = {}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import xarray as xr

    path = tmp_path_factory.mktemp("virtual-read") / "t.nc"
    data = (np.random.default_rng(0).standard_normal((T, 360, 720)) * 10).astype("f4")
    ds = xr.Dataset({"v": (("t", "y", "x"), data)})
    ds.to_netcdf(path, engine="netcdf4", encoding={"v": {"zlib": True, "complevel": 1, "chunksizes": (10, 180, 360)}})
    return path


@pytest.fixture(scope="module")
def repo(source: Path, tmp_path_factory: pytest.TempPathFactory) -> zarrlake.Repo:
    client = zarrlake.Client(tmp_path_factory.mktemp("virtual-read-lake"), allow_virtual=[str(source.parent)])
    repo = client.create_repo("org/read")
    repo.add_virtual_netcdf(str(source), "nc")
    repo.commit("virtual netCDF4")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        repo.checkout("main", for_writing=False)
    return repo


def _xarray(source: Path) -> Any:
    import xarray as xr

    with xr.open_dataset(source) as ds:
        return ds["v"].values


def _zarrlake(repo: zarrlake.Repo) -> Any:
    return repo.to_xarray("nc")["v"].values


FUSED = "zarr.core.codec_pipeline.FusedCodecPipeline"


def _zarrlake_fused(repo: zarrlake.Repo) -> Any:
    import zarr

    with zarr.config.set({"codec_pipeline.path": FUSED}):
        ds = repo.to_xarray("nc")
    return ds["v"].values


def test_virtual_read_xarray_open_dataset(benchmark: Any, source: Path) -> None:
    _xarray(source)  # warm the page cache
    out = benchmark.pedantic(_xarray, args=(source,), rounds=ROUNDS, iterations=1)
    _TIMES["xarray"] = benchmark.stats.stats.min
    assert out.shape == (T, 360, 720)


def test_virtual_read_zarrlake(benchmark: Any, source: Path, repo: zarrlake.Repo) -> None:
    _zarrlake(repo)
    out = benchmark.pedantic(_zarrlake, args=(repo,), rounds=ROUNDS, iterations=1)
    _TIMES["zarrlake"] = benchmark.stats.stats.min
    np.testing.assert_array_equal(out, _xarray(source))


def test_virtual_read_zarrlake_fused_pipeline(benchmark: Any, source: Path, repo: zarrlake.Repo) -> None:
    _zarrlake_fused(repo)
    out = benchmark.pedantic(_zarrlake_fused, args=(repo,), rounds=ROUNDS, iterations=1)
    np.testing.assert_array_equal(out, _xarray(source))


def test_virtual_read_ratio(benchmark: Any, source: Path, repo: zarrlake.Repo) -> None:
    """Interleaved rounds of each (min of each), so a busy machine affects all alike."""
    runs = (("xarray", _xarray, source), ("zarrlake", _zarrlake, repo), ("zarrlake_fused", _zarrlake_fused, repo))
    best = dict.fromkeys((r[0] for r in runs), float("inf"))
    for _ in range(ROUNDS):
        for name, fn, arg in runs:
            t0 = time.perf_counter()
            fn(arg)
            best[name] = min(best[name], time.perf_counter() - t0)
    benchmark.extra_info.update({f"{k}_seconds": round(v, 4) for k, v in best.items()})
    ratio = best["xarray"] / best["zarrlake"]
    fused = best["xarray"] / best["zarrlake_fused"]
    benchmark.extra_info["speed_ratio_vs_xarray"] = round(ratio, 3)
    benchmark.extra_info["speed_ratio_vs_xarray_fused_pipeline"] = round(fused, 3)
    x, z, f = best["xarray"], best["zarrlake"], best["zarrlake_fused"]
    print(
        f"\nvirtual netCDF4 read: xarray {x:.3f} s; zarrlake {z:.3f} s (ratio {ratio:.2f}); "
        f"zarrlake with zarr's FusedCodecPipeline {f:.3f} s (ratio {fused:.2f})"
    )
    benchmark.pedantic(_zarrlake, args=(repo,), rounds=1, iterations=1)
