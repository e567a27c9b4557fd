"""Virtual datasets on s3:// (moto's S3 server on 127.0.0.1): ingest, read, allow, change."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
import zarrlake

from . import virtual_samples as samples


def _upload(s3, path, key):
    s3["client"].upload_file(str(path), s3["bucket"], key)
    return f"s3://{s3['bucket']}/{key}"


@pytest.fixture
def s3repo(tmp_path, s3):
    client = zarrlake.Client(tmp_path / "lake", allow_virtual=["s3://src/"])
    return client.create_repo("org/s3")


def test_netcdf_grib_tiff_and_zarr_from_s3(s3, s3repo, data_dir, tmp_path):
    nc4 = samples.netcdf4(data_dir / "a.nc")
    nc3 = samples.netcdf3_netcdf_c(data_dir / "b.nc")
    grib = samples.grib2(data_dir / "c.grib2")
    tif, tif_data = samples.tiff_multiband(data_dir / "d.tif")
    z3 = samples.zarr_store(data_dir / "e.zarr", 3)
    for f in z3.rglob("*"):
        if f.is_file():
            _upload(s3, f, f"stores/e.zarr/{f.relative_to(z3).as_posix()}")

    s3repo.add_virtual_netcdf(_upload(s3, nc4, "nc/a.nc"), "nc4")
    s3repo.add_virtual_netcdf(_upload(s3, nc3, "nc/b.nc"), "nc3")
    s3repo.add_virtual_grib(_upload(s3, grib, "grib/c.grib2"), "grib")
    s3repo.add_virtual_tiff(_upload(s3, tif, "tif/d.tif"), "img", "rgb")
    s3repo.add_virtual_zarr("s3://src/stores/e.zarr", "z3")
    s3repo.commit("from S3")

    samples.assert_same(s3repo.to_xarray("nc4"), samples.xr_open(nc4))
    samples.assert_same(s3repo.to_xarray("nc3"), samples.xr_open(nc3))
    with xr.open_dataset(grib, engine="cfgrib", backend_kwargs={"indexpath": ""}) as theirs:
        samples.assert_same(s3repo.to_xarray("grib"), theirs, ignore_attrs=("history",))
    np.testing.assert_array_equal(s3repo.to_xarray("img")["rgb"].values, tif_data)
    samples.assert_same(s3repo.to_xarray("z3"), xr.open_zarr(z3, consolidated=False))
    # References record the S3 ETag.
    record = json.loads(s3repo._core.session_native.get("nc4/.zgroup"))["zarrlake_virtual"]
    assert record["prefixes"] == ["s3://src/"] and record["sources"][0]["etag"].startswith('"')


def test_s3_reads_need_the_prefix(s3, tmp_path, data_dir):
    src = samples.netcdf4(data_dir / "a.nc")
    url = _upload(s3, src, "a.nc")
    writer = zarrlake.Client(tmp_path / "lake", allow_virtual=["s3://src/"]).create_repo("org/s3")
    writer.add_virtual_netcdf(url, "nc")
    writer.commit("virtual")
    reader = zarrlake.Client(tmp_path / "lake").get_repo("org/s3")
    with pytest.raises(zarrlake.VirtualAccessError, match=r'allow_virtual=\["s3://src/"\]'):
        _ = reader.to_xarray("nc")["temp"].values
    other_bucket = zarrlake.Client(tmp_path / "lake", allow_virtual=["s3://src-2/"]).get_repo("org/s3")
    with pytest.raises(zarrlake.VirtualAccessError):
        _ = other_bucket.to_xarray("nc")["temp"].values


def test_changed_s3_object_fails_clearly(s3, s3repo, data_dir):
    src = samples.netcdf3_netcdf_c(data_dir / "a.nc")
    url = _upload(s3, src, "changing.nc")
    s3repo.add_virtual_netcdf(url, "nc")
    s3repo.commit("virtual")
    assert s3repo.to_xarray("nc")["v"].shape == (3, 4)
    data = bytearray(src.read_bytes())
    data[-1] ^= 0xFF
    s3["client"].put_object(Bucket="src", Key="changing.nc", Body=bytes(data))
    with pytest.raises(zarrlake.SourceChangedError, match="ETag"):
        _ = s3repo.to_xarray("nc")["v"].values
    s3["client"].delete_object(Bucket="src", Key="changing.nc")
    with pytest.raises(zarrlake.SourceChangedError, match="no longer exists"):
        _ = s3repo.to_xarray("nc")["v"].values


def test_kerchunk_json_on_s3(s3, s3repo, data_dir):
    raw = data_dir / "raw.bin"
    raw.write_bytes(np.arange(64, dtype="<i4").tobytes())
    url = _upload(s3, raw, "raw.bin")
    refs = {
        "version": 1,
        "templates": {"u": url},
        "refs": {
            ".zgroup": '{"zarr_format": 2}',
            "x/.zarray": json.dumps(
                {
                    "shape": [64],
                    "chunks": [16],
                    "dtype": "<i4",
                    "fill_value": None,
                    "order": "C",
                    "filters": None,
                    "compressor": None,
                    "zarr_format": 2,
                }
            ),
        },
        "gen": [
            {
                "key": "x/{{i}}",
                "url": "{{u}}",
                "offset": "{{i * 64}}",
                "length": "64",
                "dimensions": {"i": [0, 1, 2, 3]},
            }
        ],
    }
    s3["client"].put_object(Bucket="src", Key="refs.json", Body=json.dumps(refs).encode())
    s3repo.add_kerchunk_references("s3://src/refs.json", "k")
    s3repo.commit("kerchunk from S3")
    import zarr

    assert list(zarr.open_array(s3repo.store, path="k/x", mode="r")[:]) == list(range(64))
