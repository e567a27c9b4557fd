"""Exception classes.

Every error derives from :class:`ZarrlakeError` and also from the builtin that Arraylake
raised in the same situation, so existing ``except ValueError`` clauses keep working.
The Rust core raises these by name (see ``rust/zarrlake-py/src/errors.rs``).
"""

from __future__ import annotations


class ZarrlakeError(Exception):
    """Base class of every zarrlake error. ``kind`` is a stable machine-readable code."""

    kind: str = "zarrlake"


class ConflictError(ZarrlakeError, RuntimeError):
    """Fast-forward or commit conflict: ``paths`` lists every conflicting Zarr key, and
    ``commits`` the commits on the branch that changed them."""

    kind = "conflict"

    def __init__(self, message: str, paths: list[str] | None = None, commits: list[str] | None = None) -> None:
        super().__init__(message)
        self.paths: list[str] = list(paths or [])
        self.commits: list[str] = list(commits or [])


class NotOnBranchError(ZarrlakeError, RuntimeError):
    """Commit or fast-forward attempted at a tag or commit."""

    kind = "not_on_branch"


class ReadOnlyError(ZarrlakeError, OSError):
    """A write to a read-only session."""

    kind = "read_only"


class SessionExpiredError(ZarrlakeError, ValueError):
    """Writing to or joining an expired, abandoned or committed session."""

    kind = "session_expired"


class SessionNotFoundError(ZarrlakeError, ValueError):
    """Joining a session id that does not exist in the repo."""

    kind = "session_not_found"


class NoSessionError(ZarrlakeError, ValueError):
    """A repo opened with ``checkout=False`` used before ``checkout`` or ``join_session``."""

    kind = "no_session"


class RefNotFoundError(ZarrlakeError, ValueError):
    """Unknown branch, tag or commit."""

    kind = "ref_not_found"


class RefMovedError(ZarrlakeError, RuntimeError):
    """A branch was not at the commit a conditional operation expected (``reset_branch``
    with ``expected``, ``squash``): it was left where it is."""

    kind = "ref_moved"


class RefExistsError(ZarrlakeError, ValueError):
    """A branch or tag name that is already taken."""

    kind = "ref_exists"


class RepoNotFoundError(ZarrlakeError, ValueError):
    kind = "repo_not_found"


class RepoExistsError(ZarrlakeError, ValueError):
    kind = "repo_exists"


class InvalidNameError(ZarrlakeError, ValueError):
    """A bad repo, branch, tag or path name."""

    kind = "invalid_name"


class InvalidInputError(ZarrlakeError, ValueError):
    """A bad argument, e.g. an expiry beyond 7 days."""

    kind = "invalid_input"


class CommitFailedError(ZarrlakeError):
    """The branch could not be updated: retries exhausted, or it moved and auto_ff=False."""

    kind = "commit_failed"


class CorruptObjectError(ZarrlakeError, OSError):
    """A stored object could not be decoded."""

    kind = "corrupt_object"


class VirtualAccessError(ZarrlakeError, PermissionError):
    """A virtual reference points outside the prefixes this reader allows."""

    kind = "virtual_not_allowed"


class SourceChangedError(ZarrlakeError, OSError):
    """The source file of a virtual reference changed since it was referenced."""

    kind = "source_changed"


class ObjectNotFoundError(ZarrlakeError, FileNotFoundError):
    kind = "not_found"


class StorageError(ZarrlakeError, OSError):
    """The object store failed."""

    kind = "storage"


class UnsupportedStorageError(StorageError):
    """The storage lacks a capability needed to write safely (e.g. conditional puts)."""

    kind = "unsupported_storage"


__all__ = [
    "CommitFailedError",
    "ConflictError",
    "CorruptObjectError",
    "InvalidInputError",
    "InvalidNameError",
    "NoSessionError",
    "NotOnBranchError",
    "ObjectNotFoundError",
    "ReadOnlyError",
    "RefExistsError",
    "RefMovedError",
    "RefNotFoundError",
    "RepoExistsError",
    "RepoNotFoundError",
    "SessionExpiredError",
    "SessionNotFoundError",
    "SourceChangedError",
    "StorageError",
    "UnsupportedStorageError",
    "VirtualAccessError",
    "ZarrlakeError",
]
