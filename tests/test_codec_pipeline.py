"""The native codec pipeline: chunks byte-identical to zarr-python's, on every backend."""

from __future__ import annotations

import warnings

import numcodecs.zstd
import numpy as np
import pytest
import zarr
from zarr.codecs import (
    BloscCodec,
    BytesCodec,
    Crc32cCodec,
    GzipCodec,
    TransposeCodec,
    ZstdCodec,
)
from zarrlake import _native, errors
from zarrlake.codec_pipeline import NativeFallbackWarning, ZarrlakeCodecPipeline

NATIVE = "zarrlake.codec_pipeline.ZarrlakeCodecPipeline"
DEFAULT = "zarr.core.codec_pipeline.BatchedCodecPipeline"
ZSTD_MATCHES = _native.zstd_version() == numcodecs.zstd.VERSION_NUMBER
ZSTD_BORROWED = True  # top-level zstd is compressed by numcodecs' own libzstd

# name: (create_array keywords, whether the engine writes it itself)
CASES = {
    "bytes": (dict(compressors=None), True),
    "bytes-big-endian": (dict(serializer=BytesCodec(endian="big"), compressors=None), True),
    "zstd": (dict(compressors=[ZstdCodec(level=3)]), ZSTD_BORROWED),
    "zstd-checksum": (dict(compressors=[ZstdCodec(level=1, checksum=True)]), ZSTD_BORROWED),
    "blosc-lz4": (dict(compressors=[BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")]), True),
    "blosc-zstd": (dict(compressors=[BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle")]), ZSTD_MATCHES),
    "gzip": (dict(compressors=[GzipCodec(level=5)]), True),
    "crc32c": (dict(compressors=[Crc32cCodec()]), True),
    "transpose": (dict(filters=[TransposeCodec(order=(1, 0))], compressors=[GzipCodec(level=1)]), True),
    "sharding-rows": (dict(shards=(16, 40), compressors=[Crc32cCodec()]), True),
    "sharding-blocks": (dict(shards=(32, 40), compressors=None), False),
    "sharding-inner-zstd": (dict(shards=(16, 40), compressors=[ZstdCodec()]), ZSTD_MATCHES),
    "transpose-zstd": (dict(filters=[TransposeCodec(order=(1, 0))], compressors=[ZstdCodec(level=5)]), ZSTD_BORROWED),
}
GZIP_CASES = {"gzip", "transpose"}
CHUNKS = (16, 10)
SHAPE = (50, 70)


def _comparable(name: str, data: bytes | None) -> bytes | None:
    # zarr-python's gzip stamps the time of writing into each header (bytes 4-8), so its
    # own chunks differ from one second to the next; everything else must match.
    if data is not None and name in GZIP_CASES:
        return data[:4] + bytes(4) + data[8:]
    return data


def _exercise(arr: zarr.Array, data: np.ndarray) -> None:
    arr[:] = data
    arr[3:40, 5:33] = data[:37, :28] * 2  # partial chunks, read-modify-write
    arr[:16, :10] = 0  # a chunk back to the fill value: deleted
    arr[20:21, 60:61] = 9  # one element of an edge chunk


def _pipeline(arr: zarr.Array) -> ZarrlakeCodecPipeline:
    pipeline = arr._async_array.codec_pipeline
    assert isinstance(pipeline, ZarrlakeCodecPipeline)
    return pipeline


@pytest.mark.parametrize("case", sorted(CASES))
def test_chunks_are_byte_identical_to_zarr_pythons(repo, case):
    kwargs, native_writes = CASES[case]
    rng = np.random.default_rng(1)
    data = (rng.standard_normal(SHAPE) * 100).round(1).astype("f4")
    arrays = {}
    for pipe in (DEFAULT, NATIVE):
        with zarr.config.set({"codec_pipeline.path": pipe}), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # sharding's own, and fallbacks
            arr = zarr.create_array(repo.store, name=f"{case}/{pipe.rsplit('.', 1)[-1]}", shape=SHAPE,
                                    chunks=CHUNKS, dtype="f4", **kwargs)
            if pipe == NATIVE:
                assert _pipeline(arr)._engine is not None
                assert _pipeline(arr)._native_writes is native_writes
            _exercise(arr, data)
            arrays[pipe] = arr
    expected = arrays[DEFAULT][:]
    with zarr.config.set({"codec_pipeline.path": NATIVE}):
        np.testing.assert_array_equal(zarr.open_array(repo.store, path=f"{case}/ZarrlakeCodecPipeline")[:], expected)
        np.testing.assert_array_equal(zarr.open_array(repo.store, path=f"{case}/BatchedCodecPipeline")[:], expected)
    store = repo.store
    keys = {}
    for pipe in (DEFAULT, NATIVE):
        listed = zarr.core.sync.sync(_keys(store, f"{case}/{pipe.rsplit('.', 1)[-1]}/"))
        keys[pipe] = sorted(k.split("/", 2)[2] for k in listed)
    assert keys[DEFAULT] == keys[NATIVE]
    assert "c/0/0" not in keys[NATIVE] or "sharding" in case  # the zeroed chunk was deleted
    for key in keys[DEFAULT]:
        if key == "zarr.json":
            continue
        ref = store._session.get(f"{case}/BatchedCodecPipeline/{key}")
        got = store._session.get(f"{case}/ZarrlakeCodecPipeline/{key}")
        assert _comparable(case, got) == _comparable(case, ref), key


async def _keys(store, prefix):
    return [k async for k in store.list_prefix(prefix)]


@pytest.fixture
def native():
    with zarr.config.set({"codec_pipeline.path": NATIVE}):
        yield


@pytest.mark.parametrize(
    ("dtype", "fill"),
    [("i2", 3), ("u1", 0), ("bool", False), ("f8", float("nan")), ("f4", -0.0), ("f2", 1.5), ("i8", -7)],
)
def test_dtypes_fill_values_and_empty_chunks(repo, native, dtype, fill):
    data = np.arange(40 * 30).reshape(40, 30).astype(dtype)
    ref = zarr.create_array(zarr.storage.MemoryStore(), shape=data.shape, chunks=(8, 8), dtype=dtype,
                            fill_value=fill, compressors=None)
    arr = zarr.create_array(repo.store, name="a", shape=data.shape, chunks=(8, 8), dtype=dtype,
                            fill_value=fill, compressors=None)
    assert _pipeline(arr)._native_writes
    for target in (ref, arr):
        target[:] = data
        target[8:16, :] = fill  # whole chunks of the fill value: not stored
        if dtype.startswith("f"):
            target[0:8, 0:8] = np.float64("nan")  # another NaN payload fills a NaN fill too
    np.testing.assert_array_equal(arr[:], ref[:])
    stored = sorted(k for k in zarr.core.sync.sync(_keys(repo.store, "a/c/")))
    ref_stored = sorted("a/" + k for k in zarr.core.sync.sync(_keys(ref.store, "c/")))
    assert stored == ref_stored


def test_strided_selections_views_and_scalars(repo, native):
    data = np.random.default_rng(2).integers(0, 1000, (60, 45)).astype("i4")
    arr = zarr.create_array(repo.store, name="s", shape=data.shape, chunks=(7, 11), dtype="i4",
                            compressors=[GzipCodec(level=1)])
    arr[:] = data.T.copy().T  # a Fortran-ordered source
    np.testing.assert_array_equal(arr[:], data)
    arr[10:50:3, 2:40:5] = data[:14, :8][::-1]  # steps on both sides, a reversed view
    expect = data.copy()
    expect[10:50:3, 2:40:5] = data[:14, :8][::-1]
    np.testing.assert_array_equal(arr[:], expect)
    np.testing.assert_array_equal(arr[5:59:4, 1::3], expect[5:59:4, 1::3])
    arr[3:30, 4:9] = 42  # a scalar, broadcast without a copy
    expect[3:30, 4:9] = 42
    arr[40:60, 0:20] = data[:20, :20].astype(">i4")  # same type name, other byte order
    expect[40:60, 0:20] = data[:20, :20]
    np.testing.assert_array_equal(arr[:], expect)
    # Integer and fancy indexing go through zarr-python's pipeline, with the same results.
    np.testing.assert_array_equal(arr[7], expect[7])
    np.testing.assert_array_equal(arr.oindex[[1, 5, 9], :], expect[[1, 5, 9], :])
    arr[4, :] = 1
    expect[4, :] = 1
    np.testing.assert_array_equal(arr[:], expect)


def test_unsupported_arrays_fall_back_and_say_so_once(repo, native):
    import zarrlake.codec_pipeline as cp

    cp._warned.clear()
    with pytest.warns(NativeFallbackWarning, match="Zarr v2 arrays"):
        v2 = zarr.create_array(repo.store, name="v2", shape=(10,), chunks=(5,), dtype="f4", zarr_format=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NativeFallbackWarning)
        again = zarr.create_array(repo.store, name="v2b", shape=(10,), chunks=(5,), dtype="f4", zarr_format=2)
    assert _pipeline(v2)._engine is None and _pipeline(again)._engine is None
    v2[:] = np.arange(10)
    np.testing.assert_array_equal(v2[:], np.arange(10, dtype="f4"))
    with pytest.warns(NativeFallbackWarning, match="data type"):
        s = zarr.create_array(repo.store, name="str", shape=(3,), chunks=(2,), dtype=str)
    s[:] = np.array(["a", "bb", "ccc"])
    assert list(s[:]) == ["a", "bb", "ccc"]
    # Other stores are none of its business: silently zarr-python's pipeline.
    with warnings.catch_warnings():
        warnings.simplefilter("error", NativeFallbackWarning)
        other = zarr.create_array(zarr.storage.MemoryStore(), shape=(10,), chunks=(5,), dtype="f4", zarr_format=2)
        other[:] = 1
        assert _pipeline(other)._engine is None


def test_read_only_sessions_refuse_native_writes(repo, native):
    arr = zarr.create_array(repo.store, name="r", shape=(10,), chunks=(5,), dtype="f4", compressors=None)
    arr[:] = 1
    first = repo.commit("one")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "not on a branch tip"
        ro = zarr.open_array(repo.create_session(first, for_writing=False).store, path="r")
    assert _pipeline(ro)._native_writes
    with pytest.raises(errors.ReadOnlyError):
        ro[:] = 2
    np.testing.assert_array_equal(ro[:], np.ones(10, "f4"))


def test_corrupt_chunks_raise_corrupt_object_errors(repo, native):
    from zarr.core.buffer import cpu

    arr = zarr.create_array(repo.store, name="z", shape=(10,), chunks=(5,), dtype="f4",
                            compressors=[Crc32cCodec()])
    assert _pipeline(arr)._native_writes
    arr[:] = 1
    repo.store.set_sync("z/c/1", cpu.Buffer.from_bytes(bytes(20) + b"crc!"))
    with pytest.raises(errors.CorruptObjectError, match="z/c/1"):
        arr[:]
    with pytest.raises(errors.CorruptObjectError):
        arr[7:9] = 3  # a partial chunk must read the old one first
    np.testing.assert_array_equal(arr[:5], np.ones(5, "f4"))


def test_xarray_round_trip(repo, native):
    xr = pytest.importorskip("xarray")
    ds = xr.Dataset({"t": (("x", "y"), np.random.default_rng(3).random((30, 20)).astype("f4"))})
    ds.to_zarr(repo.store, mode="w", consolidated=False, encoding={"t": {"chunks": (8, 8)}})
    repo.commit("xr")
    back = xr.open_zarr(repo.store, consolidated=False)
    np.testing.assert_array_equal(back["t"].values, ds["t"].values)


def test_the_readme_line_turns_it_on_before_zarrlake_is_imported(tmp_path):
    """The README's one line, run first in a fresh interpreter (the entry point finds it)."""
    import pathlib
    import re
    import subprocess
    import sys

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("**Fast ingest: the native pipeline.**", 1)[1]
    line = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    script = "\n".join([
        "import numpy as np, zarr",
        line,
        "import sys; assert 'zarrlake' not in sys.modules",
        "import zarrlake",
        f"repo = zarrlake.Client({str(tmp_path)!r}).create_repo('org/repo')",
        "a = zarr.create_array(repo.store, name='a', shape=(64,), chunks=(16,), dtype='f4')",
        "a[:] = np.arange(64)",
        "p = a._async_array.codec_pipeline",
        "print(type(p).__name__, p._engine is not None, float(a[:].sum()))",
    ])
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ZarrlakeCodecPipeline", "True", "2016.0"]
