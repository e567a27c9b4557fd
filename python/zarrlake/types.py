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
    """A UTC ``datetime`` from microseconds since the Unix epoch.

    Args:
        us: microseconds since 1970-01-01 UTC.

    Returns:
        The time, timezone-aware (UTC).

    Example:
        >>> from_micros(1_732_400_000_000_000)
        datetime.datetime(2024, 11, 23, 22, 13, 20, tzinfo=datetime.timezone.utc)
    """
    return datetime.datetime.fromtimestamp(us / 1_000_000, tz=datetime.UTC)


def to_micros(td: datetime.timedelta) -> int:
    """Microseconds of a session expiry; its limits are checked by the core.

    Args:
        td: the expiry.

    Returns:
        ``td`` in whole microseconds.

    Raises:
        TypeError: ``td`` is not a ``timedelta``.

    Example:
        >>> to_micros(datetime.timedelta(seconds=1))
        1000000
    """
    if not isinstance(td, datetime.timedelta):
        raise TypeError(f"expires_in must be a datetime.timedelta, got {type(td).__name__}")
    return (td.days * 86_400 + td.seconds) * 1_000_000 + td.microseconds


@dataclass(frozen=True)
class Author:
    """Who commits: name and email, recorded on every commit and tag.

    A client without an explicit author uses ``$ZARRLAKE_AUTHOR_NAME`` (else the login
    name) and ``$ZARRLAKE_AUTHOR_EMAIL`` (else empty).

    Attributes:
        name: the author's name, or None.
        email: the author's email, or ``""``.

    Example:
        >>> client = zarrlake.Client("/data/lake", author=zarrlake.Author("Ada", "ada@example.org"))
    """

    name: str | None = None
    email: str = ""

    def entry(self) -> str:
        """The author as git writes one.

        Returns:
            ``"name <email>"``, or ``"<email>"`` without a name.

        Example:
            >>> Author("Ada", "ada@example.org").entry()
            'Ada <ada@example.org>'
        """
        return f"{self.name} <{self.email}>" if self.name else f"<{self.email}>"


@dataclass(frozen=True)
class MetastoreDatabase:
    """Where a repo's metadata lives, for ``Repo.from_metastore_and_chunkstore``.

    Attributes:
        location: a local directory, or a ``file://``, ``memory://``, ``s3://``, ``gs://``
            or ``az://`` URL.
        storage_options: the object store client's options, as for ``Client``.

    Example:
        >>> meta = zarrlake.MetastoreDatabase("s3://meta-bucket/lakes/era5", {"region": "eu-west-1"})
    """

    location: str
    storage_options: dict[str, Any] | None = None


@dataclass(frozen=True)
class Chunkstore:
    """Where a repo's chunks live: the metadata's location, or another bucket or prefix.

    A repo records its chunk location when it is created, so every opener finds it.

    Attributes:
        location: a local directory or URL, as for ``MetastoreDatabase``.
        storage_options: that location's client options; the metastore's apply when None.

    Example:
        >>> chunks = zarrlake.Chunkstore("s3://chunk-bucket/era5")
    """

    location: str
    storage_options: dict[str, Any] | None = None


@dataclass(frozen=True)
class Commit:
    """One commit: its id, parent, time, author, message and when its session started.

    It prints as one log line, and renders as a box in Jupyter.

    Attributes:
        id: the commit id (24 hex characters).
        parent_commit: the parent's id, None for a first commit.
        commit_time: when it was made (UTC).
        author_name: who made it.
        author_email: their email.
        message: the commit message.
        session_start_time: when the session it commits started (UTC).

    Example:
        >>> c = repo.commit_log()[0]
        >>> c.message, c.commit_time
        ('Import air temperature', datetime.datetime(2026, 12, 4, 18, 48, 9, tzinfo=datetime.timezone.utc))
    """

    id: CommitID
    parent_commit: CommitID | None
    commit_time: datetime.datetime
    author_name: str
    author_email: str
    message: str
    session_start_time: datetime.datetime

    @classmethod
    def from_tuple(cls, t: tuple[str, str | None, str, str, str, int, int]) -> Commit:
        """A commit from the native layer's record.

        Args:
            t: ``(id, parent, message, author name, author email, commit time in µs,
                session start in µs)``.

        Returns:
            The commit.

        Example:
            >>> Commit.from_tuple(("6b130ae9bcb3c31f0b78d99d", None, "first", "Ada", "", 0, 0)).message
            'first'
        """
        cid, parent, message, name, email, time_us, start_us = t
        return cls(cid, parent, from_micros(time_us), name, email, message, from_micros(start_us))

    def author_entry(self) -> str:
        """The author as git writes one.

        Returns:
            ``"name <email>"``, or ``"<email>"`` without a name.

        Example:
            >>> repo.commit_log()[0].author_entry()
            'Ada <ada@example.org>'
        """
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
    """The commits of a branch or commit back to the first, newest first.

    A sequence of ``Commit``: ``len()``, indexing, slicing and iteration work. It prints
    as a short log (the newest 10, then "… N more"), and as a table in Jupyter.

    Args:
        commits: the commits, newest first.

    Example:
        >>> log = repo.commit_log("main")
        >>> len(log), log[0].message
        (2, 'Remove warm bias from the first step')
    """

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
    """Every commit reachable from the session, the branches and the tags, with the refs.

    Attributes:
        commits: every such commit, by id.
        branches: branch name to the commit it points at.
        tags: tag name to the commit it points at.

    Example:
        >>> data = repo.commit_data()
        >>> data.commits[data.tags["v1.1"]].message
        'Remove warm bias from the first step'
    """

    commits: dict[CommitID, Commit]
    branches: dict[str, CommitID]
    tags: dict[str, CommitID]


