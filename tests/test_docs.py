"""Every public class, function and method of the API has a Google-style docstring.

The API reference (``make docs``, mkdocs.yml) is generated from these docstrings, so a
missing one is a hole in the docs. The walk covers everything exported from ``zarrlake``,
the public members of every class defined in the API modules (inherited ones included,
so ``Repo`` and ``AsyncRepo`` bring ``_RepoMethods``), and the modules' public functions.
For each callable it asks for a docstring with an ``Example`` section, an ``Args:``
section naming every parameter when it takes any, and ``Returns:`` when it is annotated
to return something. Properties need a docstring; classes need an Example, and name their
constructor's parameters under ``Args:`` or ``Attributes:`` (dataclass fields).
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Iterator
from typing import Any

import pytest
import zarrlake
from zarrlake import client, codec_pipeline, diff, errors, maintenance, repo, store, tree
from zarrlake import types as ztypes

MODULES = [client, repo, store, ztypes, diff, maintenance, errors, codec_pipeline, tree]


def _doc(obj: Any) -> str:
    """The object's own docstring: ``inspect.getdoc`` would fall back to a base class's."""
    return inspect.cleandoc(getattr(obj, "__doc__", None) or "")


def _from_zarrlake(obj: Any) -> bool:
    return (getattr(obj, "__module__", None) or "").split(".")[0] == "zarrlake"


def _defined_in(obj: Any, module: types.ModuleType) -> bool:
    return getattr(obj, "__module__", None) == module.__name__


def _public_classes() -> dict[str, type]:
    found: dict[str, type] = {}
    exported = [getattr(zarrlake, n) for n in zarrlake.__all__ if n != "__version__"]
    in_modules = [obj for m in MODULES for n, obj in vars(m).items() if not n.startswith("_") and _defined_in(obj, m)]
    for obj in exported + in_modules:
        if isinstance(obj, type) and _from_zarrlake(obj):
            found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def _public_functions() -> dict[str, types.FunctionType]:
    return {
        f"{m.__name__}.{n}": obj
        for m in MODULES
        for n, obj in vars(m).items()
        if not n.startswith("_") and inspect.isfunction(obj) and _defined_in(obj, m)
    }


def _members(cls: type) -> Iterator[tuple[str, Any]]:
    """(name, raw attribute) of every public member that zarrlake code defines, inherited
    ones included; members of other libraries' base classes (zarr's Store) are theirs."""
    seen: set[str] = set()
    for klass in cls.__mro__:
        if not _from_zarrlake(klass):
            continue
        for name, attr in vars(klass).items():
            if name.startswith("_") or name in seen:
                continue
            seen.add(name)
            if isinstance(attr, (property, classmethod, staticmethod)) or inspect.isfunction(attr):
                yield name, attr


def _callables() -> list[tuple[str, Any, type | None]]:
    out: list[tuple[str, Any, type | None]] = []
    for qualname, cls in _public_classes().items():
        for name, attr in _members(cls):
            out.append((f"{qualname}.{name}", attr, cls))
    out += [(name, fn, None) for name, fn in _public_functions().items()]
    return sorted(out, key=lambda t: t[0])


def _params(fn: Any) -> list[str]:
    """The parameters a docstring must name: all but self/cls, ``**kwargs`` as such."""
    names = []
    for p in inspect.signature(fn).parameters.values():
        if p.name in ("self", "cls"):
            continue
        names.append(("**" if p.kind is p.VAR_KEYWORD else "*" if p.kind is p.VAR_POSITIONAL else "") + p.name)
    return names


def _names_param(doc: str, name: str) -> bool:
    """Whether a section item ``name:`` or ``name (type):`` documents ``name``."""
    return re.search(rf"^\s+{re.escape(name)}( \([^)]*\))?:", doc, re.M) is not None


def _returns_something(fn: Any) -> bool:
    annotation = inspect.signature(fn).return_annotation
    return annotation not in (inspect.Signature.empty, None, "None")


def _problems_of_function(fn: Any) -> list[str]:
    doc = _doc(fn)
    if not doc.strip():
        return ["no docstring"]
    problems = []
    params = _params(fn)
    if params and "Args:" not in doc:
        problems.append(f"no Args: section for {params}")
    problems += [f"Args: does not name {p!r}" for p in params if "Args:" in doc and not _names_param(doc, p)]
    if _returns_something(fn) and "Returns:" not in doc:
        problems.append("no Returns: section")
    if not re.search(r"^Examples?:", doc, re.M):
        problems.append("no Example: section")
    return problems


CALLABLES = _callables()
CLASSES = sorted(_public_classes().items())


def test_the_walk_covers_the_api():
    names = {name for name, _, _ in CALLABLES}
    for expected in (
        "zarrlake.repo.Repo.commit",
        "zarrlake.repo.AsyncRepo.checkout",
        "zarrlake.repo.Repo.add_virtual_netcdf",
        "zarrlake.client.Client.get_repo",
        "zarrlake.client.AsyncClient.delete_repo",
        "zarrlake.store.ZarrlakeStore.get",
        "zarrlake.types.LocalWriteSession.abandon",
        "zarrlake.diff.NodeDiff.describe",
        "zarrlake.codec_pipeline.ZarrlakeCodecPipeline.read",
        "zarrlake.maintenance.cutoff_micros",
    ):
        assert expected in names
    assert "zarrlake.store.ZarrlakeStore.is_empty" not in names  # zarr's own, documented there
    exported = {f"{c.__module__}.{c.__qualname__}" for _, c in CLASSES}
    assert {"zarrlake.repo.Repo", "zarrlake.errors.ConflictError", "zarrlake.types.CommitLog"} <= exported


def test_async_repo_coroutines_carry_the_docstrings():
    for name in repo.ASYNC_METHODS:
        method = getattr(zarrlake.AsyncRepo, name)
        assert inspect.iscoroutinefunction(method), name
        assert _doc(method) and _doc(method) == _doc(getattr(repo._RepoMethods, name)), name


@pytest.mark.parametrize(("name", "attr", "owner"), CALLABLES, ids=[c[0] for c in CALLABLES])
def test_member_docstring(name: str, attr: Any, owner: type | None) -> None:
    if isinstance(attr, property):
        assert _doc(attr).strip(), f"{name}: property without a docstring"
        return
    fn = getattr(owner, name.rsplit(".", 1)[1]) if owner is not None else attr
    problems = _problems_of_function(fn)
    assert not problems, f"{name}: {'; '.join(problems)}"


@pytest.mark.parametrize(("name", "cls"), CLASSES, ids=[c[0] for c in CLASSES])
def test_class_docstring(name: str, cls: type) -> None:
    doc = _doc(cls)
    assert doc.strip(), f"{name}: no docstring"
    assert re.search(r"^Examples?:", doc, re.M), f"{name}: no Example: section"
    definer = next(k for k in cls.__mro__ if "__init__" in vars(k))
    if not _from_zarrlake(definer):
        return  # the builtin's (exceptions) or object's constructor
    init = vars(definer)["__init__"]
    params = _params(init)
    # An inherited constructor is documented where it is defined.
    text = "\n".join([doc, _doc(definer), _doc(init)])
    if params:
        assert "Args:" in text or "Attributes:" in text, f"{name}: constructor parameters {params} not documented"
        missing = [p for p in params if not _names_param(text, p)]
        assert not missing, f"{name}: Args:/Attributes: do not name {missing}"


def test_a_missing_docstring_is_caught():
    def undocumented(x: int) -> int:
        return x

    def documented(x: int) -> int:
        """Doubles.

        Args:
            x: a number.

        Returns:
            Twice ``x``.

        Example:
            >>> documented(2)
            4
        """
        return 2 * x

    assert _problems_of_function(undocumented) == ["no docstring"]
    assert _problems_of_function(documented) == []
    documented.__doc__ = documented.__doc__.replace("x: a number", "y: a number")
    assert _problems_of_function(documented) == ["Args: does not name 'x'"]
