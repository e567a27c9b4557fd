"""Scanning HDF5 and netCDF4 files into Zarr format 2 references.

kerchunk's ``SingleHdf5ToZarr`` walks the file with h5py and lists each dataset's chunk
offsets. Its output is then aligned with what xarray shows for the original file:

- the Zarr ``fill_value`` is the variable's ``_FillValue`` attribute, or none. (kerchunk
  uses HDF5's fill value property, which netCDF4 sets to its default fill even where no
  ``_FillValue`` exists; xarray would then mask values the original does not.)
- chunks HDF5 never allocated read as HDF5's fill value: where that differs from the Zarr
  fill value, an encoded fill chunk is stored for them.
- netCDF4 dimensions that are not variables (HDF5 datasets marked "This is a netCDF
  dimension but not a netCDF variable") are left out, as xarray leaves them out.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from typing import IO, Any

import numpy as np

from ..errors import InvalidInputError

_NOT_A_VARIABLE = b"This is a netCDF dimension but not a netCDF variable"


def _json_scalar(v: Any) -> Any:
    v = np.asarray(v).reshape(-1)[0]
    if v.dtype.kind in "SU":
        return None
    v = v.item()
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
    if isinstance(v, bytes):
        return None
    return v


def _is_dimension_only(ds: Any) -> bool:
    name = ds.attrs.get("NAME")
    if isinstance(name, np.ndarray):
        name = name.tobytes()
    if isinstance(name, str):
        name = name.encode()
    return isinstance(name, bytes) and name.startswith(_NOT_A_VARIABLE)


def _fill_chunk(zarray: dict[str, Any], h5_fill: Any) -> bytes:
    """One chunk of ``h5_fill`` values, encoded with the array's filters and compressor."""
    import numcodecs

    dt = np.dtype(zarray["dtype"])
    data = np.full(zarray["chunks"] or (), h5_fill, dtype=dt)
    buf: Any = data.tobytes(order="C")
    for spec in zarray.get("filters") or []:
        buf = numcodecs.get_codec(spec).encode(buf)
    if zarray.get("compressor"):
        buf = numcodecs.get_codec(zarray["compressor"]).encode(buf)
    return bytes(buf)


def _chunk_keys(zarray: dict[str, Any]) -> list[str]:
    shape, chunks = zarray["shape"], zarray["chunks"]
    if not shape:
        return ["0"]
    counts = [math.ceil(s / c) if c else 0 for s, c in zip(shape, chunks, strict=True)]
    sep = zarray.get("dimension_separator", ".")
    return [sep.join(map(str, idx)) for idx in itertools.product(*(range(n) for n in counts))]


def _phony_dims(h5: Any) -> dict[str, list[str]]:
    """Dimension names of datasets without dimension scales, as h5netcdf's
    ``phony_dims="sort"`` (and netCDF-C) name them: per group, one ``phony_dim_<n>`` per
    distinct axis size (more where a dataset has several axes of that size), numbered
    across groups in depth-first order."""
    import h5py

    out: dict[str, list[str]] = {}
    counter = 0

    def unlabeled(ds: Any) -> bool:
        return bool(ds.dims) and all(len(d) == 0 for d in ds.dims)

    def visit(group: Any) -> None:
        nonlocal counter
        datasets = [group[k] for k in group if isinstance(group.get(k, getlink=False), h5py.Dataset)]
        labeled = Counter(d.shape[0] if d.shape else 0 for d in datasets if d.attrs.get("CLASS") == b"DIMENSION_SCALE")
        need: Counter[int] = Counter()
        for d in datasets:
            if d.attrs.get("CLASS") != b"DIMENSION_SCALE" and unlabeled(d):
                need |= Counter(d.shape)
        names: dict[int, list[str]] = {}
        for size, cnt in need.items():
            for _ in range(labeled[size], cnt):
                names.setdefault(size, []).append(f"phony_dim_{counter}")
                counter += 1
        for d in datasets:
            if d.attrs.get("CLASS") == b"DIMENSION_SCALE" or not unlabeled(d):
                continue
            seen: Counter[int] = Counter()
            dims = []
            for size in d.shape:
                pool = names.get(size, [])
                dims.append(pool[seen[size]] if seen[size] < len(pool) else f"phony_dim_{size}")
                seen[size] += 1
            out[d.name.lstrip("/")] = dims
        for k in group:
            child = group.get(k, getlink=False)
            if isinstance(child, h5py.Group):
                visit(child)

    visit(h5)
    return out


def _fix(refs: dict[str, Any], h5: Any) -> None:
    """Aligns kerchunk's output with xarray's view of the file (see the module docs)."""
    import h5py

    phony = _phony_dims(h5)
    for key in [k for k in refs if k.endswith("/.zattrs")]:
        attrs = json.loads(refs[key])
        dims = attrs.get("_ARRAY_DIMENSIONS")
        if not isinstance(dims, list):
            continue
        name = key[: -len("/.zattrs")]
        # kerchunk names a dimension by its scale's full path; netCDF by the last part.
        fixed = phony.get(name) or [str(d).rsplit("/", 1)[-1] for d in dims]
        if fixed != dims:
            attrs["_ARRAY_DIMENSIONS"] = fixed
            refs[key] = json.dumps(attrs)

    arrays = [k[: -len("/.zarray")] for k in refs if k.endswith("/.zarray")]
    for name in arrays:
        obj = h5.get(name)
        if not isinstance(obj, h5py.Dataset):
            continue
        if _is_dimension_only(obj):
            for k in [k for k in refs if k == name or k.startswith(name + "/")]:
                del refs[k]
            continue
        zarray = json.loads(refs[f"{name}/.zarray"])
        if zarray["dtype"] in ("|O", "object") or np.dtype(zarray["dtype"]).kind in "SUV":
            continue
        fill = _json_scalar(obj.attrs["_FillValue"]) if "_FillValue" in obj.attrs else None
        zarray["fill_value"] = fill
        refs[f"{name}/.zarray"] = json.dumps(zarray)
        h5_fill = obj.fillvalue
        zero = np.zeros((), dtype=obj.dtype)
        zarr_fill = zero if fill is None else np.asarray(obj.attrs["_FillValue"], dtype=obj.dtype).reshape(())
        same = np.array_equal(np.asarray(h5_fill, dtype=obj.dtype), zarr_fill, equal_nan=obj.dtype.kind == "f")
        if same or obj.size == 0:
            continue
        missing = [k for k in _chunk_keys(zarray) if f"{name}/{k}" not in refs]
        if missing:
            data = _fill_chunk(zarray, h5_fill)
            for k in missing:
                refs[f"{name}/{k}"] = data


def scan_hdf5(f: IO[bytes], url: str, **kwargs: Any) -> dict[str, Any]:
    """Zarr format 2 references for the HDF5 or netCDF4 file open as ``f``."""
    import h5py
    from kerchunk.hdf import SingleHdf5ToZarr

    kwargs.setdefault("inline_threshold", 0)
    try:
        scanner = SingleHdf5ToZarr(f, url, **kwargs)
        try:
            out = scanner.translate()
        finally:
            scanner.close()
    except TypeError as e:
        raise InvalidInputError(f"bad option for the HDF5 scanner: {e}") from e
    refs: dict[str, Any] = out["refs"]
    # Inline data arrives as str (or base64 str); keep the mapping kerchunk-shaped.
    f.seek(0)
    with h5py.File(f, "r") as h5:
        _fix(refs, h5)
    return {"version": 1, "refs": refs}
