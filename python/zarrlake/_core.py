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
from typing import Any

from . import _native
from .errors import (
    InvalidInputError,
    NotOnBranchError,
    RefExistsError,
)
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

MAX_MESSAGE_LENGTH = 5000
NOT_ON_BRANCH = "You are not on a branch tip, so you can't commit changes."


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
    ) -> None:
        self.native = native
        self.name = name
        self.author = author
        self.async_sessions = async_sessions
        self.allow_virtual = list(allow_virtual or [])
        if self.allow_virtual:
            native.allow_virtual(self.allow_virtual)
        self._session: _native.Session | None = None

    # ---- sessions -----------------------------------------------------------------------

    @property
    def session_native(self) -> _native.Session:
        if self._session is None:
            raise ValueError("There is no session active. You have to call checkout first.")
        return self._session

    def wrap(self, s: _native.Session) -> LocalSession:
        if not s.writable:
            return LocalReadSession(s)
        return AsyncLocalWriteSession(s) if self.async_sessions else LocalWriteSession(s)

    @property
    def session(self) -> LocalSession:
        return self.wrap(self.session_native)

    def ping(self) -> None:
        self.native.resolve("main")

    def create_session(
        self,
        ref: str = "main",
        for_writing: bool = True,
        expires_in: datetime.timedelta = datetime.timedelta(days=1),
        message: str | None = None,
    ) -> _native.Session:
        micros = to_micros(expires_in)
        if message is not None:
            _check_message(message, "session")
        commit, branch = self.native.resolve(str(ref))
        if branch is None:
            warnings.warn(
                f"You are not on a branch tip, so you can't commit changes. (checked out {ref})",
                UserWarning,
                stacklevel=4,
            )
        return self.native.start_session(
            branch,
            commit,
            for_writing,
            micros,
            self.author.name or "",
            self.author.email,
            message,
        )

    def join_session(self, session_id: str) -> _native.Session:
        if not isinstance(session_id, str):
            raise TypeError(f"session_id must be a str, got {type(session_id).__name__}")
        return self.native.join_session(session_id)

    def checkout(
        self,
        ref: str = "main",
        session_token: str | None = None,
        for_writing: bool = True,
        expires_in: datetime.timedelta = datetime.timedelta(days=1),
    ) -> str | None:
        if session_token is not None:
            s = self.join_session(session_token)
        else:
            s = self.create_session(ref, for_writing, expires_in)
        self._session = s
        return s.base_commit

    def list_active_sessions(self) -> list[SessionInfo]:
        return [SessionInfo.from_tuple(t) for t in self.native.list_active_sessions()]

    def status(self, limit: int = 1000) -> SessionStatus:
        if not isinstance(limit, int) or limit < 0:
            raise InvalidInputError(f"limit must be a non-negative int, got {limit!r}")
        paths = self.session_native.status(limit)
        if limit > 0 and len(paths) >= limit:
            warnings.warn(
                f".status results were limited to the first {limit} records. "
                "If more records are required, use .status(limit=N) (0 means no limit).",
                UserWarning,
                stacklevel=3,
            )
        return SessionStatus(self.name, self.session, paths)

    # ---- commits ------------------------------------------------------------------------

    def commit(self, message: str, auto_ff: bool = True, checkout_for_writing: bool = True) -> str | None:
        _check_message(message)
        s = self.session_native
        branch = s.branch
        if branch is None:
            raise NotOnBranchError(NOT_ON_BRANCH + " Check out a branch to commit.")
        if not s.writable:
            warnings.warn("No changes to commit: the session is read-only.", UserWarning, stacklevel=3)
            return s.base_commit
        new_id = s.commit(message, auto_ff)
        if new_id is None:
            warnings.warn("No changes to commit.", UserWarning, stacklevel=3)
            return s.base_commit
        expires_in = datetime.timedelta(microseconds=(s.expires_micros or 0) - s.start_micros)
        expires_in = max(expires_in, datetime.timedelta(hours=1))
        self._session = self.create_session(branch, checkout_for_writing, expires_in)
        if self._session.base_commit != new_id:
            warnings.warn(
                f"Another commit landed on '{branch}' right after {new_id}; "
                f"the new session starts at {self._session.base_commit}.",
                UserWarning,
                stacklevel=3,
            )
        return new_id

    def fast_forward(self) -> str | None:
        s = self.session_native
        if s.branch is None:
            raise NotOnBranchError("Fast-forward unavailable: " + NOT_ON_BRANCH)
        return s.fast_forward()

    def commit_log(self) -> CommitLog:
        return CommitLog([Commit.from_tuple(t) for t in self.native.log(self.session_native.base_commit)])

    def commit_data(self, refresh: bool = False) -> CommitData:
        commits: dict[str, Commit] = {}
        branches = {n: c for n, c in self.native.branches() if c is not None}
        tags = {n: c for n, c in self.native.tags() if c is not None}
        for start in [self.session_native.base_commit, *branches.values(), *tags.values()]:
            for t in self.native.log(start):
                if t[0] in commits:
                    break
                commits[t[0]] = Commit.from_tuple(t)
        return CommitData(commits, branches, tags)

    # ---- refs ---------------------------------------------------------------------------

    def new_branch(self, branch_name: str) -> None:
        s = self.session_native
        if branch_name == s.branch:
            raise RefExistsError(f"Branch '{branch_name}' already exists.")
        base = s.base_commit
        if base is not None:
            self.native.create_branch(branch_name, base)
        else:
            # Empty repo: the branch is created by the first commit.
            existing = {n for n, _ in self.native.branches()} | {n for n, _ in self.native.tags()}
            if branch_name in existing:
                raise RefExistsError(f"Branch '{branch_name}' already exists.")
            from ._names import validate_ref_name

            validate_ref_name(branch_name, "branch")
        s.set_branch(branch_name)

    def delete_branch(self, branch: str) -> None:
        if self._session is not None and self._session.branch == branch and branch != "main":
            raise InvalidInputError(
                f"Branch '{branch}' is checked out in this session; check out another ref first."
            )
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
        if commit_id is None:
            target = self.session_native.base_commit
            if target is None:
                raise InvalidInputError("Can't create a tag without creating a commit first.")
        else:
            target, _ = self.native.resolve(str(commit_id))
            if target is None:
                raise InvalidInputError("Can't create a tag without creating a commit first.")
        if self._session is not None and tag_name == self._session.branch:
            raise RefExistsError(
                f"Cannot create tag '{tag_name}' because a branch of the same name already exists."
            )
        self.native.create_tag(tag_name, target, message, self.author.name or "", self.author.email)
        return Tag(tag_name, target, message, self.author.name, self.author.email)

    def delete_tag(self, tag_name: str) -> None:
        self.native.delete_tag(tag_name)

    # ---- virtual datasets ---------------------------------------------------------------

    def ingest_virtual(self, method: str, *args: Any, **kwargs: Any) -> None:
        """Runs a virtual ingest function into the current session. Readers, this handle
        included, read the references only from prefixes they allow (``allow_virtual``)."""
        from . import virtual

        getattr(virtual, method)(self.session_native, *args, **kwargs)

    # ---- pickling -----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        s = self._session
        return {
            "location": self.native.location,
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
        native = _native.Repository.open(state["location"])
        core = cls(
            native,
            state["name"],
            state["author"],
            async_sessions=state["async_sessions"],
            allow_virtual=state["allow_virtual"],
        )
        s = state["session"]
        if s is not None:
            if s["writable"]:
                core._session = native.join_session(s["id"])
            else:
                core._session = native.start_session(
                    s["branch"], s["base"], False, 0, core.author.name or "", core.author.email
                )
        return core
