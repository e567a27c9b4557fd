"""griffe extensions for the API reference (mkdocs.yml).

``AsyncRepoDocstrings``: ``AsyncRepo``'s management methods are made at import time from
``repo._RepoMethods`` (``functools.wraps`` copies each docstring), so griffe's static
analysis finds them only in the stub ``repo.pyi``, whose ``async def`` lines have the right
signatures but no docstrings, and ``...`` for defaults. This copies each one's docstring
and defaults from the ``_RepoMethods`` method of the same name, as the runtime does.

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


class AsyncRepoDocstrings(griffe.Extension):
    """Copies ``_RepoMethods`` docstrings and defaults onto ``AsyncRepo``'s stub members."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.path != "zarrlake":
            return
        repo = pkg.modules["repo"]
        shared, arepo = repo.classes["_RepoMethods"], repo.classes["AsyncRepo"]
        for name, member in arepo.members.items():
            source = shared.members.get(name)
            if member.is_alias or source is None or member.docstring is not None or source.docstring is None:
                continue
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


class ExampleSections(griffe.Extension):
    """Reads an ``Example:`` heading as ``Examples:`` (code, not an admonition)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.path != "zarrlake":
            return
        for obj in _objects(pkg):
            if obj.docstring is not None:
                obj.docstring.value = _EXAMPLE.sub(r"\1Examples:", obj.docstring.value)
