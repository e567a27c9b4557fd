"""Scanning netCDF3 files (classic, 64-bit offset and CDF-5) into Zarr format 2 references.

The netCDF3 header lists dimensions, attributes and variables with the byte offset
(``begin``) of each variable's data. A fixed-size variable is one contiguous big-endian
block: it becomes chunks along its first dimension, each a plain byte range. A record
variable stores one slice per record, records ``recsize`` bytes apart: each record
becomes one chunk. No compression exists in netCDF3, so every chunk is raw bytes.
"""

from __future__ import annotations

import json
import math
import struct
from typing import IO, Any

import numpy as np

from ..errors import InvalidInputError

_NC_DIMENSION, _NC_VARIABLE, _NC_ATTRIBUTE = 0x0A, 0x0B, 0x0C
_TYPES = {1: "i1", 2: "S1", 3: ">i2", 4: ">i4", 5: ">f4", 6: ">f8", 7: "u1", 8: ">u2", 9: ">u4", 10: ">i8", 11: ">u8"}
#: fixed-size variables are split into chunks of about this many bytes
TARGET_CHUNK_BYTES = 4 << 20


class _Header:
    def __init__(self, f: IO[bytes]) -> None:
        self.f = f
        magic = f.read(4)
        if magic[:3] != b"CDF" or magic[3] not in (1, 2, 5):
            raise InvalidInputError(f"not a netCDF3 file (magic {magic!r})")
        self.version = magic[3]
        self.count_fmt = ">q" if self.version == 5 else ">i"
        self.offset_fmt = ">q" if self.version in (2, 5) else ">i"

    def _unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        data = self.f.read(size)
        if len(data) != size:
            raise InvalidInputError("truncated netCDF3 header")
        return struct.unpack(fmt, data)[0]

    def count(self) -> int:
        return int(self._unpack(self.count_fmt))

    def offset(self) -> int:
        return int(self._unpack(self.offset_fmt))

    def tag(self) -> int:
        return int(self._unpack(">i"))

    def name(self) -> str:
        n = self.count()
        raw = self.f.read(n)
        self.f.read(-n % 4)
        return raw.decode("utf-8")

    def values(self, nc_type: int, n: int) -> Any:
        dt = _TYPES.get(nc_type)
        if dt is None:
            raise InvalidInputError(f"unknown netCDF3 type {nc_type}")
        size = np.dtype(dt).itemsize * n
        raw = self.f.read(size)
        self.f.read(-size % 4)
        if nc_type == 2:
            return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")
        arr = np.frombuffer(raw, dtype=dt)
        return arr

    def attrs(self) -> dict[str, Any]:
        tag, n = self.tag(), self.count()
        if tag == 0 and n == 0:
            return {}
        if tag != _NC_ATTRIBUTE:
            raise InvalidInputError("corrupt netCDF3 header: expected an attribute list")
        out: dict[str, Any] = {}
        for _ in range(n):
            name = self.name()
            nc_type = self.tag()
            out[name] = (nc_type, self.values(nc_type, self.count()))
        return out


def _json_attr(value: Any) -> Any:
    if isinstance(value, str):
        return value
    arr = np.asarray(value)
    items = [v.item() for v in arr]
    return items[0] if len(items) == 1 else items


def _fill_json(value: Any, dtype: np.dtype[Any]) -> Any:
    v = np.asarray(value, dtype=dtype).reshape(-1)[0].item()
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
    return v


