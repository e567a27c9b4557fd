"""Client and AsyncClient: find repos by ``org/name`` under one root location."""

from __future__ import annotations

import os
from pathlib import Path

from . import _native
from ._core import RepoCore, default_author
from ._names import validate_repo_name
from .errors import InvalidInputError, RepoExistsError, RepoNotFoundError
from .repo import AsyncRepo, Repo
from .types import Author


def default_root() -> str:
    return os.environ.get("ZARRLAKE_ROOT") or str(Path.home() / ".zarrlake")


class AsyncClient:
    """Repos under a root: a local directory, ``file://`` URL or ``memory://`` name.

    Args:
        root: where repos live; ``$ZARRLAKE_ROOT`` or ``~/.zarrlake`` when None.
        author: recorded on commits; from ``$ZARRLAKE_AUTHOR_NAME``/``_EMAIL`` or the
            login name when None.
        allow_virtual: URL prefixes virtual chunks may be read from, on top of each repo's
            own (e.g. ``["s3://bucket/"]``; local files only when named, e.g. ``["file:///data/"]``).
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        author: Author | None = None,
        allow_virtual: list[str] | None = None,
    ) -> None:
        root_s = default_root() if root is None else os.fspath(root)
        if root_s.startswith("memory://"):
            self.root = root_s.rstrip("/")
        else:
            path = Path(root_s.removeprefix("file://")).expanduser()
            self.root = str(path.resolve())
        self.author = author or default_author()
        self.allow_virtual = list(allow_virtual or [])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r})"

    def _location(self, name: str) -> str:
        org, repo = validate_repo_name(name)
        return f"{self.root}/{org}/{repo}"

    def _core(self, native: _native.Repository, name: str, async_sessions: bool) -> RepoCore:
        return RepoCore(native, name, self.author, async_sessions=async_sessions, allow_virtual=self.allow_virtual)

    # Sync implementations, shared with Client.
    def _create(self, name: str, async_sessions: bool) -> RepoCore:
        loc = self._location(name)
        try:
            native = _native.Repository.create(loc)
        except RepoExistsError:
            raise RepoExistsError(f"Repo '{name}' already exists in {self.root}") from None
        core = self._core(native, name, async_sessions)
        core.checkout()
        return core

    def _get(self, name: str, checkout: bool, read_only: bool, async_sessions: bool) -> RepoCore:
        loc = self._location(name)
        try:
            native = _native.Repository.open(loc)
        except RepoNotFoundError:
            raise RepoNotFoundError(f"Repo '{name}' not found in {self.root}") from None
        core = self._core(native, name, async_sessions)
        if checkout:
            core.checkout(for_writing=not read_only)
        return core

    def _get_or_create(self, name: str, checkout: bool, async_sessions: bool) -> RepoCore:
        if _native.Repository.exists(self._location(name)):
            return self._get(name, checkout, False, async_sessions)
        try:
            return self._create(name, async_sessions)
        except RepoExistsError:  # created concurrently
            return self._get(name, checkout, False, async_sessions)

    def _list(self, org: str) -> list[str]:
        validate_repo_name(f"{org}/xx")
        if self.root.startswith("memory://"):
            raise InvalidInputError("list_repos is not available for memory:// roots")
        org_dir = Path(self.root) / org
        if not org_dir.is_dir():
            return []
        return sorted(
            f"{org}/{p.name}" for p in org_dir.iterdir() if (p / "zarrlake.json").is_file()
        )

    def _delete(self, name: str, imsure: bool, imreallysure: bool) -> None:
        if not (imsure and imreallysure):
            raise InvalidInputError("Don't do this unless you're really sure. Pass imsure=True and imreallysure=True.")
        try:
            _native.Repository.delete(self._location(name))
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

    async def delete_repo(self, name: str, *, imsure: bool = False, imreallysure: bool = False) -> None:
        """Delete a repo and all its data. Both flags must be True."""
        import asyncio

        await asyncio.to_thread(self._delete, name, imsure, imreallysure)


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

    def delete_repo(self, name: str, *, imsure: bool = False, imreallysure: bool = False) -> None:  # type: ignore[override]
        """Delete a repo and all its data. Both flags must be True."""
        self._delete(name, imsure, imreallysure)
