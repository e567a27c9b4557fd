"""Real sample files of every virtual format, written with each format's own library."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def netcdf3(path: Path, version: int = 1) -> Path:
    """netCDF3 (scipy): two record variables, char, packed and masked variables.

    scipy misplaces scalar variables' data in files with record variables, so the
    netCDF-C sample below has the scalar.
    """
    from scipy.io import netcdf_file

    with netcdf_file(path, "w", version=version) as f:
        f.title = "netCDF3 sample"
        f.history = "made by virtual_samples"
        f.createDimension("time", None)
        f.createDimension("lat", 3)
        f.createDimension("lon", 5)
        f.createDimension("nchar", 4)
        lat = f.createVariable("lat", "f8", ("lat",))
        lat.units = "degrees_north"
        lat[:] = [10.0, 20.0, 30.0]
        lon = f.createVariable("lon", "f4", ("lon",))
        lon[:] = np.arange(5) * 1.5
        code = f.createVariable("code", "c", ("lat", "nchar"))
        code[:] = np.array([list(b"ab  "), list(b"cdef"), list(b"g   ")], dtype="S1")
        grid = f.createVariable("grid", "f8", ("lat", "lon"))
        grid[:] = np.linspace(0, 1, 15).reshape(3, 5)
        packed = f.createVariable("packed", "i2", ("lat", "nchar"))
        packed.scale_factor = 0.5
        packed.add_offset = 10.0
        packed[:] = np.arange(12, dtype="i2").reshape(3, 4)
        t = f.createVariable("time", "i4", ("time",))
        t.units = "days since 2000-01-01"
        t[:] = np.arange(6)
        temp = f.createVariable("temp", "f4", ("time", "lat", "lon"))
        temp.units = "K"
        temp.valid_range = np.array([0.0, 400.0], dtype="f4")
        temp._FillValue = np.float32(-999.0)
        data = (np.arange(6 * 3 * 5, dtype="f4").reshape(6, 3, 5) + 250).copy()
        data[2, 1, 1] = -999.0
        temp[:] = data

    return path


def netcdf3_netcdf_c(path: Path, fmt: str = "NETCDF3_CLASSIC") -> Path:
    """netCDF3 written by netCDF-C: record variables, a scalar, chars, fill values, packing."""
    import netCDF4

    with netCDF4.Dataset(path, "w", format=fmt) as ds:
        ds.title = "netCDF3 by netCDF-C"
        ds.setncattr("levels", np.array([1.5, 2.5], dtype="f4"))
        ds.createDimension("time", None)
        ds.createDimension("y", 4)
        ds.createDimension("strlen", 3)
        t = ds.createVariable("time", "f8", ("time",))
        t.units = "seconds since 2001-01-01"
        t[:] = [0.0, 60.0, 120.0]
        y = ds.createVariable("y", "i4", ("y",))
        y[:] = [4, 3, 2, 1]
        v = ds.createVariable("v", "f4", ("time", "y"), fill_value=np.float32(1e20))
        v[:] = np.ma.masked_equal(np.array([[1, 2, 3, 4], [5, 1e20, 7, 8], [9, 10, 11, 12]], "f4"), 1e20)
        p = ds.createVariable("p", "i2", ("time",))
        p.scale_factor = 0.1
        p[:] = [1.0, 2.0, 3.0]
        s = ds.createVariable("s", "S1", ("y", "strlen"))
        s[:] = netCDF4.stringtochar(np.array(["abc", "de", "f", "ghi"], dtype="S3"))
        z = ds.createVariable("z", "f8", ())
        z.assignValue(9.5)
        b = ds.createVariable("b", "i1", ("y",))
        b[:] = [-1, 0, 1, 2]
    return path


def netcdf3_one_record_var(path: Path) -> Path:
    """A netCDF3 file with exactly one record variable of odd byte size (no record padding)."""
    from scipy.io import netcdf_file

    with netcdf_file(path, "w") as f:
        f.createDimension("t", None)
        f.createDimension("x", 3)
        v = f.createVariable("v", "i2", ("t", "x"))
        v[:] = np.arange(15, dtype="i2").reshape(5, 3)
        c = f.createVariable("c", "i1", ("x",))
        c[:] = [1, 2, 3]
    return path


def netcdf4(path: Path) -> Path:
    """netCDF4 (netCDF4-python): groups, compression, unlimited dims, strings, unwritten chunks."""
    import netCDF4

    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.title = "netCDF4 sample"
        ds.setncattr("numbers", np.array([1, 2, 3], dtype="i4"))
        ds.createDimension("time", None)
        ds.createDimension("lat", 4)
        ds.createDimension("lon", 6)
        ds.createDimension("nodim", 2)  # a dimension with no coordinate variable
        t = ds.createVariable("time", "f8", ("time",))
        t.units = "hours since 2020-01-01 00:00"
        t.calendar = "standard"
        t[:] = np.arange(5) * 6.0
        lat = ds.createVariable("lat", "f4", ("lat",))
        lat[:] = np.linspace(-45, 45, 4)
        lon = ds.createVariable("lon", "f4", ("lon",))
        lon[:] = np.linspace(0, 300, 6)
        temp = ds.createVariable(
            "temp", "f4", ("time", "lat", "lon"), zlib=True, complevel=4, shuffle=True, chunksizes=(1, 4, 6)
        )
        temp.units = "K"
        temp.long_name = "air temperature"
        temp[:] = np.random.default_rng(1).random((5, 4, 6)).astype("f4") * 30 + 260
        counts = ds.createVariable("counts", "i4", ("lat", "lon"), fill_value=-1, chunksizes=(2, 3))
        counts[0:2, 0:3] = np.arange(6).reshape(2, 3)  # the other chunks are never written
        nofill = ds.createVariable("nofill", "i2", ("lat",))
        nofill[:] = [1, 2, 3, 4]
        name = ds.createVariable("name", str, ("lat",))
        name[:] = np.array(["north", "mid-n", "mid-s", "south"], dtype=object)
        scalar = ds.createVariable("scalar", "f8", ())
        scalar.assignValue(3.25)
        pair = ds.createVariable("pair", "u1", ("nodim",))
        pair[:] = [5, 6]
        g = ds.createGroup("forecast")
        g.source = "model"
        g.createDimension("step", 3)
        s = g.createVariable("step", "i4", ("step",))
        s[:] = [0, 6, 12]
        w = g.createVariable("wind", "f8", ("step", "lat"), zlib=True)
        w[:] = np.arange(12.0).reshape(3, 4)
    return path


def h5netcdf_file(path: Path) -> Path:
    """netCDF4 written by h5netcdf."""
    import h5netcdf

    with h5netcdf.File(path, "w") as f:
        f.attrs["origin"] = "h5netcdf"
        f.dimensions = {"x": 8, "y": 3}
        x = f.create_variable("x", ("x",), float)
        x[:] = np.arange(8.0)
        v = f.create_variable("v", ("y", "x"), "i8", chunks=(1, 8), compression="gzip")
        v[:] = np.arange(24).reshape(3, 8)
        v.attrs["units"] = "m"
    return path


def hdf5(path: Path) -> Path:
    """Plain HDF5 (h5py): chunked+compressed, contiguous and scalar datasets, a subgroup."""
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["creator"] = "h5py"
        f.attrs["ids"] = np.array([3, 4])
        a = f.create_dataset(
            "a", data=np.arange(100, dtype="f8").reshape(10, 10), chunks=(5, 5), compression="gzip", shuffle=True
        )
        a.attrs["units"] = "m/s"
        f.create_dataset("b", data=np.arange(7, dtype="i2"))
        f.create_dataset("c", data=np.float32(2.5))
        g = f.create_group("sub")
        g.attrs["kind"] = "nested"
        g.create_dataset("d", data=np.arange(12, dtype="u4").reshape(3, 4), chunks=(3, 2))
    return path


def _grib_message(
    f: Any, value_offset: float, level: int, step: int = 0, short: str = "t", date: int = 20240101
) -> None:
    import eccodes

    params = {"t": (0, 0), "u": (2, 2)}
    h = eccodes.codes_grib_new_from_samples("GRIB2")
    try:
        for k, v in {
            "Ni": 8,
            "Nj": 4,
            "latitudeOfFirstGridPointInDegrees": 60.0,
            "latitudeOfLastGridPointInDegrees": 30.0,
            "longitudeOfFirstGridPointInDegrees": 0.0,
            "longitudeOfLastGridPointInDegrees": 70.0,
            "iDirectionIncrementInDegrees": 10.0,
            "jDirectionIncrementInDegrees": 10.0,
            "typeOfFirstFixedSurface": 100,
            "scaleFactorOfFirstFixedSurface": 0,
            "scaledValueOfFirstFixedSurface": level * 100,
            "discipline": 0,
            "parameterCategory": params[short][0],
            "parameterNumber": params[short][1],
            "dataDate": date,
            "dataTime": 0,
            "forecastTime": step,
        }.items():
            eccodes.codes_set(h, k, v)
        eccodes.codes_set_values(h, (np.arange(32, dtype=float) * 0.25 + value_offset).tolist())
        eccodes.codes_write(h, f)
    finally:
        eccodes.codes_release(h)


def grib2(path: Path, levels: tuple[int, ...] = (1000, 850, 500), shorts: tuple[str, ...] = ("t",)) -> Path:
    """GRIB2 with one message per (variable, level): they differ in the level only."""
    with open(path, "wb") as f:
        for s, short in enumerate(shorts):
            for i, lev in enumerate(levels):
                _grib_message(f, 200 + 10 * i + 100 * s, lev, short=short)
    return path


def grib2_two_coords(path: Path) -> Path:
    """GRIB2 whose messages differ in both level and step (ambiguous to concatenate)."""
    with open(path, "wb") as f:
        for i, lev in enumerate((1000, 850)):
            for j, step in enumerate((0, 6, 12)):
                _grib_message(f, 10 * i + j, lev, step=step)
    return path


def grib2_duplicates(path: Path) -> Path:
    """GRIB2 with two messages that share every coordinate."""
    with open(path, "wb") as f:
        _grib_message(f, 1.0, 850)
        _grib_message(f, 2.0, 850)
    return path


def tiff_multiband(path: Path, planar: bool = False) -> tuple[Path, np.ndarray]:
    """A tiled, zlib-compressed 3-band image (contiguous YXS, or planar SYX)."""
    import tifffile

    data = (np.arange(40 * 56 * 3) % 251).astype("uint8")
    data = data.reshape(3, 40, 56) if planar else data.reshape(40, 56, 3)
    tifffile.imwrite(
        path,
        data,
        photometric="rgb",
        planarconfig="separate" if planar else "contig",
        tile=(16, 16),
        compression="zlib",
    )
    return path, data


def tiff_overviews(path: Path) -> tuple[Path, list[np.ndarray]]:
    """A single-band image with two overviews (SubIFDs), like a COG."""
    import tifffile

    base = (np.arange(128 * 96) % 1000).astype("uint16").reshape(128, 96)
    levels = [base, base[::2, ::2].copy(), base[::4, ::4].copy()]
    with tifffile.TiffWriter(path) as tw:
        tw.write(levels[0], subifds=2, tile=(32, 32), compression="zlib")
        for lvl in levels[1:]:
            tw.write(lvl, subfiletype=1, tile=(32, 32), compression="zlib")
    return path, levels


def tiff_nodata(path: Path) -> tuple[Path, np.ndarray]:
    """A float image with a GDAL nodata tag."""
    import tifffile

    data = np.arange(32 * 32, dtype="f4").reshape(32, 32)
    data[0, 0] = -9999.0
    tifffile.imwrite(path, data, tile=(16, 16), extratags=[(42113, "s", 0, "-9999", True)])
    return path, data


def zarr_store(path: Path, zarr_format: int, sharded: bool = False) -> Path:
    """A Zarr store with a nested group, compressed arrays and attributes."""
    import xarray as xr

    ds = xr.Dataset(
        {"a": (("x", "y"), np.arange(40.0).reshape(8, 5), {"units": "m"}), "b": (("x",), np.arange(8, dtype="i4"))},
        coords={"x": np.arange(8) * 10},
        attrs={"title": f"zarr v{zarr_format}"},
    )
    enc: dict[str, Any] = {"a": {"chunks": (4, 5)}, "b": {"chunks": (3,)}}
    if sharded:
        enc["a"] = {"chunks": (2, 5), "shards": (4, 5)}
    ds.to_zarr(path, zarr_format=zarr_format, encoding=enc, consolidated=False, mode="w")
    sub = xr.Dataset({"c": (("z",), np.array([1.5, 2.5, 3.5]))})
    sub.to_zarr(path, group="nested", zarr_format=zarr_format, consolidated=False, mode="w")
    return path


def kerchunk_json(path: Path, refs: dict[str, Any]) -> Path:
    path.write_text(json.dumps(refs))
    return path


def assert_same(ours: Any, theirs: Any, ignore_attrs: tuple[str, ...] = (), float64: tuple[str, ...] = ()) -> None:
    """Equal values, dimensions, coordinates, attributes and dtypes (strings: any string dtype).

    ``float64`` names packed variables whose float32 ``scale_factor``/``add_offset`` became
    JSON numbers (Zarr attributes have no dtype), so xarray unpacks them to float64.
    """
    import xarray as xr

    a, b = ours.load(), theirs.load()
    for ds in (a, b):
        for k in ignore_attrs:
            ds.attrs.pop(k, None)
    xr.testing.assert_identical(a, b)
    assert set(a.coords) == set(b.coords)
    for name in b.variables:
        da, db = a[name].dtype, b[name].dtype
        if name in float64:
            assert (da, db) == (np.dtype("f8"), np.dtype("f4")), (name, da, db)
            continue
        assert da == db or (da.kind in "OUT" and db.kind in "OUT"), (name, da, db)


def xr_open(path: Path, **kw: Any) -> Any:
    import xarray as xr

    return xr.open_dataset(path, **kw)


def raw_int32_refs(data: Path) -> dict[str, Any]:
    """Kerchunk references (the ``refs`` of a version 1 document) to an int32 array of 8
    in two chunks of 4 of a raw file, ``data/raw.bin`` (written here): 0-3 and 100-103."""
    raw = data / "raw.bin"
    raw.write_bytes(np.arange(1000, dtype="<i4").tobytes())
    zarray = {
        "shape": [8],
        "chunks": [4],
        "dtype": "<i4",
        "fill_value": None,
        "order": "C",
        "filters": None,
        "compressor": None,
        "zarr_format": 2,
    }
    return {
        ".zgroup": '{"zarr_format": 2}',
        "x/.zarray": json.dumps(zarray),
        "x/.zattrs": '{"_ARRAY_DIMENSIONS": ["i"]}',
        "x/0": [str(raw), 0, 16],
        "x/1": [str(raw), 400, 16],
    }
