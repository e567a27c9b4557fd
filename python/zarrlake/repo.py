"""AsyncRepo and Repo: the Arraylake-style repository API.

Both are thin facades over :class:`~zarrlake._core.RepoCore`. Native calls release the
GIL; ``AsyncRepo`` runs them in a worker thread so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from . import _native
from ._core import RepoCore
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
    Path,
    SessionID,
    SessionInfo,
    SessionStatus,
    Tag,
)

if TYPE_CHECKING:
    import xarray
    import zarr
    from rich.tree import Tree

    from .store import ZarrlakeStore

T = TypeVar("T")


def _open_native(metastore_db: MetastoreDatabase, chunkstore: Chunkstore) -> _native.Repository:
    if metastore_db.location != chunkstore.location:
        from .errors import InvalidInputError

        raise InvalidInputError(
            "zarrlake stores chunks beside the metadata: the MetastoreDatabase and Chunkstore "
            f"must name the same location (got {metastore_db.location!r} and "
            f"{chunkstore.location!r})"
        )
    if _native.Repository.exists(metastore_db.location):
        return _native.Repository.open(metastore_db.location)
    return _native.Repository.create(metastore_db.location)


class _DataMixin:
    """Data access shared by both facades (Zarr is synchronous, so these are too)."""

    _core: RepoCore

    @property
    def store(self) -> ZarrlakeStore:
        """A Zarr store (zarr-python >= 3, formats 2 and 3) over the current session."""
        from .store import ZarrlakeStore

        return ZarrlakeStore(self._core)

    @property
    def root_group(self) -> zarr.Group:
        """The Zarr root group of the current session (created on first write access)."""
        import zarr

        mode = "a" if self._core.session_native.writable and self._core.session_native.branch else "r"
        return zarr.open_group(self.store, mode=mode)

    def to_xarray(self, group: str | None = None, **kwargs: Any) -> xarray.Dataset:
        """Open an xarray Dataset from the current session.

        Args:
            group: path of the Zarr group to load, the root if None.
            **kwargs: passed to ``xarray.open_zarr``.
        """
        import xarray as xr
        import zarr

        kwargs.setdefault("consolidated", False)
        kwargs.setdefault("chunks", None)
        # The fused pipeline decodes through the store's sync surface without scheduling a
        # coroutine per chunk; arrays keep the pipeline they were opened with.
        with zarr.config.set({"codec_pipeline.path": "zarr.core.codec_pipeline.FusedCodecPipeline"}):
            return xr.open_zarr(self.store, group=group, **kwargs)


class AsyncRepo(_DataMixin):
    """Asynchronous interface to a zarrlake repo.

    Zarr itself is synchronous, so data goes through :attr:`store`; every other method is
    a coroutine.
    """

    def __init__(self, metastore_db: MetastoreDatabase, chunkstore: Chunkstore, name: str, author: Author) -> None:
        """Create a repo handle; call :meth:`checkout` before using it.

        Args:
            metastore_db: where the repo's metadata lives.
            chunkstore: where its chunks live (the same location).
            name: the repo's name, for display.
            author: name and email recorded on commits.
        """
        self._core = RepoCore(_open_native(metastore_db, chunkstore), name, author, async_sessions=True)

    @classmethod
    def _from_core(cls, core: RepoCore) -> AsyncRepo:
        self = cls.__new__(cls)
        self._core = core
        return self

    @staticmethod
    async def _run(fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    def __getstate__(self) -> dict[str, Any]:
        return self._core.state()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._core = RepoCore.from_state(state)

    def __repr__(self) -> str:
        return f"<AsyncRepo {self._core.name}>"

    @property
    def repo_name(self) -> str:
        return self._core.name

    @property
    def session(self) -> LocalSession:
        """The current session."""
        return self._core.session

    async def ping(self) -> None:
        """Check that the repo can be reached."""
        await self._run(self._core.ping)

    async def checkout(
        self,
        ref: str | CommitID = "main",
        session_token: SessionID | None = None,
        for_writing: bool = DEFAULT_IS_WRITE_SESSION,
        expires_in: datetime.timedelta = DEFAULT_SESSION_TIMEOUT,
    ) -> CommitID | None:
        """Check out a branch, tag or commit id (or join ``session_token``); returns the base commit."""
        return await self._run(self._core.checkout, ref, session_token, for_writing, expires_in)

    async def create_session(
        self,
        ref: str | CommitID = "main",
        for_writing: bool = DEFAULT_IS_WRITE_SESSION,
        expires_in: datetime.timedelta = DEFAULT_SESSION_TIMEOUT,
        message: str | None = None,
    ) -> LocalSession:
        """Create a session at ``ref`` without switching to it."""
        s = await self._run(self._core.create_session, ref, for_writing, expires_in, message)
        return self._core.wrap(s)

    async def join_session(self, session_id: SessionID) -> LocalSession:
        """Join an existing write session by id (from any process)."""
        return self._core.wrap(await self._run(self._core.join_session, session_id))

    async def list_active_sessions(self) -> Sequence[SessionInfo]:
        """Write sessions that are not expired, abandoned or committed, oldest first."""
        return await self._run(self._core.list_active_sessions)

    async def status(self, limit: int = 1000) -> SessionStatus:
        """Keys the session changed; ``limit=0`` means no limit."""
        return await self._run(self._core.status, limit)

    async def commit(
        self, message: str, auto_ff: bool = True, checkout_for_writing: bool = DEFAULT_IS_WRITE_SESSION
    ) -> CommitID | None:
        """Commit the session and start a new one on the same branch; returns the new commit id."""
        return await self._run(self._core.commit, message, auto_ff, checkout_for_writing)

    async def fast_forward(self) -> CommitID | None:
        """Move the session base to the branch tip; raises ConflictError on overlapping changes."""
        return await self._run(self._core.fast_forward)

    async def commit_log(self) -> CommitLog:
        """Commits from the session's base back to the first, newest first."""
        return await self._run(self._core.commit_log)

    async def commit_data(self, refresh: bool = False) -> CommitData:
        """All commits reachable from the session, branches and tags."""
        return await self._run(self._core.commit_data, refresh)

    async def new_branch(self, branch_name: str) -> None:
        """Create a branch at the session's base commit and switch the session to it."""
        await self._run(self._core.new_branch, branch_name)

    async def delete_branch(self, branch: str) -> None:
        """Delete a branch (never ``main``)."""
        await self._run(self._core.delete_branch, branch)

    async def tag(self, tag_name: str, commit_id: str | CommitID | None = None, message: str | None = None) -> Tag:
        """Tag a commit (default: the session's base commit). Tags are immutable."""
        return await self._run(self._core.tag, tag_name, commit_id, message)

    async def delete_tag(self, tag_name: str) -> None:
        """Delete a tag."""
        await self._run(self._core.delete_tag, tag_name)

    async def tags(self) -> list[str]:
        """Tag names."""
        return await self._run(self._core.tags)

    async def branches(self) -> list[str]:
        """Branch names."""
        return await self._run(self._core.branches)

    async def tree(self, prefix: str = "", depth: int = 10, filter: str | None = None) -> Tree:
        """The hierarchy as a ``rich.tree.Tree``, optionally filtered by a JMESPath query."""
        from .metadata import build_tree

        return await self._run(build_tree, self._core, prefix, depth, filter)

    async def filter_metadata(self, filter: str) -> list[str]:
        """Paths of groups and arrays whose attributes match a JMESPath query."""
        from .metadata import filter_metadata

        return await self._run(filter_metadata, self._core, filter)

    # ---- virtual datasets ----
    async def add_kerchunk_references(self, refs: dict[str, Any] | str, path: Path, **kwargs: Any) -> None:
        """Add kerchunk references (v0 or v1, dict or JSON path/URL) under ``path``."""
        await self._run(lambda: self._core.ingest_virtual("add_kerchunk_references", refs, path, **kwargs))

    async def add_virtual_netcdf(self, netcdf_uri: str, path: Path, **kwargs: Any) -> None:
        """Reference a netCDF3 or netCDF4/HDF5 file's arrays under ``path`` without copying."""
        await self._run(lambda: self._core.ingest_virtual("add_virtual_netcdf", netcdf_uri, path, **kwargs))

    async def add_virtual_hdf(self, hdf_uri: str, path: Path, **kwargs: Any) -> None:
        """Reference an HDF5 file's datasets under ``path`` without copying."""
        await self._run(lambda: self._core.ingest_virtual("add_virtual_hdf", hdf_uri, path, **kwargs))

    async def add_virtual_grib(self, grib_uri: str, path: Path, **kwargs: Any) -> None:
        """Reference a GRIB2 file's messages, concatenated along the differing coordinate."""
        await self._run(lambda: self._core.ingest_virtual("add_virtual_grib", grib_uri, path, **kwargs))

    async def add_virtual_zarr(self, zarr_uri: str, path: Path) -> None:
        """Reference an existing Zarr (format 2 or 3) store under ``path``."""
        await self._run(lambda: self._core.ingest_virtual("add_virtual_zarr", zarr_uri, path))

    async def add_virtual_tiff(self, tiff_uri: str, path: Path, name: str, **kwargs: Any) -> None:
        """Reference a TIFF as ``path/name`` (dims X, Y[, band]; overviews as arrays 0, 1, ...)."""
        await self._run(lambda: self._core.ingest_virtual("add_virtual_tiff", tiff_uri, path, name, **kwargs))


