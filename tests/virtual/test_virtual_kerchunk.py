"""add_kerchunk_references: versions 0 and 1, inline data, templates and generators."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import zarr
import zarrlake
from zarrlake.virtual.kerchunk_refs import load_references
from zarrlake.virtual.templates import render

from . import virtual_samples as samples


def _zarray(shape, chunks, dtype="<i4", **kw):
    return json.dumps(
        {
            "shape": shape,
            "chunks": chunks,
            "dtype": dtype,
            "fill_value": None,
            "order": "C",
            "filters": None,
            "compressor": None,
            "zarr_format": 2,
            **kw,
        }
    )


@pytest.fixture
def raw_file(data_dir):
    """A file of int32 values 0..999 (little-endian)."""
    path = data_dir / "raw.bin"
    path.write_bytes(np.arange(1000, dtype="<i4").tobytes())
    return path


def _read(repo, path):
    return zarr.open_array(repo.store, path=path, mode="r")[:]


def test_version0_dict(vrepo, raw_file):
    refs = {
        ".zgroup": '{"zarr_format": 2}',
        "x/.zarray": _zarray([8], [4]),
        "x/.zattrs": '{"_ARRAY_DIMENSIONS": ["i"]}',
        "x/0": [str(raw_file), 0, 16],
        "x/1": [str(raw_file), 400, 16],
    }
    vrepo.add_kerchunk_references(refs, "v0")
    vrepo.commit("v0")
    assert list(_read(vrepo, "v0/x")) == [0, 1, 2, 3, 100, 101, 102, 103]
    assert list(vrepo.to_xarray("v0")["x"].dims) == ["i"]


def test_version1_inline_templates_and_gen(vrepo, raw_file, data_dir):
    refs = {
        "version": 1,
        "templates": {"u": str(raw_file), "d": str(data_dir)},
        "refs": {
            ".zgroup": '{"zarr_format": 2}',
            "a/.zarray": _zarray([12], [4]),
            "a/0": ["{{u}}", 0, 16],
            "a/1": "base64:" + base64.b64encode(np.array([7, 8, 9, 10], "<i4").tobytes()).decode(),
            "a/2": ["{{d}}/raw.bin", 16, 16],
            "t/.zarray": _zarray([2], [2], dtype="|S4"),
            "t/0": "abcdefgh",  # plain-text inline data
            "g/.zarray": _zarray([20], [2]),
        },
        "gen": [
            {"key": "g/{{i}}", "url": "{{u}}", "offset": "{{i * 8}}", "length": "8", "dimensions": {"i": {"stop": 10}}},
        ],
    }
    vrepo.add_kerchunk_references(refs, "v1")
    vrepo.commit("v1")
    assert list(_read(vrepo, "v1/a")) == [0, 1, 2, 3, 7, 8, 9, 10, 4, 5, 6, 7]
    assert list(_read(vrepo, "v1/t")) == [b"abcd", b"efgh"]
    assert list(_read(vrepo, "v1/g")) == list(range(20))


def test_json_file_and_whole_file_refs(vrepo, raw_file, data_dir):
    refs = {
        "version": 1,
        "refs": {
            ".zgroup": '{"zarr_format": 2}',
            "w/.zarray": _zarray([1000], [1000]),
            "w/0": [raw_file.as_uri()],  # the whole file
        },
    }
    vrepo.add_kerchunk_references(str(samples.kerchunk_json(data_dir / "refs.json", refs)), "file")
    vrepo.commit("from JSON")
    assert list(_read(vrepo, "file/w")) == list(range(1000))


def test_kerchunk_scanner_output(vrepo, data_dir):
    from kerchunk.hdf import SingleHdf5ToZarr

    src = samples.netcdf4(data_dir / "k.nc")
    with open(src, "rb") as f:
        refs = SingleHdf5ToZarr(f, str(src), inline_threshold=300).translate()
    vrepo.add_kerchunk_references(refs, "k")
    vrepo.commit("kerchunk")
    ours = vrepo.to_xarray("k")
    np.testing.assert_allclose(ours["temp"].values, samples.xr_open(src)["temp"].values)


def test_errors(vrepo, raw_file):
    with pytest.raises(zarrlake.InvalidInputError, match="root level arrays are not supported"):
        vrepo.add_kerchunk_references({".zarray": _zarray([4], [4]), "0": [str(raw_file), 0, 16]}, "")
    with pytest.raises(zarrlake.InvalidInputError, match="only 4000 bytes long"):
        vrepo.add_kerchunk_references({".zgroup": "{}", "x/0": [str(raw_file), 3990, 20]}, "oob")
    with pytest.raises(zarrlake.InvalidInputError, match="does not exist"):
        vrepo.add_kerchunk_references({".zgroup": "{}", "x/0": [str(raw_file) + ".gone", 0, 4]}, "gone")
    with pytest.raises(zarrlake.InvalidInputError, match=r"\[url, offset, length\]"):
        vrepo.add_kerchunk_references({"x/0": [str(raw_file), 0]}, "bad")
    with pytest.raises(zarrlake.InvalidInputError, match="unsupported kerchunk reference version"):
        vrepo.add_kerchunk_references({"version": 2, "refs": {}}, "v2")
    with pytest.raises(zarrlake.InvalidInputError, match="unsupported scheme"):
        vrepo.add_kerchunk_references({".zgroup": "{}", "x/0": ["ftp://h/f", 0, 4]}, "ftp")
    with pytest.raises(zarrlake.InvalidInputError, match="not defined"):
        vrepo.add_kerchunk_references({"version": 1, "refs": {"x/0": ["{{nope}}", 0, 4]}}, "tpl")
    with pytest.raises(zarrlake.InvalidInputError, match="unexpected options"):
        vrepo.add_kerchunk_references({}, "x", inline_threshold=10)
    with pytest.raises(zarrlake.InvalidNameError):
        vrepo.add_kerchunk_references({".zgroup": "{}"}, "a/../b")
    assert not vrepo._core.session_native.status()


def test_load_references_shapes():
    refs = {"version": 1, "templates": {"u": "s3://b/f"}, "refs": {"k": ["{{u}}", 1, 2], "m": {"a": 1}}}
    flat = load_references(refs)
    assert flat == {"k": ["s3://b/f", 1, 2], "m": b'{"a": 1}'}
    assert load_references({"k": "base64:AAE="}) == {"k": b"\x00\x01"}


@pytest.mark.parametrize(
    ("template", "ctx", "out"),
    [
        ("{{u}}/x", {"u": "s3://b"}, "s3://b/x"),
        ("{{ u }}", {"u": 3}, "3"),
        ("{{(i + 1) * 1000}}", {"i": 2}, "3000"),
        ("f_{{'%03d' % i}}.nc", {"i": 7}, "f_007.nc"),
        ("{{ i // 2 }}-{{ -i }}", {"i": 5}, "2--5"),
        ("plain", {}, "plain"),
    ],
)
def test_render(template, ctx, out):
    assert render(template, ctx) == out


def test_render_jinja_fallback():
    pytest.importorskip("jinja2")
    assert render("{{ x | upper }}", {"x": "ab"}) == "AB"
