"""Changed Zarr keys grouped by the node (group or array) they belong to.

A status lists keys; people think in arrays and groups. The node of a metadata key is its
directory; the node of a chunk key is found from its shape: Zarr 3's default encoding
puts chunks under ``<node>/c/``, Zarr 2 (and Zarr 3's v2 encoding) right under the node
as digits joined by ``.`` or ``/``. Only an array named ``c`` is ambiguous; the
metadata keys of the same change set settle that when present.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from . import _native

_METADATA = frozenset(_native.METADATA_NAMES)
_NODE_DOCS = frozenset(_native.NODE_NAMES)
_CHUNK_PART = re.compile(r"\d+(\.\d+)*")
_V3_CHUNKS = re.compile(r"c(\.\d+)*")  # "c" of "c/0/1", "c.0.1", or a 0-d array's "c"


@dataclass
class NodeChange:
    """What a session (or commit) changed in one node."""

    path: str  # "" for the root
    metadata: int = 0  # metadata documents written
    metadata_deleted: int = 0
    node_deleted: bool = False  # the node's own document (zarr.json, .zarray, .zgroup) was deleted
    chunks: int = 0  # chunks written
    chunks_deleted: int = 0
    other: int = 0  # keys that are neither metadata nor shaped like chunks
    other_deleted: int = 0

    def describe(self) -> str:
        """E.g. ``"metadata, 3 chunks, 1 chunk deleted"``, or ``"deleted"``."""
        if self.node_deleted:
            return "deleted"
        parts = []
        if self.metadata:
            parts.append("metadata")
        if self.metadata_deleted:
            parts.append("attributes deleted")
        if self.chunks:
            parts.append(f"{self.chunks} chunk{'s' if self.chunks != 1 else ''}")
        if self.chunks_deleted:
            parts.append(f"{self.chunks_deleted} chunk{'s' if self.chunks_deleted != 1 else ''} deleted")
        if self.other:
            parts.append(f"{self.other} other key{'s' if self.other != 1 else ''}")
        if self.other_deleted:
            parts.append(f"{self.other_deleted} other key{'s' if self.other_deleted != 1 else ''} deleted")
        return ", ".join(parts)


def _split(key: str) -> tuple[str, str]:
    d, _, b = key.rpartition("/")
    return d, b


def chunk_node(key: str, known: frozenset[str] | set[str] = frozenset()) -> str | None:
    """The node a chunk key belongs to, or None for a key not shaped like a chunk;
    ``known`` node paths break ties (an array named ``c``)."""
    parts = key.split("/")
    n = len(parts)
    while n > 0 and _CHUNK_PART.fullmatch(parts[n - 1]):
        n -= 1
    plain = "/".join(parts[:n])
    if n > 0 and _V3_CHUNKS.fullmatch(parts[n - 1]):
        # A Zarr 3 node's chunks, unless the plain reading names a known node (a Zarr 2 array "c").
        return plain if plain in known else "/".join(parts[: n - 1])
    return plain if n < len(parts) else None


def summarize(changes: Iterable[tuple[str, bool]]) -> list[NodeChange]:
    """``(key, deleted)`` pairs as one :class:`NodeChange` per node, sorted by path."""
    changes = list(changes)
    known = {_split(k)[0] for k, _ in changes if _split(k)[1] in _METADATA}
    nodes: dict[str, NodeChange] = {}
    for key, deleted in changes:
        parent, name = _split(key)
        if name in _METADATA:
            node = nodes.setdefault(parent, NodeChange(parent))
            if not deleted:
                node.metadata += 1
            elif name in _NODE_DOCS:
                node.node_deleted = True
            else:
                node.metadata_deleted += 1
        elif (path := chunk_node(key, known)) is not None:
            node = nodes.setdefault(path, NodeChange(path))
            if deleted:
                node.chunks_deleted += 1
            else:
                node.chunks += 1
        else:
            node = nodes.setdefault(parent, NodeChange(parent))
            if deleted:
                node.other_deleted += 1
            else:
                node.other += 1
    return [nodes[p] for p in sorted(nodes)]