@dataclass(frozen=True)
class Tag:
    """A tag: an immutable name for a commit, as ``repo.tag`` returns it.

    Attributes:
        id: the tag's name.
        commit_id: the commit it names.
        message: the tag's message, if any.
        author_name: who made it.
        author_email: their email.

    Example:
        >>> repo.tag("v1.1", message="bias fixed").commit_id
        '6b130ae9bcb3c31f0b78d99d'
    """

    id: str
    commit_id: CommitID
    message: str | None = None
    author_name: str | None = None
    author_email: str | None = None


@dataclass(frozen=True)
class Branch:
    """A branch and the commit it points at.

    Attributes:
        id: the branch's name.
        commit_id: its tip.

    Example:
        >>> zarrlake.Branch("main", repo.commit_log("main")[0].id)
    """

    id: str
    commit_id: CommitID


@dataclass(frozen=True)
class SessionInfo:
    """A write session others can join, as ``repo.list_active_sessions`` lists it.

    Attributes:
        id: the session id, what ``join_session`` takes.
        branch: the branch it commits to (None off a branch).
        base_commit: the commit it started from (None on a branch without commits).
        author_name: who started it.
        author_email: their email.
        message: the session's message, if ``create_session`` was given one.
        start_time: when it started (UTC).
        expiration: when it expires (UTC).

    Example:
        >>> for s in repo.list_active_sessions():
        ...     print(s.id, s.branch, s.expiration)
    """

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
        """A session record from the native layer's tuple.

        Args:
            t: ``(id, branch, base commit, author name, author email, message, start in
                µs, expiry in µs)``.

        Returns:
            The record.

        Example:
            >>> SessionInfo.from_tuple(("s1", "main", None, "Ada", "", None, 0, 0)).branch
            'main'
        """
        sid, branch, base, name, email, message, start, expires = t
        return cls(sid, branch, base, name, email, message, from_micros(start), from_micros(expires))


class LocalSession:
    """A session of a repo: its id, base commit and branch, and a store bound to it.

    ``repo.session`` is the current one; ``create_session`` and ``join_session`` return
    one. A write session is a ``LocalWriteSession``, a read-only one a
    ``LocalReadSession``. It does not pickle: hand other processes its ``id`` (or the
    repo, or a store).

    Args:
        native: the native session.
        core: the repo handle's state.

    Example:
        >>> s = repo.session
        >>> s.branch, s.session_type
        ('main', 'write')
    """

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
        """The branch the session commits to; None at a tag or commit."""
        return self._native.branch

    @property
    def base_commit(self) -> CommitID | None:
        """The commit the session started from (or was fast-forwarded to); None on a
        branch without commits."""
        return self._native.base_commit

    @property
    def author_name(self) -> str:
        """The name its commits will record."""
        return self._native.author_name

    @property
    def author_email(self) -> str:
        """The email its commits will record."""
        return self._native.author_email

    @property
    def message(self) -> str | None:
        """The message ``create_session`` was given, if any."""
        return self._native.message

    @property
    def start_time(self) -> datetime.datetime:
        """When the session started (UTC)."""
        return from_micros(self._native.start_micros)

    @property
    def session_type(self) -> str:
        """``"write"`` or ``"read"``."""
        return "write" if self._native.writable else "read"

    def __repr__(self) -> str:
        n = self._native
        state = " abandoned" if n.abandoned else (f" committed as {n.committed}" if n.committed else "")
        return f"<{type(self).__name__} id={n.id} branch={self.branch} base_commit={self.base_commit}{state}>"


