"""Expanding the ``{{ ... }}`` templates of kerchunk version 1 references.

kerchunk writes ``{{u}}`` placeholders for URLs and ``gen`` entries whose key, URL, offset
and length are templates over generator dimensions, e.g. ``{{(i + 1) * 1000}}``. The spec
allows Jinja syntax. Names and arithmetic (``+ - * / // % **``, ``'%03d' % i``) are
evaluated here without Jinja; anything else falls back to ``jinja2``'s sandbox when it is
installed.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from ..errors import InvalidInputError

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.S)
_SIMPLE_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*")

_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}


class _Unsupported(Exception):
    pass


def _eval(node: ast.AST, ctx: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Expression):
        return _eval(node.body, ctx)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in ctx:
            raise InvalidInputError(f"template variable {node.id!r} is not defined")
        return ctx[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval(node.left, ctx), _eval(node.right, ctx)
        if isinstance(node.op, ast.Pow) and isinstance(right, int) and abs(right) > 64:
            raise _Unsupported("exponent too large")
        return _BINOPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand, ctx))
    raise _Unsupported(type(node).__name__)


@lru_cache(maxsize=4096)
def _parse(expr: str) -> ast.Expression | None:
    try:
        return ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        return None


def _jinja(template: str, ctx: Mapping[str, Any]) -> str:
    try:
        import jinja2.sandbox
    except ImportError as e:
        raise InvalidInputError(
            f"the kerchunk template {template!r} needs Jinja features; install jinja2 to expand it"
        ) from e
    try:
        return str(jinja2.sandbox.SandboxedEnvironment().from_string(template).render(**ctx))
    except jinja2.TemplateError as e:
        raise InvalidInputError(f"cannot expand the kerchunk template {template!r}: {e}") from e


def render(template: str, ctx: Mapping[str, Any]) -> str:
    """Expands every ``{{ expr }}`` in ``template`` with the variables in ``ctx``."""
    if "{{" not in template:
        return template
    try:

        def one(m: re.Match[str]) -> str:
            inner = m.group(1)
            simple = _SIMPLE_NAME.fullmatch(inner)
            if simple:
                name = simple.group(1)
                if name not in ctx:
                    raise InvalidInputError(f"template variable {name!r} is not defined (in {template!r})")
                return str(ctx[name])
            tree = _parse(inner)
            if tree is None:
                raise _Unsupported(inner)
            return str(_eval(tree, ctx))

        return _PLACEHOLDER.sub(one, template)
    except _Unsupported:
        return _jinja(template, ctx)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError) as e:
        if isinstance(e, InvalidInputError):
            raise
        raise InvalidInputError(f"cannot expand the kerchunk template {template!r}: {e}") from e


def expand_templates(templates: Mapping[str, Any]) -> dict[str, str]:
    """The ``templates`` of a reference set, themselves expanded against each other once."""
    plain = {k: str(v) for k, v in templates.items() if "{{" not in str(v)}
    return {k: render(str(v), plain) for k, v in templates.items()}


def expand_gen(gens: list[Any], templates: Mapping[str, str]) -> dict[str, list[Any]]:
    """The references a ``gen`` list describes: one per point of each entry's dimensions."""
    import itertools

    out: dict[str, list[Any]] = {}
    for g in gens:
        if not isinstance(g, dict) or "key" not in g or "url" not in g:
            raise InvalidInputError(f"a kerchunk 'gen' entry needs 'key' and 'url': {g!r}")
        if ("offset" in g) != ("length" in g):
            raise InvalidInputError("a kerchunk 'gen' entry needs both 'offset' and 'length', or neither")
        dims: dict[str, list[Any] | range] = {}
        for name, spec in (g.get("dimensions") or {}).items():
            if isinstance(spec, list):
                dims[name] = spec
            elif isinstance(spec, dict) and "stop" in spec:
                dims[name] = range(int(spec.get("start", 0)), int(spec["stop"]), int(spec.get("step", 1)))
            else:
                raise InvalidInputError(f"bad 'gen' dimension {name!r}: {spec!r}")
        for values in itertools.product(*dims.values()):
            ctx = {**templates, **dict(zip(dims, values, strict=True))}
            key = render(str(g["key"]), ctx)
            url = render(str(g["url"]), ctx)
            if "offset" in g:
                out[key] = [url, int(render(str(g["offset"]), ctx)), int(render(str(g["length"]), ctx))]
            else:
                out[key] = [url]
    return out
