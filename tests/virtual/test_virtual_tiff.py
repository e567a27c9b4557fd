"""add_virtual_tiff: dims X, Y[, band]; overviews as arrays 0, 1, 2 in the group path/name."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
import zarr
import zarrlake

from . import virtual_samples as samples

pytest.importorskip("tifffile")


def _expected(data: np.ndarray, dims: tuple[str, ...]) -> xr.Dataset:
    return xr.Dataset({"img": (dims, data)})


@pytest.mark.parametrize("planar", [False, True])
def test_multiband(vrepo, data_dir, planar):
    src, data = samples.tiff_multiband(data_dir / "rgb.tif", planar=planar)
    vrepo.add_virtual_tiff(str(src), "images", "img")
    vrepo.commit("TIFF")
    dims = ("band", "Y", "X") if planar else ("Y", "X", "band")
    ours = vrepo.to_xarray("images")
    assert ours["img"].dims == dims
    xr.testing.assert_identical(ours[["img"]].load().drop_attrs(), _expected(data, dims))
    assert ours["img"].dtype == np.uint8  # no fill value: zero pixels stay zero


def test_overviews_become_a_group_of_levels(vrepo, data_dir):
    import tifffile

    src, levels = samples.tiff_overviews(data_dir / "cog.tif")
    vrepo.add_virtual_tiff(str(src), "", "cog")
    vrepo.commit("COG")
    group = zarr.open_group(vrepo.store, path="cog", mode="r")
    assert sorted(group.array_keys()) == ["0", "1", "2"]
    assert group.attrs["multiscales"][0]["datasets"][0]["path"] == "0"
    ds = vrepo.to_xarray("cog")
    for i, lvl in enumerate(levels):
        # Levels differ in size, so each overview has its own dimensions (Y1, X1, ...).
        assert ds[str(i)].dims == (("Y", "X") if i == 0 else (f"Y{i}", f"X{i}"))
        np.testing.assert_array_equal(ds[str(i)].values, lvl)
    with tifffile.TiffFile(src) as tif:
        np.testing.assert_array_equal(group["0"][:], tif.series[0].levels[0].asarray())


def test_nodata_becomes_the_fill_value(vrepo, data_dir):
    src, data = samples.tiff_nodata(data_dir / "nodata.tif")
    vrepo.add_virtual_tiff(str(src), "g", "dem")
    vrepo.commit("nodata")
    ours = vrepo.to_xarray("g")["dem"]
    assert np.isnan(ours.values[0, 0])
    np.testing.assert_array_equal(ours.values.ravel()[1:], data.ravel()[1:])


def test_bad_names(vrepo, data_dir):
    src, _ = samples.tiff_multiband(data_dir / "rgb.tif")
    with pytest.raises(zarrlake.InvalidNameError):
        vrepo.add_virtual_tiff(str(src), "images", "a/b")
    with pytest.raises(zarrlake.InvalidNameError):
        vrepo.add_virtual_tiff(str(src), "../up", "img")
    with pytest.raises(zarrlake.InvalidInputError, match="not a readable TIFF|holds no image"):
        (data_dir / "fake.tif").write_bytes(b"II*\x00" + bytes(4))
        vrepo.add_virtual_tiff(str(data_dir / "fake.tif"), "images", "fake")
