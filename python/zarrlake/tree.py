"""TreeView: the hierarchy of groups and arrays that ``repo.tree()`` returns.

It prints as a text tree in a plain REPL, as a ``rich`` tree in rich consoles
(``rich.print(repo.tree())``), and as nested lists in Jupyter. rich is imported only when
a rich console asks for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._display import clean, e

if TYPE_CHECKING:
    from rich.tree import Tree


@dataclass
class TreeNode:
    """One group or array of a ``TreeView``.

    Attributes:
        name: the last part of the path (the full parent path for a parent that is not
            shown itself).
        path: the node's path.
        kind: ``"group"`` or ``"array"``.
        shape: an array's shape.
        dtype: an array's data type.
        children: the nodes below it.

    Example:
        >>> [(n.path, n.kind) for _, n in repo.tree().walk()]
        [('air', 'array'), ('lat', 'array'), ('time', 'array')]
    """

    name: str  # the last part of the path; the full parent path for a parent not shown itself
    path: str
    kind: str  # "group" or "array"
    shape: tuple[int, ...] = ()
    dtype: str = ""
    children: list[TreeNode] = field(default_factory=list)

    def label(self) -> str:
        """The node as the text tree shows it.

        Returns:
            ``name/`` for a group, ``name (shape) dtype`` for an array.

        Example:
            >>> repo.tree().root.children[0].label()
            'air (48, 90) float32'
        """
        name = clean(self.name)
        return f"{name}/" if self.kind == "group" else f"{name} {self.shape} {clean(self.dtype)}"


class TreeView:
    """A hierarchy of groups and arrays under a root (the repo's or a prefix).

    ``repo.tree()`` returns one. It prints as a text tree in a plain REPL, as a ``rich``
    tree in rich consoles (``rich.print(repo.tree())``), and as nested lists in Jupyter;
    ``len()`` counts the nodes below the root.

    Args:
        root: the root node.

    Example:
        >>> print(repo.tree())
        /
        ├── air (48, 90) float32
        ├── lat (90,) float64
        └── time (48,) int64
    """

    def __init__(self, root: TreeNode) -> None:
        self.root = root

    def walk(self) -> Iterator[tuple[int, TreeNode]]:
        """Every node below the root, depth first.

        Returns:
            An iterator of ``(depth, node)``; the root's children are at depth 1.

        Example:
            >>> for depth, node in repo.tree().walk():
            ...     print("  " * depth + node.name)
        """
        stack = [(1, c) for c in reversed(self.root.children)]
        while stack:
            depth, node = stack.pop()
            yield depth, node
            stack.extend((depth + 1, c) for c in reversed(node.children))

    def __len__(self) -> int:
        """The number of nodes below the root.

        Returns:
            The count.

        Example:
            >>> len(repo.tree())
            3
        """
        return sum(1 for _ in self.walk())

    def lines(self) -> list[str]:
        """The tree as text lines, drawn with box characters.

        Returns:
            The lines, the root's name first.

        Example:
            >>> repo.tree().lines()
            ['/', '├── air (48, 90) float32', '├── lat (90,) float64', '└── time (48,) int64']
        """
        out = [clean(self.root.name)]

        def draw(node: TreeNode, lead: str) -> None:
            for i, child in enumerate(node.children):
                last = i == len(node.children) - 1
                out.append(f"{lead}{'└── ' if last else '├── '}{child.label()}")
                draw(child, lead + ("    " if last else "│   "))

        draw(self.root, "")
        return out

    def __repr__(self) -> str:
        return "\n".join(self.lines())

    def __str__(self) -> str:
        return repr(self)

    def __rich__(self) -> Tree:
        from rich.markup import escape
        from rich.tree import Tree

        def add(parent: Tree, node: TreeNode) -> None:
            for child in node.children:
                name = escape(clean(child.name))  # a node name is not markup
                if child.kind == "group":
                    add(parent.add(f":file_folder: [bold]{name}[/]"), child)
                else:
                    shape = escape(f"{child.shape} {clean(child.dtype)}")
                    parent.add(f":regional_indicator_a: {name} [dim]{shape}[/]")

        tree = Tree(escape(clean(self.root.name)))
        add(tree, self.root)
        return tree

    def _repr_html_(self) -> str:
        def items(node: TreeNode) -> str:
            if not node.children:
                return ""
            return "<ul>" + "".join(f"<li>{label(c)}{items(c)}</li>" for c in node.children) + "</ul>"

        def label(node: TreeNode) -> str:
            if node.kind == "group":
                return f"<b>{e(node.name)}/</b>"
            return f'{e(node.name)} <span style="color:#666">{e(str(node.shape))} {e(node.dtype)}</span>'

        body = items(self.root) or "<div><i>(empty)</i></div>"
        return (
            '<div class="zarrlake-tree" style="font-family:ui-monospace,monospace;font-size:12px">'
            f"<div><b>{e(self.root.name)}</b></div>{body}</div>"
        )

    def to_list(self) -> list[dict[str, Any]]:
        """Every node below the root as a dict, depth first: what ``zarrlake tree --json`` prints.

        Returns:
            ``{"path", "kind", "shape", "dtype"}`` per node (only arrays have the last two).

        Example:
            >>> repo.tree().to_list()[0]
            {'path': 'air', 'kind': 'array', 'shape': [48, 90], 'dtype': 'float32'}
        """
        out: list[dict[str, Any]] = []
        for _, node in self.walk():
            d: dict[str, Any] = {"path": node.path, "kind": node.kind}
            if node.kind == "array":
                d["shape"] = list(node.shape)
                d["dtype"] = node.dtype
            out.append(d)
        return out
