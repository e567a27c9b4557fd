"""``zarrlake virtual add NAME KIND URL PATH``, through subprocess: output, exit codes, and
the references read back through the Python API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import zarr
import zarrlake
from conftest import AUTHOR
from test_cli import NAME, fails, ok
from virtual import virtual_samples as samples


@pytest.fixture
def lake(tmp_path: Path) -> dict[str, str]:
    """org/repo with one commit (an empty root group), and a directory of source files."""
    root = tmp_path / "lake"
    repo = zarrlake.Client(root, author=AUTHOR).create_repo(NAME)
    zarr.open_group(repo.store, mode="a").attrs["title"] = "virtual"
    repo.commit("Initial")
    data = tmp_path / "data"
    data.mkdir()
    return {"root": str(root), "data": str(data)}


def reader(lake: dict[str, str]) -> zarrlake.Repo:
    """The repo, for a client that allows the sources' directory (local files need that)."""
    return zarrlake.Client(lake["root"], allow_virtual=[lake["data"]]).get_repo(NAME)


def _raw_refs(data: Path) -> Path:
    """A kerchunk (version 1) JSON file: an int32 array of 8, in two chunks of a raw file."""
    refs = samples.raw_int32_refs(data)
    return samples.kerchunk_json(data / "refs.json", {"version": 1, "refs": refs})


def test_netcdf_is_added_and_committed(lake):
    src = samples.netcdf3(Path(lake["data"]) / "t.nc")
    out = ok("--root", lake["root"], "virtual", "add", NAME, "netcdf", str(src), "era5/2020").splitlines()
    commit = reader(lake).commit_log()[0]
    assert out == [
        f"added netcdf references from {src} at /era5/2020",
        f"committed {commit.id} on main",
        f"readers must allow: {Path(lake['data']).as_uri()}/ (Client(..., allow_virtual=[...]))",
    ]
    assert commit.message == f"add virtual netcdf {src} at /era5/2020"
    with samples.xr_open(src, engine="scipy") as theirs:
        samples.assert_same(reader(lake).to_xarray("era5/2020"), theirs, float64=("packed",))
    # Nothing is left behind: the session was committed, and no other was shared.
    assert ok("--root", lake["root"], "sessions", "list", NAME).strip() == "no active sessions"


def test_kerchunk_on_a_branch_with_a_message_and_json(lake):
    refs = _raw_refs(Path(lake["data"]))
    ok("--root", lake["root"], "branch", "create", NAME, "dev")
    args = ["virtual", "add", NAME, "kerchunk", str(refs), "/raw/", "-b", "dev", "-m", "raw ints", "--json"]
    data = json.loads(ok(*args, "--root", lake["root"]))
    repo = reader(lake)
    tip = repo.commit_log("dev")[0]
    assert data == {
        "kind": "kerchunk",
        "url": str(refs),
        "path": "/raw",
        "branch": "dev",
        "commit": tip.id,
        "session": None,
        "prefixes": [Path(lake["data"]).as_uri() + "/"],
    }
    assert tip.message == "raw ints" and len(repo.commit_log("main")) == 1
    repo.checkout("dev")
    assert zarr.open_array(repo.store, path="raw/x", mode="r")[:].tolist() == [0, 1, 2, 3, 100, 101, 102, 103]


def test_no_commit_leaves_a_shared_session_that_later_adds_commit(lake):
    root, data = lake["root"], Path(lake["data"])
    add = ["--root", root, "virtual", "add", NAME]
    refs = str(_raw_refs(data))  # once: writing the source again would change it under the first references
    first = json.loads(ok(*add, "kerchunk", refs, "raw", "--no-commit", "--json"))
    sid = first["session"]
    assert first["commit"] is None and sid
    assert json.loads(ok("sessions", "list", NAME, "--json", "--root", root))[0]["id"] == sid
    assert "/raw/x" in ok("status", NAME, "--session", sid, "--root", root)
    assert len(reader(lake).commit_log()) == 1  # nothing committed yet

    out = ok(*add, "kerchunk", refs, "more", "--session", sid, "--no-commit")
    assert f"uncommitted, in session {sid} on main" in out.splitlines()

    tif, pixels = samples.tiff_multiband(data / "rgb.tif")
    out = ok(*add, "tiff", str(tif), "images", "--name", "img", "-s", sid, "-m", "all three")
    log = reader(lake).commit_log()
    assert [c.message for c in log] == ["all three", "Initial"] and f"committed {log[0].id} on main" in out
    repo = reader(lake)
    assert zarr.open_array(repo.store, path="more/x", mode="r")[:].tolist()[:4] == [0, 1, 2, 3]
    assert zarr.open_array(repo.store, path="raw/x", mode="r")[4] == 100
    assert np.array_equal(repo.to_xarray("images")["img"].values, pixels)
    assert ok("sessions", "list", NAME, "--root", root).strip() == "no active sessions"  # committed: not joinable


