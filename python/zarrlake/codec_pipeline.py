"""ZarrlakeCodecPipeline: zarr-python's codec pipeline, with the chunk work done natively.

Enable it with one line, before opening arrays::

    zarr.config.set({"codec_pipeline.path": "zarrlake.codec_pipeline.ZarrlakeCodecPipeline"})

zarr-python still works out which chunks a selection touches. For arrays in a zarrlake
repo, everything after that runs in Rust, in parallel and without the GIL: gathering each
chunk from your array, merging partial chunks, skipping chunks of fill values, encoding,
hashing and storing into the session (and the reverse for reads). The chunks it writes are
byte for byte those of zarr-python's own pipeline.

Anything else goes through zarr-python's default pipeline, unchanged: arrays in other
stores, Zarr v2 arrays, data types other than booleans, integers and floats, codecs other
than bytes, zstd, blosc, gzip, crc32c, transpose and sharding, and selections the engine
does not take (integer or fancy indexing, non-NumPy or non-native-order buffers). For a
zarrlake array it cannot take, it says why once, with a warning. See
``docs/native-pipeline.md``.
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Self

import numpy as np
from zarr.abc.codec import CodecPipeline, GetResult
from zarr.core.buffer import default_buffer_prototype
from zarr.core.codec_pipeline import BatchedCodecPipeline
from zarr.registry import register_pipeline

from . import _native
from .store import ZarrlakeStore

if TYPE_CHECKING:
    from zarr.abc.codec import Codec
    from zarr.abc.store import Store
    from zarr.core.array_spec import ArraySpec
    from zarr.core.buffer import Buffer, NDBuffer
    from zarr.core.metadata import ArrayMetadata

__all__ = ["ZarrlakeCodecPipeline"]

# Codecs whose output the engine reproduces byte for byte (checked by the tests).
NATIVE_CODECS = frozenset({"bytes", "zstd", "blosc", "gzip", "crc32c", "transpose", "sharding_indexed"})
NATIVE_KINDS = frozenset("biuf")

_warned: set[str] = set()


class NativeFallbackWarning(UserWarning):
    """A zarrlake array goes through zarr-python's default pipeline instead of the engine.

    Warned once per reason (e.g. "Zarr v2 arrays", "the codec numcodecs.delta"); the
    results are the same, only slower.

    Example:
        >>> import warnings
        >>> warnings.filterwarnings("ignore", category=NativeFallbackWarning)
    """


def _warn_once(reason: str, fallback: str) -> None:
    if reason not in _warned:
        _warned.add(reason)
        warnings.warn(
            f"zarrlake's native engine does not handle {reason}; {fallback} (slower, same results)",
            NativeFallbackWarning,
            stacklevel=4,
        )


def _unsupported(metadata: Any) -> str | None:
    """Why the engine cannot take this array, or None."""
    if getattr(metadata, "zarr_format", None) != 3:
        return "Zarr v2 arrays"
    dtype = metadata.data_type.to_native_dtype()
    if dtype.kind not in NATIVE_KINDS or dtype.fields is not None:
        return f"the data type {metadata.data_type}"
    if dtype.itemsize > 1 and dtype.byteorder not in ("=", "|", {"little": "<", "big": ">"}[sys.byteorder]):
        return "data types in non-native byte order"
    from zarr.core.metadata.v3 import RegularChunkGridMetadata

    if not isinstance(metadata.chunk_grid, RegularChunkGridMetadata):
        return "chunk grids other than the regular one"
    others = sorted({d["name"] for _, d in _codecs(metadata)} - NATIVE_CODECS)
    if others:
        return f"the codec{'s' if len(others) > 1 else ''} {', '.join(others)}"
    return None


def _metadata_json(metadata: ArrayMetadata) -> str:
    return metadata.to_buffer_dict(default_buffer_prototype())["zarr.json"].to_bytes().decode()


def _codec_configs(codecs: list[dict[str, Any]], nested: bool = False) -> Iterator[tuple[bool, dict[str, Any]]]:
    """(inside a shard, JSON form) of every codec, those inside shards included."""
    for d in codecs:
        yield nested, d
        if d["name"] == "sharding_indexed":
            config = d.get("configuration") or {}
            yield from _codec_configs(config.get("codecs", []) + config.get("index_codecs", []), True)


def _codecs(metadata: Any) -> list[tuple[bool, dict[str, Any]]]:
    return list(_codec_configs([codec.to_dict() for codec in metadata.codecs]))


ZSTD_FUNCTIONS = (
    "ZSTD_createCCtx",
    "ZSTD_freeCCtx",
    "ZSTD_CCtx_setParameter",
    "ZSTD_compress2",
    "ZSTD_compressBound",
    "ZSTD_isError",
)


@functools.cache
def _borrow_numcodecs_zstd() -> bool:
    """Has the engine compress zstd chunks with numcodecs' own libzstd, as zarr-python does.

    zstd's output differs between library versions; numcodecs' extension module carries
    its libzstd and exports its functions. False if they cannot be found.
    """
    import ctypes

    import numcodecs.zstd

    try:
        lib = ctypes.CDLL(numcodecs.zstd.__file__)
        addresses = [ctypes.cast(getattr(lib, name), ctypes.c_void_p).value or 0 for name in ZSTD_FUNCTIONS]
        lib.ZSTD_versionNumber.restype = ctypes.c_uint
        version = int(lib.ZSTD_versionNumber())
    except (OSError, AttributeError):
        return False
    if version != numcodecs.zstd.VERSION_NUMBER or 0 in addresses:
        return False
    _native._register_zstd(addresses, version)
    return _native.registered_zstd_version() == version


def _write_blocker(metadata: Any) -> str | None:
    """Why the engine's chunks would differ from zarr-python's for this array, or None.

    Reads never differ: any valid stream decodes the same. Encoders can: zstd output
    depends on the libzstd version, and zarr-python writes shards' chunks in Morton order.
    """
    import numcodecs.zstd

    for nested, d in _codecs(metadata):
        config = d.get("configuration") or {}
        # Top-level zstd goes through numcodecs' libzstd (see `ChunkCodec`'s split encoder).
        borrowed = not nested and d["name"] == "zstd" and _borrow_numcodecs_zstd()
        uses_zstd = d["name"] == "zstd" or (d["name"] == "blosc" and config.get("cname") == "zstd")
        if uses_zstd and not borrowed and _native.zstd_version() != numcodecs.zstd.VERSION_NUMBER:
            return (
                f"writing zstd chunks (libzstd {_version(_native.zstd_version())} here, "
                f"{_version(numcodecs.zstd.VERSION_NUMBER)} in numcodecs, and their output differs)"
            )
        if d["name"] == "sharding_indexed":
            inner = config.get("chunk_shape", [])
            outer = getattr(metadata.chunk_grid, "chunk_shape", ())
            if sum(1 for o, i in zip(outer, inner, strict=False) if o // max(i, 1) > 1) > 1:
                return "writing shards of more than one row of chunks (zarr-python orders them in Morton order)"
    return None


def _version(number: int) -> str:
    return f"{number // 10000}.{number // 100 % 100}.{number % 100}"


def _spans(selection: Any, shape: tuple[int, ...]) -> list[tuple[int, int, int]] | None:
    """A selection as (start, count, step) per axis, or None if it is not one slice per axis."""
    if not isinstance(selection, tuple) or len(selection) != len(shape):
        return None
    spans = []
    for s, n in zip(selection, shape, strict=True):
        if not isinstance(s, slice):
            return None
        start, stop, step = s.indices(n)
        if step <= 0:
            return None
        spans.append((start, len(range(start, stop, step)), step))
    return spans


def _extent(batch: list[Any]) -> tuple[int, ...] | None:
    """The shape the output selections of a batch span, if they are all slices."""
    ndim = len(batch[0][1].shape)
    ends = [0] * ndim
    for *_, out_sel, _complete in batch:
        if not isinstance(out_sel, tuple) or len(out_sel) != ndim:
            return None
        for d, s in enumerate(out_sel):
            if not isinstance(s, slice) or s.stop is None:
                return None
            ends[d] = max(ends[d], s.stop)
    return tuple(ends)


class ZarrlakeCodecPipeline(CodecPipeline):
    """A codec pipeline that hands zarrlake arrays' chunks to the native engine.

    zarr-python builds it, once per array, when the pipeline is switched on; arrays in
    other stores, and arrays or selections the engine does not take, go through the
    wrapped default pipeline unchanged.

    Args:
        inner: zarr-python's pipeline for everything the engine leaves.
        engine: the native engine for this array, or None to delegate everything.
        native_writes: whether the engine also writes (only when its chunks are byte for
            byte zarr-python's).

    Example:
        >>> zarr.config.set({"codec_pipeline.path": "zarrlake.codec_pipeline.ZarrlakeCodecPipeline"})
        >>> arr = zarr.open_array(repo.store, path="air", mode="r+")
        >>> arr[:] = data  # encoded, hashed and stored in Rust, in parallel
    """

    def __init__(
        self, inner: CodecPipeline, engine: _native.ChunkEngine | None = None, native_writes: bool = False
    ) -> None:
        self._inner = inner
        self._engine = engine
        self._native_writes = engine is not None and native_writes

    # ---- construction ----
    @classmethod
    def from_codecs(cls, codecs: Iterable[Codec]) -> Self:
        """A pipeline without an engine, for codecs alone (zarr's construction path when
        there is no store).

        Args:
            codecs: the array's codecs.

        Returns:
            A pipeline that delegates everything to zarr-python's batched pipeline.

        Example:
            >>> from zarr.codecs import BytesCodec
            >>> ZarrlakeCodecPipeline.from_codecs([BytesCodec()])
        """
        return cls(BatchedCodecPipeline.from_codecs(codecs))

    @classmethod
    def from_array_metadata_and_store(cls, array_metadata: ArrayMetadata, store: Store) -> Self:
        """The pipeline zarr-python builds for an array it opens.

        For an array in a ``ZarrlakeStore`` it builds the native engine, or warns once
        (``NativeFallbackWarning``) why it cannot.

        Args:
            array_metadata: the array's metadata.
            store: the store it is opened in.

        Returns:
            The pipeline.

        Raises:
            NotImplementedError: ``store`` is not a ``ZarrlakeStore`` (zarr then builds
                the pipeline with ``from_codecs``).

        Example:
            >>> ZarrlakeCodecPipeline.from_array_metadata_and_store(arr.metadata, repo.store)
        """
        if not isinstance(store, ZarrlakeStore):
            raise NotImplementedError  # zarr builds it with `from_codecs` instead
        reason = _unsupported(array_metadata)
        engine = None
        if reason is None:
            kind = array_metadata.data_type.to_native_dtype().kind
            _borrow_numcodecs_zstd()  # before the engine is built: it picks its zstd then
            try:
                engine = _native.ChunkEngine(_metadata_json(array_metadata), kind)
            except Exception as e:  # an array zarrs refuses: zarr-python still can
                reason = f"this array ({e})"
        if reason is not None:
            _warn_once(reason, "zarr-python's default codec pipeline reads and writes such arrays")
        blocker = None if engine is None else _write_blocker(array_metadata)
        if blocker is not None:
            _warn_once(blocker, "zarr-python's default codec pipeline writes such arrays")
        # The default pipeline for everything the engine leaves, built as zarr builds it.
        from zarr.core.array import create_codec_pipeline

        inner = create_codec_pipeline(array_metadata)
        if isinstance(inner, ZarrlakeCodecPipeline):
            inner = inner._inner
        return cls(inner, engine, native_writes=blocker is None)

    def evolve_from_array_spec(self, array_spec: ArraySpec) -> Self:
        """The pipeline adapted to an array spec, as zarr-python's codecs adapt.

        Args:
            array_spec: the array's shape, data type and configuration.

        Returns:
            A pipeline with the same engine.

        Example:
            >>> pipeline.evolve_from_array_spec(spec)
        """
        return type(self)(self._inner.evolve_from_array_spec(array_spec), self._engine, self._native_writes)

    # ---- delegated ----
    @property
    def supports_partial_decode(self) -> bool:
        """Whether the wrapped pipeline decodes parts of chunks (sharding)."""
        return self._inner.supports_partial_decode

    @property
    def supports_partial_encode(self) -> bool:
        """Whether the wrapped pipeline encodes parts of chunks."""
        return self._inner.supports_partial_encode

    def __iter__(self) -> Any:
        return iter(self._inner)

    def validate(self, *, shape: tuple[int, ...], dtype: Any, chunk_grid: Any) -> None:
        """Check that the codecs fit the array, as zarr-python's pipeline does.

        Args:
            shape: the array's shape.
            dtype: its data type.
            chunk_grid: its chunk grid.

        Raises:
            ValueError: a codec that does not fit (zarr-python's error).

        Example:
            >>> pipeline.validate(shape=(10,), dtype=dtype, chunk_grid=grid)
        """
        self._inner.validate(shape=shape, dtype=dtype, chunk_grid=chunk_grid)

    def compute_encoded_size(self, byte_length: int, array_spec: ArraySpec) -> int:
        """The encoded size of a chunk of ``byte_length`` bytes, as zarr-python computes it.

        Args:
            byte_length: the decoded size.
            array_spec: the array's spec.

        Returns:
            The encoded size in bytes.

        Example:
            >>> pipeline.compute_encoded_size(4000, spec)
        """
        return self._inner.compute_encoded_size(byte_length, array_spec)

    async def decode(self, chunks: Iterable[tuple[Buffer | None, ArraySpec]]) -> Iterable[NDBuffer | None]:
        """Decode chunks with zarr-python's pipeline (the engine decodes in ``read``).

        Args:
            chunks: ``(encoded bytes or None, spec)`` per chunk.

        Returns:
            The decoded arrays, None where the input was None.

        Example:
            >>> await pipeline.decode([(buf, spec)])
        """
        return await self._inner.decode(chunks)

    async def encode(self, chunks: Iterable[tuple[NDBuffer | None, ArraySpec]]) -> Iterable[Buffer | None]:
        """Encode chunks with zarr-python's pipeline (the engine encodes in ``write``).

        Args:
            chunks: ``(array or None, spec)`` per chunk.

        Returns:
            The encoded bytes, None where the input was None.

        Example:
            >>> await pipeline.encode([(nd, spec)])
        """
        return await self._inner.encode(chunks)

    # ---- the native paths ----
    def _plan(self, batch: list[Any], array: Any) -> tuple[Any, list[Any]] | None:
        """(session, items) for the engine, or None to leave the batch to zarr-python."""
        # Elements are copied as bytes: the buffer must hold the array's own native type
        # (zarr passes e.g. big-endian float32 through as float32).
        if not isinstance(array, np.ndarray) or array.dtype != batch[0][1].dtype.to_native_dtype():
            return None
        chunk_shape = tuple(self._engine.chunk_shape)
        store = None
        items = []
        for byte_io, spec, chunk_sel, out_sel, complete in batch:
            if store is None:
                store = getattr(byte_io, "store", None)
                if not isinstance(store, ZarrlakeStore):
                    return None
            elif byte_io.store is not store:
                return None
            if tuple(spec.shape) != chunk_shape or spec.order != "C":
                return None
            chunk_spans = _spans(chunk_sel, chunk_shape)
            out_spans = _spans(out_sel, array.shape)
            if chunk_spans is None or out_spans is None:
                return None
            items.append((byte_io.path, chunk_spans, out_spans, complete))
        if store is None:
            return None
        return store, items

    async def read(
        self, batch_info: Iterable[Any], out: NDBuffer, drop_axes: tuple[int, ...] = ()
    ) -> tuple[GetResult, ...]:
        """Read the chunks of a selection into ``out``: natively when the engine can.

        Args:
            batch_info: zarr's ``(byte getter, spec, chunk selection, output selection,
                complete)`` per chunk.
            out: the output buffer.
            drop_axes: axes an integer index drops (left to zarr-python).

        Returns:
            Per chunk, whether it was present or read as the fill value.

        Raises:
            CorruptObjectError: a chunk that does not decode, naming its key.

        Example:
            >>> arr[:]  # zarr calls read() for the chunks it touches
        """
        batch = list(batch_info)
        plan = None if self._engine is None or drop_axes else self._plan(batch, out.as_ndarray_like())
        if plan is None:
            return await self._inner.read(batch, out, drop_axes)
        store, items = plan
        stored = await self._engine.read(store._session, out.as_ndarray_like(), [i[:3] for i in items])
        return tuple(GetResult(status="present" if s else "missing") for s in stored)

    async def write(self, batch_info: Iterable[Any], value: NDBuffer, drop_axes: tuple[int, ...] = ()) -> None:
        """Write a selection's chunks from ``value``: natively when the engine can.

        Partial chunks are read, merged and rewritten; chunks left holding only the fill
        value are deleted (as zarr-python does with ``write_empty_chunks=False``). It
        returns once every chunk is stored and acknowledged.

        Args:
            batch_info: zarr's ``(byte setter, spec, chunk selection, output selection,
                complete)`` per chunk.
            value: the data to write (a scalar is broadcast).
            drop_axes: axes an integer index drops (left to zarr-python).

        Raises:
            ReadOnlyError: a read-only store or session.

        Example:
            >>> arr[0:100] = data  # zarr calls write() for the chunks it touches
        """
        batch = list(batch_info)
        array = value.as_ndarray_like()
        if not self._native_writes or drop_axes or not batch:
            return await self._inner.write(batch, value, drop_axes)
        if isinstance(array, np.ndarray) and array.ndim == 0:
            # A scalar written to a selection: broadcast (no copy) to the selection's shape.
            shape = _extent(batch)
            if shape is None:
                return await self._inner.write(batch, value, drop_axes)
            array = np.broadcast_to(array, shape)
        plan = self._plan(batch, array)
        if plan is None:
            return await self._inner.write(batch, value, drop_axes)
        store, items = plan
        store._check_writable()
        write_empty = bool(batch[0][1].config.write_empty_chunks)
        if any(bool(b[1].config.write_empty_chunks) != write_empty for b in batch):
            return await self._inner.write(batch, value, drop_axes)
        assert self._engine is not None
        await self._engine.write(store._session, array, items, write_empty)


register_pipeline(ZarrlakeCodecPipeline)
