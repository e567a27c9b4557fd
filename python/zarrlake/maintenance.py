"""Results of keeping a lake tidy: ``GCReport`` and ``ExpiryResult``."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from . import _display

#: The kinds of objects garbage collection deletes, in report order.
GC_KINDS = ("chunks", "manifests", "snapshots", "commits", "changes", "sessions")


def age_micros(older_than: datetime.timedelta, what: str = "older_than") -> int:
    """A grace period or age as microseconds.

    Args:
        older_than: the age, a non-negative ``timedelta``.
        what: the argument's name, for the error messages.

    Returns:
        ``older_than`` in whole microseconds.

    Raises:
        TypeError: not a ``timedelta``.
        InvalidInputError: a negative one.

    Example:
        >>> age_micros(datetime.timedelta(hours=1))
        3600000000
    """
    if not isinstance(older_than, datetime.timedelta):
        raise TypeError(f"{what} must be a datetime.timedelta, got {type(older_than).__name__}")
    if older_than < datetime.timedelta(0):
        from .errors import InvalidInputError

        raise InvalidInputError(f"{what} must not be negative, got {older_than}")
    return (older_than.days * 86_400 + older_than.seconds) * 1_000_000 + older_than.microseconds


def cutoff_micros(older_than: datetime.timedelta | datetime.datetime) -> int:
    """A cutoff time in microseconds since the epoch.

    Args:
        older_than: an age (``timedelta``: that long ago) or a time (``datetime``; a
            naive one is taken as UTC).

    Returns:
        The cutoff, in microseconds since 1970-01-01 UTC.

    Raises:
        InvalidInputError: a negative age.

    Example:
        >>> cutoff_micros(datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
        1767225600000000
    """
    if isinstance(older_than, datetime.datetime):
        t = older_than if older_than.tzinfo else older_than.replace(tzinfo=datetime.UTC)
        return int(t.timestamp() * 1_000_000)
    now = datetime.datetime.now(datetime.UTC)
    return int(now.timestamp() * 1_000_000) - age_micros(older_than)


@dataclass(frozen=True)
class GCReport:
    """What one garbage collection deleted (or, with ``dry_run``, would delete).

    It prints as a table of objects and bytes per kind, and renders in Jupyter.

    Attributes:
        deleted: kind (``chunks``, ``manifests``, ``snapshots``, ``commits``,
            ``changes``, ``sessions``) to ``(objects, bytes)``, for the kinds that had any.
        kept_young: unreachable objects kept because they are younger than the grace
            period.
        dry_run: whether nothing was deleted.
        incremental: whether the run built on the previous one (O(changed)) rather than
            reading everything.

    Example:
        >>> report = repo.garbage_collect(dry_run=True)
        >>> report.objects, report.bytes, report.deleted.get("chunks")
        (1204, 1181116006, (1180, 1177124864))
    """

    #: kind -> (objects, bytes), for the kinds in :data:`GC_KINDS` that had any.
    deleted: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: Unreachable objects kept because they are younger than the grace period.
    kept_young: int = 0
    dry_run: bool = False
    #: Whether the run built on the previous one (O(changed)) rather than reading everything.
    incremental: bool = False

    @property
    def objects(self) -> int:
        """Objects deleted, all kinds together."""
        return sum(n for n, _ in self.deleted.values())

    @property
    def bytes(self) -> int:
        """Bytes deleted, all kinds together."""
        return sum(b for _, b in self.deleted.values())

    def _title(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        size = _display.human_bytes(self.bytes)
        return f"Garbage collection {verb} {_display.plural(self.objects, 'object')} ({size})"

    def _rows(self) -> list[list[str]]:
        shown = [k for k in GC_KINDS if k in self.deleted]
        return [[k, str(self.deleted[k][0]), _display.human_bytes(self.deleted[k][1])] for k in shown]

    def __repr__(self) -> str:
        lines = [self._title()]
        lines += _display.columns(self._rows(), indent="  ")
        if self.kept_young:
            lines.append(f"  kept {self.kept_young} unreachable object(s) younger than the grace period")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        body = _display.html_table(["kind", "objects", "bytes"], self._rows()) if self.deleted else ""
        if self.kept_young:
            body += _display.html_note(f"kept {self.kept_young} younger than the grace period")
        return _display.html_box("gc", self._title(), body)


@dataclass(frozen=True)
class ExpiryResult:
    """What ``repo.expire`` did.

    Attributes:
        expired: commits no branch or tag reaches any more (garbage collection reclaims
            them).
        new_roots: commits that became the oldest of their line.

    Example:
        >>> result = repo.expire(older_than=datetime.timedelta(days=90))
        >>> len(result.expired), result.new_roots
        (41, ['6b130ae9bcb3c31f0b78d99d'])
    """

    #: Commits no branch or tag reaches any more (garbage collection reclaims them).
    expired: list[str]
    #: Commits that became the oldest of their line.
    new_roots: list[str]

    def __repr__(self) -> str:
        if not self.expired:
            return "Expiry: nothing to expire"
        return (
            f"Expiry: {_display.plural(len(self.expired), 'commit')} expired; "
            f"history now starts at {_display.plural(len(self.new_roots), 'commit')}"
        )
