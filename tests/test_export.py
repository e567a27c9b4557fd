"""repo.export and `zarrlake export`, on every backend: the exported store reads the same
with zarr and xarray alone, in its own format or converted, chunks byte for byte; an older
version; resuming; refusals before anything is written; virtual chunks fetched."""

from __future__ import annotations

import itertools
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
import zarr
import zarrlake
from conftest import BACKENDS, make_client, quiet
from virtual import virtual_samples as samples
from zarr.codecs import BloscCodec, BytesCodec, Crc32cCodec, GzipCodec, TransposeCodec, ZstdCodec
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import LocalStore
from zarrlake.errors import InvalidInputError, RefNotFoundError
from zarrlake.export import RECORD, ExportResult

#: Elements per chunk of the f8 arrays: 2 KiB chunks are objects of their own, not inline.
N = 256
_names = itertools.count()


# ---- helpers ------------------------------------------------------------------------------


def _files(root: pathlib.Path) -> dict[str, bytes]:
    """Every file under ``root``, by its key (posix path relative to it), but the export's
    own record of what the target holds (tested on its own)."""
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    files.pop(RECORD, None)
    return files


def _store_items(store) -> dict[str, bytes]:
    """Every key of a Zarr store with its raw bytes."""

    async def collect() -> dict[str, bytes]:
        out = {}
        async for key in store.list():
            buf = await store.get(key, default_buffer_prototype())
            out[key] = buf.to_bytes()
        return out

    return sync(collect())


def _at(client, name: str, ref: str):
    """Another handle of the repo, checked out read-only at ``ref``: the raw keys of a version."""
    other = client.get_repo(name, checkout=False)
    quiet(other.checkout, ref, for_writing=False)
    return other


def _is_chunk(key: str) -> bool:
    return key != RECORD and key.rsplit("/", 1)[-1] not in ("zarr.json", ".zarray", ".zattrs", ".zgroup", ".zmetadata")


def _arrays(root_store, paths) -> dict[str, np.ndarray]:
    return {p: zarr.open_array(root_store, path=p, mode="r")[...] for p in paths}


def _plain_attrs(attrs) -> dict:
    """User attributes without xarray's conventions, which a conversion translates."""
    return {k: v for k, v in dict(attrs).items() if k not in ("_ARRAY_DIMENSIONS", "_FillValue")}


def _build(repo, fmt: int) -> dict[str, str]:
    """A hierarchy in Zarr format ``fmt``: nested groups with attributes, arrays with fill
    values and chunks left unwritten, compressed and not, and an xarray dataset. Returns
    the array paths and their kinds."""
    root = zarr.open_group(repo.store, mode="w", zarr_format=fmt)
    root.attrs.update({"title": "export test", "version": 1})
    obs = root.create_group("obs")
    obs.attrs["source"] = "station"
    deep = obs.create_group("surface/daily")
    deep.attrs["level"] = {"value": 2, "units": "m"}
    import numcodecs

    dims = {"dimension_names": ["y", "x"]} if fmt == 3 else {}
    zstd = ZstdCodec(level=3) if fmt == 3 else numcodecs.Zstd(level=3)
    temp = obs.create_array(
        "temp", shape=(3 * N, 8), chunks=(N, 4), dtype="f8", fill_value=np.nan, compressors=zstd, **dims
    )
    temp[: 2 * N, :4] = np.arange(2 * N * 4, dtype="f8").reshape(2 * N, 4)  # 2 of 6 chunks: 4 stay missing
    temp.attrs["units"] = "K"
    count = deep.create_array("count", shape=(40,), chunks=(10,), dtype="i4", fill_value=-1, compressors=None)
    count[5:25] = np.arange(20)  # chunks 0-2 written, 0 and 2 partly; chunk 3 missing
    flags = deep.create_array(
        "flags",
        shape=(6, 6),
        chunks=(3, 3),
        dtype="u1",
        fill_value=7,
        compressors=BloscCodec(cname="lz4", shuffle="bitshuffle") if fmt == 3 else numcodecs.Blosc(shuffle=2),
    )
    flags[:3, :3] = 1
    ds = xr.Dataset(
        {
            "air": (("time", "lat"), np.linspace(250, 300, 8 * 5).reshape(8, 5)),
            "n": (("lat",), np.array([1, 2, 3, 4, 5], "i4")),
        },
        coords={"time": np.arange("2020-01-01", "2020-01-09", dtype="datetime64[D]").astype("datetime64[ns]")},
    )
    ds["air"].attrs = {"units": "degK", "long_name": "air temperature"}
    ds["air"][2, 3] = np.nan
    ds.attrs["history"] = "made in a test"
    ds.to_zarr(repo.store, group="xr", zarr_format=fmt, consolidated=False, encoding={"air": {"chunks": (4, 5)}})
    return {"obs/temp": "f8", "obs/surface/daily/count": "i4", "obs/surface/daily/flags": "u1"}