def test_hdf_grib_and_zarr_sources(lake):
    root, data = lake["root"], Path(lake["data"])
    add = ["--root", root, "virtual", "add", NAME]
    h5 = samples.hdf5(data / "plain.h5")
    ok(*add, "hdf", str(h5), "h5")
    grib = samples.grib2(data / "levels.grib2")
    ok(*add, "grib", str(grib), "grib")
    store = samples.zarr_store(data / "store.zarr", 3)
    ok(*add, "zarr", str(store), "copy/of/store")
    repo = reader(lake)
    assert [c.message.split()[:3] for c in repo.commit_log()[:3]] == [
        ["add", "virtual", k] for k in ("zarr", "grib", "hdf")
    ]
    assert zarr.open_array(repo.store, path="h5/a", mode="r")[9, 9] == 99.0
    assert repo.to_xarray("grib")["t"].shape[0] == 3  # one level per message
    ours, theirs = repo.to_xarray("copy/of/store"), zarr.open_group(store, mode="r")
    assert np.array_equal(ours["a"].values, theirs["a"][:])


@pytest.mark.parametrize(
    ("extra", "code", "says"),
    [
        (["bogus", "{nc}", "p"], 2, "invalid choice: 'bogus'"),
        (["netcdf", "{data}/missing.nc", "p"], 1, "missing.nc does not exist"),
        (["netcdf", "{nc}", "../up"], 1, "invalid target path '../up'"),
        (["netcdf", "{data}", "p"], 1, "is a directory, not a file"),
        (["netcdf", "{refs}", "p"], 1, "unknown file type"),
        (["zarr", "{data}/missing.zarr", "p"], 1, "no Zarr store at"),
        (["kerchunk", "{nc}", "p"], 1, "is not a kerchunk JSON reference file"),
        (["tiff", "{nc}", "p"], 2, "needs --name ARRAY"),
        (["netcdf", "{nc}", "p", "--name", "x"], 2, "--name is for tiff sources only"),
        (["netcdf", "{nc}", "p", "-b", "nope"], 1, "'nope' was not found"),
        (["netcdf", "{nc}", "p", "-s", "0" * 24], 1, "does not exist in this repo"),
        (["netcdf", "{nc}", "p", "-s", "x", "-b", "main"], 2, "not both"),
        (["netcdf", "{nc}", "p", "--no-commit", "-m", "m"], 2, "--no-commit makes none"),
        (["netcdf", "{nc}"], 2, "required: PATH"),
    ],
)
def test_errors_are_one_line_and_leave_nothing(lake, extra, code, says):
    data = Path(lake["data"])
    files = {"nc": str(samples.netcdf3(data / "t.nc")), "refs": str(_raw_refs(data)), "data": str(data)}
    line = fails("virtual", "add", NAME, *(a.format(**files) for a in extra), "--root", lake["root"], code=code)
    assert says in line
    assert len(reader(lake).commit_log()) == 1
    assert ok("sessions", "list", NAME, "--root", lake["root"]).strip() == "no active sessions"


def test_a_missing_repo(lake, tmp_path):
    src = samples.netcdf3(tmp_path / "t.nc")
    assert "Repo 'org/missing' not found" in fails(
        "virtual", "add", "org/missing", "netcdf", str(src), "p", "--root", lake["root"]
    )


def test_help_names_every_kind():
    out = ok("virtual", "add", "--help")
    for kind in ("kerchunk", "netcdf", "hdf", "grib", "zarr", "tiff"):
        assert kind in out
    assert "NAME KIND URL PATH" in out and "--no-commit" in out
