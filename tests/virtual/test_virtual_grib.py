"""add_virtual_grib: messages concatenated along the one differing coordinate, as cfgrib does."""

from __future__ import annotations

import pytest
import xarray as xr
import zarrlake

from . import virtual_samples as samples

pytest.importorskip("cfgrib")


def _cfgrib(path, **kw):
    return xr.open_dataset(path, engine="cfgrib", backend_kwargs={"indexpath": "", **kw})


def test_levels_are_concatenated(vrepo, data_dir):
    src = samples.grib2(data_dir / "levels.grib2")
    vrepo.add_virtual_grib(str(src), "grib")
    vrepo.commit("GRIB")
    ours = vrepo.to_xarray("grib")
    assert ours["t"].dims == ("isobaricInhPa", "latitude", "longitude")
    assert list(ours["isobaricInhPa"].values) == [1000, 850, 500]
    with _cfgrib(src) as theirs:
        # cfgrib's history attribute carries the time of opening.
        samples.assert_same(ours, theirs, ignore_attrs=("history",))


def test_two_variables(vrepo, data_dir):
    src = samples.grib2(data_dir / "tu.grib2", shorts=("t", "u"))
    vrepo.add_virtual_grib(str(src), "tu")
    vrepo.commit("two variables")
    with _cfgrib(src) as theirs:
        samples.assert_same(vrepo.to_xarray("tu"), theirs, ignore_attrs=("history",))


def test_ambiguous_concatenation_is_explained(vrepo, data_dir):
    src = samples.grib2_two_coords(data_dir / "two.grib2")
    with pytest.raises(zarrlake.InvalidInputError) as e:
        vrepo.add_virtual_grib(str(src), "two")
    msg = str(e.value)
    assert "more than one coordinate" in msg and "step" in msg and "isobaricInhPa" in msg
    assert "concat_dims" in msg and "filter_by_keys" in msg
    assert not vrepo._core.session_native.status()


def test_explicit_concat_dims_and_filters(vrepo, data_dir):
    src = samples.grib2_two_coords(data_dir / "two.grib2")
    vrepo.add_virtual_grib(str(src), "both", concat_dims=["step", "isobaricInhPa"])
    vrepo.add_virtual_grib(str(src), "one_level", filter_by_keys={"level": 850})
    vrepo.commit("GRIB")
    with _cfgrib(src) as theirs:
        samples.assert_same(vrepo.to_xarray("both"), theirs, ignore_attrs=("history",))
    with _cfgrib(src, filter_by_keys={"level": 850}) as theirs:
        samples.assert_same(vrepo.to_xarray("one_level"), theirs, ignore_attrs=("history",))


def test_duplicate_messages_are_explained(vrepo, data_dir):
    src = samples.grib2_duplicates(data_dir / "dup.grib2")
    with pytest.raises(zarrlake.InvalidInputError, match="share the same coordinates"):
        vrepo.add_virtual_grib(str(src), "dup")
