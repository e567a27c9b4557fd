"""griffe extensions for the API reference (mkdocs.yml).

``AsyncRepoDocstrings``: ``AsyncRepo``'s management methods are made at import time from
``repo._RepoMethods`` (``functools.wraps`` copies each docstring), so griffe's static
analysis finds them only in the stub ``repo.pyi``, whose ``async def`` lines have the right
signatures but no docstrings, and ``...`` for defaults. This copies each one's docstring
and defaults from the ``_RepoMethods`` method of the same name, as the runtime does; and
onto the stub's ``_RepoMethods`` members, those of the history and virtual mixins.

``ExampleSections``: the docstrings head their examples ``Example:``, which griffe's Google
parser reads as an admonition, so the ``>>>`` lines would render as Markdown (nested
quotes, and ``[...]`` output taken for links). This reads it as ``Examples:``, the section
griffe renders as code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:[ \t]*$", re.M)


def _objects(obj: griffe.Object) -> Iterator[griffe.Object]:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _objects(member)  # type: ignore[arg-type]


def _copy_docs(member: griffe.Object, source: griffe.Object) -> None:
    """``source``'s docstring (and, for a stub's ``...`` defaults, its defaults) on ``member``."""
    if member.docstring is not None or source.docstring is None:
        return
    member.docstring = griffe.Docstring(
        source.docstring.value,
        lineno=source.docstring.lineno,
        endlineno=source.docstring.endlineno,
        parent=member,
        parser=source.docstring.parser,
        parser_options=source.docstring.parser_options,
    )
    if isinstance(member, griffe.Function) and isinstance(source, griffe.Function):
        for param in member.parameters:
            if str(param.default) == "..." and param.name in source.parameters:
                param.default = source.parameters[param.name].default


class AsyncRepoDocstrings(griffe.Extension):
    """Copies the repo methods' docstrings and defaults onto their stub members."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.path != "zarrlake":
            return
        repo = pkg.modules["repo"]
        methods = repo.classes["_RepoMethods"]
        mixins = [
            pkg.modules["repo_history"].classes["_HistoryMethods"],
            pkg.modules["repo_virtual"].classes["_VirtualMethods"],
        ]
        # The stub lists the mixins' methods on _RepoMethods itself, without docstrings,
        # hiding the mixins' own; then AsyncRepo's coroutines copy from _RepoMethods. The
        # classes are read directly: asking for inherited members before griffe resolves
        # the import aliases would cache an empty list of bases.
        for target, sources in ((methods, mixins), (repo.classes["AsyncRepo"], [methods])):
            for name, member in target.members.items():
                source = next((c.members[name] for c in sources if name in c.members), None)
                if not member.is_alias and source is not None and not source.is_alias:
                    _copy_docs(member, source)


class ExampleSections(griffe.Extension):
    """Reads an ``Example:`` heading as ``Examples:`` (code, not an admonition)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.path != "zarrlake":
            return
        for obj in _objects(pkg):
            if obj.docstring is not None:
                obj.docstring.value = _EXAMPLE.sub(r"\1Examples:", obj.docstring.value)