# ---- reads the same without zarrlake ---------------------------------------------------------


@pytest.mark.parametrize("out", [None, 2, 3], ids=["keep", "to-v2", "to-v3"])
@pytest.mark.parametrize("src", [2, 3], ids=["v2", "v3"])
def test_export_reads_the_same_with_zarr_and_xarray(client, tmp_path, src, out):
    repo = client.create_repo("org/exp")
    paths = _build(repo, src)
    commit = quiet(repo.commit, "data")
    target = tmp_path / "out.zarr"

    result = repo.export(target, zarr_format=out)

    assert isinstance(result, ExportResult) and result.commit == commit
    assert (result.arrays, result.groups) == (6, 5)  # 3 arrays + xr's air, n, time; /, obs, surface, daily, xr
    assert result.chunks_skipped == 0
    fmt = out or src
    exported = LocalStore(target, read_only=True)
    group = zarr.open_group(exported, mode="r", zarr_format=fmt)
    assert group.metadata.zarr_format == fmt
    assert dict(group.attrs) == {"title": "export test", "version": 1}
    assert dict(zarr.open_group(exported, path="obs", mode="r").attrs) == {"source": "station"}
    daily = zarr.open_group(exported, path="obs/surface/daily", mode="r")
    assert dict(daily.attrs) == {"level": {"value": 2, "units": "m"}}
    for path in paths:
        a, b = zarr.open_array(exported, path=path, mode="r"), zarr.open_array(repo.store, path=path, mode="r")
        assert a.metadata.zarr_format == fmt
        np.testing.assert_array_equal(a[...], b[...])
        assert _plain_attrs(a.attrs) == _plain_attrs(b.attrs)
        assert np.array_equal(np.asarray(a.fill_value), np.asarray(b.fill_value), equal_nan=True)
    assert zarr.open_array(exported, path="obs/temp", mode="r").attrs["units"] == "K"

    # Chunks: the same set (missing ones stay missing) and the same bytes.
    source = {k: v for k, v in _store_items(repo.store).items() if _is_chunk(k)}
    written = {k: v for k, v in _files(target).items() if _is_chunk(k)}
    assert len(written) == len(source) == result.chunks_copied
    assert sorted(written.values()) == sorted(source.values())
    assert result.bytes_copied == sum(len(v) for v in source.values())
    if out is None:
        assert _files(target) == _store_items(repo.store)  # every key, byte for byte
    temp_chunks = [k for k in written if k.startswith("obs/temp/")]
    assert len(temp_chunks) == 2  # of 6: unwritten chunks are not made up
    assert all(("/c/" in k) == (fmt == 3) for k in written)

    # xarray, with zarrlake nowhere: the same dataset.
    xr.testing.assert_identical(
        xr.open_zarr(target, group="xr", consolidated=False).load(), repo.to_xarray("xr").load()
    )


# ---- versions, and the session left alone ----------------------------------------------------


