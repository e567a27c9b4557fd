"""Who may read virtual chunks, and what happens when a source changes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import zarr
import zarrlake
from zarrlake import _native

from . import virtual_samples as samples


def _ingest(tmp_path, data_dir):
    src = samples.netcdf4(data_dir / "a.nc")
    writer = zarrlake.Client(tmp_path / "lake", allow_virtual=[str(data_dir)])
    repo = writer.create_repo("org/shared")
    repo.add_virtual_netcdf(str(src), "nc")
    repo.commit("virtual")
    return src, repo


def test_local_files_need_an_explicit_prefix(tmp_path, data_dir):
    src, _ = _ingest(tmp_path, data_dir)
    reader = zarrlake.Client(tmp_path / "lake").get_repo("org/shared")
    with pytest.raises(zarrlake.VirtualAccessError) as e:
        _ = reader.to_xarray("nc")["temp"].values
    msg = str(e.value)
    assert data_dir.as_uri() + "/" in msg and "allow_virtual" in msg
    assert isinstance(e.value, PermissionError)
    # Allowing the directory, as a path or a file:// URL, works.
    for allowed in (str(data_dir), data_dir.as_uri() + "/"):
        ok = zarrlake.Client(tmp_path / "lake", allow_virtual=[allowed]).get_repo("org/shared")
        np.testing.assert_array_equal(ok.to_xarray("nc")["temp"].values, samples.xr_open(src)["temp"].values)
    # A sibling directory is not enough.
    other = tmp_path / "other"
    other.mkdir()
    no = zarrlake.Client(tmp_path / "lake", allow_virtual=[str(other)]).get_repo("org/shared")
    with pytest.raises(zarrlake.VirtualAccessError):
        _ = no.to_xarray("nc")["temp"].values


def test_repo_config_never_allows_local_files(tmp_path, data_dir):
    """Opening a repo someone else made must never read arbitrary local files."""
    secret = data_dir / "secret.bin"
    secret.write_bytes(b"top secret data!")
    location = str(tmp_path / "evil")
    native = _native.Repository.create(location, virtual_prefixes=["file:///", data_dir.as_uri() + "/"])
    s = native.start_session("main", None, True, 3_600_000_000, "m", "m@example.org")
    s.set_many(
        [
            (
                "x/.zarray",
                b'{"shape":[16],"chunks":[16],"dtype":"|u1","fill_value":0,"order":"C",'
                b'"filters":null,"compressor":null,"zarr_format":2}',
            )
        ]
    )
    s.set_virtual_refs([("x/0", secret.as_uri(), 0, 16, None, None)])
    s.commit("evil", True, True)
    reader = _native.Repository.open(location)
    commit, _ = reader.resolve("main")
    r = reader.start_session("main", commit, False, 0, "r", "r@example.org")
    with pytest.raises(zarrlake.VirtualAccessError, match="local files are read only from prefixes"):
        r.get("x/0")
    reader.allow_virtual([str(data_dir)])
    assert r.get("x/0") == b"top secret data!"


def test_remote_prefixes_outside_the_allowed_ones(vrepo):
    vrepo.add_kerchunk_references(
        {
            ".zgroup": "{}",
            "x/.zarray": '{"shape":[1],"chunks":[1],"dtype":"<i4","fill_value":0,"order":"C",'
            '"filters":null,"compressor":null,"zarr_format":2}',
            "x/0": ["https://example.org/data/f.bin", 0, 4],
        },
        "remote",
        record_versions=False,
    )
    vrepo.commit("remote")
    with pytest.raises(zarrlake.VirtualAccessError) as e:
        zarr.open_array(vrepo.store, path="remote/x", mode="r")[:]
    assert 'allow_virtual=["https://example.org/"]' in str(e.value)


def test_changed_source_fails_clearly(vrepo, data_dir):
    src = samples.netcdf3_netcdf_c(data_dir / "c.nc")
    vrepo.add_virtual_netcdf(str(src), "c")
    vrepo.commit("virtual")
    before = vrepo.to_xarray("c")["v"].values
    time.sleep(0.01)
    samples.netcdf3_netcdf_c(src)  # rewritten: same layout, new modification time
    os.utime(src, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))
    with pytest.raises(zarrlake.SourceChangedError, match="modified after it was referenced"):
        _ = vrepo.to_xarray("c")["v"].values
    assert before.shape == (3, 4)


def test_deleted_source_fails_clearly(vrepo, data_dir):
    src = samples.netcdf3_netcdf_c(data_dir / "d.nc")
    vrepo.add_virtual_netcdf(str(src), "d")
    vrepo.commit("virtual")
    src.unlink()
    with pytest.raises(zarrlake.SourceChangedError, match="no longer exists"):
        _ = vrepo.to_xarray("d")["v"].values


def test_import_zarrlake_stays_light():
    code = (
        "import sys, zarrlake, zarrlake.virtual;"
        "heavy = {'xarray', 'kerchunk', 'h5py', 'cfgrib', 'eccodes', 'tifffile', 'boto3', 'scipy', 'netCDF4', 'rich'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
