"""add_virtual_zarr: Zarr format 2 and 3 stores referenced file by file."""

from __future__ import annotations

import json
import warnings

import pytest
import xarray as xr
import zarr
import zarrlake

from . import virtual_samples as samples


@pytest.mark.parametrize(("zarr_format", "sharded"), [(2, False), (3, False), (3, True)])
def test_zarr_store_matches_xarray(vrepo, data_dir, zarr_format, sharded):
    src = samples.zarr_store(data_dir / f"v{zarr_format}.zarr", zarr_format, sharded=sharded)
    vrepo.add_virtual_zarr(str(src), "z")
    vrepo.commit("zarr")
    samples.assert_same(vrepo.to_xarray("z"), xr.open_zarr(src, consolidated=False))
    samples.assert_same(vrepo.to_xarray("z/nested"), xr.open_zarr(src, group="nested", consolidated=False))
    # The hierarchy is walkable from the root, in the source's format.
    root = zarr.open_group(vrepo.store, mode="r")
    assert root["z"].metadata.zarr_format == zarr_format
    assert sorted(root["z"].group_keys()) == ["nested"]


def test_consolidated_metadata_is_dropped(vrepo, data_dir):
    src = samples.zarr_store(data_dir / "c.zarr", 2)
    zarr.consolidate_metadata(str(src))
    assert (src / ".zmetadata").exists()
    vrepo.add_virtual_zarr(str(src), "c")
    keys = vrepo._core.session_native.list_prefix("c/")
    assert "c/.zmetadata" not in keys and "c/.zgroup" in keys


def test_stray_files_are_skipped_with_a_warning(vrepo, data_dir):
    src = samples.zarr_store(data_dir / "s.zarr", 2)
    (src / "README.txt").write_text("not zarr")
    with pytest.warns(UserWarning, match="neither Zarr metadata nor chunks"):
        vrepo.add_virtual_zarr(str(src), "s")
    assert "s/README.txt" not in vrepo._core.session_native.list_prefix("s/")


def test_not_a_zarr_store(vrepo, data_dir):
    (data_dir / "empty").mkdir()
    with pytest.raises(zarrlake.InvalidInputError, match="no Zarr store"):
        vrepo.add_virtual_zarr(str(data_dir / "empty"), "e")
    with pytest.raises(zarrlake.InvalidInputError, match="no Zarr store"):
        vrepo.add_virtual_zarr(str(data_dir / "missing"), "e")


def test_root_array_store_needs_a_path(vrepo, data_dir):
    arr = zarr.create_array(str(data_dir / "arr.zarr"), shape=(4,), chunks=(2,), dtype="i4", zarr_format=2)
    arr[:] = [1, 2, 3, 4]
    with pytest.raises(zarrlake.InvalidInputError, match="root level arrays are not supported"):
        vrepo.add_virtual_zarr(str(data_dir / "arr.zarr"), "")
    vrepo.add_virtual_zarr(str(data_dir / "arr.zarr"), "arr")
    vrepo.commit("array")
    assert list(zarr.open_array(vrepo.store, path="arr", mode="r")[:]) == [1, 2, 3, 4]
    record = json.loads(vrepo._core.session_native.get("arr/.zarray"))["zarrlake_virtual"]
    assert record["kind"] == "zarr" and record["prefixes"] == [(data_dir / "arr.zarr").as_uri() + "/"]


def test_format_clash_at_the_target_is_refused(vrepo, data_dir):
    zarr.open_group(vrepo.store, path="taken", mode="w", zarr_format=3)
    src = samples.zarr_store(data_dir / "v2.zarr", 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(zarrlake.InvalidInputError, match="already holds a Zarr format 3 node"):
            vrepo.add_virtual_zarr(str(src), "taken")