def test_export_of_a_tag_or_older_commit_and_the_session_is_untouched(client, tmp_path):
    repo = client.create_repo("org/versions")
    zarr.open_group(repo.store, mode="w").attrs["v"] = 1
    a = zarr.create_array(repo.store, name="a", shape=(4 * N,), chunks=(N,), dtype="f8", fill_value=0)
    a[:] = 1.0
    zarr.create_array(repo.store, name="gone", shape=(2,), chunks=(2,), dtype="i2")[:] = 5
    first = quiet(repo.commit, "one")
    repo.tag("v1")
    a[:N] = 2.0
    zarr.open_group(repo.store, mode="a").attrs["v"] = 2
    del zarr.open_group(repo.store, mode="a")["gone"]
    zarr.create_array(repo.store, name="new", shape=(3,), chunks=(3,), dtype="i2")[:] = 9
    second = quiet(repo.commit, "two")
    a[N : 2 * N] = 3.0  # uncommitted
    session, store, status = repo.session.id, repo.store, repo.status().modified_paths

    for ref in ("v1", first):
        out = tmp_path / f"at-{ref}"
        result = repo.export(out, ref=ref)
        assert result.commit == first and result.ref == ref
        g = zarr.open_group(LocalStore(out, read_only=True), mode="r")
        assert dict(g.attrs) == {"v": 1} and sorted(g.array_keys()) == ["a", "gone"]
        assert (g["a"][:] == 1.0).all() and (g["gone"][:] == 5).all()
        assert _files(out) == _store_items(_at(client, "org/versions", first).store)

    main = repo.export(tmp_path / "main", ref="main")
    assert main.commit == second
    g = zarr.open_group(LocalStore(tmp_path / "main", read_only=True), mode="r")
    assert sorted(g.array_keys()) == ["a", "new"] and dict(g.attrs) == {"v": 2}
    assert (g["a"][:N] == 2.0).all() and (g["a"][N:] == 1.0).all()

    live = repo.export(tmp_path / "live")  # the current session, uncommitted change included
    assert live.commit is None and live.ref == "the current session"
    assert (zarr.open_array(tmp_path / "live", path="a", mode="r")[N : 2 * N] == 3.0).all()

    # The repo's session and its stores are as they were.
    assert repo.session.id == session and repo.status().modified_paths == status
    assert (zarr.open_array(store, path="a", mode="r")[N : 2 * N] == 3.0).all()
    assert repo.session.branch == "main" and repo.session.base_commit == second


def test_bad_ref_and_bad_arguments_write_nothing(client, tmp_path):
    repo = client.create_repo("org/bad")
    zarr.create_array(repo.store, name="a", shape=(2,), chunks=(2,), dtype="i2")[:] = 1
    quiet(repo.commit, "one")
    target = tmp_path / "never"
    with pytest.raises(RefNotFoundError, match="nope"):
        repo.export(target, ref="nope")
    for fmt in (1, 4, "3", True):
        with pytest.raises(InvalidInputError, match="zarr_format"):
            repo.export(target, zarr_format=fmt)
    with pytest.raises(InvalidInputError, match="cannot open the export target"):
        repo.export("nosuch-protocol://bucket/x.zarr")
    with pytest.raises(InvalidInputError, match="read-only"):
        repo.export(LocalStore(tmp_path, read_only=True))
    with pytest.raises(TypeError, match="Store, a path or a URL"):
        repo.export(42)
    assert not target.exists()
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    with pytest.raises(InvalidInputError, match="exists and is not a directory"):
        repo.export(a_file)
    with pytest.raises(InvalidInputError, match="is not a writable directory"):
        repo.export(a_file / "below.zarr")
    assert a_file.read_text() == "not a directory"


# ---- resuming ------------------------------------------------------------------------------


class _FailingStore(LocalStore):
    """A local store whose chunk writes fail after ``budget`` of them (a crash mid-export).
    It writes synchronously, so no write is half done when one fails: the count is exact."""

    budget = 0

    async def set(self, key, value):
        if _is_chunk(key):
            if type(self).budget <= 0:
                raise OSError("disk full (test)")
            type(self).budget -= 1
        self.set_sync(key, value)


