"""Writing a reference set into a session under a target path.

Metadata documents are stored verbatim (Zarr format 2 keys such as ``x/.zarray`` stay
format 2; format 3 ``zarr.json`` stays format 3). Inline data becomes ordinary chunks.
``[url, offset, length]`` becomes a virtual reference that records the source's ETag and
modification time when the source reports them.

The node at the target path records what it references in its own metadata document,
under ``"zarrlake_virtual"`` (zarr ignores the field in format 2 documents and, marked
``"must_understand": false``, keeps it in format 3 ones): the URL prefixes a reader must
allow, and the sources with their versions. :func:`virtual_prefixes` collects them.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import _native
from .._progress import ProgressBar
from ..errors import InvalidInputError, InvalidNameError
from .sources import SourceInfo, normalize_url, prefix_of, stat

RECORD_FIELD = "zarrlake_virtual"
META_NAMES = frozenset(_native.METADATA_NAMES)
NODE_NAMES = tuple(_native.NODE_NAMES)
#: consolidated metadata would go stale as soon as the repo changes
SKIP_NAMES = frozenset({".zmetadata"})
REF_BATCH = 100_000
DATA_BATCH = 2_000
#: at most this many sources are listed one by one in the record
MAX_LISTED_SOURCES = 100
PROGRESS_MIN_REFS = 10_000

Refs = dict[str, "bytes | list[Any]"]


def normalize_target(path: str) -> str:
    """The target path without leading or trailing slashes; refuses bad names."""
    if not isinstance(path, str):
        raise InvalidNameError(f"the target path must be a string, got {type(path).__name__}")
    p = path.strip("/")
    for seg in p.split("/") if p else []:
        if seg in ("", ".", "..") or "\\" in seg or "\0" in seg:
            raise InvalidNameError(
                f"invalid target path {path!r}: use '/'-separated names without '.', '..' or empty parts"
            )
    return p


def _join(path: str, key: str) -> str:
    return f"{path}/{key}" if path else key


def _clean_key(key: str) -> str | None:
    k = "/".join(s for s in key.split("/") if s)
    if key.endswith("/") and k:
        k += "/0"  # kerchunk's spelling of a scalar's only chunk
    if not k or k.rsplit("/", 1)[-1] in SKIP_NAMES:
        return None
    return k


def _node_format(refs: Refs, node: str) -> int | None:
    if _join(node, "zarr.json") in refs:
        return 3
    if _join(node, ".zgroup") in refs or _join(node, ".zarray") in refs:
        return 2
    return None


def _doc(refs: Refs, key: str) -> dict[str, Any]:
    raw = refs[key]
    if not isinstance(raw, bytes):
        raise InvalidInputError(f"the metadata document {key!r} must be inline JSON, not a reference")
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise InvalidInputError(f"the metadata document {key!r} is not valid JSON: {e}") from e
    if not isinstance(doc, dict):
        raise InvalidInputError(f"the metadata document {key!r} must be a JSON object")
    return doc


def _check_root(refs: Refs, path: str) -> None:
    root_array = ".zarray" in refs or ("zarr.json" in refs and _doc(refs, "zarr.json").get("node_type") == "array")
    if root_array and not path:
        raise InvalidInputError(
            "root level arrays are not supported: the references describe a single array, so "
            "provide a target path for it, e.g. path='data'"
        )


def _versions(
    urls: Iterable[str], known: dict[str, SourceInfo], storage_options: dict[str, Any]
) -> dict[str, SourceInfo]:
    todo = [u for u in urls if u not in known]

    def one(u: str) -> tuple[str, SourceInfo]:
        try:
            return u, stat(u, storage_options)
        except FileNotFoundError as e:
            raise InvalidInputError(f"the referenced source {u} does not exist") from e

    out = dict(known)
    if todo:
        with ThreadPoolExecutor(max_workers=min(16, len(todo))) as pool:
            out.update(pool.map(one, todo))
    return out


def write_references(
    session: Any,
    refs: Refs,
    path: str,
    *,
    kind: str,
    versions: dict[str, SourceInfo] | None = None,
    record_versions: bool = True,
    storage_options: dict[str, Any] | None = None,
    progress: bool = True,
    prefixes: list[str] | None = None,
) -> list[str]:
    """Writes ``refs`` under ``path`` in the session; returns the URL prefixes referenced.

    With ``progress``, a bar on a terminal counts the references (and keys) written of the
    total, for ``PROGRESS_MIN_REFS`` or more. ``prefixes`` overrides the prefixes derived
    from the URLs (each URL's bucket, host or directory), e.g. with a Zarr store's root.
    """
    session.check_writable()
    path = normalize_target(path)
    clean: Refs = {}
    for k, v in refs.items():
        if "//" in k or k.startswith("/") or k.endswith("/") or k.endswith(".zmetadata"):
            ck = _clean_key(k)
            if ck is None:
                continue
            k = ck
        clean[k] = v
    _check_root(clean, path)

    # Sources: canonical URLs, sizes and versions.
    raw_urls = {v[0] for v in clean.values() if type(v) is list}
    canon = {u: normalize_url(u) for u in raw_urls}
    whole = {canon[v[0]] for v in clean.values() if type(v) is list and len(v) == 1}
    need = set(canon.values()) if record_versions else whole
    infos = _versions(sorted(need), dict(versions or {}), storage_options or {})
    # raw URL -> (canonical URL, size or -1, etag, mtime)
    src: dict[str, tuple[str, int, str | None, int | None]] = {}
    for raw, url in canon.items():
        info = infos.get(url)
        if info is None:
            src[raw] = (url, -1, None, None)
        elif record_versions:
            src[raw] = (url, info.size, info.etag, info.mtime)
        else:
            src[raw] = (url, info.size, None, None)

    virtual: list[tuple[str, str, int, int, str | None, int | None]] = []
    data: list[tuple[str, bytes]] = []
    meta: dict[str, bytes] = {}
    base = f"{path}/" if path else ""
    for k, v in clean.items():
        if type(v) is bytes:
            if k.rsplit("/", 1)[-1] in META_NAMES:
                meta[k] = v
            else:
                data.append((base + k, v))
            continue
        url, size, etag, mtime = src[v[0]]
        if len(v) == 1:
            offset, length = 0, size
        else:
            offset, length = v[1], v[2]
            if 0 <= size < offset + length:
                raise InvalidInputError(
                    f"reference {k!r} reads bytes {offset}..{offset + length} of {url}, which is only {size} bytes long"
                )
        virtual.append((base + k, url, offset, length, etag, mtime))

    if prefixes is None:
        prefixes = sorted({prefix_of(u) for u in canon.values()})
    _add_record(meta, clean, kind, prefixes, sorted(set(canon.values())), infos, len(virtual))
    _check_target(session, path, meta)
    docs = [(_join(path, k), v) for k, v in meta.items()] + _missing_parents(session, path, meta)

    total = len(virtual) + len(data) + len(docs)
    done = 0
    with ProgressBar(f"Adding {kind} references", enabled=progress, threshold=PROGRESS_MIN_REFS) as bar:
        bar(done, total)
        for i in range(0, len(virtual), REF_BATCH):
            batch = virtual[i : i + REF_BATCH]
            session.set_virtual_refs(batch)
            done += len(batch)
            bar(done, total)
        for i in range(0, len(data), DATA_BATCH):
            batch2 = data[i : i + DATA_BATCH]
            session.set_many(batch2)
            done += len(batch2)
            bar(done, total)
        session.set_many(docs)
        bar(total, total)
    return prefixes


def _add_record(
    meta: dict[str, bytes],
    refs: Refs,
    kind: str,
    prefixes: list[str],
    urls: list[str],
    infos: dict[str, SourceInfo],
    n_refs: int,
) -> None:
    """Puts the ``zarrlake_virtual`` record into the target node's document (made if absent)."""
    fmt = _node_format(refs, "")
    if fmt is None:
        child_v3 = any(k.endswith("zarr.json") for k in meta)
        fmt = 3 if child_v3 else 2
        if fmt == 3:
            meta["zarr.json"] = json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {}}).encode()
        else:
            meta[".zgroup"] = b'{"zarr_format": 2}'
    key = "zarr.json" if fmt == 3 else (".zarray" if ".zarray" in meta else ".zgroup")
    doc = json.loads(meta[key])
    record: dict[str, Any] = {"must_understand": False, "kind": kind, "prefixes": prefixes, "references": n_refs}
    if len(urls) <= MAX_LISTED_SOURCES:
        record["sources"] = [
            {"url": u, "etag": infos[u].etag if u in infos else None, "mtime": infos[u].mtime if u in infos else None}
            for u in urls
        ]
    else:
        record["source_count"] = len(urls)
    doc.pop("consolidated_metadata", None)
    doc[RECORD_FIELD] = record
    meta[key] = json.dumps(doc).encode()


