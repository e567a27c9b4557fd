"""What changed between two versions of a repo, node by node: ``Diff``."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _display

_NODE_DOCS = ("zarr.json", ".zarray", ".zgroup")


def _doc(text: str | None) -> Any:
    """A metadata document as JSON, or its text if it is not JSON."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass(frozen=True)
class MetadataChange:
    """One metadata document (``zarr.json``, ``.zattrs``, ...) that differs.

    Attributes:
        key: the document's key, e.g. ``"temperature/zarr.json"``.
        old: the parsed document before (its text if it is not JSON), None if it did
            not exist.
        new: the parsed document after, None if it was deleted.

    Example:
        >>> for m in repo.diff("v1", "main")[""].metadata:
        ...     print(m.key, m.old["attributes"], m.new["attributes"])
    """

    key: str
    old: Any  # the parsed document, None if it did not exist
    new: Any  # the parsed document, None if it was deleted


@dataclass
class NodeDiff:
    """What changed in one group or array.

    Attributes:
        path: the node's path, ``""`` for the root.
        kind: ``"array"`` or ``"group"`` (``"node"`` when neither side has a document).
        metadata: the metadata documents that differ.
        chunks_added: chunks that exist only after.
        chunks_changed: chunks whose content differs.
        chunks_deleted: chunks that exist only before.
        added_keys: the keys of the added chunks, with ``chunk_keys=True``; else None.
        changed_keys: the keys of the changed chunks, likewise.
        deleted_keys: the keys of the deleted chunks, likewise.

    Example:
        >>> t = repo.diff("v1", "main")["temperature"]
        >>> t.status, t.chunks_changed, t.describe()
        ('modified', 12, '12 chunks changed')
    """

    path: str  # "" for the root
    #: ``"array"`` or ``"group"`` (as its document says; ``"node"`` when neither side has one).
    kind: str = "node"
    metadata: list[MetadataChange] = field(default_factory=list)
    chunks_added: int = 0
    chunks_changed: int = 0
    chunks_deleted: int = 0
    #: The chunk keys, when the diff was asked for them (``chunk_keys=True``), else None.
    added_keys: list[str] | None = None
    changed_keys: list[str] | None = None
    deleted_keys: list[str] | None = None

    def _node_doc(self) -> MetadataChange | None:
        return next((m for m in self.metadata if m.key.rsplit("/", 1)[-1] in _NODE_DOCS), None)

    @property
    def status(self) -> str:
        """``"added"``, ``"deleted"`` or ``"modified"``."""
        doc = self._node_doc()
        if doc is not None and doc.old is None:
            return "added"
        if doc is not None and doc.new is None:
            return "deleted"
        return "modified"

    @property
    def attributes_changed(self) -> bool:
        """Whether user attributes differ (Zarr 3 ``attributes``, or Zarr 2 ``.zattrs``)."""
        for m in self.metadata:
            if m.key.endswith(".zattrs"):
                return True
            old = m.old.get("attributes") if isinstance(m.old, dict) else None
            new = m.new.get("attributes") if isinstance(m.new, dict) else None
            if old != new:
                return True
        return False

    def describe(self) -> str:
        """A short description of the change, as the diff's printout shows it.

        Returns:
            E.g. ``"attributes, 3 chunks changed"`` or ``"added, 48 chunks added"``.

        Example:
            >>> repo.diff("v1", "main")["precip"].describe()
            'added, 48 chunks added'
        """
        if self.status != "modified":
            parts = [self.status]
        else:
            parts = ["metadata" if not self.attributes_changed else "attributes"] if self.metadata else []
        for n, word in (
            (self.chunks_added, "added"),
            (self.chunks_changed, "changed"),
            (self.chunks_deleted, "deleted"),
        ):
            if n:
                parts.append(f"{_display.plural(n, 'chunk')} {word}")
        return ", ".join(parts)