def test_an_interrupted_export_resumes_and_never_looks_complete(client, tmp_path, monkeypatch):
    repo = client.create_repo("org/resume")
    zarr.open_group(repo.store, mode="w").attrs["done"] = True
    big = zarr.create_array(repo.store, name="big", shape=(300 * N,), chunks=(N,), dtype="f8", compressors=None)
    big[:] = np.arange(300 * N, dtype="f8")
    small = zarr.create_array(repo.store, name="sub/small", shape=(4,), chunks=(2,), dtype="i2")
    small[:] = 3
    quiet(repo.commit, "data")
    target = tmp_path / "out.zarr"

    monkeypatch.setattr(_FailingStore, "budget", 120)
    with pytest.raises(OSError, match="disk full"):
        repo.export(_FailingStore(target), progress=False)
    partial = _files(target)
    present = [k for k in partial if _is_chunk(k)]
    assert len(present) == 120  # stopped part-way
    # Never looks complete: no root document, and no array without all its chunks has its metadata.
    assert "zarr.json" not in partial
    assert "big/zarr.json" not in partial
    assert ("sub/small/zarr.json" in partial) == ({"sub/small/c/0", "sub/small/c/1"} <= set(present))
    with pytest.raises(FileNotFoundError):
        zarr.open_group(LocalStore(target, read_only=True), mode="r")

    assert (target / RECORD).exists()  # what the unfinished target holds
    (target / present[0]).write_bytes(b"truncated")  # another size: rewritten
    result = repo.export(target)
    assert result.chunks_skipped == len(present) - 1
    assert result.chunks_copied == 302 - len(present) + 1
    assert (zarr.open_array(target, path="big", mode="r")[:] == np.arange(300 * N)).all()
    assert _files(target) == _store_items(repo.store)
    assert not (target / RECORD).exists()  # finished: plain Zarr, nothing else

    # A finished export says nothing of its version, so it is not "resumed" again.
    with pytest.raises(InvalidInputError, match="no record of an unfinished export"):
        repo.export(target)


def test_a_resumed_export_never_keeps_chunks_of_another_version(client, tmp_path, monkeypatch):
    monkeypatch.setattr(_FailingStore, "budget", 0)
    repo = client.create_repo("org/moved")
    a = zarr.create_array(repo.store, name="a", shape=(4 * N,), chunks=(N,), dtype="f8", compressors=None)
    a[:] = 1.0
    first = quiet(repo.commit, "ones")
    target = tmp_path / "out.zarr"
    _FailingStore.budget = 2
    with pytest.raises(OSError, match="disk full"):
        repo.export(_FailingStore(target), ref="main", progress=False)
    record = json.loads((target / RECORD).read_text())
    assert record == {"zarrlake_export": 1, "repo": "org/moved", "commit": str(first), "zarr_format": None}
    # main moves on: every chunk has new bytes of the same size, which sizes cannot tell apart
    zarr.open_array(repo.store, path="a")[:] = 2.0
    quiet(repo.commit, "twos")
    with pytest.raises(InvalidInputError, match=f"commit {first}") as e:
        repo.export(target, ref="main")
    assert "overwrite=True" in str(e.value)
    assert len([k for k in _files(target) if _is_chunk(k)]) == 2  # untouched
    resumed = repo.export(target, ref=str(first))  # the version it was started with resumes
    assert (resumed.chunks_copied, resumed.chunks_skipped) == (2, 2)
    assert (zarr.open_array(target, path="a", mode="r")[:] == 1.0).all()
    replaced = repo.export(target, ref="main", overwrite=True)
    assert (replaced.chunks_copied, replaced.chunks_skipped) == (4, 0)
    assert (zarr.open_array(target, path="a", mode="r")[:] == 2.0).all()
    # Uncommitted changes have no commit to match: a resumed export copies every chunk again.
    zarr.open_array(repo.store, path="a")[:] = 3.0
    session_target = tmp_path / "session.zarr"
    _FailingStore.budget = 3
    with pytest.raises(OSError, match="disk full"):
        repo.export(_FailingStore(session_target), progress=False)
    again = repo.export(session_target)
    assert (again.chunks_copied, again.chunks_skipped) == (4, 0)
    assert (zarr.open_array(session_target, path="a", mode="r")[:] == 3.0).all()


# ---- targets that hold other data ------------------------------------------------------------


def test_a_target_with_other_data_is_refused_unless_overwrite(client, tmp_path):
    repo = client.create_repo("org/other")
    zarr.create_array(repo.store, name="a", shape=(4,), chunks=(2,), dtype="i2")[:] = 1
    quiet(repo.commit, "one")
    target = tmp_path / "busy"
    other = zarr.create_array(LocalStore(target), name="a", shape=(6,), chunks=(3,), dtype="f4")
    other[:] = 5
    before = _files(target)
    with pytest.raises(InvalidInputError, match="differ from this export") as e:
        repo.export(target)
    assert "a/zarr.json" in str(e.value) and "overwrite=True" in str(e.value)
    assert _files(target) == before  # nothing written

    result = repo.export(target, overwrite=True)
    assert result.chunks_copied == 2 and result.chunks_skipped == 0
    assert _files(target) == _store_items(repo.store)
    # An export in another format into it is refused too: its documents would differ.
    with pytest.raises(InvalidInputError, match="does not write"):
        repo.export(target, zarr_format=2)
    (target / "README").write_text("stray")
    with pytest.raises(InvalidInputError, match="README"):
        repo.export(target)


