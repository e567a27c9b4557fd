"""Metadata views: JMESPath filtering of node attributes, and the hierarchy as a tree."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._core import RepoCore
    from .tree import TreeView


@dataclass
class Node:
    path: str  # "" for the root
    kind: str  # "group" or "array"
    attributes: dict[str, Any] = field(default_factory=dict)
    shape: tuple[int, ...] = ()
    dtype: str = ""


def _basename(key: str) -> tuple[str, str]:
    d, _, b = key.rpartition("/")
    return d, b


def _dtype_name(dt: Any) -> str:
    if isinstance(dt, dict):
        return str(dt.get("name") or dt.get("type") or dt)
    try:
        import numpy as np

        return str(np.dtype(dt))
    except Exception:
        return str(dt)


def nodes(core: RepoCore) -> dict[str, Node]:
    """Every group and array of the current session, by path."""
    docs = core.session_native.metadata_documents()
    out: dict[str, Node] = {}
    v2_attrs: dict[str, dict[str, Any]] = {}
    for key, raw in docs:
        path, name = _basename(key)
        try:
            # NaN and infinities become strings, as filter queries expect ("x == 'NaN'").
            doc = json.loads(raw, parse_constant=str)
        except (ValueError, UnicodeDecodeError):
            continue  # not a metadata document zarr could read either
        if not isinstance(doc, dict):
            continue
        if name == "zarr.json" and doc.get("node_type") in ("group", "array"):
            node = Node(path, doc["node_type"], doc.get("attributes") or {})
            if node.kind == "array":
                node.shape = tuple(doc.get("shape") or ())
                node.dtype = _dtype_name(doc.get("data_type"))
            out[path] = node
        elif name == ".zarray":
            out[path] = Node(path, "array", shape=tuple(doc.get("shape") or ()), dtype=_dtype_name(doc.get("dtype")))
        elif name == ".zgroup":
            out.setdefault(path, Node(path, "group"))
        elif name == ".zattrs":
            v2_attrs[path] = doc
    for path, attrs in v2_attrs.items():
        if path in out:
            out[path].attributes = attrs
    return out


def _truthy(v: Any) -> bool:
    # JMESPath truthiness: false, null and empty strings/lists/objects are false; 0 is true.
    return not (v is None or v is False or (isinstance(v, (str, list, dict)) and len(v) == 0))


def compile_query(expr: str) -> Any:
    import jmespath
    from jmespath.exceptions import JMESPathError

    from .errors import InvalidInputError

    if not isinstance(expr, str):
        raise TypeError(f"filter must be a JMESPath string, got {type(expr).__name__}")
    try:
        return jmespath.compile(expr)
    except JMESPathError as e:
        raise InvalidInputError(f"invalid JMESPath filter {expr!r}: {e}") from None


def matches(query: Any, attributes: dict[str, Any]) -> bool:
    """Evaluates the query on a node's attributes; a node without attributes is ``{}``, so
    ``foo == bar`` (null == null) matches it, as in Arraylake."""
    from jmespath.exceptions import JMESPathError

    from .errors import InvalidInputError

    try:
        return _truthy(query.search(attributes))
    except JMESPathError as e:
        raise InvalidInputError(f"JMESPath filter failed: {e}") from None


def filter_metadata(core: RepoCore, expr: str) -> list[str]:
    """Paths (root excluded) of groups and arrays whose attributes match ``expr``."""
    query = compile_query(expr)
    return sorted(p for p, n in nodes(core).items() if p and matches(query, n.attributes))


def build_tree(core: RepoCore, prefix: str = "", depth: int = 10, filter: str | None = None) -> TreeView:
    """The hierarchy under ``prefix`` as a :class:`~zarrlake.tree.TreeView`, ``depth`` levels deep."""
    from .tree import TreeNode, TreeView

    if not isinstance(depth, int) or depth < 0:
        from .errors import InvalidInputError

        raise InvalidInputError(f"depth must be an int >= 0, got {depth!r}")
    prefix = prefix.strip("/")
    if prefix.startswith("meta/root"):  # Arraylake-style prefixes
        prefix = prefix.removeprefix("meta/root").strip("/")
    all_nodes = nodes(core)
    keep = set(all_nodes)
    if filter is not None:
        query = compile_query(filter)
        hits = {p for p, n in all_nodes.items() if p and matches(query, n.attributes)}
        keep = set()
        for p in hits:
            parts = p.split("/")
            keep.update("/".join(parts[:i]) for i in range(len(parts) + 1))
    root = TreeNode(f"/{prefix}" if prefix else "/", prefix, "group")
    branches: dict[str, TreeNode] = {prefix: root}
    base_depth = len(prefix.split("/")) if prefix else 0
    under = [p for p in sorted(keep) if p and (not prefix or p.startswith(prefix + "/"))]
    for p in under:
        level = len(p.split("/")) - base_depth
        if level > depth:
            continue
        parent, name = _basename(p)
        parent_node = branches.get(parent)
        if parent_node is None:  # a group without metadata of its own: shown by its full path
            parent_node = branches[parent] = TreeNode(parent, parent, "group")
            root.children.append(parent_node)
        node = all_nodes.get(p) or Node(p, "group")
        child = TreeNode(name, p, node.kind, node.shape, node.dtype)
        parent_node.children.append(child)
        if node.kind == "group":
            branches[p] = child
    return TreeView(root)
