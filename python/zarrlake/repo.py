"""AsyncRepo and Repo: the Arraylake-style repository API.

The API is written once, in ``_RepoMethods`` (with ``repo_history._HistoryMethods`` and
``repo_virtual._VirtualMethods``), over ``zarrlake._core.RepoCore``.
``Repo`` exposes those methods as they are; ``AsyncRepo`` gets a coroutine of each, with
the same signature and docstring, that runs it in a worker thread (native calls release
the GIL) so the event loop never blocks. Data goes through ``store`` in both: Zarr
drives it, synchronously or natively async.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from . import _native
from ._core import RepoCore
from ._storage import OpenArgs, normalize_options, normalize_root
from .repo_history import _HistoryMethods
from .repo_virtual import _VirtualMethods
from .types import (
    DEFAULT_IS_WRITE_SESSION,
    DEFAULT_SESSION_TIMEOUT,
    Author,
    Chunkstore,
    CommitData,
    CommitID,
    CommitLog,
    LocalSession,
    MetastoreDatabase,
    SessionID,
    SessionInfo,
    SessionStatus,
    Tag,
)

if TYPE_CHECKING:
    import xarray
    import zarr

    from .store import ZarrlakeStore
    from .tree import TreeView


def _open_native(metastore_db: MetastoreDatabase, chunkstore: Chunkstore) -> tuple[_native.Repository, OpenArgs]:
    """Opens the repo at the metastore's location, creating it (with its chunk location)
    if there is none. An existing repo must keep its chunks where ``chunkstore`` says."""
    from .errors import InvalidInputError, RepoExistsError

    meta_loc = normalize_root(metastore_db.location)
    chunk_loc = normalize_root(chunkstore.location)
    args = OpenArgs(
        normalize_options(metastore_db.storage_options, "MetastoreDatabase.storage_options"),
        normalize_options(chunkstore.storage_options, "Chunkstore.storage_options"),
    )
    separate = chunk_loc != meta_loc
    kwargs = args.open_kwargs()
    if not _native.Repository.exists(meta_loc, args.storage_options):
        try:
            native = _native.Repository.create(meta_loc, chunk_location=chunk_loc if separate else None, **kwargs)
            return native, args
        except RepoExistsError:  # created concurrently
            pass
    native = _native.Repository.open(meta_loc, **kwargs)
    recorded = native.config()["chunk_location"] or native.location
    if recorded != (chunk_loc if separate else native.location):
        raise InvalidInputError(
            f"the repo at {meta_loc} keeps its chunks at {recorded}, not at {chunkstore.location}: "
            "pass that location as the Chunkstore"
        )
    return native, args


class _RepoMethods(_HistoryMethods, _VirtualMethods):
    """Every repo method, once (history tools and virtual datasets in their own modules).
    See ``Repo`` and ``AsyncRepo``."""

    _core: RepoCore

    def __getstate__(self) -> dict[str, Any]:
        return self._core.state()

    def _display_fields(self) -> list[tuple[str, str]]:
        """(label, value) of what a repr shows. Reads only what the handle holds: showing a
        repo must neither store its session nor fail on storage."""
        from ._display import short_id

        core = self._core
        fields = [("repo", core.name), ("location", core.native.location)]
        pin = core._pin
        if pin is None:
            return [*fields, ("session", "none (call checkout() to start one)")]
        s = pin.native
        base = short_id(s.base_commit) if s.base_commit else "no commits yet"
        fields.append(("branch", f"{s.branch} at {base}") if s.branch else ("commit", f"{base} (not on a branch)"))
        state = ["write" if s.writable else "read"]
        if s.abandoned:
            state.append("abandoned")
        elif s.committed:
            state.append(f"committed as {short_id(s.committed)}")
        else:
            try:
                if s.writable and s.has_changes():
                    state.append("uncommitted changes")
            except Exception:  # e.g. an expired session: the repr still shows the rest
                pass
        return [*fields, ("session", f"{s.id} ({', '.join(state)})")]

    def __repr__(self) -> str:
        name, location, *rest = self._display_fields()
        return f"<{type(self).__name__} {name[1]} at {location[1]}: {', '.join(f'{k} {v}' for k, v in rest)}>"

    def _repr_html_(self) -> str:
        from ._display import html_box, html_fields

        fields = self._display_fields()
        return html_box("repo", f"{type(self).__name__} {self._core.name}", html_fields(fields[1:]))

    # ---- data (synchronous in both facades: Zarr drives it) ----

    @property
    def repo_name(self) -> str:
        """The repo's name, ``org/name`` as the client was asked for it."""
        return self._core.name

    @property
    def session(self) -> LocalSession:
        """The current session: a ``LocalWriteSession`` or ``LocalReadSession``.

        Its ``id`` is what other processes join (reading it stores a write session so they
        can). It does not pickle: hand workers the repo, a store, or the id.

        Raises:
            NoSessionError: the repo was opened with ``checkout=False`` and nothing was
                checked out or joined since.

        Example:
            >>> sid = repo.session.id
            >>> repo.session.branch, repo.session.base_commit
            ('main', '6b130ae9bcb3c31f0b78d99d')
        """
        return self._core.session

    def request_counts(self, reset: bool = False) -> dict[str, int]:
        """Storage requests this handle has made, per kind: what object storage bills for.

        A listing counts one request per page of 1,000 keys.

        Args:
            reset: start counting again from zero after reading the counts.

        Returns:
            Requests per kind: ``get``, ``put``, ``head``, ``list`` and ``delete``.

        Example:
            >>> repo.request_counts(reset=True)
            {'put': 10, 'head': 43, 'delete': 0, 'get': 21, 'list': 4}
        """
        counts = self._core.native.request_counts()
        if reset:
            self._core.native.reset_request_counts()
        return counts

    @property
    def store(self) -> ZarrlakeStore:
        """A Zarr store (zarr-python >= 3, formats 2 and 3) over the current session.

        It keeps that session when the repo checks out another ref later, and follows into
        the next session of the branch after ``commit()``. It pickles: a worker that
        unpickles it writes into the same session.

        Raises:
            NoSessionError: no session is checked out.

        Example:
            >>> ds.to_zarr(repo.store, mode="w", consolidated=False)
            >>> arr = zarr.open_array(repo.store, path="air", mode="r+")
        """
        from .store import ZarrlakeStore

        return ZarrlakeStore(self._core)

    @property
    def root_group(self) -> zarr.Group:
        """The Zarr root group of the current session (created on first write access).

        Opened for writing in a write session on a branch, read-only otherwise.

        Raises:
            NoSessionError: no session is checked out.

        Example:
            >>> repo.root_group.create_array("t", shape=(10,), dtype="f4")
            >>> list(repo.root_group.array_keys())
            ['t']
        """
        import zarr

        s = self._core.session_native
        return zarr.open_group(self.store, mode="a" if s.writable and s.branch else "r")

    def to_xarray(
        self, group: str | None = None, as_of: datetime.datetime | None = None, **kwargs: Any
    ) -> xarray.Dataset:
        """Open an xarray Dataset from the current session (it keeps that version).

        Args:
            group: path of the Zarr group to load, the root if None.
            as_of: open the current branch (or base commit) as it was at this time
                instead: its last commit made at or before it, read-only. The current
                session is left as it is.
            **kwargs: passed to ``xarray.open_zarr`` (``consolidated=False`` and
                ``chunks=None`` unless given).

        Returns:
            The Dataset, its variables loaded on access.

        Raises:
            RefNotFoundError: with ``as_of`` before the first commit.
            NoSessionError: no session is checked out.

        Example:
            >>> ds = repo.to_xarray(as_of=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
        """
        import xarray as xr
        import zarr

        store = self.store
        if as_of is not None:
            s = self._core.session_native
            ref = s.branch or s.base_commit
            if ref is None:
                from .errors import RefNotFoundError

                raise RefNotFoundError("to_xarray(as_of=...): the session has no commits to go back through")
            session = self._core.wrap(self._core.session_as_of(ref, as_of, datetime.timedelta(days=1)))
            store = session.store

        kwargs.setdefault("consolidated", False)
        kwargs.setdefault("chunks", None)
        # The fused pipeline decodes through the store's sync surface without scheduling a
        # coroutine per chunk; arrays keep the pipeline they were opened with.
        with zarr.config.set({"codec_pipeline.path": "zarr.core.codec_pipeline.FusedCodecPipeline"}):
            return xr.open_zarr(store, group=group, **kwargs)

    # ---- management ----

    def ping(self) -> None:
        """Check that the repo can be reached: resolves ``main`` in storage.

        Raises:
            StorageError: the store cannot be reached.
            CorruptObjectError: the branch record cannot be read.

        Example:
            >>> repo.ping()
        """
        self._core.ping()

    def checkout(
        self,
        ref: str | CommitID = "main",
        session_token: SessionID | None = None,
        for_writing: bool = DEFAULT_IS_WRITE_SESSION,
        expires_in: datetime.timedelta = DEFAULT_SESSION_TIMEOUT,
        as_of: datetime.datetime | None = None,
    ) -> CommitID | None:
        """Check out a branch, tag or commit id (or join ``session_token``) as the current session.

        At a tag or commit the session is not on a branch: it warns, writes raise
        ReadOnlyError, and commit raises NotOnBranchError. Leaving a session with
        uncommitted changes warns with its id, so it can be rejoined. Stores opened before
        keep their session. A write session is stored in the repo only when needed (its
        first write, or when its id is handed out), so checking out costs no writes.

        Args:
            ref: a branch, tag or commit id (or a unique prefix of one, 8+ hex characters).
            session_token: the id of a write session to join instead (as
                ``join_session``); ``ref`` is then ignored.
            for_writing: start a write session (on a branch) rather than a read-only one.
            expires_in: how long a new write session lasts, at most 7 days.
            as_of: a ``datetime`` (naive means UTC): check out the last commit of ``ref``
                made at or before that time, read-only (time travel by date).

        Returns:
            The session's base commit id, or None on a branch without commits.

        Raises:
            RefNotFoundError: an unknown ref, or ``as_of`` before ``ref``'s first commit.
            SessionNotFoundError: an unknown ``session_token``.
            SessionExpiredError: a ``session_token`` that expired, was abandoned or committed.
            InvalidInputError: both ``as_of`` and ``session_token``, or ``expires_in``
                beyond 7 days.

        Example:
            >>> repo.checkout("v1")  # warns: not on a branch tip
            '6b130ae9bcb3c31f0b78d99d'
            >>> repo.checkout("main", as_of=datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC))
            >>> repo.checkout(session_token=sid)  # rejoin a session
        """
        return self._core.checkout(ref, session_token, for_writing, expires_in, as_of)

    def create_session(
        self,
        ref: str | CommitID = "main",
        for_writing: bool = DEFAULT_IS_WRITE_SESSION,
        expires_in: datetime.timedelta = DEFAULT_SESSION_TIMEOUT,
        message: str | None = None,
    ) -> LocalSession:
        """Create a session at ``ref`` and make it the current session.

        Unlike ``checkout``, a write session is stored in the repo at once, so others can
        join it by id and ``list_active_sessions`` shows it.

        Args:
            ref: a branch, tag or commit id (or unique prefix) to start from.
            for_writing: a write session (on a branch) rather than a read-only one.
            expires_in: how long the session lasts, at most 7 days.
            message: a description of the session, shown by ``list_active_sessions``.

        Returns:
            The new session. Its ``store`` stays bound to it whatever the repo checks out
            later.

        Raises:
            RefNotFoundError: an unknown ref.
            InvalidInputError: ``expires_in`` beyond 7 days, or a message too long.

        Example:
            >>> old = repo.create_session("v1", for_writing=False)
            >>> arr = zarr.open_array(old.store, path="air")
        """
        return self._core.wrap(self._core.create_session(ref, for_writing, expires_in, message))

    def join_session(self, session_id: SessionID) -> LocalSession:
        """Join an existing write session by id (from any process) and make it current.

        Every writer of the session writes into the same change set; one ``commit`` (by
        any of them) commits it all.

        Args:
            session_id: the id, from ``repo.session.id`` or ``list_active_sessions``.

        Returns:
            The joined session.

        Raises:
            SessionNotFoundError: an unknown id, or a session still private to the
                process that started it (its id was never handed out: reading
                ``session.id`` or pickling the repo there shares it).
            SessionExpiredError: the session expired, was abandoned or was committed.

        Example:
            >>> worker = client.get_repo("climate/era", checkout=False)
            >>> worker.join_session(sid)
        """
        return self._core.wrap(self._core.join_session(session_id))

    def list_active_sessions(self) -> Sequence[SessionInfo]:
        """Write sessions that can be joined, oldest first.

        Returns:
            A ``SessionInfo`` for each session that is shared (its id was handed out), and
            not expired, abandoned or committed.

        Example:
            >>> [s.id for s in repo.list_active_sessions()]
            ['6b130ae8bcb3c31f0b78d99b']
        """
        return self._core.list_active_sessions()

    def status(self, limit: int = 1000) -> SessionStatus:
        """What the current session changed and has not committed.

        Args:
            limit: list at most this many keys (it warns when it cuts the list short);
                0 means no limit.

        Returns:
            A ``SessionStatus``: ``modified_paths`` lists ``(key, deleted)``, ``nodes``
            sums them up per group and array, and it prints as a summary.

        Raises:
            InvalidInputError: a negative ``limit``.
            NoSessionError: no session is checked out.

        Example:
            >>> repo.status().modified_paths
            [('air/c/0', False), ('air/zarr.json', False), ('zarr.json', False)]
        """
        return self._core.status(limit)

    def commit(
        self,
        message: str,
        auto_ff: bool = True,
        checkout_for_writing: bool = DEFAULT_IS_WRITE_SESSION,
        progress: bool = True,
    ) -> CommitID | None:
        """Commit the session's changes and start a new session on the same branch.

        Args:
            message: commit message.
            auto_ff: if the branch moved, fast-forward and retry (raising ConflictError on
                overlapping changes); if False, raise CommitFailedError instead.
            checkout_for_writing: whether the next session is writable.
            progress: on a terminal, show a progress bar for commits of more than 1e5
                chunk changes.

        Returns:
            The new commit id. With nothing to commit it warns "No changes to commit" and
            returns the base commit (None on a branch without commits), staying in the
            same session. Warns if several writers of the session wrote the same key.

        Raises:
            ReadOnlyError: in a read-only session.
            NotOnBranchError: at a tag or commit, off a branch tip.
            ConflictError: with ``auto_ff``, when the branch moved and changed keys this
                session changed too (``paths`` and ``commits`` say which).
            CommitFailedError: the branch moved and ``auto_ff`` is False, or retries ran out.
            SessionExpiredError: the session expired or was abandoned.

        Example:
            >>> repo.commit("Import air temperature")
            '6b130ae9bcb3c31f0b78d99d'
        """
        return self._core.commit(message, auto_ff, checkout_for_writing, progress)

    def fast_forward(self) -> CommitID | None:
        """Move the session's base to its branch's tip, keeping its uncommitted changes.

        Returns:
            The new base commit id (None on a branch without commits).

        Raises:
            ConflictError: the branch's new commits changed keys this session changed.
            NotOnBranchError: the session is not on a branch.

        Example:
            >>> repo.fast_forward()
            '6b130ae9bcb3c31f0b78d99d'
        """
        return self._core.fast_forward()

    def commit_log(self, ref: str | CommitID | None = None, limit: int | None = None) -> CommitLog:
        """Commits from ``ref`` (default: the session's base) back to the first, newest first.

        Args:
            ref: a branch, tag or commit id (or a unique prefix of one, 8+ hex characters).
            limit: at most this many commits; None for all.

        Returns:
            A ``CommitLog``: a sequence of ``Commit`` (``len()``, indexing and iteration
            work) that prints as a short log.

        Raises:
            RefNotFoundError: an unknown ref.
            InvalidInputError: a negative ``limit``.

        Example:
            >>> for c in repo.commit_log("main", limit=5):
            ...     print(c.short_id, c.message)
        """
        return self._core.commit_log(ref, limit)

    def commit_data(self, refresh: bool = False) -> CommitData:
        """All commits reachable from the session, the branches and the tags.

        Args:
            refresh: accepted for compatibility with Arraylake; the data is always read
                fresh.

        Returns:
            A ``CommitData`` with ``commits`` by id, and the commit of each branch and tag.

        Example:
            >>> data = repo.commit_data()
            >>> data.commits[data.branches["main"]].message
            'Import air temperature'
        """
        return self._core.commit_data(refresh)

    def new_branch(self, branch_name: str) -> None:
        """Create a branch at the session's base commit and switch the session to it.

        The branch exists at once; the session's uncommitted changes stay in the session
        and go to the new branch when it commits.

        Args:
            branch_name: the new branch's name. Names may contain ``/`` (``feature/x``);
                names that look like commit ids (8 to 24 hex characters) are refused.

        Raises:
            RefExistsError: the name is taken.
            InvalidNameError: a bad name.

        Example:
            >>> repo.new_branch("bias-fix")
        """
        self._core.new_branch(branch_name)

    def delete_branch(self, branch: str) -> None:
        """Delete a branch (never ``main``).

        Its commits stay readable by id until ``garbage_collect`` removes those no other
        branch or tag reaches.

        Args:
            branch: the branch to delete.

        Raises:
            RefNotFoundError: no such branch.
            InvalidInputError: ``main``, or the branch this handle has checked out.

        Example:
            >>> repo.delete_branch("bias-fix")
        """
        self._core.delete_branch(branch)

    def tag(self, tag_name: str, commit_id: str | CommitID | None = None, message: str | None = None) -> Tag:
        """Tag a commit (default: the session's base commit). Tags are immutable.

        Args:
            tag_name: the tag's name.
            commit_id: a commit id, branch or tag to tag; the session's base when None.
            message: an optional message, kept with the tag.

        Returns:
            The new ``Tag``, with the author recorded on it.

        Raises:
            RefExistsError: the name is taken.
            InvalidNameError: a bad name.
            InvalidInputError: nothing to tag (no commits yet).
            RefNotFoundError: an unknown ``commit_id``.

        Example:
            >>> repo.tag("v1.1", message="bias fixed")
            Tag(id='v1.1', commit_id='6b130ae9bcb3c31f0b78d99d', message='bias fixed', ...)
        """
        return self._core.tag(tag_name, commit_id, message)

    def delete_tag(self, tag_name: str) -> None:
        """Delete a tag. The commit it named stays readable by id.

        Args:
            tag_name: the tag to delete.

        Raises:
            RefNotFoundError: no such tag.

        Example:
            >>> repo.delete_tag("v1.1")
        """
        self._core.delete_tag(tag_name)

    def tags(self) -> list[str]:
        """The names of the repo's tags.

        Returns:
            Tag names, sorted.

        Example:
            >>> repo.tags()
            ['v1', 'v1.1']
        """
        return self._core.tags()

    def branches(self) -> list[str]:
        """The names of the repo's branches.

        Returns:
            Branch names, sorted.

        Example:
            >>> repo.branches()
            ['bias-fix', 'main']
        """
        return self._core.branches()

    def tree(self, prefix: str = "", depth: int = 10, filter: str | None = None) -> TreeView:
        """The hierarchy of groups and arrays, optionally filtered by a JMESPath query.

        The result prints as a text tree (``print(repo.tree())``), as a rich tree in rich
        consoles (``rich.print``), and as nested lists in Jupyter.

        Args:
            prefix: show only the nodes under this group path.
            depth: levels below ``prefix`` to show.
            filter: a JMESPath query over node attributes (see ``filter_metadata``);
                matching nodes are shown with their parents.

        Returns:
            A ``TreeView`` of the groups and arrays.

        Raises:
            InvalidInputError: a malformed ``filter``.

        Example:
            >>> print(repo.tree())
            /
            └── air (48, 90) float32
        """
        from .metadata import build_tree

        return build_tree(self._core, prefix, depth, filter)

    def filter_metadata(self, filter: str) -> list[str]:
        """Paths of groups and arrays whose attributes match a JMESPath query.

        Args:
            filter: a JMESPath expression, evaluated against each node's user attributes
                (``{}`` for a node without any), e.g. ``"units == 'degK'"``,
                ``"flags[0].spec[0] == 'a'"`` or ``'number >= `3` && number <= `15`'``.

        Returns:
            The paths of the matching nodes, sorted.

        Raises:
            InvalidInputError: a malformed query, with the parser's message.

        Example:
            >>> repo.filter_metadata("units == 'degK'")
            ['air']
        """
        from .metadata import filter_metadata

        return filter_metadata(self._core, filter)


