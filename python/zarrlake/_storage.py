"""Where repos live: root locations and storage options."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InvalidInputError

# A URL scheme, e.g. ``s3:``; a local path never starts like this (no drive letters here).
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def normalize_root(root: str | os.PathLike[str]) -> str:
    """A local root as an absolute path; any URL as written (the core checks its scheme)."""
    s = os.fspath(root)
    if s.startswith("file://") or not _SCHEME.match(s):
        return str(Path(s.removeprefix("file://")).expanduser().resolve())
    scheme, sep, rest = s.partition("://")
    return scheme + sep + rest.rstrip("/") if sep else s


def normalize_options(options: Mapping[str, Any] | None, what: str = "storage_options") -> dict[str, str] | None:
    """``options`` as the strings object_store reads (``True`` becomes ``"true"``)."""
    if options is None:
        return None
    if not isinstance(options, Mapping):
        raise InvalidInputError(f"{what} must be a dict of option names to values, not {type(options).__name__}")
    out: dict[str, str] = {}
    for k, v in options.items():
        if not isinstance(k, str):
            raise InvalidInputError(f"{what}: option names are strings, got {k!r}")
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, str | int | float):
            out[k] = str(v)
        else:
            raise InvalidInputError(f"{what}[{k!r}]: expected a string, number or bool, got {type(v).__name__}")
    return out


@dataclass(frozen=True)
class OpenArgs:
    """The options a handle was opened with. Only what the user passed explicitly: a
    pickle carries these, and credentials from the environment are read again wherever
    the handle is unpickled."""

    storage_options: dict[str, str] | None = None
    chunk_storage_options: dict[str, str] | None = None

    def open_kwargs(self) -> dict[str, Any]:
        return {"storage_options": self.storage_options, "chunk_storage_options": self.chunk_storage_options}
