"""Plain records the API returns: commits, sessions, tags, status."""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import _display

if TYPE_CHECKING:
    from ._changes import NodeChange
    from ._core import RepoCore
    from ._native import Session as NativeSession
    from .store import ZarrlakeStore

CommitID = str
SessionID = str
Path = str

DEFAULT_SESSION_TIMEOUT = datetime.timedelta(days=1)
DEFAULT_IS_WRITE_SESSION = True


def from_micros(us: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(us / 1_000_000, tz=datetime.UTC)


def to_micros(td: datetime.timedelta) -> int:
    """Converts an expiry; its limits are checked by the core."""
    if not isinstance(td, datetime.timedelta):
        raise TypeError(f"expires_in must be a datetime.timedelta, got {type(td).__name__}")
    return (td.days * 86_400 + td.seconds) * 1_000_000 + td.microseconds


@dataclass(frozen=True)
class Author:
    """Who commits: name and email, recorded on every commit and tag."""

    name: str | None = None
    email: str = ""

    def entry(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else f"<{self.email}>"


@dataclass(frozen=True)
class MetastoreDatabase:
    """Where a repo's metadata lives: a local directory, ``file://``, ``memory://``,
    ``s3://``, ``gs://`` or ``az://`` URL, with the client's ``storage_options``
    (see :class:`zarrlake.Client`)."""

    location: str
    storage_options: dict[str, Any] | None = None


@dataclass(frozen=True)
class Chunkstore:
    """Where a repo's chunks live: the metadata's location, or another bucket or prefix.
    A repo records its chunk location when it is created, so every opener finds it."""

    location: str
    storage_options: dict[str, Any] | None = None


@dataclass(frozen=True)
class Commit:
    """One commit: its id, parent, time, author, message and when its session started."""

    id: CommitID
    parent_commit: CommitID | None
    commit_time: datetime.datetime
    author_name: str
    author_email: str
    message: str
    session_start_time: datetime.datetime

    @classmethod
    def from_tuple(cls, t: tuple[str, str | None, str, str, str, int, int]) -> Commit:
        cid, parent, message, name, email, time_us, start_us = t
        return cls(cid, parent, from_micros(time_us), name, email, message, from_micros(start_us))

    def author_entry(self) -> str:
        return Author(self.author_name, self.author_email).entry()

    @property
    def short_id(self) -> str:
        """The id's first 12 characters (a log abbreviates its ids so that each is unique)."""
        return _display.short_id(self.id)

    def _line(self, cid: str) -> list[str]:
        who = _display.clean(self.author_name or self.author_email or "?")
        return [cid, _display.when(self.commit_time), who, _display.first_line(self.message)]

    def __repr__(self) -> str:
        cid, t, who, msg = self._line(self.short_id)
        return f"<Commit {cid} {t} {who}: {msg}>"

    def _repr_html_(self) -> str:
        fields = [
            ("id", self.id),
            ("parent", self.parent_commit or "(none)"),
            ("time", _display.when(self.commit_time)),
            ("author", self.author_entry()),
        ]
        body = _display.html_fields(fields) + f'<pre style="white-space:pre-wrap">{_display.e(self.message)}</pre>'
        return _display.html_box("commit", f"Commit {self.short_id}", body)


class CommitLog(Sequence[Commit]):
    """The commits of a branch or commit back to the first, newest first."""

    def __init__(self, commits: list[Commit]) -> None:
        self._commits = commits

    def __len__(self) -> int:
        return len(self._commits)

    def __iter__(self) -> Iterator[Commit]:
        return iter(self._commits)

    def __getitem__(self, i: Any) -> Any:
        return self._commits[i]

    #: Commits a repr shows before "… N more".
    SHOWN = 10
    #: Rows of the HTML table before "… N more".
    SHOWN_HTML = 50

    def _rows(self, n: int) -> list[list[str]]:
        shown = self._commits[:n]
        abbrev = _display.abbreviations(c.id for c in shown)
        return [c._line(abbrev[c.id]) for c in shown]

    def _more(self, n: int) -> str:
        more = len(self._commits) - n
        return f"\N{HORIZONTAL ELLIPSIS} {more} more" if more > 0 else ""

    def __repr__(self) -> str:
        if not self._commits:
            return "<CommitLog: no commits>"
        head = f"<CommitLog: {_display.plural(len(self._commits), 'commit')}, newest first>"
        lines = _display.columns(self._rows(self.SHOWN), indent="  ")
        more = self._more(self.SHOWN)
        return "\n".join([head, *lines, *(["  " + more] if more else [])])

    def __rich__(self) -> str:
        from rich.markup import escape

        return escape(repr(self))  # messages are not markup

    def _repr_html_(self) -> str:
        if not self._commits:
            return _display.html_box("log", "Commit log", _display.html_note("no commits"))
        table = _display.html_table(["id", "time", "author", "message"], self._rows(self.SHOWN_HTML))
        more = self._more(self.SHOWN_HTML)
        title = f"Commit log: {_display.plural(len(self._commits), 'commit')}, newest first"
        return _display.html_box("log", title, table + (_display.html_note(more) if more else ""))


@dataclass(frozen=True)
class CommitData:
    commits: dict[CommitID, Commit]
    branches: dict[str, CommitID]
    tags: dict[str, CommitID]


@dataclass(frozen=True)
class Tag:
    id: str
    commit_id: CommitID
    message: str | None = None
    author_name: str | None = None
    author_email: str | None = None


@dataclass(frozen=True)
class Branch:
    id: str
    commit_id: CommitID


@dataclass(frozen=True)
class SessionInfo:
    id: SessionID
    branch: str | None
    base_commit: CommitID | None
    author_name: str
    author_email: str
    message: str | None
    start_time: datetime.datetime
    expiration: datetime.datetime

    @classmethod
    def from_tuple(cls, t: tuple[str, str | None, str | None, str, str, str | None, int, int]) -> SessionInfo:
        sid, branch, base, name, email, message, start, expires = t
        return cls(sid, branch, base, name, email, message, from_micros(start), from_micros(expires))


class LocalSession:
    """A session of a repo: its id, base commit and branch, and a store bound to it."""

    def __init__(self, native: NativeSession, core: RepoCore) -> None:
        self._native = native
        self._core = core

    @property
    def id(self) -> SessionID:
        """The session id. Reading it stores a write session so other processes can join it."""
        self._native.persist()
        return self._native.id

    @property
    def store(self) -> ZarrlakeStore:
        """A Zarr store bound to this session alone, whatever the repo checks out later:
        open two sessions' stores to read two versions side by side."""
        from ._core import SessionPin
        from .store import ZarrlakeStore

        return ZarrlakeStore._pinned(self._core, SessionPin(self._native))

    @property
    def branch(self) -> str | None:
        return self._native.branch

    @property
    def base_commit(self) -> CommitID | None:
        return self._native.base_commit

    @property
    def author_name(self) -> str:
        return self._native.author_name

    @property
    def author_email(self) -> str:
        return self._native.author_email

    @property
    def message(self) -> str | None:
        return self._native.message

    @property
    def start_time(self) -> datetime.datetime:
        return from_micros(self._native.start_micros)

    @property
    def session_type(self) -> str:
        return "write" if self._native.writable else "read"

    def __repr__(self) -> str:
        n = self._native
        state = " abandoned" if n.abandoned else (f" committed as {n.committed}" if n.committed else "")
        return f"<{type(self).__name__} id={n.id} branch={self.branch} base_commit={self.base_commit}{state}>"


class LocalReadSession(LocalSession):
    """A read-only session; it lives only in this process."""


class LocalWriteSession(LocalSession):
    """A write session, stored in the repo so other processes can join it by id."""

    @property
    def expiration(self) -> datetime.datetime:
        us = self._native.expires_micros
        return from_micros(us if us is not None else 0)

    def update_expiration(self, expires_in: datetime.timedelta) -> LocalWriteSession:
        """Set the session to expire ``expires_in`` after its start (at most 7 days)."""
        self._native.update_expiration(to_micros(expires_in))
        return self

    def abandon(self) -> LocalWriteSession:
        """Discard the session and its changes; later writes and joins fail."""
        self._native.abandon()
        return self


class AsyncLocalWriteSession(LocalWriteSession):
    """The write session handed out by :class:`~zarrlake.AsyncRepo`: methods are awaitable."""

    async def update_expiration(self, expires_in: datetime.timedelta) -> AsyncLocalWriteSession:  # type: ignore[override]
        import asyncio

        await asyncio.to_thread(self._native.update_expiration, to_micros(expires_in))
        return self

    async def abandon(self) -> AsyncLocalWriteSession:  # type: ignore[override]
        import asyncio

        await asyncio.to_thread(self._native.abandon)
        return self


@dataclass
class SessionStatus:
    """What the current session changed: ``modified_paths`` lists ``(key, deleted)``; the
    repr sums them up per group and array."""

    repo_name: str
    session: LocalSession
    modified_paths: list[tuple[Path, bool]] = field(default_factory=list)
    #: True when ``status(limit=...)`` cut the list short.
    truncated: bool = False

    #: Nodes the repr lists before "… N more".
    SHOWN_NODES = 20

    @property
    def nodes(self) -> list[NodeChange]:
        """The changes per node (group or array), sorted by path: chunks written and
        deleted, metadata changed."""
        from ._changes import summarize

        return summarize(self.modified_paths)

    def _header(self) -> str:
        s = self.session
        # The native id: displaying a status must not store the session (`LocalSession.id` does).
        where = f"branch {s.branch}" if s.branch else "no branch"
        base = _display.short_id(s.base_commit) if s.base_commit else "no commits yet"
        return f"Session {s._native.id} of {self.repo_name}, on {where} at {base}"

    def _counts(self, nodes: list[NodeChange]) -> str:
        if not self.modified_paths:
            return "No changes in current session"
        keys = _display.plural(len(self.modified_paths), "changed key")
        return f"{keys}{'+' if self.truncated else ''} in {_display.plural(len(nodes), 'node')}"

    def rich_output(self) -> str:
        """The summary: session, branch and base, then one line per changed node."""
        nodes = self.nodes
        lines = [self._header(), self._counts(nodes) + (":" if nodes else "")]
        rows = [[f"/{n.path}", n.describe()] for n in nodes[: self.SHOWN_NODES]]
        lines += _display.columns(rows, indent="  ")
        if len(nodes) > self.SHOWN_NODES:
            lines.append(f"  \N{HORIZONTAL ELLIPSIS} {len(nodes) - self.SHOWN_NODES} more")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.rich_output()

    def __str__(self) -> str:
        return self.rich_output()

    def _repr_html_(self) -> str:
        nodes = self.nodes
        body = _display.html_note(self._counts(nodes))
        if nodes:
            body += _display.html_table(["node", "change"], [[f"/{n.path}", n.describe()] for n in nodes])
        return _display.html_box("status", self._header(), body)