#: The methods AsyncRepo offers as coroutines; everything else is shared as is.
ASYNC_METHODS = (
    "ping",
    "checkout",
    "create_session",
    "join_session",
    "list_active_sessions",
    "status",
    "commit",
    "fast_forward",
    "commit_log",
    "commit_data",
    "new_branch",
    "delete_branch",
    "tag",
    "delete_tag",
    "tags",
    "branches",
    "diff",
    "reset_branch",
    "squash",
    "expire",
    "garbage_collect",
    "export",
    "tree",
    "filter_metadata",
    "add_kerchunk_references",
    "add_virtual_netcdf",
    "add_virtual_hdf",
    "add_virtual_grib",
    "add_virtual_zarr",
    "add_virtual_tiff",
)


def _as_coroutine(fn: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    """``fn`` run in a worker thread, with its signature and docstring."""

    @functools.wraps(fn)
    async def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, self, *args, **kwargs)

    return method


class AsyncRepo(_RepoMethods):
    """Asynchronous interface to a zarrlake repo.

    Data goes through ``store``, which is natively async (``repo_name``, ``session``,
    ``store``, ``root_group``, ``request_counts`` and ``to_xarray`` are the same as on
    ``Repo``); every other method is a coroutine with the same signature as its ``Repo``
    counterpart, run in a worker thread so the event loop never blocks. Its write
    sessions' ``update_expiration`` and ``abandon`` are coroutines too.

    Usually made by ``AsyncClient``; the constructor opens (or creates) a repo at explicit
    locations.

    Args:
        metastore_db: where the repo's metadata lives.
        chunkstore: where its chunks live: the same location, or another bucket or
            prefix (recorded in the repo when it is created).
        name: the repo's name, for display.
        author: name and email recorded on commits.

    Raises:
        InvalidInputError: an existing repo keeps its chunks elsewhere than ``chunkstore``.
        StorageError: the location cannot be reached.

    Example:
        >>> client = zarrlake.AsyncClient("/data/lake")
        >>> repo = await client.get_or_create_repo("climate/era")
        >>> ds.to_zarr(repo.store, mode="w", consolidated=False)
        >>> await repo.commit("Import air temperature")
    """

    def __init__(self, metastore_db: MetastoreDatabase, chunkstore: Chunkstore, name: str, author: Author) -> None:
        """Create a repo handle with no session; call ``checkout`` before using it."""
        native, open_args = _open_native(metastore_db, chunkstore)
        self._core = RepoCore(native, name, author, async_sessions=True, open_args=open_args)

    @classmethod
    def _from_core(cls, core: RepoCore) -> AsyncRepo:
        self = cls.__new__(cls)
        self._core = core
        return self

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._core = RepoCore.from_state(state)