def test_export_to_a_url(client):
    repo = client.create_repo("org/url")
    zarr.open_group(repo.store, mode="w").attrs["k"] = "v"
    zarr.create_array(repo.store, name="a", shape=(2 * N,), chunks=(N,), dtype="f8")[:] = 4.0
    quiet(repo.commit, "one")
    url = f"memory://export-test-{next(_names)}/out.zarr"  # fsspec's in-process filesystem
    result = repo.export(url)
    assert result.chunks_copied == 2 and "out.zarr" in result.target
    g = zarr.open_group(url, mode="r")
    assert dict(g.attrs) == {"k": "v"} and (g["a"][:] == 4.0).all()
    text = repr(result)
    assert text.startswith("Exported org/url at the current session (") and "1 array, 1 group; 2 chunks copied" in text


# ---- conversion: byte for byte, and refused where the bytes would not read ------------------


def _codec_cases(fmt: int) -> dict[str, dict]:
    """Arrays in format ``fmt`` whose chunk bytes the other format reads as they are."""
    if fmt == 3:
        return {
            "zstd": {"dtype": "f8", "fill_value": np.nan, "compressors": ZstdCodec(level=5, checksum=True)},
            "gzip": {"dtype": "i8", "fill_value": 0, "compressors": GzipCodec(level=6)},
            "blosc": {"dtype": "u2", "fill_value": 9, "compressors": BloscCodec(cname="zstd", shuffle="shuffle")},
            "raw_big_endian": {"dtype": "i4", "serializer": BytesCodec(endian="big"), "compressors": None},
            "order_f": {"dtype": "f4", "filters": [TransposeCodec(order=(1, 0))], "compressors": None},
            "bytes_u1": {"dtype": "u1", "fill_value": 3, "compressors": None},
            "text": {"dtype": "<U3", "fill_value": "", "compressors": ZstdCodec()},
        }
    import numcodecs

    # Fill values are not zarr's default 0 here: a v3 fill value that is the data type's
    # default becomes null in v2, so 0 would come back as null.
    return {
        "zstd": {"dtype": "f8", "fill_value": np.nan, "compressors": numcodecs.Zstd(level=5)},
        "gzip": {"dtype": "i8", "fill_value": None, "compressors": numcodecs.GZip(level=6)},
        "blosc": {"dtype": "u2", "fill_value": 9, "compressors": numcodecs.Blosc(cname="zstd", shuffle=2)},
        "raw_big_endian": {"dtype": ">i4", "fill_value": None, "compressors": None},
        "order_f": {"dtype": "f4", "fill_value": None, "order": "F", "compressors": None},
        "bytes_u1": {"dtype": "u1", "fill_value": 3, "compressors": None},
        "text": {"dtype": "<U3", "fill_value": None, "compressors": numcodecs.Zstd()},
    }


def _fill_cases(repo, fmt: int) -> list[str]:
    for name, kwargs in _codec_cases(fmt).items():
        a = zarr.create_array(repo.store, name=name, shape=(6, 4), chunks=(4, 4), zarr_format=fmt, **kwargs)
        if a.dtype.kind == "U":
            a[:4] = np.array([["ab", "c", "def", ""]] * 4)
        else:
            a[:4] = np.arange(16).reshape(4, 4).astype(a.dtype)  # the second chunk row stays missing
    return list(_codec_cases(fmt))


