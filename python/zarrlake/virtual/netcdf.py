"""``add_virtual_netcdf`` and ``add_virtual_hdf``: netCDF3, netCDF4 and HDF5 sources.

The format is chosen by the file's magic bytes: ``CDF\\x01``/``\\x02``/``\\x05`` is netCDF3
(scanned here, see :mod:`.netcdf3`), the HDF5 signature (at offset 0, 512, 1024, ...) is
netCDF4 or plain HDF5 (scanned with kerchunk and h5py, see :mod:`.hdf5`).
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInputError
from .kerchunk_refs import load_references
from .sources import normalize_url, open_source
from .writer import write_references

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_WRITER_OPTIONS = ("storage_options", "progress", "record_versions")


def _split_options(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    writer = {k: kwargs.pop(k) for k in _WRITER_OPTIONS if k in kwargs}
    return writer, kwargs


def sniff(head: bytes, f: Any) -> str:
    """``"netcdf3"``, ``"hdf5"`` or raises, from a file's first bytes (and userblock offsets)."""
    if head[:3] == b"CDF" and head[3:4] in (b"\x01", b"\x02", b"\x05"):
        return "netcdf3"
    if head[:8] == HDF5_MAGIC:
        return "hdf5"
    offset = 512
    while offset <= 1 << 20:
        f.seek(offset)
        if f.read(8) == HDF5_MAGIC:
            return "hdf5"
        offset *= 2
    raise InvalidInputError(
        f"unknown file type (magic bytes {head[:8]!r}): expected netCDF3 ('CDF') or netCDF4/HDF5 ('\\x89HDF')"
    )


def add_virtual_netcdf(session: Any, uri: str, path: str, **kwargs: Any) -> list[str]:
    """References a netCDF3 or netCDF4/HDF5 file's variables under ``path``.

    Keyword arguments: ``storage_options`` (for reading the source at ingest: boto3 client
    options for ``s3://``, ``headers`` for HTTP), ``progress``, ``record_versions`` (default
    True: record ETag/modification time), and, for HDF5 sources, options of kerchunk's
    ``SingleHdf5ToZarr``. Returns the URL prefixes a reader must allow.
    """
    session.check_writable()
    writer, scanner = _split_options(dict(kwargs))
    url = normalize_url(uri)
    f, info = open_source(url, writer.get("storage_options"))
    with f:
        kind = sniff(f.read(8), f)
        f.seek(0)
        if kind == "netcdf3":
            if scanner:
                raise InvalidInputError(f"unexpected options for a netCDF3 source: {sorted(scanner)}")
            from .netcdf3 import scan_netcdf3

            refs = scan_netcdf3(f, url)
        else:
            from .hdf5 import scan_hdf5

            refs = scan_hdf5(f, url, **scanner)
    return write_references(session, load_references(refs), path, kind=kind, versions={url: info}, **writer)


def add_virtual_hdf(session: Any, uri: str, path: str, **kwargs: Any) -> list[str]:
    """References an HDF5 file's datasets under ``path`` (as :func:`add_virtual_netcdf`)."""
    return add_virtual_netcdf(session, uri, path, **kwargs)
