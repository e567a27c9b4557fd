"""Exception classes.

Every error derives from ``ZarrlakeError`` and also from the builtin that Arraylake
raised in the same situation, so existing ``except ValueError`` clauses keep working.
The Rust core raises these by name (see ``rust/zarrlake-py/src/errors.rs``).
"""

from __future__ import annotations


class ZarrlakeError(Exception):
    """Base class of every zarrlake error. ``kind`` is a stable machine-readable code.

    Example:
        >>> try:
        ...     repo.checkout("no-such-branch")
        ... except zarrlake.ZarrlakeError as e:
        ...     print(e.kind)
        ref_not_found
    """

    kind: str = "zarrlake"


class ConflictError(ZarrlakeError, RuntimeError):
    """Fast-forward or commit conflict: both sides changed the same Zarr keys.

    Args:
        message: what conflicted, and the way out.
        paths: every conflicting Zarr key.
        commits: the commits on the branch that changed them.

    Example:
        >>> try:
        ...     repo.commit("mine")
        ... except zarrlake.ConflictError as e:
        ...     print(e.paths, e.commits)
        ['air/c/0/0'] ['6b130ae9bcb3c31f0b78d99d']
    """

    kind = "conflict"

    def __init__(self, message: str, paths: list[str] | None = None, commits: list[str] | None = None) -> None:
        super().__init__(message)
        self.paths: list[str] = list(paths or [])
        self.commits: list[str] = list(commits or [])


class NotOnBranchError(ZarrlakeError, RuntimeError):
    """Commit or fast-forward attempted at a tag or commit, off a branch tip.

    Example:
        >>> try:
        ...     repo.checkout("v1"); repo.commit("x")
        ... except zarrlake.NotOnBranchError as e:
        ...     print(e.kind)
        not_on_branch
    """

    kind = "not_on_branch"


class ReadOnlyError(ZarrlakeError, OSError):
    """A write to a read-only session, or to a session not on a branch tip.

    Example:
        >>> try:
        ...     repo.checkout("main", for_writing=False)
        ...     zarr.open_array(repo.store, path="air", mode="r+")[0] = 1.0
        ... except zarrlake.ReadOnlyError as e:
        ...     print(e.kind)
        read_only
    """

    kind = "read_only"


class SessionExpiredError(ZarrlakeError, ValueError):
    """Writing to or joining an expired, abandoned or committed session.

    Example:
        >>> try:
        ...     worker.join_session(old_session_id)
        ... except zarrlake.SessionExpiredError as e:
        ...     print(e.kind)
        session_expired
    """

    kind = "session_expired"


class SessionNotFoundError(ZarrlakeError, ValueError):
    """Joining a session id that does not exist in the repo, or is still private to its process.

    Example:
        >>> try:
        ...     repo.join_session("0123456789abcdef01234567")
        ... except zarrlake.SessionNotFoundError as e:
        ...     print(e.kind)
        session_not_found
    """

    kind = "session_not_found"


class NoSessionError(ZarrlakeError, ValueError):
    """A repo opened with ``checkout=False`` used before ``checkout`` or ``join_session``.

    Example:
        >>> try:
        ...     client.get_repo("climate/era", checkout=False).status()
        ... except zarrlake.NoSessionError as e:
        ...     print(e.kind)
        no_session
    """

    kind = "no_session"


class RefNotFoundError(ZarrlakeError, ValueError):
    """Unknown branch, tag or commit, or no commit at or before an ``as_of`` time.

    Example:
        >>> try:
        ...     repo.commit_log("no-such-branch")
        ... except zarrlake.RefNotFoundError as e:
        ...     print(e.kind)
        ref_not_found
    """

    kind = "ref_not_found"


class RefMovedError(ZarrlakeError, RuntimeError):
    """A branch was not at the commit a conditional operation expected (``reset_branch``
    with ``expected``, ``squash``): it was left where it is.

    Example:
        >>> from zarrlake.errors import RefMovedError
        >>> try:
        ...     repo.reset_branch("main", to="v1", expected=old_tip)
        ... except RefMovedError as e:
        ...     print(e.kind)
        ref_moved
    """

    kind = "ref_moved"