@pytest.mark.parametrize(("src", "out"), [(3, 2), (2, 3)], ids=["3to2", "2to3"])
def test_conversion_is_byte_exact_and_round_trips(client, tmp_path, src, out):
    repo = client.create_repo("org/convert")
    zarr.open_group(repo.store, mode="w", zarr_format=src).attrs["a"] = 1
    names = _fill_cases(repo, src)
    quiet(repo.commit, "arrays")
    there = tmp_path / "there"
    result = repo.export(there, zarr_format=out)
    assert result.arrays == len(names) and result.chunks_copied == len(names)

    source = _store_items(repo.store)
    written = _files(there)
    for name in names:
        old_key, new_key = (f"{name}/c/0/0", f"{name}/0.0") if src == 3 else (f"{name}/0.0", f"{name}/c/0/0")
        assert written[new_key] == source[old_key], name  # the stored bytes, not re-encoded
        assert f"{name}/0.1" not in written and f"{name}/c/1/0" not in written and f"{name}/1.0" not in written
        a = zarr.open_array(LocalStore(there, read_only=True), path=name, mode="r")
        assert a.metadata.zarr_format == out
        np.testing.assert_array_equal(a[...], zarr.open_array(repo.store, path=name, mode="r")[...])
    if out == 2:
        assert json.loads(written["order_f/.zarray"])["order"] == "F"
    else:
        assert json.loads(written["order_f/zarr.json"])["codecs"][0] == {
            "name": "transpose",
            "configuration": {"order": [1, 0]},
        }

    # And back: the export put into a repo as it is, and exported in the first format,
    # gives the first documents and chunks back.
    back_repo = client.create_repo("org/back")
    for key, raw in written.items():
        back_repo.store.set_sync(key, default_buffer_prototype().buffer.from_bytes(raw))
    quiet(back_repo.commit, "converted")
    back = tmp_path / "back"
    back_repo.export(back, zarr_format=src)
    again = _files(back)
    assert sorted(again) == sorted(source)
    for key, raw in source.items():
        if _is_chunk(key):
            assert again[key] == raw, key
        elif key in again:
            assert json.loads(again[key]) == json.loads(raw), key


def _make_refused() -> dict[str, tuple[int, str, object]]:
    """Arrays a conversion cannot write with the same chunk bytes: (format asked for, what
    the refusal says, how to make it)."""
    import numcodecs

    return {
        "sharded": (2, "sharded", dict(shape=(8,), chunks=(2,), shards=(4,), dtype="i2")),
        "twist": (
            2,
            "transpose",
            dict(shape=(2, 2, 2), chunks=(2, 2, 2), dtype="i2", filters=[TransposeCodec(order=(1, 0, 2))]),
        ),
        "checked": (2, "crc32c", dict(shape=(2,), chunks=(2,), dtype="i2", compressors=[ZstdCodec(), Crc32cCodec()])),
        "strings": (2, "vlen-utf8", dict(shape=(2,), chunks=(2,), dtype=str)),
        "delta": (
            3,
            "filters",
            dict(shape=(4,), chunks=(2,), dtype="i4", zarr_format=2, filters=[numcodecs.Delta("i4")]),
        ),
        "lz4": (3, "lz4", dict(shape=(4,), chunks=(2,), dtype="i4", zarr_format=2, compressors=numcodecs.LZ4())),
    }


@pytest.mark.parametrize("name", list(_make_refused()))
def test_an_array_that_cannot_be_converted_is_refused_before_anything_is_written(client, tmp_path, name):
    fmt, why, kwargs = _make_refused()[name]
    repo = client.create_repo("org/refuse")
    zarr.create_array(repo.store, name="fine", shape=(4,), chunks=(2,), dtype="i2")[:] = 1
    a = zarr.create_array(repo.store, name=f"grp/{name}", **kwargs)
    a[...] = a.dtype.type(1) if a.dtype.kind != "O" else "x"
    quiet(repo.commit, name)
    target = tmp_path / "refused"
    with pytest.raises(InvalidInputError) as e:
        repo.export(target, zarr_format=fmt)
    message = str(e.value)
    assert f"'grp/{name}'" in message and why in message and f"Zarr v{fmt}" in message, message
    assert not target.exists()  # nothing written, not even the directory
    kept = repo.export(tmp_path / "kept")  # in their own formats they export as they are
    assert kept.arrays == 2
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "kept", path=f"grp/{name}", mode="r")[...], a[...])


# ---- virtual chunks -----------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def virtual_client(request, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    return make_client(request, request.param, tmp_path, allow_virtual=[str(data)]), data


