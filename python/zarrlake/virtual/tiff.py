"""``add_virtual_tiff``: TIFF and GeoTIFF images as virtual Zarr format 2 arrays.

tifffile lists each tile's (or strip's) offset and byte count and its codec. The image
becomes the array ``path/name`` with dimensions ``Y``, ``X`` and, for multi-band images,
``band`` (tifffile's sample, channel or page axis), in the file's storage order. An image
with overviews becomes the group ``path/name`` holding arrays ``0`` (full resolution),
``1``, ``2``, ... (each overview), with ``multiscales`` attributes. TIFF metadata
(GeoTIFF keys included) becomes attributes of that node.
"""

from __future__ import annotations

import enum
import io
import json
from typing import Any

import numpy as np

from ..errors import InvalidInputError, InvalidNameError
from .kerchunk_refs import load_references
from .sources import normalize_url, open_source
from .writer import normalize_target, write_references

_WRITER_OPTIONS = ("storage_options", "progress", "record_versions")
_BAND_AXES = {"S": "band", "C": "band", "I": "band", "Q": "band", "Z": "band"}


def _dims(axes: list[str]) -> list[str]:
    dims = [_BAND_AXES.get(a, a) for a in axes]
    if len(set(dims)) != len(dims):
        raise InvalidInputError(f"the TIFF has more than one band-like axis ({''.join(axes)}); not supported")
    return dims


def _jsonable(v: Any) -> Any:
    if isinstance(v, (enum.Enum, enum.EnumMeta)):
        return getattr(v, "name", None) or getattr(v, "_name_", None) or str(v)
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, bytes):
        return v.decode("latin-1")
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return str(v)


def _tiff_metadata(tif: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr in dir(tif):
        if not attr.endswith("_metadata") or attr.startswith("_"):
            continue
        try:
            meta = getattr(tif, attr)
        except Exception:
            continue
        if isinstance(meta, dict):
            out.update({str(k): _jsonable(v) for k, v in meta.items()})
    return out


def _check_codecs(refs: dict[str, Any]) -> None:
    import numcodecs

    for k, v in refs.items():
        if not k.endswith(".zarray"):
            continue
        z = json.loads(v)
        for spec in [*(z.get("filters") or []), *([z["compressor"]] if z.get("compressor") else [])]:
            try:
                numcodecs.get_codec(dict(spec))
            except Exception as e:
                raise InvalidInputError(
                    f"the TIFF uses the codec {spec.get('id')!r}, which this environment cannot decode "
                    f"({e}); install imagecodecs to reference it"
                ) from e


def _rename_dims(refs: dict[str, Any]) -> None:
    for k in [k for k in refs if k.endswith(".zattrs")]:
        attrs = json.loads(refs[k])
        if "_ARRAY_DIMENSIONS" in attrs:
            attrs["_ARRAY_DIMENSIONS"] = _dims(list(attrs["_ARRAY_DIMENSIONS"]))
        for ms in attrs.get("multiscales", []) or []:
            for ax in ms.get("axes", []) or []:
                if isinstance(ax, dict) and ax.get("name") in _BAND_AXES:
                    ax["name"] = "band"
                    ax["type"] = "channel"
        refs[k] = json.dumps(attrs)


def _set_fill(refs: dict[str, Any], nodata: str | None) -> None:
    """The fill value is GDAL's nodata value if the file has one, else none: tifffile's
    default of 0 would make xarray mask every zero pixel."""
    for k in [k for k in refs if k.endswith(".zarray")]:
        z = json.loads(refs[k])
        fill: Any = None
        if nodata is not None:
            dt = np.dtype(z["dtype"])
            try:
                v = float(nodata)
            except ValueError:
                v = None
            if v is not None and dt.kind == "f":
                fill = "NaN" if v != v else v
            elif v is not None and dt.kind in "iu" and v.is_integer():
                fill = int(v)
        z["fill_value"] = fill
        refs[k] = json.dumps(z)


def scan_tiff(f: Any, url: str, series: int = 0) -> dict[str, Any]:
    """Zarr format 2 references for series ``series`` of the TIFF open as ``f``: an array at
    the root, or a group of resolution levels ``0``, ``1``, ..."""
    import tifffile

    try:
        with tifffile.TiffFile(f, name=url.rsplit("/", 1)[-1]) as tif:
            if not tif.series or series >= len(tif.series):
                raise InvalidInputError(f"{url} holds no image series {series}")
            with tif.series[series].aszarr() as store:
                buf = io.StringIO()
                store.write_fsspec(buf, url=url.rsplit("/", 1)[0] + "/")
            meta = _tiff_metadata(tif)
            nodata = tif.pages.first.tags.get(42113)  # GDAL_NODATA
            nodata = None if nodata is None else str(nodata.value).strip("\x00 ")
    except tifffile.TiffFileError as e:
        raise InvalidInputError(f"{url} is not a readable TIFF: {e}") from e
    refs: dict[str, Any] = json.loads(buf.getvalue())
    _rename_dims(refs)
    _check_codecs(refs)
    _set_fill(refs, nodata)
    attrs = json.loads(refs.get(".zattrs", "{}"))
    attrs.update({k: v for k, v in meta.items() if k not in attrs})
    refs[".zattrs"] = json.dumps(attrs)
    return {"version": 1, "refs": refs}


def add_virtual_tiff(session: Any, uri: str, path: str, name: str, **kwargs: Any) -> list[str]:
    """References a TIFF image as ``path/name`` (an array, or a group of resolution levels).

    Keyword arguments: ``series`` (tifffile series index, default 0), ``storage_options``,
    ``progress`` and ``record_versions``. Returns the URL prefixes a reader must allow.
    """
    session.check_writable()
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise InvalidNameError(f"invalid TIFF array name {name!r}: use one non-empty name without '/'")
    kwargs = dict(kwargs)
    writer = {k: kwargs.pop(k) for k in _WRITER_OPTIONS if k in kwargs}
    series = int(kwargs.pop("series", 0))
    if kwargs:
        raise InvalidInputError(f"unexpected options for a TIFF source: {sorted(kwargs)}")
    url = normalize_url(uri)
    f, info = open_source(url, writer.get("storage_options"))
    with f:
        refs = scan_tiff(f, url, series)
    parent = normalize_target(path)
    target = f"{parent}/{name}" if parent else name
    return write_references(session, load_references(refs), target, kind="tiff", versions={url: info}, **writer)
