"""xarray Datasets written into a repo's store, committed, and read back exactly."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
import zarrlake

xr = pytest.importorskip("xarray")

ZARR_FORMATS = [pytest.param(3, id="zarr3"), pytest.param(2, id="zarr2")]


def make_dataset(start: str = "2024-01-01", ntime: int = 4, seed: int = 0) -> Any:
    rng = np.random.default_rng(seed)
    time = pd.date_range(start, periods=ntime, freq="6h").as_unit("ns")
    lat = np.array([-45.0, 0.0, 45.0], dtype="float64")
    lon = np.array([0.0, 90.0, 180.0, 270.0], dtype="float32")
    shape = (ntime, lat.size, lon.size)
    ds = xr.Dataset(
        data_vars={
            "temperature": (
                ("time", "lat", "lon"),
                rng.normal(280, 5, shape).astype("float32"),
                {"units": "K", "long_name": "air temperature", "valid_range": [150.0, 350.0]},
            ),
            "count": (("time", "lat", "lon"), rng.integers(0, 1000, shape).astype("int16"), {"units": "1"}),
            "flag": (("time",), (np.arange(ntime) % 2).astype("bool")),
            "station": (("lat",), np.array(["north", "equator", "south"], dtype="U7")),
        },
        coords={
            "time": ("time", time, {"standard_name": "time"}),
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
            "height": ((), np.float64(2.0), {"units": "m"}),
        },
        attrs={"title": "roundtrip", "version": 3, "tags": ["a", "b"], "nested": {"k": 1.5}},
    )
    return ds


def quiet(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Calls fn with expected user warnings silenced (zarr format 2 string dtypes, ...)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.fixture
def repo(tmp_path: Any) -> zarrlake.Repo:
    return zarrlake.Client(tmp_path / "lake").create_repo("org/xarray")


def assert_dtypes(actual: Any, expected: Any) -> None:
    for name, var in expected.variables.items():
        assert actual[name].dtype == var.dtype, name


@pytest.mark.parametrize("zarr_format", ZARR_FORMATS)
def test_roundtrip(repo: zarrlake.Repo, zarr_format: int) -> None:
    ds = make_dataset()
    quiet(ds.to_zarr, repo.store, zarr_format=zarr_format, consolidated=False)
    cid = repo.commit("write dataset")
    assert cid is not None

    # Read from the fresh session that follows the commit.
    back = repo.to_xarray()
    xr.testing.assert_identical(back, ds)
    assert_dtypes(back, ds)
    assert back.time.dtype == np.dtype("datetime64[ns]")

    # And through a fresh handle on the same repo, reading the commit.
    other = zarrlake.Client(repo._core.native.location.rsplit("/", 2)[0]).get_repo("org/xarray", read_only=True)
    xr.testing.assert_identical(other.to_xarray(), ds)


@pytest.mark.parametrize("zarr_format", ZARR_FORMATS)
def test_roundtrip_consolidated(repo: zarrlake.Repo, zarr_format: int) -> None:
    ds = make_dataset()
    quiet(ds.to_zarr, repo.store, zarr_format=zarr_format, consolidated=True)
    repo.commit("consolidated")
    back = quiet(repo.to_xarray, consolidated=True)
    xr.testing.assert_identical(back, ds)


@pytest.mark.parametrize("zarr_format", ZARR_FORMATS)
def test_multi_group(repo: zarrlake.Repo, zarr_format: int) -> None:
    root = make_dataset(seed=1)
    inner = make_dataset(start="2000-06-01", ntime=3, seed=2).rename({"temperature": "t2m"})
    inner.attrs = {"title": "inner group"}
    quiet(root.to_zarr, repo.store, zarr_format=zarr_format, consolidated=False)
    quiet(inner.to_zarr, repo.store, group="a/b", zarr_format=zarr_format, consolidated=False)
    repo.commit("two groups")

    xr.testing.assert_identical(repo.to_xarray(), root)
    xr.testing.assert_identical(repo.to_xarray(group="a/b"), inner)
    assert_dtypes(repo.to_xarray(group="a/b"), inner)
    # The intermediate group exists and holds no variables.
    assert len(repo.to_xarray(group="a").data_vars) == 0


@pytest.mark.parametrize("zarr_format", ZARR_FORMATS)
def test_append_along_time_and_time_travel(repo: zarrlake.Repo, zarr_format: int) -> None:
    first = make_dataset(ntime=4, seed=3)
    quiet(first.to_zarr, repo.store, zarr_format=zarr_format, consolidated=False)
    first_id = repo.commit("first")

    second = make_dataset(start="2024-01-02", ntime=3, seed=4)
    # Static variables (no time dimension) are not appended.
    quiet(second.drop_vars(["station"]).to_zarr, repo.store, append_dim="time", consolidated=False)
    # The session sees the append before it is committed.
    expected = xr.concat([first, second.drop_vars(["station"])], dim="time", data_vars="minimal")
    expected["station"] = first["station"]
    expected.attrs = first.attrs
    xr.testing.assert_identical(repo.to_xarray(), expected)
    second_id = repo.commit("append")
    assert second_id != first_id

    back = repo.to_xarray()
    xr.testing.assert_identical(back, expected)
    assert back.sizes["time"] == 7
    assert_dtypes(back, expected)
    assert [c.id for c in repo.commit_log()] == [second_id, first_id]

    # Time travel: the first commit reads back unchanged, and is read-only.
    with pytest.warns(UserWarning, match="not on a branch tip"):
        repo.checkout(first_id)
    xr.testing.assert_identical(repo.to_xarray(), first)
    with pytest.raises(zarrlake.ReadOnlyError):
        quiet(first.to_zarr, repo.store, mode="w", zarr_format=zarr_format, consolidated=False)
    with pytest.raises(zarrlake.NotOnBranchError):
        repo.commit("nope")

    # Back on main, the appended data is still there.
    repo.checkout("main")
    xr.testing.assert_identical(repo.to_xarray(), expected)


def test_overwrite_in_a_later_commit(repo: zarrlake.Repo) -> None:
    ds = make_dataset()
    quiet(ds.to_zarr, repo.store, consolidated=False)
    first_id = repo.commit("first")
    changed = ds.copy(deep=True)
    changed["temperature"][0, 0, 0] = np.float32(-1.0)
    changed.attrs["title"] = "changed"
    quiet(changed.to_zarr, repo.store, mode="w", consolidated=False)
    repo.commit("overwrite")
    xr.testing.assert_identical(repo.to_xarray(), changed)
    with pytest.warns(UserWarning, match="not on a branch tip"):
        repo.checkout(first_id, for_writing=False)
    xr.testing.assert_identical(repo.to_xarray(), ds)


@pytest.mark.parametrize("zarr_format", ZARR_FORMATS)
def test_rewrite_drops_variables_only_in_the_new_commit(repo: zarrlake.Repo, zarr_format: int) -> None:
    ds = make_dataset()
    quiet(ds.to_zarr, repo.store, group="g", zarr_format=zarr_format, consolidated=False)
    first_id = repo.commit("all variables")
    smaller = ds[["temperature"]]
    quiet(smaller.to_zarr, repo.store, group="g", mode="w", zarr_format=zarr_format, consolidated=False)
    repo.commit("temperature only")
    xr.testing.assert_identical(repo.to_xarray(group="g"), smaller)
    assert not any(k.startswith("g/count/") for k in repo._core.session_native.list_prefix("g/"))
    with pytest.warns(UserWarning, match="not on a branch tip"):
        repo.checkout(first_id, for_writing=False)
    xr.testing.assert_identical(repo.to_xarray(group="g"), ds)
