"""Virtual ingest reports references written of the total to a progress bar on a terminal."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pytest
import zarr
import zarrlake
from conftest import AUTHOR
from zarrlake import _progress
from zarrlake._progress import ProgressBar
from zarrlake.virtual import writer

from . import virtual_samples as samples

N = 12_000  # references: more than writer.PROGRESS_MIN_REFS
ADD_METHODS = (
    "add_kerchunk_references",
    "add_virtual_netcdf",
    "add_virtual_hdf",
    "add_virtual_grib",
    "add_virtual_zarr",
    "add_virtual_tiff",
)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend stderr is a terminal."""
    monkeypatch.setattr(_progress, "_interactive", lambda: True)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool, int, int]]:
    """Every ``bar(done, total)``: the bar's description, whether it is on, done and total."""
    seen: list[tuple[str, bool, int, int]] = []
    original = ProgressBar.__call__

    def record(self: ProgressBar, done: int, total: int) -> None:
        seen.append((self.description, self.enabled, done, total))
        original(self, done, total)

    monkeypatch.setattr(ProgressBar, "__call__", record)
    return seen


@pytest.fixture
def repo(tmp_path: Path, data_dir: Path) -> zarrlake.Repo:
    return zarrlake.Client(tmp_path / "lake", author=AUTHOR, allow_virtual=[str(data_dir)]).create_repo("org/progress")


def _refs(data_dir: Path, n: int = N) -> dict[str, object]:
    """Kerchunk references to ``n`` chunks of one int32 each in a raw file."""
    raw = data_dir / "raw.bin"
    raw.write_bytes(np.arange(n, dtype="<i4").tobytes())
    zarray = {
        "shape": [n],
        "chunks": [1],
        "dtype": "<i4",
        "fill_value": None,
        "order": "C",
        "filters": None,
        "compressor": None,
        "zarr_format": 2,
    }
    refs: dict[str, object] = {".zgroup": '{"zarr_format": 2}', "x/.zarray": json.dumps(zarray)}
    refs.update({f"x/{i}": [str(raw), 4 * i, 4] for i in range(n)})
    return {"version": 1, "refs": refs}


def test_every_add_method_takes_progress():
    for cls in (zarrlake.Repo, zarrlake.AsyncRepo):
        for name in ADD_METHODS:
            p = inspect.signature(getattr(cls, name)).parameters["progress"]
            assert p.default is True and p.kind is inspect.Parameter.KEYWORD_ONLY, (cls, name)


def test_big_ingest_counts_references_written(repo, data_dir, terminal, calls, monkeypatch):
    monkeypatch.setattr(writer, "REF_BATCH", 5_000)  # several batches, so several steps
    started: list[bool] = []
    original_close = ProgressBar.close

    def close(self: ProgressBar) -> None:
        started.append(self._progress is not None)
        original_close(self)

    monkeypatch.setattr(ProgressBar, "close", close)
    repo.add_kerchunk_references(_refs(data_dir), "big")
    ours = [c for c in calls if c[0] == "Adding kerchunk references"]
    assert ours and all(on for _, on, _, _ in ours)
    total = ours[0][3]
    assert total == N + 3  # the references, their two documents, and the root group made for them
    done = [d for _, _, d, _ in ours]
    assert done[0] == 0 and done[-1] == total and done == sorted(done)
    assert [5_000, 10_000, N] == [d for d in done if d in (5_000, 10_000, N)]  # one step per batch
    assert started == [True]  # the rich bar was drawn, then closed
    assert zarr.open_array(repo.store, path="big/x", mode="r")[N - 3 :].tolist() == [N - 3, N - 2, N - 1]


def test_progress_false_and_small_ingests_draw_no_bar(repo, data_dir, terminal, calls, monkeypatch):
    repo.add_kerchunk_references(_refs(data_dir), "off", progress=False)
    assert calls and not any(on for _, on, _, _ in calls)
    calls.clear()
    bars: list[ProgressBar] = []
    original = ProgressBar.__enter__

    def enter(self: ProgressBar) -> ProgressBar:
        bars.append(self)
        return original(self)

    monkeypatch.setattr(ProgressBar, "__enter__", enter)
    repo.add_kerchunk_references(_refs(data_dir, 50), "small")
    assert bars and bars[0].enabled and bars[0]._progress is None  # on, but too small to show
    assert calls[-1][2:] == (52, 52)  # 50 references and 2 documents (the root group exists now)


def test_each_kind_reports_to_the_bar(repo, data_dir, terminal, calls):
    """netCDF, HDF5, GRIB, Zarr and TIFF sources go through the same writer and bar."""
    repo.add_virtual_netcdf(str(samples.netcdf3(data_dir / "a.nc")), "nc")
    repo.add_virtual_hdf(str(samples.hdf5(data_dir / "b.h5")), "h5")
    repo.add_virtual_grib(str(samples.grib2(data_dir / "c.grib2")), "grib")
    repo.add_virtual_zarr(str(samples.zarr_store(data_dir / "d.zarr", 3)), "zarr", progress=False)
    tiff, _ = samples.tiff_multiband(data_dir / "e.tif")
    repo.add_virtual_tiff(str(tiff), "tiff", "img")
    finals = {(desc, on): (d, t) for desc, on, d, t in calls if d == t and t > 0}
    assert {desc for desc, _ in finals} == {
        "Adding netcdf3 references",
        "Adding hdf5 references",
        "Adding grib references",
        "Adding zarr references",
        "Adding tiff references",
    }
    assert ("Adding zarr references", False) in finals  # progress=False reached the writer
    assert ("Adding tiff references", True) in finals