class LocalReadSession(LocalSession):
    """A read-only session; it lives only in this process.

    Checking out a tag or commit, ``for_writing=False``, or ``as_of`` gives one.

    Example:
        >>> s = repo.create_session("v1", for_writing=False)
        >>> s.session_type
        'read'
    """


class LocalWriteSession(LocalSession):
    """A write session, stored in the repo so other processes can join it by id.

    It is stored only when needed: at its first write, when its id is read, when the
    repo is pickled, or by ``create_session``.

    Example:
        >>> s = repo.session
        >>> s.update_expiration(datetime.timedelta(days=3))
        >>> s.expiration
    """

    @property
    def expiration(self) -> datetime.datetime:
        """When the session expires (UTC)."""
        us = self._native.expires_micros
        return from_micros(us if us is not None else 0)

    def update_expiration(self, expires_in: datetime.timedelta) -> LocalWriteSession:
        """Set the session to expire ``expires_in`` after its start.

        Args:
            expires_in: the session's new lifetime from its start, at most 7 days.

        Returns:
            This session.

        Raises:
            InvalidInputError: beyond 7 days.
            SessionExpiredError: the session already ended.
            TypeError: ``expires_in`` is not a ``timedelta``.

        Example:
            >>> repo.session.update_expiration(datetime.timedelta(days=7))
        """
        self._native.update_expiration(to_micros(expires_in))
        return self

    def abandon(self) -> LocalWriteSession:
        """Discard the session and its changes; later writes, joins and commits fail.

        Returns:
            This session.

        Example:
            >>> repo.session.abandon()
            >>> repo.checkout("main")  # start a new one
        """
        self._native.abandon()
        return self


class AsyncLocalWriteSession(LocalWriteSession):
    """The write session handed out by ``AsyncRepo``: its methods are awaitable.

    Example:
        >>> await repo.session.abandon()
    """

    async def update_expiration(self, expires_in: datetime.timedelta) -> AsyncLocalWriteSession:  # type: ignore[override]
        """Set the session to expire ``expires_in`` after its start.

        Args:
            expires_in: the session's new lifetime from its start, at most 7 days.

        Returns:
            This session.

        Raises:
            InvalidInputError: beyond 7 days.

        Example:
            >>> await repo.session.update_expiration(datetime.timedelta(days=7))
        """
        import asyncio

        await asyncio.to_thread(self._native.update_expiration, to_micros(expires_in))
        return self

    async def abandon(self) -> AsyncLocalWriteSession:  # type: ignore[override]
        """Discard the session and its changes; later writes, joins and commits fail.

        Returns:
            This session.

        Example:
            >>> await repo.session.abandon()
        """
        import asyncio

        await asyncio.to_thread(self._native.abandon)
        return self


@dataclass
class SessionStatus:
    """What the current session changed, as ``repo.status()`` returns it.

    It prints as a summary: the session, branch and base, then one line per changed
    group or array.

    Attributes:
        repo_name: the repo's name.
        session: the session.
        modified_paths: ``(key, deleted)`` for each changed key.
        truncated: True when ``status(limit=...)`` cut the list short.

    Example:
        >>> st = repo.status()
        >>> st.modified_paths
        [('air/c/0', False), ('air/zarr.json', False), ('zarr.json', False)]
        >>> print(st)
        Session 6b130bbf219d1e26189bf593 of climate/era, on branch main at no commits yet
        3 changed keys in 2 nodes:
          /     metadata
          /air  metadata, 1 chunk
    """

    repo_name: str
    session: LocalSession
    modified_paths: list[tuple[Path, bool]] = field(default_factory=list)
    #: True when ``status(limit=...)`` cut the list short.
    truncated: bool = False

    #: Nodes the repr lists before "… N more".
    SHOWN_NODES = 20
    #: Rows of the HTML table before "… N more".
    SHOWN_HTML = 100

    @property
    def nodes(self) -> list[NodeChange]:
        """The changes per node (group or array), sorted by path: chunks written and
        deleted, metadata changed (each a ``NodeChange`` with ``path`` and ``describe()``)."""
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
        """The summary that ``print(status)`` shows.

        Returns:
            The session, branch and base, then one line per changed node (the first 20).

        Example:
            >>> print(repo.status().rich_output())
        """
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
            rows = [[f"/{n.path}", n.describe()] for n in nodes[: self.SHOWN_HTML]]
            body += _display.html_table(["node", "change"], rows)
        if len(nodes) > self.SHOWN_HTML:
            body += _display.html_note(f"\N{HORIZONTAL ELLIPSIS} {len(nodes) - self.SHOWN_HTML} more")
        return _display.html_box("status", self._header(), body)
