"""add_virtual_netcdf / add_virtual_hdf: netCDF3, netCDF4 and HDF5 sources match xarray."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
import zarrlake

from . import virtual_samples as samples


def _open(path, **kw):
    return xr.open_dataset(path, **kw)


@pytest.mark.parametrize("version", [1, 2])
def test_netcdf3_scipy_matches_xarray(vrepo, data_dir, version):
    src = samples.netcdf3(data_dir / f"classic{version}.nc", version=version)
    vrepo.add_virtual_netcdf(str(src), "nc3")
    vrepo.commit("netCDF3")
    with _open(src, engine="scipy") as theirs:
        samples.assert_same(vrepo.to_xarray("nc3"), theirs, float64=("packed",))
    with _open(src, engine="netcdf4") as theirs:
        samples.assert_same(vrepo.to_xarray("nc3"), theirs, float64=("packed",))


@pytest.mark.parametrize("fmt", ["NETCDF3_CLASSIC", "NETCDF3_64BIT_OFFSET"])
def test_netcdf3_netcdf_c_matches_xarray(vrepo, data_dir, fmt):
    src = samples.netcdf3_netcdf_c(data_dir / f"{fmt}.nc", fmt)
    vrepo.add_virtual_netcdf(str(src), "nc3c")
    vrepo.commit("netCDF3 by netCDF-C")
    for engine in ("netcdf4", "scipy"):
        with _open(src, engine=engine) as theirs:
            samples.assert_same(vrepo.to_xarray("nc3c"), theirs)


def test_netcdf3_single_record_variable(vrepo, data_dir):
    src = samples.netcdf3_one_record_var(data_dir / "one.nc")
    vrepo.add_virtual_netcdf(src.as_uri(), "one")  # a file:// URL works too
    vrepo.commit("one record variable")
    with _open(src) as theirs:
        samples.assert_same(vrepo.to_xarray("one"), theirs)


def test_netcdf3_cdf5(vrepo, data_dir):
    netCDF4 = pytest.importorskip("netCDF4")
    src = data_dir / "cdf5.nc"
    with netCDF4.Dataset(src, "w", format="NETCDF3_64BIT_DATA") as ds:
        ds.createDimension("r", None)
        ds.createDimension("x", 3)
        v = ds.createVariable("big", "i8", ("r", "x"))
        v[:] = np.arange(12, dtype="i8").reshape(4, 3) * 10**10
        u = ds.createVariable("u", "u2", ("x",))
        u[:] = [1, 2, 65535]
        w = ds.createVariable("w", "f4", ("r",))
        w[:] = [0.5, 1.5, 2.5, 3.5]
    vrepo.add_virtual_netcdf(str(src), "cdf5")
    vrepo.commit("CDF-5")
    with _open(src) as theirs:
        samples.assert_same(vrepo.to_xarray("cdf5"), theirs)


def test_netcdf3_large_variable_is_chunked(vrepo, data_dir):
    from scipy.io import netcdf_file

    src = data_dir / "big3.nc"
    with netcdf_file(src, "w") as f:
        f.createDimension("y", 600)
        f.createDimension("x", 1000)
        v = f.createVariable("v", "f8", ("y", "x"))
        v[:] = np.arange(600_000, dtype="f8").reshape(600, 1000)
    vrepo.add_virtual_netcdf(str(src), "big")
    zarray = json.loads(vrepo._core.session_native.get("big/v/.zarray"))
    assert zarray["chunks"][0] < 600 and 600 % zarray["chunks"][0] == 0
    vrepo.commit("big")
    with _open(src) as theirs:
        samples.assert_same(vrepo.to_xarray("big"), theirs)


def test_netcdf4_matches_xarray(vrepo, data_dir):
    src = samples.netcdf4(data_dir / "four.nc")
    vrepo.add_virtual_netcdf(str(src), "nc4/root")
    vrepo.commit("netCDF4")
    for engine in ("netcdf4", "h5netcdf"):
        with _open(src, engine=engine) as theirs:
            samples.assert_same(vrepo.to_xarray("nc4/root"), theirs)
        with _open(src, engine=engine, group="forecast") as theirs:
            samples.assert_same(vrepo.to_xarray("nc4/root/forecast"), theirs)
    # Chunks HDF5 never allocated read as the variable's fill value, as in the original.
    ours = vrepo.to_xarray("nc4/root", mask_and_scale=False)["counts"].values
    assert (ours[2:, :] == -1).all() and (ours[:2, 3:] == -1).all()


def test_h5netcdf_written_file(vrepo, data_dir):
    src = samples.h5netcdf_file(data_dir / "h5n.nc")
    vrepo.add_virtual_netcdf(str(src), "h5n")
    vrepo.commit("h5netcdf")
    with _open(src, engine="h5netcdf") as theirs:
        samples.assert_same(vrepo.to_xarray("h5n"), theirs)


def test_plain_hdf5(vrepo, data_dir):
    src = samples.hdf5(data_dir / "plain.h5")
    vrepo.add_virtual_hdf(str(src), "h5")
    vrepo.commit("HDF5")
    # Datasets without dimension scales get netCDF-C's phony dimension names.
    with _open(src, engine="h5netcdf", phony_dims="sort") as theirs:
        samples.assert_same(vrepo.to_xarray("h5"), theirs)
    with _open(src, engine="h5netcdf", phony_dims="sort", group="sub") as theirs:
        samples.assert_same(vrepo.to_xarray("h5/sub"), theirs)


def test_unknown_file_type_is_refused(vrepo, data_dir):
    src = data_dir / "junk.nc"
    src.write_bytes(b"GIF89a" + bytes(100))
    with pytest.raises(zarrlake.InvalidInputError, match="unknown file type"):
        vrepo.add_virtual_netcdf(str(src), "junk")


def test_missing_source_is_refused(vrepo, data_dir):
    with pytest.raises(zarrlake.InvalidInputError, match="does not exist"):
        vrepo.add_virtual_netcdf(str(data_dir / "nope.nc"), "nope")


def test_netcdf3_rejects_scanner_options(vrepo, data_dir):
    src = samples.netcdf3(data_dir / "c.nc")
    with pytest.raises(zarrlake.InvalidInputError, match="unexpected options"):
        vrepo.add_virtual_netcdf(str(src), "c", vlen_encode="embed")
