"""``add_virtual_grib``: GRIB files as virtual Zarr format 2 groups.

cfgrib indexes the file exactly as ``xarray.open_dataset(..., engine="cfgrib")`` does, so
the dimensions, coordinates and attributes match what xarray shows. Coordinates are small
and stored as ordinary chunks. Each data variable becomes an array whose chunks are whole
GRIB messages (one 2-D field each), referenced by offset and length and decoded on read
by kerchunk's ``grib`` codec (eccodes).

Messages are concatenated along the one coordinate in which they differ. If they differ
in more than one (say ``step`` and ``isobaricInhPa``), or in none (duplicates), the error
says which; ``concat_dims=[...]`` accepts several differing coordinates explicitly, and
``filter_by_keys={...}`` selects messages.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from .kerchunk_refs import load_references
from .sources import SourceInfo, copy_to_local, local_path, normalize_url, stat
from .writer import write_references

_WRITER_OPTIONS = ("storage_options", "progress", "record_versions")


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _fill(dtype: np.dtype[Any]) -> Any:
    return "NaN" if dtype.kind == "f" else None


def _zarray(shape: tuple[int, ...], chunks: tuple[int, ...], dtype: np.dtype[Any], **extra: Any) -> str:
    doc = {
        "shape": list(shape),
        "chunks": [max(c, 1) for c in chunks],
        "dtype": dtype.str,
        "fill_value": extra.pop("fill_value", None),
        "order": "C",
        "filters": extra.pop("filters", None),
        "compressor": None,
        "dimension_separator": ".",
        "zarr_format": 2,
    }
    return json.dumps(doc)


def _attrs(attributes: dict[str, Any], dims: tuple[str, ...]) -> str:
    out = {k: _jsonable(v) for k, v in attributes.items()}
    out["_ARRAY_DIMENSIONS"] = list(dims)
    return json.dumps(out)


def _check_concat(name: str, data: Any, concat_dims: list[str] | None, dims: tuple[str, ...]) -> None:
    header = dims[: len(dims) - data.geo_ndim]
    varying = [d for d, n in zip(header, data.shape, strict=False) if n > 1]
    if concat_dims is not None:
        unexpected = [d for d in varying if d not in concat_dims]
        if unexpected:
            raise InvalidInputError(
                f"the GRIB messages of {name!r} also differ in {unexpected}, which are not in concat_dims={concat_dims}"
            )
    elif len(varying) > 1:
        sizes = ", ".join(f"{d}: {n} values" for d, n in zip(header, data.shape, strict=False) if n > 1)
        raise InvalidInputError(
            f"the GRIB messages of {name!r} differ in more than one coordinate ({sizes}), so the "
            "dimension to concatenate along is ambiguous: zarrlake concatenates along exactly one. "
            f"Pass filter_by_keys={{...}} to select messages, or concat_dims={varying!r} to "
            "combine them along all of these"
        )
    for idx, ids in data.field_id_index.items():
        if len(ids) > 1:
            where = ", ".join(f"{d}[{i}]" for d, i in zip(header, idx, strict=False)) or "every coordinate"
            raise InvalidInputError(
                f"{len(ids)} GRIB messages of {name!r} share the same coordinates ({where}): no "
                "coordinate differs between them, so there is nothing to concatenate along. "
                "Pass filter_by_keys={...} to select one"
            )
        if isinstance(ids[0], tuple):
            raise InvalidInputError(f"GRIB messages with several fields each are not supported (variable {name!r})")


def _scan(path: str, url: str, concat_dims: list[str] | None, cfgrib_kwargs: dict[str, Any]) -> dict[str, Any]:
    import cfgrib.dataset

    try:
        ds = cfgrib.dataset.open_file(path, indexpath="", **cfgrib_kwargs)
    except cfgrib.dataset.DatasetBuildError as e:
        raise InvalidInputError(
            f"the GRIB messages in {url} cannot be combined into one dataset: {e}. Pass "
            "filter_by_keys={...} to select messages that share their other coordinates"
        ) from e
    except TypeError as e:
        raise InvalidInputError(f"bad option for the GRIB scanner: {e}") from e
    attrs = dict(ds.attributes)
    if isinstance(attrs.get("history"), str):
        attrs["history"] = attrs["history"].replace(json.dumps(path)[1:-1], url)
    refs: dict[str, Any] = {".zgroup": json.dumps({"zarr_format": 2}), ".zattrs": json.dumps(_jsonable(attrs))}
    for name, var in ds.variables.items():
        data = var.data
        refs[f"{name}/.zattrs"] = _attrs(var.attributes, var.dimensions)
        if not isinstance(data, cfgrib.dataset.OnDiskArray):
            arr = np.array(data, order="C")
            refs[f"{name}/.zarray"] = _zarray(arr.shape, arr.shape, arr.dtype, fill_value=None)
            key = ".".join("0" for _ in arr.shape) or "0"
            refs[f"{name}/{key}"] = arr.tobytes()
            continue
        _check_concat(name, data, concat_dims, var.dimensions)
        n_header = len(data.shape) - data.geo_ndim
        chunks = (1,) * n_header + tuple(data.shape[n_header:])
        dtype = np.dtype(data.dtype)
        codec = {"id": "grib", "var": name, "dtype": dtype.name}
        refs[f"{name}/.zarray"] = _zarray(data.shape, chunks, dtype, fill_value=_fill(dtype), filters=[codec])
        for idx, ids in data.field_id_index.items():
            field = data.index.get_field(ids[0])
            if field.get("alternativeRowScanning", 0):
                raise InvalidInputError(f"GRIB fields with alternative row scanning are not supported ({name!r})")
            key = ".".join([str(i) for i in idx] + ["0"] * data.geo_ndim)
            refs[f"{name}/{key}"] = [url, int(ids[0]), int(field["totalLength"])]
    return {"version": 1, "refs": refs}


def add_virtual_grib(session: Any, uri: str, path: str, **kwargs: Any) -> list[str]:
    """References a GRIB file's messages under ``path``, concatenated along the coordinate
    in which they differ.

    Keyword arguments: ``concat_dims`` (allow several differing coordinates),
    ``filter_by_keys`` and other ``cfgrib`` options, ``storage_options``, ``progress`` and
    ``record_versions``. Returns the URL prefixes a reader must allow.
    """
    session.check_writable()
    kwargs = dict(kwargs)
    writer = {k: kwargs.pop(k) for k in _WRITER_OPTIONS if k in kwargs}
    concat_dims = kwargs.pop("concat_dims", None)
    if concat_dims is not None:
        concat_dims = [concat_dims] if isinstance(concat_dims, str) else list(concat_dims)
    url = normalize_url(uri)
    local = local_path(url)
    info: SourceInfo
    if local is not None:
        try:
            info = stat(url)
        except FileNotFoundError as e:
            raise InvalidInputError(f"source {url} does not exist") from e
        refs = _scan(local, url, concat_dims, kwargs)
    else:
        with tempfile.TemporaryDirectory(prefix="zarrlake-grib-") as tmp:
            copy = os.path.join(tmp, "source.grib")
            info = copy_to_local(url, copy, writer.get("storage_options"))
            refs = _scan(copy, url, concat_dims, kwargs)
    return write_references(session, load_references(refs), path, kind="grib", versions={url: info}, **writer)