for _name in ASYNC_METHODS:
    setattr(AsyncRepo, _name, _as_coroutine(getattr(_RepoMethods, _name)))


class Repo(_RepoMethods):
    """Synchronous interface to a zarrlake repo: sessions, commits, refs and history.

    Usually made by ``Client.get_repo``, ``create_repo`` or ``get_or_create_repo``, or by
    ``Repo.from_metastore_and_chunkstore``. Data goes through ``store`` (zarr-python or
    xarray). A pickled repo joins its session when unpickled, in any process.

    Args:
        arepo: the ``AsyncRepo`` to wrap; both share one state.

    Example:
        >>> repo = zarrlake.Client("/data/lake").get_or_create_repo("climate/era")
        >>> ds.to_zarr(repo.store, mode="w", consolidated=False)
        >>> repo.commit("Import air temperature")
        '6b130ae9bcb3c31f0b78d99d'
    """

    def __init__(self, arepo: AsyncRepo) -> None:
        """Wrap an AsyncRepo; they share state, and its sessions become synchronous."""
        self._arepo = arepo
        self._core = arepo._core
        self._core.async_sessions = False

    @classmethod
    def from_metastore_and_chunkstore(
        cls, metastore_db: MetastoreDatabase, chunkstore: Chunkstore, name: str, author: Author
    ) -> Repo:
        """Open (or create) the repo at explicit locations and check out ``main`` for writing.

        As in Arraylake, the chunks may live in another bucket or prefix than the
        metadata. A new repo records its chunk location, so every opener finds it.

        Args:
            metastore_db: where the repo's metadata lives.
            chunkstore: where its chunks live (the metastore's location for the same).
            name: the repo's name, for display.
            author: name and email recorded on commits.

        Returns:
            The repo, with a write session on ``main``.

        Raises:
            InvalidInputError: an existing repo keeps its chunks elsewhere than
                ``chunkstore``, or a bad storage option.
            StorageError: the location cannot be reached.

        Example:
            >>> repo = zarrlake.Repo.from_metastore_and_chunkstore(
            ...     zarrlake.MetastoreDatabase("s3://meta-bucket/lakes/era5"),
            ...     zarrlake.Chunkstore("s3://chunk-bucket/era5"),
            ...     name="climate/era5",
            ...     author=zarrlake.Author("Ada", "ada@example.org"),
            ... )
        """
        repo = cls(AsyncRepo(metastore_db, chunkstore, name, author))
        repo.checkout()
        return repo

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._core = RepoCore.from_state(state)
        self._arepo = AsyncRepo._from_core(self._core)