def _rows_per_chunk(n: int, row_bytes: int) -> int:
    """Rows per chunk: a divisor of ``n`` (uncompressed chunks must be whole) near the target."""
    if n <= 1 or row_bytes == 0:
        return max(n, 1)
    target = max(1, TARGET_CHUNK_BYTES // row_bytes)
    if target >= n:
        return n
    divisors = {d for i in range(1, math.isqrt(n) + 1) if n % i == 0 for d in (i, n // i)}
    best = max(d for d in divisors if d <= target)
    # A tiny divisor would make a great many chunks: one chunk is better then.
    return best if best * 4 >= target else n


def scan_netcdf3(f: IO[bytes], url: str) -> dict[str, Any]:
    """Zarr format 2 references (kerchunk layout) for the netCDF3 file open as ``f``."""
    h = _Header(f)
    numrecs = h.count()
    if numrecs in (-1, 0xFFFFFFFF):
        raise InvalidInputError("netCDF3 files still being written (streaming numrecs) are not supported")
    tag, ndims = h.tag(), h.count()
    dims: list[tuple[str, int]] = []
    if tag == _NC_DIMENSION:
        dims = [(h.name(), h.count()) for _ in range(ndims)]
    elif (tag, ndims) != (0, 0):
        raise InvalidInputError("corrupt netCDF3 header: expected a dimension list")
    gattrs = h.attrs()
    tag, nvars = h.tag(), h.count()
    if (tag, nvars) != (0, 0) and tag != _NC_VARIABLE:
        raise InvalidInputError("corrupt netCDF3 header: expected a variable list")
    variables = []
    for _ in range(nvars if tag == _NC_VARIABLE else 0):
        name = h.name()
        dimids = [h.count() for _ in range(h.count())]
        vattrs = h.attrs()
        nc_type = h.tag()
        vsize = h.count()
        begin = h.offset()
        variables.append((name, dimids, vattrs, nc_type, vsize, begin))

    record_vars = [v for v in variables if v[1] and dims[v[1][0]][1] == 0]
    if len(record_vars) == 1:
        name, dimids, _, nc_type, _, _ = record_vars[0]
        recsize = int(np.prod([dims[d][1] for d in dimids[1:]], dtype=np.int64)) * np.dtype(_TYPES[nc_type]).itemsize
    else:
        recsize = sum(v[4] for v in record_vars)

    refs: dict[str, Any] = {
        ".zgroup": json.dumps({"zarr_format": 2}),
        ".zattrs": json.dumps({k: _json_attr(v) for k, (_, v) in gattrs.items()}),
    }
    for name, dimids, vattrs, nc_type, _vsize, begin in variables:
        dt = np.dtype(_TYPES[nc_type])
        is_record = bool(dimids) and dims[dimids[0]][1] == 0
        shape = [numrecs if (i == 0 and is_record) else dims[d][1] for i, d in enumerate(dimids)]
        attrs = {k: _json_attr(v) for k, (_, v) in vattrs.items() if k != "_FillValue"}
        attrs["_ARRAY_DIMENSIONS"] = [dims[d][0] for d in dimids]
        fill = _fill_json(vattrs["_FillValue"][1], dt) if "_FillValue" in vattrs and nc_type != 2 else None
        inner = int(np.prod(shape[1:], dtype=np.int64)) * dt.itemsize
        if is_record:
            chunks = [1, *shape[1:]]
            for r in range(numrecs):
                key = ".".join([str(r)] + ["0"] * (len(shape) - 1))
                refs[f"{name}/{key}"] = [url, begin + r * recsize, inner]
        elif not shape:
            chunks = []
            refs[f"{name}/0"] = [url, begin, dt.itemsize]
        else:
            rows = _rows_per_chunk(shape[0], inner)
            chunks = [rows, *shape[1:]]
            if inner and shape[0]:
                for i, start in enumerate(range(0, shape[0], rows)):
                    key = ".".join([str(i)] + ["0"] * (len(shape) - 1))
                    refs[f"{name}/{key}"] = [url, begin + start * inner, rows * inner]
        zarray = {
            "shape": shape,
            "chunks": [max(c, 1) for c in chunks] if shape else [],
            "dtype": dt.str,
            "fill_value": fill,
            "order": "C",
            "filters": None,
            "compressor": None,
            "dimension_separator": ".",
            "zarr_format": 2,
        }
        refs[f"{name}/.zarray"] = json.dumps(zarray)
        refs[f"{name}/.zattrs"] = json.dumps(attrs)
    return {"version": 1, "refs": refs}
