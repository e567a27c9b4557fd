"""Export's keys, documents and format conversion: which nodes a version holds, and their
metadata translated between Zarr v2 and v3 where the stored chunk bytes stay valid.

Conversion (:func:`convert_array`) goes through zarr's own metadata classes and renames
chunk keys to the target format's default layout (v2 ``0.1``, v3 ``c/0/1``); it refuses,
naming the node, what would need the chunks re-encoded (see ``_v3_to_v2``, ``_v2_to_v3``).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import InvalidInputError

if TYPE_CHECKING:
    import numpy as np
    from zarr.abc.codec import Codec
    from zarr.core.chunk_key_encodings import ChunkKeyEncoding
    from zarr.core.metadata.v2 import ArrayV2Metadata
    from zarr.core.metadata.v3 import ArrayV3Metadata

#: Documents that make a path a node; written after the other documents at their path.
NODE_DOCS = ("zarr.json", ".zarray", ".zgroup")
_SHOWN = 5
#: xarray's names for what Zarr v2 and v3 say in different places.
_DIMS = "_ARRAY_DIMENSIONS"
_FILL = "_FillValue"


# ---- keys and documents ----------------------------------------------------------------


def _key(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name


def split_key(key: str) -> tuple[str, str]:
    parent, _, name = key.rpartition("/")
    return parent, name


def _where(path: str) -> str:
    return f"'{path}'" if path else "at the root"


def shown(keys: list[str]) -> str:
    more = f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
    return ", ".join(keys[:_SHOWN]) + more


def parse_json(raw: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def ordered_docs(docs: dict[str, bytes]) -> list[tuple[str, bytes]]:
    """A node's documents with the one that makes it a node last, so that a node is never
    there without its attributes."""
    return sorted(docs.items(), key=lambda kv: split_key(kv[0])[1] in NODE_DOCS)


@dataclass
class _Node:
    """A group or array of the source, in one Zarr format."""

    path: str
    zarr_format: int
    kind: str  # "array" or "group"
    docs: dict[str, bytes]  # its stored documents, by key
    meta: dict[str, Any]  # zarr.json, or .zarray / .zgroup
    attrs: dict[str, Any]


def find_nodes(docs: dict[str, bytes]) -> tuple[dict[str, dict[int, _Node]], list[str]]:
    """The nodes by path and format (zarr-python creates missing parents in the format of
    the node it creates, so a path may hold a group of each), and the node documents that
    do not read."""
    by_path: dict[str, dict[str, bytes]] = {}
    for key, raw in docs.items():
        path, name = split_key(key)
        by_path.setdefault(path, {})[name] = raw
    out: dict[str, dict[int, _Node]] = {}
    unreadable: list[str] = []
    for path, named in by_path.items():
        found: dict[int, _Node] = {}
        if "zarr.json" in named:
            meta = parse_json(named["zarr.json"])
            if meta is not None and meta.get("node_type") in ("array", "group"):
                attrs = meta.get("attributes") or {}
                found[3] = _Node(path, 3, meta["node_type"], {_key(path, "zarr.json"): named["zarr.json"]}, meta, attrs)
            else:
                unreadable.append(_key(path, "zarr.json"))
        for name, kind in ((".zarray", "array"), (".zgroup", "group")):
            if name not in named:
                continue
            meta = parse_json(named[name])
            if meta is None:
                unreadable.append(_key(path, name))
                continue
            own = {_key(path, name): named[name]}
            attrs = {}
            if ".zattrs" in named:
                own[_key(path, ".zattrs")] = named[".zattrs"]
                read = parse_json(named[".zattrs"])
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


def group_documents(path: str, attrs: dict[str, Any], zarr_format: int) -> dict[str, bytes]:
    from zarr.core.group import GroupMetadata

    return _documents(path, GroupMetadata(attributes=attrs, zarr_format=zarr_format))  # type: ignore[arg-type]


Renamer = Callable[[str], str | None]


def convert_array(node: _Node, zarr_format: int) -> tuple[dict[str, bytes], Renamer]:
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
