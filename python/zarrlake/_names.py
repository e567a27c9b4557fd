"""Name rules for repos (branch and tag names are the core's: ``ref_names.rs``)."""

from __future__ import annotations

import re

from .errors import InvalidNameError

_REPO_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{1,99}")


def validate_repo_name(name: object) -> tuple[str, str]:
    """Split ``org/name`` into its parts, or raise :class:`InvalidNameError`."""
    if not isinstance(name, str):
        raise InvalidNameError(f"Repo names are strings like 'org/name', got {type(name).__name__}")
    parts = name.split("/")
    if len(parts) != 2 or not all(_REPO_PART.fullmatch(p) for p in parts):
        raise InvalidNameError(
            f"Not a valid repo identifier: {name!r}. Use 'org/name', each part 2 to 100 "
            "characters of letters, digits, '.', '_' or '-', starting with a letter, digit or '_'."
        )
    return parts[0], parts[1]
