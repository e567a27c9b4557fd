"""Virtual datasets: arrays of existing files referenced by URL, offset and length.

Every function here takes a native ``zarrlake._native.Session``, writes into it (nothing
is visible to others until commit), raises ``ReadOnlyError`` for a read-only session, and
returns the URL prefixes the new references use (what a reader must allow, e.g.
``Client(..., allow_virtual=prefixes)``). Heavy libraries (kerchunk, h5py, cfgrib,
tifffile, boto3, rich) are imported only when a function needs them.
"""

from __future__ import annotations

from typing import Any

from .grib import add_virtual_grib
from .netcdf import add_virtual_hdf, add_virtual_netcdf
from .tiff import add_virtual_tiff
from .writer import RECORD_FIELD, virtual_prefixes
from .zarr_source import add_virtual_zarr

__all__ = [
    "RECORD_FIELD",
    "add_kerchunk_references",
    "add_virtual_grib",
    "add_virtual_hdf",
    "add_virtual_netcdf",
    "add_virtual_tiff",
    "add_virtual_zarr",
    "virtual_prefixes",
]


def add_kerchunk_references(session: Any, refs: Any, path: str, **kwargs: Any) -> list[str]:
    """Adds kerchunk references (version 0 or 1) under ``path``.

    ``refs`` is a dict or the path/URL of a JSON file. Inline data (plain text and
    ``base64:``) becomes ordinary chunks; ``templates`` and ``gen`` are expanded.
    Keyword arguments: ``storage_options`` (for reading the JSON and the sources at ingest),
    ``progress`` (default True: a progress bar on a terminal, for 10,000 references or more) and
    ``record_versions`` (default True: look up each source's ETag or modification time,
    and check that the references lie within it).
    """
    from .kerchunk_refs import load_references
    from .writer import write_references

    session.check_writable()
    unexpected = set(kwargs) - {"storage_options", "progress", "record_versions"}
    if unexpected:
        from ..errors import InvalidInputError

        raise InvalidInputError(f"unexpected options for add_kerchunk_references: {sorted(unexpected)}")
    flat = load_references(refs, kwargs.get("storage_options"))
    return write_references(session, flat, path, kind="kerchunk", **kwargs)