class Repo(_DataMixin):
    """Synchronous interface to a zarrlake repo. Wraps an :class:`AsyncRepo`."""

    def __init__(self, arepo: AsyncRepo) -> None:
        """Initialize a Repo from an AsyncRepo (they share state)."""
        self._arepo = arepo
        self._core = arepo._core
        self._core.async_sessions = False

    @classmethod
    def from_metastore_and_chunkstore(
        cls, metastore_db: MetastoreDatabase, chunkstore: Chunkstore, name: str, author: Author
    ) -> Repo:
        """Open (or create) the repo at the given location and check out ``main`` for writing."""
        repo = cls(AsyncRepo(metastore_db, chunkstore, name, author))
        repo.checkout()
        return repo

    def __getstate__(self) -> dict[str, Any]:
        return self._core.state()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._core = RepoCore.from_state(state)
        self._arepo = AsyncRepo._from_core(self._core)

    def __repr__(self) -> str:
        return f"<Repo {self._core.name}>"

    @property
    def repo_name(self) -> str:
        return self._core.name

    @property
    def session(self) -> LocalSession:
        """The current session."""
        return self._core.session

    def ping(self) -> None:
        """Check that the repo can be reached."""
        self._core.ping()

    def checkout(
        self,
        ref: str | CommitID = "main",
        session_token: SessionID | None = None,
        for_writing: bool = DEFAULT_IS_WRITE_SESSION,
        expires_in: datetime.timedelta = DEFAULT_SESSION_TIMEOUT,
    ) -> CommitID | None:
        """Check out a branch, tag or commit id (or join ``session_token``); returns the base commit.

        At a tag or commit the session is not on a branch: it warns, writes raise
        ReadOnlyError, and commit raises NotOnBranchError.
        """
        return self._core.checkout(ref, session_token, for_writing, expires_in)

    def create_session(
        self,
        ref: str | CommitID = "main",
        for_writing: bool = DEFAULT_IS_WRITE_SESSION,
        expires_in: datetime.timedelta = DEFAULT_SESSION_TIMEOUT,
        message: str | None = None,
    ) -> LocalSession:
        """Create a session at ``ref`` without switching to it (max expiry 7 days)."""
        return self._core.wrap(self._core.create_session(ref, for_writing, expires_in, message))

    def join_session(self, session_id: SessionID) -> LocalSession:
        """Join an existing write session by id (from any process)."""
        return self._core.wrap(self._core.join_session(session_id))

    def list_active_sessions(self) -> Sequence[SessionInfo]:
        """Write sessions that are not expired, abandoned or committed, oldest first."""
        return self._core.list_active_sessions()

    def status(self, limit: int = 1000) -> SessionStatus:
        """Keys the session changed; ``limit=0`` means no limit."""
        return self._core.status(limit)

    def commit(
        self, message: str, auto_ff: bool = True, checkout_for_writing: bool = DEFAULT_IS_WRITE_SESSION
    ) -> CommitID | None:
        """Commit the session's changes and start a new session on the same branch.

        Args:
            message: commit message.
            auto_ff: if the branch moved, fast-forward and retry (raising ConflictError on
                overlapping changes); if False, raise CommitFailedError instead.
            checkout_for_writing: whether the next session is writable.

        Returns:
            The new commit id; the base commit (with a warning) if nothing changed.
        """
        return self._core.commit(message, auto_ff, checkout_for_writing)

    def fast_forward(self) -> CommitID | None:
        """Move the session base to the branch tip; raises ConflictError on overlapping changes."""
        return self._core.fast_forward()

    def commit_log(self) -> CommitLog:
        """Commits from the session's base back to the first, newest first."""
        return self._core.commit_log()

    def commit_data(self, refresh: bool = False) -> CommitData:
        """All commits reachable from the session, branches and tags."""
        return self._core.commit_data(refresh)

    def new_branch(self, branch: str) -> None:
        """Create a branch at the session's base commit and switch the session to it."""
        self._core.new_branch(branch)

    def delete_branch(self, branch: str) -> None:
        """Delete a branch (never ``main``)."""
        self._core.delete_branch(branch)

    def tag(self, tag_name: str, commit_id: str | CommitID | None = None, message: str | None = None) -> Tag:
        """Tag a commit (default: the session's base commit). Tags are immutable."""
        return self._core.tag(tag_name, commit_id, message)

    def delete_tag(self, tag_name: str) -> None:
        """Delete a tag."""
        self._core.delete_tag(tag_name)

    def tags(self) -> list[str]:
        """Tag names."""
        return self._core.tags()

    def branches(self) -> list[str]:
        """Branch names."""
        return self._core.branches()

    def tree(self, prefix: str = "", depth: int = 10, filter: str | None = None) -> Tree:
        """The hierarchy as a ``rich.tree.Tree``, optionally filtered by a JMESPath query."""
        from .metadata import build_tree

        return build_tree(self._core, prefix, depth, filter)

    def filter_metadata(self, filter: str) -> list[str]:
        """Paths of groups and arrays whose attributes match a JMESPath query.

        The query is evaluated against each node's user attributes, e.g.
        ``"flags[0].spec[0] == 'a'"`` or ``'number >= `3` && number <= `15`'``.
        """
        from .metadata import filter_metadata

        return filter_metadata(self._core, filter)

    # ---- virtual datasets ----
    def add_kerchunk_references(self, refs: dict[str, Any] | str, path: Path, **kwargs: Any) -> None:
        """Add kerchunk references (v0 or v1, dict or JSON path/URL) under ``path``."""
        self._core.ingest_virtual("add_kerchunk_references", refs, path, **kwargs)

    def add_virtual_netcdf(self, netcdf_uri: str, path: Path, **kwargs: Any) -> None:
        """Reference a netCDF3 or netCDF4/HDF5 file's arrays under ``path`` without copying."""
        self._core.ingest_virtual("add_virtual_netcdf", netcdf_uri, path, **kwargs)

    def add_virtual_hdf(self, hdf_uri: str, path: Path, **kwargs: Any) -> None:
        """Reference an HDF5 file's datasets under ``path`` without copying."""
        self._core.ingest_virtual("add_virtual_hdf", hdf_uri, path, **kwargs)

    def add_virtual_grib(self, grib_uri: str, path: Path, **kwargs: Any) -> None:
        """Reference a GRIB2 file's messages, concatenated along the differing coordinate."""
        self._core.ingest_virtual("add_virtual_grib", grib_uri, path, **kwargs)

    def add_virtual_zarr(self, zarr_uri: str, path: Path) -> None:
        """Reference an existing Zarr (format 2 or 3) store under ``path``."""
        self._core.ingest_virtual("add_virtual_zarr", zarr_uri, path)

    def add_virtual_tiff(self, tiff_uri: str, path: Path, name: str, **kwargs: Any) -> None:
        """Reference a TIFF as ``path/name`` (dims X, Y[, band]; overviews as arrays 0, 1, ...)."""
        self._core.ingest_virtual("add_virtual_tiff", tiff_uri, path, name, **kwargs)
