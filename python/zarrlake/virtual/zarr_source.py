"""``add_virtual_zarr``: an existing Zarr store (format 2 or 3) referenced without copying.

The source is listed (a local directory, or an ``s3://`` prefix). Metadata documents
(``.zgroup``, ``.zarray``, ``.zattrs``, ``zarr.json``) are copied; every chunk (or shard)
file becomes a virtual reference to the whole file. Consolidated metadata is dropped: it
would go stale as soon as the repo changes. Files that are neither metadata nor chunk
keys of an array are skipped with a warning.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from typing import Any

from .. import _native
from ..errors import InvalidInputError
from .sources import SourceInfo, _micros, _s3_client, _split, local_path, normalize_url
from .writer import write_references

_META = frozenset(_native.METADATA_NAMES)
_SKIP = {".zmetadata"}
_CHUNK = re.compile(r"(c([./]\d+)*|\d+([./]\d+)*)")


def _list_local(root: str) -> list[tuple[str, SourceInfo]]:
    if not os.path.isdir(root):
        raise InvalidInputError(f"no Zarr store at {root}: not a directory")
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            full = os.path.join(dirpath, fn)
            if not os.path.isfile(full):
                continue
            st = os.stat(full)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            out.append((rel, SourceInfo("file://" + full, st.st_size, None, st.st_mtime_ns // 1000)))
    return out


def _list_s3(url: str, storage_options: dict[str, Any]) -> tuple[list[tuple[str, SourceInfo]], Any]:
    _, bucket, prefix = _split(url.rstrip("/") + "/")
    client = _s3_client(storage_options)
    out = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            rel = o["Key"][len(prefix) :]
            info = SourceInfo(f"s3://{bucket}/{o['Key']}", int(o["Size"]), o.get("ETag"), _micros(o["LastModified"]))
            out.append((rel, info))
    return out, client


def _read_s3(client: Any, url: str) -> bytes:
    _, bucket, key = _split(url)
    return bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())


def _array_dirs(docs: dict[str, bytes]) -> list[str]:
    dirs = []
    for key, raw in docs.items():
        d, _, name = key.rpartition("/")
        if name == ".zarray":
            dirs.append(d)
        elif name == "zarr.json":
            try:
                if json.loads(raw).get("node_type") == "array":
                    dirs.append(d)
            except ValueError as e:
                raise InvalidInputError(f"the Zarr metadata document {key!r} is not valid JSON") from e
    return sorted(dirs, key=len, reverse=True)


def _owner(key: str, arrays: list[str]) -> str | None:
    for a in arrays:  # longest first: the nearest enclosing array
        if a == "":
            return key
        if key.startswith(a + "/"):
            return key[len(a) + 1 :]
    return None


def _strip_consolidated(raw: bytes) -> bytes:
    doc = json.loads(raw)
    if isinstance(doc, dict) and doc.pop("consolidated_metadata", None) is not None:
        return json.dumps(doc).encode()
    return raw


def add_virtual_zarr(session: Any, uri: str, path: str, **kwargs: Any) -> list[str]:
    """References the Zarr store at ``uri`` (local directory or ``s3://``) under ``path``.

    Keyword arguments: ``storage_options`` (boto3 client options), ``progress`` and
    ``record_versions``. Returns the URL prefixes a reader must allow.
    """
    session.check_writable()
    storage_options = kwargs.pop("storage_options", None) or {}
    unexpected = set(kwargs) - {"progress", "record_versions"}
    if unexpected:
        raise InvalidInputError(f"unexpected options for a Zarr source: {sorted(unexpected)}")
    url = normalize_url(os.fspath(uri).rstrip("/"))
    root = local_path(url)
    if root is not None:
        listing = _list_local(root)

        def read(info: SourceInfo) -> bytes:
            with open(info.url[len("file://") :], "rb") as f:
                return f.read()

        prefix = url + "/"
    elif url.startswith("s3://"):
        listing, client = _list_s3(url, storage_options)

        def read(info: SourceInfo) -> bytes:
            return _read_s3(client, info.url)

        prefix = url + "/"
    else:
        raise InvalidInputError(f"cannot list {url}: add_virtual_zarr reads local directories and s3:// prefixes")
    docs: dict[str, bytes] = {}
    files: list[tuple[str, SourceInfo]] = []
    for rel, info in listing:
        name = rel.rsplit("/", 1)[-1]
        if name in _SKIP:
            continue
        if name in _META:
            docs[rel] = read(info)
        else:
            files.append((rel, info))
    if not docs:
        raise InvalidInputError(f"no Zarr store at {url}: it holds no .zgroup, .zarray or zarr.json")
    arrays = _array_dirs(docs)
    refs: dict[str, Any] = {k: _strip_consolidated(v) if k.endswith("zarr.json") else v for k, v in docs.items()}
    versions: dict[str, SourceInfo] = {}
    skipped = []
    for rel, info in files:
        chunk = _owner(rel, arrays)
        if chunk is None or not _CHUNK.fullmatch(chunk):
            skipped.append(rel)
            continue
        refs[rel] = [info.url, 0, info.size]
        versions[info.url] = info
    if skipped:
        warnings.warn(
            f"skipped {len(skipped)} file(s) of {url} that are neither Zarr metadata nor chunks, e.g. {skipped[:3]}",
            UserWarning,
            stacklevel=2,
        )
    from .kerchunk_refs import load_references

    return write_references(
        session,
        load_references(refs),
        path,
        kind="zarr",
        versions=versions,
        prefixes=[prefix],
        storage_options=storage_options,
        **kwargs,
    )