class RefExistsError(ZarrlakeError, ValueError):
    """A branch or tag name that is already taken.

    Example:
        >>> try:
        ...     repo.new_branch("main")
        ... except zarrlake.RefExistsError as e:
        ...     print(e.kind)
        ref_exists
    """

    kind = "ref_exists"


class RepoNotFoundError(ZarrlakeError, ValueError):
    """No repo of that name under the client's root.

    Example:
        >>> try:
        ...     client.get_repo("climate/missing")
        ... except zarrlake.RepoNotFoundError as e:
        ...     print(e.kind)
        repo_not_found
    """

    kind = "repo_not_found"


class RepoExistsError(ZarrlakeError, ValueError):
    """``create_repo`` of a name that exists.

    Example:
        >>> try:
        ...     client.create_repo("climate/era")
        ... except zarrlake.RepoExistsError as e:
        ...     print(e.kind)
        repo_exists
    """

    kind = "repo_exists"


class InvalidNameError(ZarrlakeError, ValueError):
    """A bad repo, branch, tag or path name.

    Example:
        >>> try:
        ...     client.create_repo("x/y")
        ... except zarrlake.InvalidNameError as e:
        ...     print(e.kind)
        invalid_name
    """

    kind = "invalid_name"


class InvalidInputError(ZarrlakeError, ValueError):
    """A bad argument, e.g. an expiry beyond 7 days or a malformed JMESPath filter.

    Example:
        >>> try:
        ...     repo.filter_metadata("units ==")
        ... except zarrlake.InvalidInputError as e:
        ...     print(e.kind)
        invalid_input
    """

    kind = "invalid_input"


class CommitFailedError(ZarrlakeError):
    """The branch could not be updated: retries exhausted, or it moved and auto_ff=False.

    Example:
        >>> try:
        ...     repo.commit("x", auto_ff=False)
        ... except zarrlake.CommitFailedError as e:
        ...     print(e.kind)
        commit_failed
    """

    kind = "commit_failed"


class CorruptObjectError(ZarrlakeError, OSError):
    """A stored object is missing or damaged: its length, hash or checksum is wrong.

    The message names the object (a chunk, a ref version, a session's write batch);
    zarrlake never returns wrong data or a silently older version instead.

    Example:
        >>> try:
        ...     zarr.open_array(repo.store, path="air")[:]
        ... except zarrlake.CorruptObjectError as e:
        ...     print(e.kind)
        corrupt_object
    """

    kind = "corrupt_object"


class VirtualAccessError(ZarrlakeError, PermissionError):
    """A virtual reference points outside the prefixes this reader allows.

    The message names the prefix and how to allow it, e.g.
    ``Client(..., allow_virtual=["s3://bucket/"])``.

    Example:
        >>> try:
        ...     repo.to_xarray("era5").load()
        ... except zarrlake.VirtualAccessError as e:
        ...     print(e.kind)
        virtual_not_allowed
    """

    kind = "virtual_not_allowed"


class SourceChangedError(ZarrlakeError, OSError):
    """The source file of a virtual reference changed (ETag, modification time or size)
    since it was referenced.

    Example:
        >>> try:
        ...     repo.to_xarray("era5").load()
        ... except zarrlake.SourceChangedError as e:
        ...     print(e.kind)
        source_changed
    """

    kind = "source_changed"


class ObjectNotFoundError(ZarrlakeError, FileNotFoundError):
    """A bucket or object that does not exist, e.g. a root in a missing bucket.

    Example:
        >>> try:
        ...     zarrlake.Client("s3://no-such-bucket/lakes").list_repos("org")
        ... except zarrlake.ObjectNotFoundError as e:
        ...     print(e.kind)
        not_found
    """

    kind = "not_found"


class StorageError(ZarrlakeError, OSError):
    """The object store failed (after retries), or the runtime was shut down.

    Example:
        >>> try:
        ...     repo.ping()
        ... except zarrlake.StorageError as e:
        ...     print(e.kind)
        storage
    """

    kind = "storage"


class UnsupportedStorageError(StorageError):
    """The storage lacks a capability needed to write safely (e.g. conditional puts).

    Example:
        >>> try:
        ...     client.create_repo("climate/era")
        ... except zarrlake.UnsupportedStorageError as e:
        ...     print(e.kind)
        unsupported_storage
    """

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
