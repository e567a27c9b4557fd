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
(see ``export_convert``); anything else is refused, naming the node,
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
import dataclasses
import json
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import _display, _native
from ._progress import ProgressBar
from .errors import InvalidInputError
from .export_convert import (
    Renamer,
    convert_array,
    find_nodes,
    group_documents,
    ordered_docs,
    parse_json,
    shown,
    split_key,
)

if TYPE_CHECKING:
    from zarr.abc.store import Store

    from ._core import RepoCore


#: Chunks (and documents) in flight at once, read from the repo and written to the target.
CONCURRENCY = 64
#: The target's record of what it holds (see "Resuming" above).
RECORD = "zarrlake-export.json"


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
        path = split_key(path)[0]


def _plan(keys: list[str], docs: dict[str, bytes], zarr_format: int | None) -> _Plan:
    """What the export writes, from the source's keys and metadata documents; raises
    InvalidInputError for what cannot be written in ``zarr_format``."""
    nodes, unreadable = find_nodes(docs)
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
                f"cannot export as Zarr v{zarr_format}: these metadata documents do not read: {shown(unreadable)}"
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
                out.groups[path] = group_documents(path, attrs, zarr_format)
                out.group_count += 1
                continue
            node = next(iter(found.values()))
            if node.kind == "group":
                same = node.zarr_format == zarr_format
                out.groups[path] = dict(node.docs) if same else group_documents(path, node.attrs, zarr_format)
                out.group_count += 1
            elif node.zarr_format == zarr_format:
                out.arrays[path] = _Array(path, dict(node.docs))
            else:
                array_docs, renamers[path] = convert_array(node, zarr_format)
                out.arrays[path] = _Array(path, array_docs)
    for key in keys:
        path, _ = split_key(key)
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
    doc = parse_json(raw) if raw is not None else None
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
            what.append(f"keys this export does not write ({shown(foreign)})")
        if differ:
            what.append(f"metadata documents that differ from this export's ({shown(differ)})")
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
    doc_keys = [k for k in keys if split_key(k)[1] in _native.METADATA_NAMES]
    docs: dict[str, bytes] = {}

    async def read_doc(key: str) -> None:
        buf = await source.get(key, proto)
        if buf is not None:
            docs[key] = buf.to_bytes()

    await _pool(doc_keys, read_doc)
    docs = {k: docs[k] for k in doc_keys if k in docs}  # in key order, not in the order reads finished
    plan = _plan(keys, docs, zarr_format)
    try:
        await target._ensure_open()  # after the plan: a refused export does not even create the directory
    except OSError as e:
        raise InvalidInputError(f"cannot create the export target {target}: {e.strerror or e}") from None
    writes = plan.writes()
    writes[RECORD] = record
    existing, unchanged = await _target_check(target, writes, overwrite)
    if json.loads(record)["commit"] is None:
        existing = set()  # uncommitted changes: nothing says the target's chunks are theirs
    if RECORD not in unchanged:
        await target.set(RECORD, proto.buffer.from_bytes(record))
    counts = _Counts()

    async def write_docs(node_docs: dict[str, bytes]) -> None:
        for key, raw in ordered_docs(node_docs):
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
            if not sep or scheme == "file":
                store = LocalStore(_local_dir(os.path.expanduser(text) if not sep else rest))
            else:
                store = FsspecStore.from_url(text, read_only=False)
        except InvalidInputError:
            raise
        except Exception as e:  # an unknown protocol, its package missing, a bad URL
            raise InvalidInputError(f"cannot open the export target {text!r}: {e}") from None
    else:
        raise TypeError(f"export target must be a zarr Store, a path or a URL, got {type(target).__name__}")
    if store.read_only:
        raise InvalidInputError(f"the export target {store} is read-only")
    return store


def _local_dir(path: str) -> str:
    """``path`` if it is a directory or can become one (its nearest existing parent is a
    writable directory); a clear error otherwise, before anything is read or written."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise InvalidInputError(f"the export target {path!r} exists and is not a directory")
    parent = os.path.abspath(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        raise InvalidInputError(f"cannot create the export target {path!r}: {parent!r} is not a writable directory")
    return path


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
