"""Virtual data in sessions: visibility, read-only sessions, branches, mixed chunks, async."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import zarr
import zarrlake
from zarrlake.virtual import virtual_prefixes

from . import virtual_samples as samples


def _temp(repo, path="nc"):
    return repo.to_xarray(path)["temp"].values


def test_nothing_is_visible_until_commit(vclient, vrepo, data_dir):
    src = samples.netcdf4(data_dir / "a.nc")
    vrepo.add_virtual_netcdf(str(src), "nc")
    assert "nc/temp/.zarray" in vrepo._core.session_native.list_prefix("nc/")
    other = vclient.get_repo("org/virtual")
    assert other._core.session_native.list_prefix("nc/") == []
    vrepo.commit("virtual netCDF")
    other.checkout("main")
    np.testing.assert_array_equal(_temp(other), samples.xr_open(src)["temp"].values)


def test_read_only_sessions_refuse_every_method(vrepo, data_dir):
    src = samples.netcdf4(data_dir / "a.nc")
    tif, _ = samples.tiff_multiband(data_dir / "a.tif")
    vrepo.add_virtual_netcdf(str(src), "nc")
    vrepo.commit("one")
    vrepo.checkout("main", for_writing=False)
    calls = [
        lambda: vrepo.add_virtual_netcdf(str(src), "x"),
        lambda: vrepo.add_virtual_hdf(str(src), "x"),
        lambda: vrepo.add_virtual_grib(str(data_dir / "none.grib2"), "x"),
        lambda: vrepo.add_virtual_zarr(str(data_dir), "x"),
        lambda: vrepo.add_virtual_tiff(str(tif), "x", "y"),
        lambda: vrepo.add_kerchunk_references({}, "x"),
    ]
    for call in calls:
        with pytest.raises(zarrlake.ReadOnlyError, match="not writable"):
            call()


def test_branches_commit_and_checkout_round_trip(vrepo, data_dir):
    a = samples.netcdf3_netcdf_c(data_dir / "a.nc")
    b = samples.grib2(data_dir / "b.grib2")
    vrepo.add_virtual_netcdf(str(a), "shared")
    first = vrepo.commit("on main")
    vrepo.new_branch("dev")
    vrepo.add_virtual_grib(str(b), "dev_only")
    vrepo.commit("on dev")
    vrepo.tag("v1")

    vrepo.checkout("main")
    assert vrepo._core.session_native.list_prefix("dev_only/") == []
    samples.assert_same(vrepo.to_xarray("shared"), samples.xr_open(a))
    vrepo.checkout("dev")
    assert vrepo.to_xarray("dev_only")["t"].shape == (3, 4, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        vrepo.checkout("v1")
    assert vrepo.to_xarray("dev_only")["t"].shape == (3, 4, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        vrepo.checkout(first)
    samples.assert_same(vrepo.to_xarray("shared"), samples.xr_open(a))
    assert vrepo._core.session_native.list_prefix("dev_only/") == []


def test_virtual_and_written_chunks_in_one_array(vrepo, data_dir):
    src = samples.netcdf3_netcdf_c(data_dir / "m.nc")
    vrepo.add_virtual_netcdf(str(src), "m")
    vrepo.commit("virtual")
    arr = zarr.open_array(vrepo.store, path="m/v", mode="r+")
    original = arr[:]
    assert arr.chunks == (1, 4)  # one chunk per record
    arr[0, :] = np.array([100, 200, 300, 400], dtype=arr.dtype)  # now a stored chunk
    vrepo.commit("overwrite record 0")
    got = zarr.open_array(vrepo.store, path="m/v", mode="r")[:]
    np.testing.assert_array_equal(got[0], [100, 200, 300, 400])
    np.testing.assert_array_equal(got[1:], original[1:])
    # Only the virtual chunks still depend on the source file.
    src.unlink()
    arr = zarr.open_array(vrepo.store, path="m/v", mode="r")
    np.testing.assert_array_equal(arr[0], [100, 200, 300, 400])
    with pytest.raises(zarrlake.SourceChangedError, match="no longer exists"):
        arr[1]


def test_prefixes_are_recorded_in_the_repo(vrepo, data_dir):
    src = samples.netcdf4(data_dir / "a.nc")
    vrepo.add_virtual_netcdf(str(src), "one/nc")
    vrepo.add_kerchunk_references(
        {".zgroup": "{}", "x/.zarray": "{}", "x/0": ["s3://far-bucket/f", 0, 4]}, "two", record_versions=False
    )
    vrepo.commit("two sources")
    assert virtual_prefixes(vrepo._core.session_native) == [data_dir.as_uri() + "/", "s3://far-bucket/"]
    record = vrepo.root_group["one/nc"].metadata.to_dict()
    assert "zarrlake_virtual" not in record.get("attributes", {})  # not an attribute


async def test_async_repo(tmp_path, data_dir):
    client = zarrlake.AsyncClient(tmp_path / "alake", allow_virtual=[str(data_dir)])
    repo = await client.create_repo("org/async")
    src = samples.netcdf4(data_dir / "a.nc")
    await repo.add_virtual_netcdf(str(src), "nc")
    tif, data = samples.tiff_multiband(data_dir / "a.tif")
    await repo.add_virtual_tiff(str(tif), "img", "rgb")
    await repo.commit("async virtual")
    np.testing.assert_array_equal(repo.to_xarray("nc")["temp"].values, samples.xr_open(src)["temp"].values)
    np.testing.assert_array_equal(repo.to_xarray("img")["rgb"].values, data)
