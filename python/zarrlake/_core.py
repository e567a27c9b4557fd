"""RepoCore: the repo logic shared by :class:`Repo` and :class:`AsyncRepo`.

It holds the native repository handle and the current session, and turns the native
calls (which release the GIL) into the Arraylake-shaped API. The two public classes are
thin facades over it, so the logic exists once.
"""

from __future__ import annotations

import datetime
import getpass
import os
import warnings
from typing import TYPE_CHECKING, Any

from . import _native
from ._progress import ProgressBar
from ._storage import OpenArgs
from .errors import InvalidInputError, NoSessionError, ZarrlakeError
from .types import (
    AsyncLocalWriteSession,
    Author,
    Branch,
    Commit,
    CommitData,
    CommitLog,
    LocalReadSession,
    LocalSession,
    LocalWriteSession,
    SessionInfo,
    SessionStatus,
    Tag,
    to_micros,
)

if TYPE_CHECKING:
    from .diff import Diff
    from .maintenance import ExpiryResult, GCReport

MAX_MESSAGE_LENGTH = 5000
SHOWN_KEYS = 10

#: Chunk changes a commit must have before it shows a progress bar.
COMMIT_PROGRESS_REFS = 100_000


def default_author() -> Author:
    name = os.environ.get("ZARRLAKE_AUTHOR_NAME")
    if name is None:
        try:
            name = getpass.getuser()
        except Exception:  # getuser fails without a passwd entry
            name = "unknown"
    return Author(name=name, email=os.environ.get("ZARRLAKE_AUTHOR_EMAIL", ""))


def _check_message(message: Any, what: str = "commit") -> None:
    if not isinstance(message, str):
        raise TypeError(f"The {what} message must be a str, got {type(message).__name__}")
    if len(message) > MAX_MESSAGE_LENGTH:
        raise InvalidInputError(
            f"The maximum allowed message length is {MAX_MESSAGE_LENGTH} characters; "
            f"this {what} message has {len(message)}"
        )


def _shown(keys: list[str]) -> str:
    more = f" and {len(keys) - SHOWN_KEYS} more" if len(keys) > SHOWN_KEYS else ""
    return ", ".join(keys[:SHOWN_KEYS]) + more


def _ref_str(ref: Any) -> str:
    if not isinstance(ref, str):
        raise TypeError(f"a ref is a branch, tag or commit id string, got {type(ref).__name__}")
    return ref


class SessionPin:
    """The session a store reads and writes through.

    A repo hands its current pin to every store it opens. Committing through the repo moves
    the pin on to the next session of the branch, so write loops keep working; checking out
    another ref gives the repo a new pin, so stores opened earlier keep their version.
    """

    __slots__ = ("native",)

    def __init__(self, native: _native.Session) -> None:
        self.native = native


