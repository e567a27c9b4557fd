"""Reading kerchunk reference sets (versions 0 and 1) into one flat mapping.

Version 0 is a plain ``{key: value}`` dict. Version 1 is
``{"version": 1, "templates": {...}, "gen": [...], "refs": {...}}``; its templates and
generators are expanded here. Every value becomes one of:

- ``bytes``: inline data (plain text, ``base64:`` text, or JSON objects), and
- ``[url, offset, length]`` or ``[url]`` (a whole file): a reference.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from ..errors import InvalidInputError
from .sources import normalize_url, open_source
from .templates import expand_gen, expand_templates, render

Refs = dict[str, "bytes | list[Any]"]


def _read_json(location: str | os.PathLike[str], storage_options: dict[str, Any]) -> Any:
    url = normalize_url(location)
    f, _ = open_source(url, storage_options)
    with f:
        raw = f.read()
    try:
        return json.loads(raw)
    except ValueError as e:
        raise InvalidInputError(f"{url} is not a kerchunk JSON reference file: {e}") from e


def _value(key: str, v: Any, templates: dict[str, str]) -> bytes | list[Any]:
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        if v.startswith("base64:"):
            try:
                return base64.b64decode(v[7:], validate=True)
            except ValueError as e:
                raise InvalidInputError(f"reference {key!r} holds invalid base64 data: {e}") from e
        return v.encode("utf-8")
    if isinstance(v, dict):
        return json.dumps(v).encode()
    if isinstance(v, (list, tuple)):
        if len(v) not in (1, 3) or not isinstance(v[0], str):
            raise InvalidInputError(f"reference {key!r} must be [url, offset, length] or [url], got {list(v)!r}")
        url = render(v[0], templates)
        if len(v) == 1 or (v[1] is None and v[2] is None):
            return [url]
        try:
            offset, length = int(v[1]), int(v[2])
        except (TypeError, ValueError) as e:
            raise InvalidInputError(f"reference {key!r} has a bad offset or length: {list(v)!r}") from e
        if offset < 0 or length < 0:
            raise InvalidInputError(f"reference {key!r} has a negative offset or length: {list(v)!r}")
        return [url, offset, length]
    raise InvalidInputError(f"reference {key!r} has an unsupported value of type {type(v).__name__}")


def load_references(refs: Any, storage_options: dict[str, Any] | None = None) -> Refs:
    """The flat reference mapping of a kerchunk reference set (dict, or JSON path/URL)."""
    if isinstance(refs, (str, os.PathLike)):
        refs = _read_json(refs, storage_options or {})
    if not isinstance(refs, dict):
        raise InvalidInputError(
            f"kerchunk references must be a dict or a path/URL of a JSON file, got {type(refs).__name__}"
        )
    version = refs.get("version")
    if version is None and not isinstance(refs.get("refs"), dict):
        items: dict[str, Any] = refs
        templates: dict[str, str] = {}
        gen: list[Any] = []
    elif version in (None, 1):
        items = refs.get("refs") or {}
        templates = expand_templates(refs.get("templates") or {})
        gen = refs.get("gen") or []
        if not isinstance(items, dict) or not isinstance(gen, list):
            raise InvalidInputError("kerchunk version 1 references need a 'refs' dict and a 'gen' list")
    else:
        raise InvalidInputError(f"unsupported kerchunk reference version {version!r}; expected 0 or 1")
    out: Refs = {}
    rendered: dict[str, str] = {}
    for k, v in items.items():
        # Fast path for the common [url, offset, length] with a (templated) URL.
        if type(v) is list and len(v) == 3 and type(v[1]) is int and type(v[2]) is int and v[1] >= 0 <= v[2]:
            u = v[0]
            if type(u) is str:
                if "{{" in u:
                    r = rendered.get(u)
                    if r is None:
                        r = rendered[u] = render(u, templates)
                    u = r
                out[k] = [u, v[1], v[2]]
                continue
        out[str(k)] = _value(str(k), v, templates)
    for k, v in expand_gen(gen, templates).items():
        out[k] = _value(k, v, templates)
    return out
