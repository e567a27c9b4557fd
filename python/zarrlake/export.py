"""Export: one version's groups and arrays written to any Zarr store as plain Zarr.

``repo.export(target, ref)`` reads a branch, tag or commit (or the current session)
through a read-only store of its own, and writes its groups and arrays into ``target`` so
that zarr-python, xarray or any other Zarr reader opens them without zarrlake. Chunks are
copied as stored, never decoded or re-encoded; virtual chunks are fetched from their
source on the way.

**Formats.** By default every node keeps its Zarr format and every key is copied as it is.
With ``zarr_format`` 2 or 3, nodes of the other format are converted: the metadata
documents are translated and the chunk keys renamed to the target format's default
layout (v2 ``0.1``, v3 ``c/0/1``), but only where the stored chunk bytes stay valid
(see :func:`_v3_to_v2` and :func:`_v2_to_v3`); anything else is refused, naming the node,
before anything is written.

**Order of writes.** An array's metadata documents are written after all of its chunks,
groups after all arrays, deepest first, and the root last. An interrupted export so has
no root document: Zarr refuses to open it instead of showing part of the data as if it
were whole, and no array looks complete that is not.

**Resuming.** A chunk already in the target with the size the source has is kept: the
target is listed once, and each chunk found there costs a size lookup on both sides
instead of a copy. Metadata documents already there with the same bytes are kept too.
Sizes cannot tell two versions of a chunk apart, so while an export runs the target's
root holds a record, ``zarrlake-export.json`` (repo, commit, format), written before any
chunk and deleted once the root document is written: an export resumes only the same
commit, and refuses a target that holds another one, or data with no record (a finished
export, or anything else). An export of a session with uncommitted changes has no commit
to match: resuming it copies every chunk again.

**A target holding other data is refused**: every key in it must be one this export
writes, and every metadata document in it equal to the one this export writes. With
``overwrite`` the target is cleared first instead.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import json
import os
import struct
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import _display, _native
from ._progress import ProgressBar
from .errors import InvalidInputError

if TYPE_CHECKING:
    import numpy as np
    from zarr.abc.codec import Codec
    from zarr.abc.store import Store
    from zarr.core.chunk_key_encodings import ChunkKeyEncoding
    from zarr.core.metadata.v2 import ArrayV2Metadata
    from zarr.core.metadata.v3 import ArrayV3Metadata

    from ._core import RepoCore


#: Chunks (and documents) in flight at once, read from the repo and written to the target.
CONCURRENCY = 64
#: Documents that make a path a node; written after the other documents at their path.
_NODE_DOCS = ("zarr.json", ".zarray", ".zgroup")
_SHOWN = 5
#: The target's record of what it holds (see "Resuming" above).
RECORD = "zarrlake-export.json"
#: xarray's names for what Zarr v2 and v3 say in different places.
_DIMS = "_ARRAY_DIMENSIONS"
_FILL = "_FillValue"


@dataclass(frozen=True)
class ExportResult:
    """What ``repo.export`` wrote. It prints as one line.

    Attributes:
        repo: the repo exported.
        ref: what was exported: the ref as given, or "the current session".
        commit: the commit exported (resume with it as the ref); None for a session with
            uncommitted changes.
        target: the target store, as Zarr names it (``file:///data/era.zarr``).
        zarr_format: the format asked for; None when every node kept its own.
        arrays: arrays written.
        groups: groups written.
        chunks_copied: chunks written to the target.
        bytes_copied: their bytes.
        chunks_skipped: chunks already in the target with the same size (a resumed export).

    Example:
        >>> result = repo.export("/data/era5-v1.zarr", ref="v1")
        >>> result.chunks_copied, result.chunks_skipped, result.commit
        (5840, 0, '6b130d1aaa1e3b911c90aa4a')
    """

    repo: str
    ref: str
    commit: str | None
    target: str
    zarr_format: int | None
    arrays: int = 0
    groups: int = 0
    chunks_copied: int = 0
    bytes_copied: int = 0
    chunks_skipped: int = 0

    def __repr__(self) -> str:
        at = self.ref
        if self.commit and not self.commit.startswith(self.ref):
            at += f" ({_display.short_id(self.commit)})"
        fmt = f" as Zarr v{self.zarr_format}" if self.zarr_format else ""
        skipped = f", {self.chunks_skipped} already there" if self.chunks_skipped else ""
        return (
            f"Exported {self.repo} at {at} to {self.target}{fmt}: {_display.plural(self.arrays, 'array')}, "
            f"{_display.plural(self.groups, 'group')}; {_display.plural(self.chunks_copied, 'chunk')} copied "
            f"({_display.human_bytes(self.bytes_copied)}){skipped}"
        )


# ---- keys and documents ----------------------------------------------------------------


def _key(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name


def _split(key: str) -> tuple[str, str]:
    parent, _, name = key.rpartition("/")
    return parent, name


def _where(path: str) -> str:
    return f"'{path}'" if path else "at the root"


def _shown(keys: list[str]) -> str:
    more = f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
    return ", ".join(keys[:_SHOWN]) + more


def _json(raw: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def _ordered(docs: dict[str, bytes]) -> list[tuple[str, bytes]]:
    """A node's documents with the one that makes it a node last, so that a node is never
    there without its attributes."""
    return sorted(docs.items(), key=lambda kv: _split(kv[0])[1] in _NODE_DOCS)


@dataclass
class _Node:
    """A group or array of the source, in one Zarr format."""

    path: str
    zarr_format: int
    kind: str  # "array" or "group"
    docs: dict[str, bytes]  # its stored documents, by key
    meta: dict[str, Any]  # zarr.json, or .zarray / .zgroup
    attrs: dict[str, Any]


def _nodes(docs: dict[str, bytes]) -> tuple[dict[str, dict[int, _Node]], list[str]]:
    """The nodes by path and format (zarr-python creates missing parents in the format of
    the node it creates, so a path may hold a group of each), and the node documents that
    do not read."""
    by_path: dict[str, dict[str, bytes]] = {}
    for key, raw in docs.items():
        path, name = _split(key)
        by_path.setdefault(path, {})[name] = raw
    out: dict[str, dict[int, _Node]] = {}
    unreadable: list[str] = []
    for path, named in by_path.items():
        found: dict[int, _Node] = {}
        if "zarr.json" in named:
            meta = _json(named["zarr.json"])
            if meta is not None and meta.get("node_type") in ("array", "group"):
                attrs = meta.get("attributes") or {}
                found[3] = _Node(path, 3, meta["node_type"], {_key(path, "zarr.json"): named["zarr.json"]}, meta, attrs)
            else:
                unreadable.append(_key(path, "zarr.json"))
        for name, kind in ((".zarray", "array"), (".zgroup", "group")):
            if name not in named:
                continue
            meta = _json(named[name])
            if meta is None:
                unreadable.append(_key(path, name))
                continue
            own = {_key(path, name): named[name]}
            attrs = {}
            if ".zattrs" in named:
                own[_key(path, ".zattrs")] = named[".zattrs"]
                read = _json(named[".zattrs"])
                if read is None:
                    unreadable.append(_key(path, ".zattrs"))
                attrs = read or {}
            found[2] = _Node(path, 2, kind, own, meta, attrs)
            break
        if found:
            out[path] = found
    return out, unreadable


# ---- conversion ------------------------------------------------------------------------


def _refuse(node: _Node, zarr_format: int, why: str) -> InvalidInputError:
    return InvalidInputError(
        f"cannot export the array {_where(node.path)} as Zarr v{zarr_format}: {why}. "
        "Export it in its own format (zarr_format=None), or rewrite it with codecs both formats share"
    )


def _value(x: Any) -> str:
    return str(getattr(x, "value", x))


def _codec_name(codec: Codec) -> str:
    to_dict = getattr(codec, "to_dict", None)
    try:
        return str(to_dict()["name"]) if to_dict else type(codec).__name__
    except Exception:  # noqa: BLE001  (only for the message)
        return type(codec).__name__


def _v2_compressor(codec: Codec) -> Any | None:
    """The numcodecs compressor that reads what a v3 bytes-to-bytes codec wrote, if any."""
    import numcodecs
    from zarr.codecs import BloscCodec, GzipCodec, ZstdCodec

    if isinstance(codec, ZstdCodec):
        return numcodecs.Zstd(level=codec.level, checksum=codec.checksum)
    if isinstance(codec, GzipCodec):
        return numcodecs.GZip(level=codec.level)
    if isinstance(codec, BloscCodec):
        shuffle = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}[_value(codec.shuffle)]
        return numcodecs.Blosc(
            cname=_value(codec.cname), clevel=codec.clevel, shuffle=shuffle, blocksize=codec.blocksize
        )
    return None


def _v3_compressor(compressor: Any, itemsize: int) -> Codec | None:
    """The v3 codec that reads what a numcodecs compressor wrote, if any."""
    from zarr.codecs import BloscCodec, GzipCodec, ZstdCodec
    from zarr.codecs.blosc import BloscShuffle

    config = compressor.get_config()
    cid = config.get("id")
    if cid == "zstd":
        return ZstdCodec(level=config.get("level", 0), checksum=config.get("checksum", False))
    if cid == "gzip":
        return GzipCodec(level=config.get("level", 1))
    if cid == "blosc":
        shuffle = config.get("shuffle", 1)
        if shuffle == -1:  # numcodecs' AUTOSHUFFLE, resolved as numcodecs resolves it
            shuffle = 2 if itemsize == 1 else 1
        return BloscCodec(
            typesize=itemsize,
            cname=config.get("cname", "lz4"),
            clevel=config.get("clevel", 5),
            shuffle=BloscShuffle.from_int(shuffle),
            blocksize=config.get("blocksize", 0),
        )
    return None


def _b64_double(x: float) -> str:
    return base64.standard_b64encode(struct.pack("<d", x)).decode()


def _unb64_double(text: Any) -> float:
    if not isinstance(text, str):
        raise TypeError(text)
    return float(struct.unpack("<d", base64.standard_b64decode(text.encode()))[0])


def _xarray_fill(value: Any, dt: np.dtype[Any]) -> Any:
    """A fill value as xarray writes its ``_FillValue`` attribute on Zarr v3 arrays
    (floats as the base64 of a little-endian double), or None."""
    kind = dt.kind
    if kind == "f":
        return _b64_double(float(value))
    if kind == "c":
        return [_b64_double(float(value.real)), _b64_double(float(value.imag))]
    if kind in "iu":
        return int(value)
    if kind == "b":
        return bool(value)
    return None


def _is_nan(value: Any) -> bool:
    try:
        return bool(value != value)
    except Exception:  # noqa: BLE001  (a structured or other value that does not compare)
        return False


_UNREAD = object()


def _read_xarray_fill(value: Any, dt: np.dtype[Any]) -> Any:
    """The value of xarray's ``_FillValue`` attribute on a v3 array, or ``_UNREAD``."""
    try:
        kind = dt.kind
        if kind == "f":
            return _unb64_double(value)
        if kind == "c":
            real, imag = value
            return complex(_unb64_double(real), _unb64_double(imag))
        if kind in "iu" and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind == "b" and isinstance(value, bool):
            return value
    except (TypeError, ValueError, struct.error, binascii.Error):
        pass
    return _UNREAD


def _v3_to_v2(node: _Node) -> tuple[ArrayV2Metadata, ChunkKeyEncoding]:
    """A v3 array's metadata as v2, when v2 reads its chunks as they are: codecs
    ``[transpose (full reversal, v2's order F)?, bytes, one of zstd/gzip/blosc?]``, a
    regular grid, no storage transformers or extensions. Dimension names become xarray's
    ``_ARRAY_DIMENSIONS``; xarray's ``_FillValue`` attribute becomes the v2 fill value
    (xarray reads that as the mask in v2); a fill value that is the data type's default
    becomes null (Zarr reads missing chunks the same, and xarray does not mask it)."""
    from zarr.codecs import BytesCodec, TransposeCodec
    from zarr.codecs.sharding import ShardingCodec
    from zarr.core.dtype.common import HasEndianness
    from zarr.core.metadata.v2 import ArrayV2Metadata
    from zarr.core.metadata.v3 import ArrayV3Metadata, RegularChunkGridMetadata

    m = ArrayV3Metadata.from_dict(node.meta)
    if m.storage_transformers:
        raise _refuse(node, 2, "it has storage transformers, which Zarr v2 does not have")
    if m.extra_fields:
        raise _refuse(node, 2, f"it has extension fields ({', '.join(m.extra_fields)})")
    if not isinstance(m.chunk_grid, RegularChunkGridMetadata):
        raise _refuse(node, 2, "its chunk grid is not regular")
    codecs = list(m.codecs)
    order = "C"
    if codecs and isinstance(codecs[0], TransposeCodec):
        if tuple(codecs[0].order) != tuple(reversed(range(m.ndim))):
            raise _refuse(node, 2, f"its transpose {list(codecs[0].order)} is not order F, the one v2 has")
        order = "F" if m.ndim > 1 else "C"
        codecs.pop(0)
    if not codecs or not isinstance(codecs[0], BytesCodec):
        if codecs and isinstance(codecs[0], ShardingCodec):
            raise _refuse(node, 2, "it is sharded, and Zarr v2 has no shards")
        name = _codec_name(codecs[0]) if codecs else "none"
        raise _refuse(node, 2, f"its codec {name!r} stores bytes that no Zarr v2 array reads as they are")
    endian = codecs.pop(0).endian
    if len(codecs) > 1:
        names = ", ".join(_codec_name(c) for c in codecs)
        raise _refuse(node, 2, f"it has several bytes-to-bytes codecs ({names}); Zarr v2 has one compressor")
    compressor = None
    if codecs:
        compressor = _v2_compressor(codecs[0])
        if compressor is None:
            raise _refuse(
                node, 2, f"its codec {_codec_name(codecs[0])!r} has no Zarr v2 compressor that reads its bytes"
            )
    dtype = m.data_type
    if isinstance(dtype, HasEndianness) and endian is not None:
        dtype = dataclasses.replace(dtype, endianness=_value(endian))
    attrs = dict(m.attributes)
    names = m.dimension_names
    if names and all(isinstance(n, str) for n in names) and _DIMS not in attrs:
        attrs[_DIMS] = list(names)
    fill: Any = m.fill_value
    decoded = _read_xarray_fill(attrs[_FILL], dtype.to_native_dtype()) if _FILL in attrs else _UNREAD
    if decoded is not _UNREAD:
        fill = decoded
        del attrs[_FILL]
    elif dtype.to_json_scalar(fill, zarr_format=3) == dtype.to_json_scalar(dtype.default_scalar(), zarr_format=3):
        fill = None
    meta = ArrayV2Metadata(
        shape=m.shape,
        dtype=dtype,
        chunks=m.chunk_grid.chunk_shape,
        fill_value=fill,
        order=order,  # type: ignore[arg-type]
        dimension_separator=".",
        compressor=compressor,
        filters=None,
        attributes=attrs,
    )
    return meta, m.chunk_key_encoding


def _v2_to_v3(node: _Node) -> tuple[ArrayV3Metadata, ChunkKeyEncoding]:
    """A v2 array's metadata as v3, when v3 reads its chunks as they are: no filters, no
    compressor or zstd/gzip/blosc; order F becomes a transpose. xarray's
    ``_ARRAY_DIMENSIONS`` becomes the dimension names, and on such an array a fill value
    other than NaN (xarray's mask in v2) also becomes the ``_FillValue`` attribute xarray
    reads in v3."""
    from zarr.codecs import BytesCodec, TransposeCodec
    from zarr.core.chunk_key_encodings import DefaultChunkKeyEncoding, V2ChunkKeyEncoding
    from zarr.core.dtype.common import HasEndianness
    from zarr.core.metadata.v2 import ArrayV2Metadata
    from zarr.core.metadata.v3 import ArrayV3Metadata, RegularChunkGridMetadata

    m = ArrayV2Metadata.from_dict({**node.meta, "attributes": node.attrs})
    if m.filters:
        ids = ", ".join(str(f.get_config().get("id")) for f in m.filters)
        raise _refuse(node, 3, f"it has filters ({ids}), which are not converted")
    native = m.dtype.to_native_dtype()
    codecs: list[Codec] = []
    if m.order == "F" and m.ndim > 1:
        codecs.append(TransposeCodec(order=tuple(reversed(range(m.ndim)))))
    codecs.append(BytesCodec(endian=m.dtype.endianness if isinstance(m.dtype, HasEndianness) else None))
    if m.compressor is not None:
        codec = _v3_compressor(m.compressor, native.itemsize)
        if codec is None:
            cid = m.compressor.get_config().get("id")
            raise _refuse(node, 3, f"its compressor {cid!r} has no Zarr v3 codec that reads its bytes")
        codecs.append(codec)
    attrs = dict(m.attributes)
    dims = attrs.get(_DIMS)
    names = None
    if isinstance(dims, list) and len(dims) == m.ndim and all(isinstance(d, str) for d in dims):
        names = dims
        del attrs[_DIMS]
    # A NaN mask masks nothing that is not NaN already: leaving it out keeps a v3 -> v2 -> v3
    # round trip of float arrays exact.
    if names is not None and m.fill_value is not None and _FILL not in attrs and not _is_nan(m.fill_value):
        encoded = _xarray_fill(m.fill_value, native)
        if encoded is not None:
            attrs[_FILL] = encoded
    meta = ArrayV3Metadata(
        shape=m.shape,
        data_type=m.dtype,
        chunk_grid=RegularChunkGridMetadata(chunk_shape=m.chunks),
        chunk_key_encoding=DefaultChunkKeyEncoding(separator="/"),
        fill_value=m.fill_value if m.fill_value is not None else m.dtype.default_scalar(),
        codecs=codecs,
        attributes=attrs,
        dimension_names=names,
    )
    return meta, V2ChunkKeyEncoding(separator=m.dimension_separator)


def _documents(path: str, meta: Any) -> dict[str, bytes]:
    from zarr.core.buffer import default_buffer_prototype

    return {_key(path, name): buf.to_bytes() for name, buf in meta.to_buffer_dict(default_buffer_prototype()).items()}


def _group_documents(path: str, attrs: dict[str, Any], zarr_format: int) -> dict[str, bytes]:
    from zarr.core.group import GroupMetadata

    return _documents(path, GroupMetadata(attributes=attrs, zarr_format=zarr_format))  # type: ignore[arg-type]


Renamer = Callable[[str], str | None]


def _convert_array(node: _Node, zarr_format: int) -> tuple[dict[str, bytes], Renamer]:
    """The array's documents in ``zarr_format``, and what each of its keys becomes
    (None for a key that is not one of its chunks)."""
    from zarr.core.chunk_key_encodings import DefaultChunkKeyEncoding, V2ChunkKeyEncoding

    try:
        meta, src = _v3_to_v2(node) if zarr_format == 2 else _v2_to_v3(node)
    except InvalidInputError:
        raise
    except Exception as e:  # zarr's own reading of the document failed
        raise _refuse(node, zarr_format, f"its metadata does not read ({type(e).__name__}: {e})") from None
    dst = V2ChunkKeyEncoding(separator=".") if zarr_format == 2 else DefaultChunkKeyEncoding(separator="/")
    ndim = len(meta.shape)
    prefix = f"{node.path}/" if node.path else ""

    def rename(key: str) -> str | None:
        rest = key[len(prefix) :]
        try:
            coords = tuple(src.decode_chunk_key(rest)) if ndim else ()
        except (ValueError, TypeError):
            return None
        # Re-encoding must give the key back: anything else is not a chunk of this array.
        if len(coords) != ndim or src.encode_chunk_key(coords) != rest:
            return None
        return prefix + dst.encode_chunk_key(coords)

    return _documents(node.path, meta), rename


# ---- the plan: every key the export writes, worked out before anything is written ------


@dataclass
class _Array:
    path: str
    docs: dict[str, bytes] = field(default_factory=dict)  # written after its chunks
    chunks: list[tuple[str, str]] = field(default_factory=list)  # (source key, target key)


@dataclass
class _Plan:
    arrays: dict[str, _Array] = field(default_factory=dict)
    groups: dict[str, dict[str, bytes]] = field(default_factory=dict)  # path -> documents
    loose: list[tuple[str, str]] = field(default_factory=list)  # other keys, copied as they are
    group_count: int = 0

    def writes(self) -> dict[str, bytes | None]:
        """Every target key: its document's bytes, or None for a chunk."""
        out: dict[str, bytes | None] = {dst: None for _, dst in self.loose}
        for a in self.arrays.values():
            out.update((dst, None) for _, dst in a.chunks)
            out.update(a.docs)
        for docs in self.groups.values():
            out.update(docs)
        return out


def _owner(path: str, arrays: set[str] | dict[str, Any]) -> str | None:
    """The array at or above ``path``, if any (arrays have no children, so at most one)."""
    while True:
        if path in arrays:
            return path
        if not path:
            return None
        path = _split(path)[0]


def _plan(keys: list[str], docs: dict[str, bytes], zarr_format: int | None) -> _Plan:
    """What the export writes, from the source's keys and metadata documents; raises
    InvalidInputError for what cannot be written in ``zarr_format``."""
    nodes, unreadable = _nodes(docs)
    out = _Plan()
    renamers: dict[str, Renamer] = {}
    if zarr_format is None:
        for path, found in nodes.items():
            if any(n.kind == "array" for n in found.values()):
                out.arrays[path] = _Array(path)
            else:
                out.group_count += 1
    else:
        if unreadable:
            raise InvalidInputError(
                f"cannot export as Zarr v{zarr_format}: these metadata documents do not read: {_shown(unreadable)}"
            )
        for path, found in sorted(nodes.items()):
            if len(found) == 2:
                if any(n.kind == "array" for n in found.values()):
                    where = f"the path '{path}'" if path else "the root"
                    raise InvalidInputError(
                        f"cannot export as Zarr v{zarr_format}: {where} holds a node of each format, one of "
                        "them an array; export with zarr_format=None to keep both"
                    )
                # A group of each format becomes one, with both's attributes (the target
                # format's win a clash).
                attrs = {**found[5 - zarr_format].attrs, **found[zarr_format].attrs}
                out.groups[path] = _group_documents(path, attrs, zarr_format)
                out.group_count += 1
                continue
            node = next(iter(found.values()))
            if node.kind == "group":
                same = node.zarr_format == zarr_format
                out.groups[path] = dict(node.docs) if same else _group_documents(path, node.attrs, zarr_format)
                out.group_count += 1
            elif node.zarr_format == zarr_format:
                out.arrays[path] = _Array(path, dict(node.docs))
            else:
                array_docs, renamers[path] = _convert_array(node, zarr_format)
                out.arrays[path] = _Array(path, array_docs)
    for key in keys:
        path, _ = _split(key)
        owner = _owner(path, out.arrays)
        is_doc = key in docs
        if owner is not None and not (is_doc and owner == path):
            rename = renamers.get(owner)
            dst = rename(key) if rename is not None else key
            if dst is not None:
                out.arrays[owner].chunks.append((key, dst))
        elif zarr_format is not None:
            continue  # converted nodes have their documents; other keys may describe the old layout
        elif is_doc:
            (out.arrays[owner].docs if owner is not None else out.groups.setdefault(path, {}))[key] = docs[key]
        else:
            out.loose.append((key, key))
    return out


# ---- the copy ---------------------------------------------------------------------------


async def _pool[T](items: Iterable[T], fn: Callable[[T], Awaitable[None]]) -> None:
    """``fn`` on every item, CONCURRENCY at a time; the first failure stops the rest."""
    it = iter(items)

    async def worker() -> None:
        for item in it:  # one iterator shared by all workers: each item goes to one
            await fn(item)

    try:
        async with asyncio.TaskGroup() as tg:
            for _ in range(CONCURRENCY):
                tg.create_task(worker())
    except BaseExceptionGroup as group:
        raise group.exceptions[0] from None


@dataclass
class _Counts:
    chunks_copied: int = 0
    bytes_copied: int = 0
    chunks_skipped: int = 0


def _record(repo: str, commit: str | None, zarr_format: int | None) -> bytes:
    doc = {"zarrlake_export": 1, "repo": repo, "commit": commit, "zarr_format": zarr_format}
    return json.dumps(doc, sort_keys=True).encode()


def _recorded(raw: bytes | None) -> str:
    """What a target's record says it holds, for an error message."""
    doc = _json(raw) if raw is not None else None
    if not doc:
        return "an unreadable export record"
    version = f"commit {doc.get('commit')}" if doc.get("commit") else "a session with uncommitted changes"
    fmt = f", Zarr format {doc['zarr_format']}" if doc.get("zarr_format") else ""
    return f"an export of {doc.get('repo')!r} at {version}{fmt}"


async def _target_check(target: Store, writes: dict[str, bytes | None], overwrite: bool) -> tuple[set[str], set[str]]:
    """The keys already in the target, and its documents equal to this export's. Raises if
    it holds anything else (another version included: see ``RECORD``), unless
    ``overwrite``, which clears it."""
    from zarr.core.buffer import default_buffer_prototype

    if overwrite:
        async for _ in target.list():
            await target.clear()
            break
        return set(), set()
    existing = {k async for k in target.list()}
    foreign = sorted(existing - writes.keys())
    present_docs = sorted(k for k in existing if writes.get(k) is not None)
    stored: dict[str, bytes | None] = {}

    async def read(key: str) -> None:
        buf = await target.get(key, default_buffer_prototype())
        stored[key] = None if buf is None else buf.to_bytes()

    await _pool(present_docs, read)
    differ = [k for k in present_docs if stored[k] != writes[k] and k != RECORD]
    if foreign or differ:
        what = []
        if foreign:
            what.append(f"keys this export does not write ({_shown(foreign)})")
        if differ:
            what.append(f"metadata documents that differ from this export's ({_shown(differ)})")
        raise InvalidInputError(
            f"the export target {target} holds {' and '.join(what)}: it is not empty and not an earlier "
            "export of the same version and format. Export into an empty target, or clear it first "
            "(overwrite=True; zarrlake export --overwrite)"
        )
    if existing and stored.get(RECORD) != writes[RECORD]:
        holds = _recorded(stored[RECORD]) if RECORD in stored else "Zarr data with no record of an unfinished export"
        raise InvalidInputError(
            f"the export target {target} holds {holds}, not an unfinished export of this version: resuming "
            "could keep chunks of another version. Export into an empty target, resume with the version "
            "the target was started with, or replace what is there (overwrite=True; zarrlake export --overwrite)"
        )
    return existing, {k for k in present_docs}


async def _export(
    source: Store, target: Store, zarr_format: int | None, overwrite: bool, bar: ProgressBar, record: bytes
) -> tuple[_Plan, _Counts]:
    from zarr.core.buffer import default_buffer_prototype

    proto = default_buffer_prototype()
    keys = sorted([k async for k in source.list()])
    doc_keys = [k for k in keys if _split(k)[1] in _native.METADATA_NAMES]
    docs: dict[str, bytes] = {}

    async def read_doc(key: str) -> None:
        buf = await source.get(key, proto)
        if buf is not None:
            docs[key] = buf.to_bytes()

    await _pool(doc_keys, read_doc)
    docs = {k: docs[k] for k in doc_keys if k in docs}  # in key order, not in the order reads finished
    plan = _plan(keys, docs, zarr_format)
    await target._ensure_open()  # after the plan: a refused export does not even create the directory
    writes = plan.writes()
    writes[RECORD] = record
    existing, unchanged = await _target_check(target, writes, overwrite)
    if json.loads(record)["commit"] is None:
        existing = set()  # uncommitted changes: nothing says the target's chunks are theirs
    if RECORD not in unchanged:
        await target.set(RECORD, proto.buffer.from_bytes(record))
    counts = _Counts()

    async def write_docs(node_docs: dict[str, bytes]) -> None:
        for key, raw in _ordered(node_docs):
            if key not in unchanged:
                await target.set(key, proto.buffer.from_bytes(raw))

    items = [(None, src, dst) for src, dst in plan.loose]
    items += [(a.path, src, dst) for a in plan.arrays.values() for src, dst in a.chunks]
    remaining = {a.path: len(a.chunks) for a in plan.arrays.values()}
    total = len(items)

    async def copy(item: tuple[str | None, str, str]) -> None:
        array, src, dst = item
        if dst in existing and await source.getsize(src) == await target.getsize(dst):
            counts.chunks_skipped += 1
        else:
            buf = await source.get(src, proto)
            if buf is not None:  # None: deleted from the current session while exporting
                await target.set(dst, buf)
                counts.chunks_copied += 1
                counts.bytes_copied += len(buf)
        bar(counts.chunks_copied + counts.chunks_skipped, total)
        if array is not None:
            remaining[array] -= 1
            # Metadata after the last chunk: an array with its metadata but not all its
            # chunks would read the missing ones as fill values, silently wrong.
            if remaining[array] == 0:
                await write_docs(plan.arrays[array].docs)

    await _pool(items, copy)
    await _pool([a.docs for a in plan.arrays.values() if not a.chunks], write_docs)
    depth = {p: (p.count("/") + 1 if p else 0) for p in plan.groups}
    for level in sorted(set(depth.values()), reverse=True):  # deepest first, the root last
        await _pool([d for p, d in plan.groups.items() if depth[p] == level], write_docs)
    # Finished: the target is plain Zarr, with nothing a Zarr reader would warn about.
    await target.delete(RECORD)
    return plan, counts


# ---- entry points -------------------------------------------------------------------------


def open_target(target: Any) -> Store:
    """A writable Zarr store for ``target``: a store as it is, a local path (a
    ``LocalStore``; the directory is created), or a URL fsspec opens (``s3://...``; the
    filesystem's package, e.g. s3fs, must be installed; credentials from its usual places)."""
    from zarr.abc.store import Store
    from zarr.storage import FsspecStore, LocalStore

    if isinstance(target, Store):
        store = target
    elif isinstance(target, str | os.PathLike):
        text = os.fspath(target)
        if not isinstance(text, str):
            raise TypeError(f"export target path must be text, got {type(text).__name__}")
        scheme, sep, rest = text.partition("://")
        try:
            if not sep:
                store = LocalStore(os.path.expanduser(text))
            elif scheme == "file":
                store = LocalStore(rest)
            else:
                store = FsspecStore.from_url(text, read_only=False)
        except Exception as e:  # an unknown protocol, its package missing, a bad URL
            raise InvalidInputError(f"cannot open the export target {text!r}: {e}") from None
    else:
        raise TypeError(f"export target must be a zarr Store, a path or a URL, got {type(target).__name__}")
    if store.read_only:
        raise InvalidInputError(f"the export target {store} is read-only")
    return store


def _source(core: RepoCore, ref: str | None) -> tuple[Store, str, str | None]:
    """A read-only store of the version to export, what to call it, and its commit. It has
    a session of its own: the repo's current session is not touched."""
    from ._core import SessionPin, _ref_str
    from .store import ZarrlakeStore

    if ref is None:
        s = core.session_native
        changed = s.writable and s.has_changes()
        label = "the current session"
        commit = None if changed else s.base_commit
    else:
        commit = core._commit_of(_ref_str(ref), "export")
        author = core.author
        s = core.native.start_session(None, commit, False, 0, author.name or "", author.email)
        label = ref
    return ZarrlakeStore._pinned(core, SessionPin(s), read_only=True), label, commit


def export(
    core: RepoCore, target: Any, ref: str | None, zarr_format: int | None, progress: bool, overwrite: bool
) -> ExportResult:
    """See :meth:`zarrlake.Repo.export`."""
    from zarr.core.sync import sync

    if zarr_format is not None and (isinstance(zarr_format, bool) or zarr_format not in (2, 3)):
        raise InvalidInputError(f"zarr_format must be 2, 3 or None, got {zarr_format!r}")
    source, label, commit = _source(core, ref)
    store = open_target(target)
    with ProgressBar(f"Exporting {core.name}", enabled=progress) as bar:
        record = _record(core.name, commit, zarr_format)
        plan, counts = sync(_export(source, store, zarr_format, bool(overwrite), bar, record))
    return ExportResult(
        repo=core.name,
        ref=label,
        commit=commit,
        target=str(store),
        zarr_format=zarr_format,
        arrays=len(plan.arrays),
        groups=plan.group_count,
        **dataclasses.asdict(counts),
    )