def test_virtual_chunks_are_fetched(virtual_client, tmp_path):
    client, data = virtual_client
    refs = samples.raw_int32_refs(data)
    raw = data / "raw.bin"
    repo = client.create_repo("org/virtual")
    repo.add_kerchunk_references(refs, "v")
    quiet(repo.commit, "refs")
    out = tmp_path / "out.zarr"
    result = repo.export(out)
    assert result.chunks_copied == 2 and result.bytes_copied == 32
    assert (out / "v/x/1").read_bytes() == raw.read_bytes()[400:416]
    assert list(zarr.open_array(LocalStore(out, read_only=True), path="v/x", mode="r")[:]) == [
        0,
        1,
        2,
        3,
        100,
        101,
        102,
        103,
    ]
    v3 = repo.export(tmp_path / "v3.zarr", zarr_format=3)
    assert v3.chunks_copied == 2
    ds = xr.open_zarr(tmp_path / "v3.zarr", group="v", consolidated=False)
    assert list(ds["x"].dims) == ["i"] and list(ds["x"].values) == [0, 1, 2, 3, 100, 101, 102, 103]


# ---- the async facade ------------------------------------------------------------------------


async def test_async_repo_exports(tmp_path):
    aclient = zarrlake.AsyncClient(tmp_path / "lake", author=zarrlake.Author("Ada", "ada@example.org"))
    repo = await aclient.create_repo("org/async")
    zarr.create_array(repo.store, name="a", shape=(4,), chunks=(2,), dtype="i2")[:] = 2
    await repo.commit("one")
    result = await repo.export(tmp_path / "out.zarr", ref="main")
    assert result.chunks_copied == 2
    assert (zarr.open_array(tmp_path / "out.zarr", path="a", mode="r")[:] == 2).all()


# ---- the command ----------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ZARRLAKE_ROOT"}
    return subprocess.run(
        [sys.executable, "-m", "zarrlake.cli", *args], capture_output=True, text=True, input="", env=env, timeout=120
    )


def test_the_export_command(tmp_path):
    root = tmp_path / "lake"
    repo = zarrlake.Client(root).create_repo("org/cli")
    zarr.create_array(repo.store, name="a", shape=(4,), chunks=(2,), dtype="i2", dimension_names=["x"])[:] = 1
    first = quiet(repo.commit, "one")
    repo.tag("v1")
    zarr.open_array(repo.store, path="a", mode="a")[:] = 2
    quiet(repo.commit, "two")

    out = tmp_path / "v1.zarr"
    r = _cli("export", "org/cli", str(out), "-r", "v1", "--zarr-format", "2", "--json", "--root", str(root))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    data = json.loads(r.stdout)
    assert data["commit"] == first and data["ref"] == "v1" and data["zarr_format"] == 2
    assert (data["arrays"], data["chunks_copied"], data["chunks_skipped"]) == (1, 2, 0)
    assert (zarr.open_array(out, path="a", mode="r", zarr_format=2)[:] == 1).all()

    r = _cli("export", "org/cli", str(out), "-r", "v1", "--zarr-format", "2", "--root", str(root))
    assert r.returncode == 1 and "no record of an unfinished export" in r.stderr, r.stderr  # finished already
    r = _cli("export", "org/cli", str(tmp_path / "v1-again.zarr"), "-r", "v1", "--root", str(root))
    assert r.returncode == 0 and r.stdout.startswith("Exported org/cli at v1 ("), r.stdout

    # Errors: one line on stderr, nothing on stdout.
    for args, code, says in (
        (["export", "org/cli", str(tmp_path / "x"), "-r", "nope"], 1, "'nope' was not found"),
        (["export", "org/cli", str(out)], 1, "holds keys this export does not write"),
        (["export", "org/cli", str(out), "--overwrite"], 1, "without --yes"),
        (["export", "org/cli", str(out), "--zarr-format", "4"], 2, "invalid choice: 4"),
        (["export", "org/cli"], 2, "required: TARGET"),
    ):
        r = _cli(*args, "--root", str(root))
        assert r.returncode == code, (args, r.stderr)
        assert r.stdout == "" and len(r.stderr.splitlines()) == 1 and says in r.stderr, (args, r.stderr)
    assert not (tmp_path / "x").exists()

    r = _cli("export", "org/cli", str(out), "--overwrite", "--yes", "--root", str(root))
    assert r.returncode == 0, r.stderr
    assert (zarr.open_array(out, path="a", mode="r", zarr_format=3)[:] == 2).all()
    assert not (out / "a" / ".zarray").exists()