class RepoCore:
    """State and logic of one repo handle. Not thread-safe for session switches."""

    def __init__(
        self,
        native: _native.Repository,
        name: str,
        author: Author,
        *,
        async_sessions: bool = False,
        allow_virtual: list[str] | None = None,
        open_args: OpenArgs | None = None,
    ) -> None:
        self.native = native
        self.open_args = open_args or OpenArgs()
        self.name = name
        self.author = author
        self.async_sessions = async_sessions
        self.allow_virtual = list(allow_virtual or [])
        if self.allow_virtual:
            native.allow_virtual(self.allow_virtual)
        self._pin: SessionPin | None = None

    # ---- sessions -----------------------------------------------------------------------

    @property
    def pin(self) -> SessionPin:
        if self._pin is None:
            raise NoSessionError("There is no session active. You have to call checkout first.")
        return self._pin

    @property
    def session_native(self) -> _native.Session:
        return self.pin.native

    def wrap(self, s: _native.Session) -> LocalSession:
        if not s.writable:
            return LocalReadSession(s, self)
        return AsyncLocalWriteSession(s, self) if self.async_sessions else LocalWriteSession(s, self)

    @property
    def session(self) -> LocalSession:
        return self.wrap(self.session_native)

    def _switch_to(self, s: _native.Session) -> None:
        """Makes ``s`` the current session, warning if the one left behind has uncommitted work."""
        old = self._pin.native if self._pin is not None else None
        if old is not None and old.id != s.id and old.writable and not old.abandoned and old.has_changes():
            try:
                old.persist()  # the warning hands out its id: it must be joinable
                how = f"rejoin it with checkout(session_token={old.id!r}) to commit them"
            except ZarrlakeError as e:
                how = f"it could not be shared for rejoining ({e}); commit it through a store opened on it"
            warnings.warn(
                f"Session {old.id} has uncommitted changes. They are kept in that session: {how}.",
                UserWarning,
                stacklevel=4,
            )
        self._pin = SessionPin(s)

    def ping(self) -> None:
        self.native.resolve("main")

    def _start(
        self,
        ref: str,
        for_writing: bool,
        expires_in: datetime.timedelta,
        message: str | None,
    ) -> _native.Session:
        micros = to_micros(expires_in)
        if message is not None:
            _check_message(message, "session")
        commit, branch = self.native.resolve(_ref_str(ref))
        if branch is None:
            warnings.warn(f"{_native.NOT_ON_BRANCH} (checked out {ref})", UserWarning, stacklevel=4)
        return self.native.start_session(
            branch, commit, for_writing, micros, self.author.name or "", self.author.email, message
        )

    def create_session(
        self,
        ref: str = "main",
        for_writing: bool = True,
        expires_in: datetime.timedelta = datetime.timedelta(days=1),
        message: str | None = None,
    ) -> _native.Session:
        s = self._start(ref, for_writing, expires_in, message)
        s.persist()  # asked for by name: others may join it, list_active_sessions shows it
        self._switch_to(s)
        return s

    def join_session(self, session_id: str) -> _native.Session:
        if not isinstance(session_id, str):
            raise TypeError(f"session_id must be a str, got {type(session_id).__name__}")
        s = self.native.join_session(session_id)
        self._switch_to(s)
        return s

    def checkout(
        self,
        ref: str = "main",
        session_token: str | None = None,
        for_writing: bool = True,
        expires_in: datetime.timedelta = datetime.timedelta(days=1),
        as_of: datetime.datetime | None = None,
    ) -> str | None:
        if as_of is not None:
            if session_token is not None:
                raise InvalidInputError("checkout: give as_of or session_token, not both")
            s = self.session_as_of(ref, as_of, expires_in)
            self._switch_to(s)
            return s.base_commit
        if session_token is not None:
            s = self.join_session(session_token)
        else:
            # Stored lazily, on the first write or when its id is handed out.
            s = self._start(ref, for_writing, expires_in, None)
            self._switch_to(s)
        return s.base_commit

    def commit_as_of(self, ref: str, as_of: datetime.datetime) -> str:
        """The last commit of ``ref``'s history made at or before ``as_of``."""
        from .errors import RefNotFoundError
        from .maintenance import cutoff_micros

        if not isinstance(as_of, datetime.datetime):
            raise TypeError(f"as_of must be a datetime.datetime, got {type(as_of).__name__}")
        start = self._start_of(ref)
        found = self.native.commit_as_of(start, cutoff_micros(as_of)) if start is not None else None
        if found is None:
            raise RefNotFoundError(f"No commit of '{ref}' was made at or before {as_of.isoformat()}.")
        return found

    def session_as_of(self, ref: str, as_of: datetime.datetime, expires_in: datetime.timedelta) -> _native.Session:
        """A read-only session at ``ref`` as it was at ``as_of``."""
        commit = self.commit_as_of(ref, as_of)
        author = self.author
        return self.native.start_session(None, commit, False, to_micros(expires_in), author.name or "", author.email)

    def list_active_sessions(self) -> list[SessionInfo]:
        return [SessionInfo.from_tuple(t) for t in self.native.list_active_sessions()]

    def status(self, limit: int = 1000) -> SessionStatus:
        if not isinstance(limit, int) or limit < 0:
            raise InvalidInputError(f"limit must be a non-negative int, got {limit!r}")
        paths = self.session_native.status(limit)
        truncated = limit > 0 and len(paths) >= limit
        if truncated:
            warnings.warn(
                f".status results were limited to the first {limit} records. "
                "If more records are required, use .status(limit=N) (0 means no limit).",
                UserWarning,
                stacklevel=3,
            )
        return SessionStatus(self.name, self.session, paths, truncated=truncated)

    # ---- commits ------------------------------------------------------------------------

    def commit(
        self, message: str, auto_ff: bool = True, checkout_for_writing: bool = True, progress: bool = True
    ) -> str | None:
        _check_message(message)
        pin = self.pin
        with ProgressBar("Committing", enabled=progress, threshold=COMMIT_PROGRESS_REFS) as bar:
            report = bar if bar.enabled else None
            new_id, following, overwritten, problems = pin.native.commit(message, auto_ff, checkout_for_writing, report)
        for problem in problems:
            warnings.warn(problem, UserWarning, stacklevel=3)
        if overwritten:
            warnings.warn(
                f"{len(overwritten)} key(s) were written by more than one writer of this session, so "
                f"only the last write of each is in commit {new_id}: {_shown(overwritten)}. "
                "Concurrent writers must write whole, distinct chunks.",
                UserWarning,
                stacklevel=3,
            )
        if new_id is None:
            warnings.warn("No changes to commit.", UserWarning, stacklevel=3)
            return pin.native.base_commit
        if following is not None:  # None only when it could not start: a warning said so
            pin.native = following  # stores opened on the committed session follow
        return new_id

    def fast_forward(self) -> str | None:
        return self.session_native.fast_forward()

    def _start_of(self, ref: str | None) -> str | None:
        if ref is None:
            return self.session_native.base_commit
        commit, _ = self.native.resolve(_ref_str(ref))
        return commit

    def commit_log(self, ref: str | None = None, limit: int | None = None) -> CommitLog:
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise InvalidInputError(f"limit must be a non-negative int or None, got {limit!r}")
        start = self._start_of(ref)
        return CommitLog([Commit.from_tuple(t) for t in self.native.log(start, limit or 0)])

    def commit_data(self, refresh: bool = False) -> CommitData:
        branches = {n: c for n, c in self.native.branches() if c is not None}
        tags = {n: c for n, c in self.native.tags() if c is not None}
        starts = [self.session_native.base_commit, *branches.values(), *tags.values()]
        commits = {t[0]: Commit.from_tuple(t) for t in self.native.commit_graph(starts)}
        return CommitData(commits, branches, tags)

    # ---- refs ---------------------------------------------------------------------------

    def new_branch(self, branch_name: str) -> None:
        self.session_native.new_branch(branch_name)

    def delete_branch(self, branch: str) -> None:
        if self._pin is not None and self._pin.native.branch == branch and branch != "main":
            raise InvalidInputError(f"Branch '{branch}' is checked out in this session; check out another ref first.")
        self.native.delete_branch(branch)

    def branches(self) -> list[str]:
        return [n for n, _ in self.native.branches()]

    def tags(self) -> list[str]:
        return [n for n, _ in self.native.tags()]

    def branch_records(self) -> list[Branch]:
        return [Branch(n, c) for n, c in self.native.branches() if c is not None]

    def tag(self, tag_name: str, commit_id: str | None = None, message: str | None = None) -> Tag:
        if message is not None:
            _check_message(message, "tag")
        target = self._start_of(commit_id)
        if target is None:
            raise InvalidInputError("Can't create a tag without creating a commit first.")
        if self._pin is None:  # no session, so no checked-out branch to keep the name of
            self.native.create_tag(tag_name, target, message, self.author.name or "", self.author.email)
            return Tag(tag_name, target, message, self.author.name, self.author.email)
        s = self._pin.native
        s.create_tag(tag_name, target, message)
        return Tag(tag_name, target, message, s.author_name, s.author_email)

    def delete_tag(self, tag_name: str) -> None:
        self.native.delete_tag(tag_name)

    # ---- history and maintenance --------------------------------------------------------

    def _commit_of(self, ref: str, what: str) -> str:
        commit = self._start_of(ref)
        if commit is None:
            raise InvalidInputError(f"{what}: '{ref}' has no commits")
        return commit

    def _follow(self, branch: str) -> None:
        """Moves the current session to ``branch``'s new tip if it was on that branch with
        nothing uncommitted (its old base may be gone from the branch)."""
        pin = self._pin
        if pin is None or pin.native.branch != branch or pin.native.has_changes():
            return
        self._switch_to(self._start(branch, pin.native.writable, datetime.timedelta(days=1), None))

    def reset_branch(self, branch: str, to: str, expected: str | None = None) -> None:
        target = self._commit_of(to, "reset_branch")
        exp = self.native.resolve_commit(_ref_str(expected)) if expected is not None else None
        self.native.reset_branch(branch, target, exp)
        self._follow(branch)

    def squash(self, branch: str, since: str, message: str) -> str:
        _check_message(message)
        base = self._commit_of(since, "squash")
        new = self.native.squash(branch, base, message, self.author.name or "", self.author.email)
        self._follow(branch)
        return new

    def expire(self, older_than: datetime.timedelta | datetime.datetime) -> ExpiryResult:
        from .maintenance import ExpiryResult, cutoff_micros

        expired, roots = self.native.expire(cutoff_micros(older_than))
        return ExpiryResult(expired, roots)

    def garbage_collect(self, older_than: datetime.timedelta, dry_run: bool, full: bool, progress: bool) -> GCReport:
        from .maintenance import GCReport, age_micros

        age = age_micros(older_than)
        with ProgressBar("Garbage collection", enabled=progress, threshold=100) as bar:
            report = bar.phase if bar.enabled else None
            deleted, young, incremental = self.native.garbage_collect(age, bool(dry_run), bool(full), report)
        return GCReport({k: (n, b) for k, (n, b) in deleted.items()}, young, bool(dry_run), incremental)

    def diff(self, from_ref: str, to_ref: str | None, chunk_keys: bool) -> Diff:
        from .diff import Diff

        old = self._start_of(from_ref)
        if to_ref is None:
            tuples = self.session_native.diff_from(old, bool(chunk_keys))
            return Diff.from_native(tuples, _ref_str(from_ref), "the current session", bool(chunk_keys))
        new = self._start_of(to_ref)
        tuples = self.native.diff(old, new, bool(chunk_keys))
        return Diff.from_native(tuples, from_ref, _ref_str(to_ref), bool(chunk_keys))

    # ---- virtual datasets ---------------------------------------------------------------

    def ingest_virtual(self, method: str, *args: Any, **kwargs: Any) -> list[str]:
        """Runs a virtual ingest function into the current session; returns the URL prefixes
        its references use. Readers, this handle included, read the references only from
        prefixes they allow (``allow_virtual``)."""
        from . import virtual

        return getattr(virtual, method)(self.session_native, *args, **kwargs)

    # ---- pickling -----------------------------------------------------------------------

    def state(self, pin: SessionPin | None = None) -> dict[str, Any]:
        """What a pickle carries: where the repo is, and the session (stored first, so the
        unpickled copy can join it)."""
        pin = pin if pin is not None else self._pin
        s = pin.native if pin is not None else None
        if s is not None:
            s.persist()
        return {
            "location": self.native.location,
            "open_args": self.open_args,
            "name": self.name,
            "author": self.author,
            "allow_virtual": self.allow_virtual,
            "async_sessions": self.async_sessions,
            "session": None
            if s is None
            else {"id": s.id, "writable": s.writable, "branch": s.branch, "base": s.base_commit},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RepoCore:
        open_args: OpenArgs = state["open_args"]
        native = _native.Repository.open(state["location"], **open_args.open_kwargs())
        core = cls(
            native,
            state["name"],
            state["author"],
            async_sessions=state["async_sessions"],
            allow_virtual=state["allow_virtual"],
            open_args=open_args,
        )
        s = state["session"]
        if s is not None:
            if s["writable"]:
                session = native.join_session(s["id"])
            else:
                session = native.start_session(
                    s["branch"], s["base"], False, 0, core.author.name or "", core.author.email
                )
            core._pin = SessionPin(session)
        return core