def _check_target(session: Any, path: str, meta: dict[str, bytes]) -> None:
    """Refuses to hide an existing node of the other Zarr format at the target path."""
    ours = 3 if "zarr.json" in meta else 2
    others = ("zarr.json",) if ours == 2 else (".zgroup", ".zarray")
    if any(session.exists(_join(path, n)) for n in others):
        raise InvalidInputError(
            f"the path {path or '/'!r} already holds a Zarr format {5 - ours} node, and these "
            f"references are Zarr format {ours}: one would hide the other. Choose another path "
            "or delete the existing node first"
        )


def _missing_parents(session: Any, path: str, meta: dict[str, bytes]) -> list[tuple[str, bytes]]:
    """Group documents for ancestors of ``path`` that have none, so the hierarchy is walkable."""
    if not path:
        return []
    if "zarr.json" in meta:
        name, doc = "zarr.json", json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {}}).encode()
    else:
        name, doc = ".zgroup", b'{"zarr_format": 2}'
    out: list[tuple[str, bytes]] = []
    parent = path
    while parent:
        parent = posixpath.dirname(parent)
        if not any(session.exists(_join(parent, n)) for n in NODE_NAMES):
            out.append((_join(parent, name), doc))
    return out


def virtual_prefixes(session: Any) -> list[str]:
    """Every URL prefix the virtual references recorded in this session's nodes use."""
    out: set[str] = set()
    for key, raw in session.metadata_documents():
        if key.rsplit("/", 1)[-1] not in NODE_NAMES or RECORD_FIELD.encode() not in raw:
            continue
        try:
            rec = json.loads(raw).get(RECORD_FIELD) or {}
        except ValueError:
            continue
        out.update(p for p in rec.get("prefixes", []) if isinstance(p, str))
    return sorted(out)
