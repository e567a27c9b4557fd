"""Client and AsyncClient: find repos by ``org/name`` under one root location."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import _native
from ._core import RepoCore, default_author
from ._names import validate_repo_name
from ._progress import ProgressBar
from ._storage import OpenArgs, normalize_options, normalize_root
from .errors import InvalidInputError, RepoExistsError, RepoNotFoundError
from .repo import AsyncRepo, Repo
from .types import Author


def default_root() -> str:
    return os.environ.get("ZARRLAKE_ROOT") or str(Path.home() / ".zarrlake")


class AsyncClient:
    """Repos under a root: a local directory, ``file://``, ``memory://``, or a bucket
    prefix on object storage (``s3://bucket/prefix``, ``gs://...``, ``az://container/...``).

    Args:
        root: where repos live; ``$ZARRLAKE_ROOT`` or ``~/.zarrlake`` when None.
        author: recorded on commits; from ``$ZARRLAKE_AUTHOR_NAME``/``_EMAIL`` or the
            login name when None.
        allow_virtual: URL prefixes virtual chunks may be read from, on top of each repo's
            own (e.g. ``["s3://bucket/"]``; local files only when named, e.g. ``["file:///data/"]``).
        storage_options: options of the object store client, as object_store names them
            (``endpoint``, ``region``, ``access_key_id``, ``allow_http``, ...), plus
            ``max_concurrency`` (requests in flight, default 64). Anything not given comes
            from the standard environment (``AWS_*``, ``GOOGLE_*``, ``AZURE_*``). Never
            written into a repo; see docs/storage.md.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        author: Author | None = None,
        allow_virtual: list[str] | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.root = normalize_root(default_root() if root is None else root)
        self.author = author or default_author()
        self.allow_virtual = list(allow_virtual or [])
        self._open = OpenArgs(normalize_options(storage_options))
        # A bad scheme or option fails here, not at the first repo.
        _native.Repository.check_location(self.root, self._open.storage_options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r})"

    def _location(self, name: str) -> str:
        org, repo = validate_repo_name(name)
        return f"{self.root}/{org}/{repo}"

    def _core(self, native: _native.Repository, name: str, async_sessions: bool) -> RepoCore:
        return RepoCore(
            native,
            name,
            self.author,
            async_sessions=async_sessions,
            allow_virtual=self.allow_virtual,
            open_args=self._open,
        )

    # Sync implementations, shared with Client.
    def _create(self, name: str, async_sessions: bool) -> RepoCore:
        loc = self._location(name)
        try:
            native = _native.Repository.create(loc, storage_options=self._open.storage_options)
        except RepoExistsError:
            raise RepoExistsError(f"Repo '{name}' already exists in {self.root}") from None
        core = self._core(native, name, async_sessions)
        core.checkout()
        return core

    def _get(self, name: str, checkout: bool, read_only: bool, async_sessions: bool) -> RepoCore:
        loc = self._location(name)
        try:
            native = _native.Repository.open(loc, **self._open.open_kwargs())
        except RepoNotFoundError:
            raise RepoNotFoundError(f"Repo '{name}' not found in {self.root}") from None
        core = self._core(native, name, async_sessions)
        if checkout:
            core.checkout(for_writing=not read_only)
        return core

    def _get_or_create(self, name: str, checkout: bool, async_sessions: bool) -> RepoCore:
        if _native.Repository.exists(self._location(name), self._open.storage_options):
            return self._get(name, checkout, False, async_sessions)
        try:
            return self._create(name, async_sessions)
        except RepoExistsError:  # created concurrently
            return self._get(name, checkout, False, async_sessions)

    def _list(self, org: str) -> list[str]:
        validate_repo_name(f"{org}/xx")
        names = _native.Repository.list(f"{self.root}/{org}", self._open.storage_options)
        return [f"{org}/{n}" for n in names]

    def _delete(self, name: str, imsure: bool, imreallysure: bool, progress: bool) -> None:
        if not (imsure and imreallysure):
            raise InvalidInputError("Don't do this unless you're really sure. Pass imsure=True and imreallysure=True.")
        with ProgressBar(f"Deleting {name}", enabled=progress) as bar:
            try:
                report = bar if bar.enabled else None
                _native.Repository.delete(self._location(name), progress=report, **self._open.open_kwargs())
            except RepoNotFoundError:
                raise RepoNotFoundError(f"Repo '{name}' not found in {self.root}") from None

    async def create_repo(self, name: str) -> AsyncRepo:
        """Create a repo and check out ``main`` for writing. RepoExistsError if it exists."""
        import asyncio

        return AsyncRepo._from_core(await asyncio.to_thread(self._create, name, True))

    async def get_repo(self, name: str, *, checkout: bool = True, read_only: bool = False) -> AsyncRepo:
        """Open a repo; with ``checkout`` start a session on ``main``. RepoNotFoundError if missing."""
        import asyncio

        return AsyncRepo._from_core(await asyncio.to_thread(self._get, name, checkout, read_only, True))

    async def get_or_create_repo(self, name: str, *, checkout: bool = True) -> AsyncRepo:
        """Open the repo, creating it first if needed."""
        import asyncio

        return AsyncRepo._from_core(await asyncio.to_thread(self._get_or_create, name, checkout, True))

    async def list_repos(self, org: str) -> list[str]:
        """Names (``org/name``) of the repos of an org, sorted."""
        return self._list(org)

    async def delete_repo(
        self, name: str, *, imsure: bool = False, imreallysure: bool = False, progress: bool = True
    ) -> None:
        """Delete a repo and all its data. Both flags must be True."""
        import asyncio

        await asyncio.to_thread(self._delete, name, imsure, imreallysure, progress)


class Client(AsyncClient):
    """Synchronous client: the same methods as :class:`AsyncClient`, returning :class:`Repo`."""

    def create_repo(self, name: str) -> Repo:  # type: ignore[override]
        """Create a repo and check out ``main`` for writing. RepoExistsError if it exists."""
        return Repo(AsyncRepo._from_core(self._create(name, False)))

    def get_repo(self, name: str, *, checkout: bool = True, read_only: bool = False) -> Repo:  # type: ignore[override]
        """Open a repo; with ``checkout`` start a session on ``main``. RepoNotFoundError if missing."""
        return Repo(AsyncRepo._from_core(self._get(name, checkout, read_only, False)))

    def get_or_create_repo(self, name: str, *, checkout: bool = True) -> Repo:  # type: ignore[override]
        """Open the repo, creating it first if needed."""
        return Repo(AsyncRepo._from_core(self._get_or_create(name, checkout, False)))

    def list_repos(self, org: str) -> list[str]:  # type: ignore[override]
        """Names (``org/name``) of the repos of an org, sorted."""
        return self._list(org)

    def delete_repo(  # type: ignore[override]
        self, name: str, *, imsure: bool = False, imreallysure: bool = False, progress: bool = True
    ) -> None:
        """Delete a repo and all its data. Both flags must be True."""
        self._delete(name, imsure, imreallysure, progress)