class Diff(Sequence[NodeDiff]):
    """The nodes that changed from one version to another, sorted by path.

    Iterate it, index it, or look a node up with ``diff["path/to/array"]``; ``len(diff)``
    is the number of changed nodes. It prints as a short summary, and renders in rich
    consoles and Jupyter. ``repo.diff`` makes it.

    Args:
        nodes: the changed nodes, sorted by path.
        old: what the diff is from (a ref or commit), for display.
        new: what it is to, for display.

    Example:
        >>> d = repo.diff("v1", "main")
        >>> print(d)
        Diff v1 → main: 1 added, 2 modified (3 nodes)
          /              group  attributes
          /temperature   array  12 chunks changed
          /precip        array  added, 48 chunks added
        >>> d.added, d["temperature"].chunks_changed
        (['precip'], 12)
    """

    SHOWN = 20  # nodes the text form lists before "… N more"
    SHOWN_HTML = 100  # rows of the HTML table before "… N more"

    def __init__(self, nodes: list[NodeDiff], old: str, new: str) -> None:
        self.nodes = nodes
        self.old = old  # what the diff is from (a ref or commit), for display
        self.new = new

    @classmethod
    def from_native(cls, tuples: list[Any], old: str, new: str, with_keys: bool) -> Diff:
        """A diff from the native layer's records.

        Args:
            tuples: per node, ``(path, kind, [(key, old, new)], added, changed, deleted,
                keys)``.
            old: what the diff is from, for display.
            new: what it is to, for display.
            with_keys: keep the chunk keys of each node.

        Returns:
            The diff.

        Example:
            >>> Diff.from_native([("a", "array", [], 1, 0, 0, None)], "v1", "main", False)["a"].chunks_added
            1
        """
        nodes = []
        for path, kind, meta, added, changed, deleted, keys in tuples:
            docs = [MetadataChange(k, _doc(a), _doc(b)) for k, a, b in meta]
            n = NodeDiff(path, kind, docs, added, changed, deleted)
            if with_keys and keys is not None:
                n.added_keys, n.changed_keys, n.deleted_keys = (list(k) for k in keys)
            nodes.append(n)
        return cls(nodes, old, new)

    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self) -> Iterator[NodeDiff]:
        return iter(self.nodes)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, str):
            path = i.strip("/")
            for n in self.nodes:
                if n.path == path:
                    return n
            raise KeyError(i)
        return self.nodes[i]

    @property
    def added(self) -> list[str]:
        """Paths of the nodes that were added."""
        return [n.path for n in self.nodes if n.status == "added"]

    @property
    def deleted(self) -> list[str]:
        """Paths of the nodes that were deleted."""
        return [n.path for n in self.nodes if n.status == "deleted"]

    @property
    def modified(self) -> list[str]:
        """Paths of the nodes that changed but exist on both sides."""
        return [n.path for n in self.nodes if n.status == "modified"]

    def _title(self) -> str:
        return f"Diff {self.old} \N{RIGHTWARDS ARROW} {self.new}"

    def _summary(self) -> str:
        if not self.nodes:
            return "no changes"
        counts = [(len(self.added), "added"), (len(self.deleted), "deleted"), (len(self.modified), "modified")]
        return ", ".join(f"{n} {w}" for n, w in counts if n) + f" ({_display.plural(len(self.nodes), 'node')})"

    def _rows(self, limit: int | None) -> list[list[str]]:
        shown = self.nodes if limit is None else self.nodes[:limit]
        return [[f"/{_display.clean(n.path)}", n.kind, n.describe()] for n in shown]

    def __repr__(self) -> str:
        lines = [f"{self._title()}: {self._summary()}"]
        lines += _display.columns(self._rows(self.SHOWN), indent="  ")
        if len(self.nodes) > self.SHOWN:
            lines.append(f"  \N{HORIZONTAL ELLIPSIS} {len(self.nodes) - self.SHOWN} more")
        return "\n".join(lines)

    def __rich__(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=Text(f"{self._title()}: {self._summary()}"), show_edge=False)
        for col in ("node", "kind", "change"):
            table.add_column(col)
        for row in self._rows(None):
            table.add_row(*(Text(c) for c in row))
        return table

    def _repr_html_(self) -> str:
        body = _display.html_note(self._summary())
        if self.nodes:
            body += _display.html_table(["node", "kind", "change"], self._rows(self.SHOWN_HTML))
        if len(self.nodes) > self.SHOWN_HTML:
            body += _display.html_note(f"\N{HORIZONTAL ELLIPSIS} {len(self.nodes) - self.SHOWN_HTML} more")
        return _display.html_box("diff", self._title(), body)
