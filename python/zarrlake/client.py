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
    """The root a client uses when given none.

    Returns:
        ``$ZARRLAKE_ROOT`` if set, else ``~/.zarrlake``.

    Example:
        >>> default_root()
        '/home/ada/.zarrlake'
    """
    return os.environ.get("ZARRLAKE_ROOT") or str(Path.home() / ".zarrlake")


class AsyncClient:
    """Repos under a root: a local directory, ``file://``, ``memory://``, or a bucket
    prefix on object storage (``s3://bucket/prefix``, ``gs://...``, ``az://container/...``).

    The same methods as ``Client``, as coroutines that return ``AsyncRepo``; repos live
    at ``<root>/<org>/<name>``.

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
            written into a repo; see the storage how-to.

    Raises:
        InvalidInputError: an unknown scheme or storage option, or an option given for a
            local or ``memory://`` root.

    Example:
        >>> client = zarrlake.AsyncClient("s3://my-bucket/lakes")
        >>> repo = await client.get_or_create_repo("climate/era5")
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
        """Create a repo and check out ``main`` for writing.

        Args:
            name: ``org/name``: each part 2 to 100 letters, digits, ``.``, ``_`` or ``-``,
                starting with a letter, digit or ``_``.

        Returns:
            The new repo, with a write session on ``main``.

        Raises:
            RepoExistsError: a repo of that name exists.
            InvalidNameError: a bad name.
            UnsupportedStorageError: object storage without conditional writes.

        Example:
            >>> repo = await client.create_repo("climate/era")
        """
        import asyncio

        return AsyncRepo._from_core(await asyncio.to_thread(self._create, name, True))

    async def get_repo(self, name: str, *, checkout: bool = True, read_only: bool = False) -> AsyncRepo:
        """Open a repo; with ``checkout``, start a session on ``main``.

        Args:
            name: ``org/name``.
            checkout: check out ``main``; without it the repo has no session until
                ``checkout`` or ``join_session`` (the way workers join a session by id).
            read_only: check out ``main`` read-only.

        Returns:
            The repo.

        Raises:
            RepoNotFoundError: no repo of that name.
            InvalidNameError: a bad name.

        Example:
            >>> repo = await client.get_repo("climate/era", read_only=True)
            >>> worker = await client.get_repo("climate/era", checkout=False)
        """
        import asyncio

        return AsyncRepo._from_core(await asyncio.to_thread(self._get, name, checkout, read_only, True))

    async def get_or_create_repo(self, name: str, *, checkout: bool = True) -> AsyncRepo:
        """Open the repo, creating it first if needed (also when another process races to).

        Args:
            name: ``org/name``.
            checkout: check out ``main`` for writing.

        Returns:
            The repo.

        Raises:
            InvalidNameError: a bad name.

        Example:
            >>> repo = await client.get_or_create_repo("climate/era")
        """
        import asyncio

        return AsyncRepo._from_core(await asyncio.to_thread(self._get_or_create, name, checkout, True))

    async def list_repos(self, org: str) -> list[str]:
        """Names of the repos of an org.

        Args:
            org: the org, the first part of ``org/name``.

        Returns:
            ``org/name`` of each repo, sorted.

        Raises:
            InvalidNameError: a bad org name.

        Example:
            >>> await client.list_repos("climate")
            ['climate/era', 'climate/grid']
        """
        return self._list(org)

    async def delete_repo(
        self, name: str, *, imsure: bool = False, imreallysure: bool = False, progress: bool = True
    ) -> None:
        """Delete a repo and all its data, its chunk location's included.

        Args:
            name: ``org/name``.
            imsure: must be True.
            imreallysure: must be True as well.
            progress: show a progress bar on a terminal while objects are deleted.

        Raises:
            InvalidInputError: a flag is not True.
            RepoNotFoundError: no repo of that name.

        Example:
            >>> await client.delete_repo("climate/era", imsure=True, imreallysure=True)
        """
        import asyncio

        await asyncio.to_thread(self._delete, name, imsure, imreallysure, progress)


class Client(AsyncClient):
    """Finds, creates, lists and deletes repos under one root.

    A root is a local directory, ``file://``, ``memory://``, or a bucket prefix on object
    storage (``s3://bucket/prefix``, ``gs://...``, ``az://container/...``); repos live at
    ``<root>/<org>/<name>``. ``AsyncClient`` has the same methods as coroutines.

    Args:
        root: where repos live; ``$ZARRLAKE_ROOT`` or ``~/.zarrlake`` when None.
        author: recorded on commits; from ``$ZARRLAKE_AUTHOR_NAME`` and
            ``$ZARRLAKE_AUTHOR_EMAIL`` (the login name and no email when unset) when None.
        allow_virtual: URL prefixes virtual chunks may be read from, on top of each repo's
            own (e.g. ``["s3://bucket/"]``; local files only when named, e.g. ``["file:///data/"]``).
        storage_options: options of the object store client, as object_store names them
            (``endpoint``, ``region``, ``access_key_id``, ``allow_http``, ...), plus
            ``max_concurrency`` (requests in flight, default 64). Anything not given comes
            from the standard environment (``AWS_*``, ``GOOGLE_*``, ``AZURE_*``). Never
            written into a repo.

    Raises:
        InvalidInputError: an unknown scheme or storage option, or an option given for a
            local or ``memory://`` root.

    Example:
        >>> client = zarrlake.Client("/data/lake", author=zarrlake.Author("Ada", "ada@example.org"))
        >>> repo = client.get_or_create_repo("climate/era")
        >>> s3 = zarrlake.Client("s3://my-bucket/lakes", storage_options={"region": "eu-west-1"})
    """

    def create_repo(self, name: str) -> Repo:  # type: ignore[override]
        """Create a repo and check out ``main`` for writing.

        Args:
            name: ``org/name``: each part 2 to 100 letters, digits, ``.``, ``_`` or ``-``,
                starting with a letter, digit or ``_``.

        Returns:
            The new repo, with a write session on ``main``.

        Raises:
            RepoExistsError: a repo of that name exists.
            InvalidNameError: a bad name.
            UnsupportedStorageError: object storage without conditional writes.

        Example:
            >>> repo = client.create_repo("climate/era")
        """
        return Repo(AsyncRepo._from_core(self._create(name, False)))

    def get_repo(self, name: str, *, checkout: bool = True, read_only: bool = False) -> Repo:  # type: ignore[override]
        """Open a repo; with ``checkout``, start a session on ``main``.

        Args:
            name: ``org/name``.
            checkout: check out ``main``; without it the repo has no session until
                ``checkout`` or ``join_session`` (the way workers join a session by id).
            read_only: check out ``main`` read-only.

        Returns:
            The repo.

        Raises:
            RepoNotFoundError: no repo of that name.
            InvalidNameError: a bad name.

        Example:
            >>> repo = client.get_repo("climate/era", read_only=True)
            >>> worker = client.get_repo("climate/era", checkout=False)
        """
        return Repo(AsyncRepo._from_core(self._get(name, checkout, read_only, False)))

    def get_or_create_repo(self, name: str, *, checkout: bool = True) -> Repo:  # type: ignore[override]
        """Open the repo, creating it first if needed (also when another process races to).

        Args:
            name: ``org/name``.
            checkout: check out ``main`` for writing.

        Returns:
            The repo.

        Raises:
            InvalidNameError: a bad name.

        Example:
            >>> repo = client.get_or_create_repo("climate/era")
        """
        return Repo(AsyncRepo._from_core(self._get_or_create(name, checkout, False)))

    def list_repos(self, org: str) -> list[str]:  # type: ignore[override]
        """Names of the repos of an org.

        Args:
            org: the org, the first part of ``org/name``.

        Returns:
            ``org/name`` of each repo, sorted.

        Raises:
            InvalidNameError: a bad org name.

        Example:
            >>> client.list_repos("climate")
            ['climate/era', 'climate/grid']
        """
        return self._list(org)

    def delete_repo(  # type: ignore[override]
        self, name: str, *, imsure: bool = False, imreallysure: bool = False, progress: bool = True
    ) -> None:
        """Delete a repo and all its data, its chunk location's included.

        Args:
            name: ``org/name``.
            imsure: must be True.
            imreallysure: must be True as well.
            progress: show a progress bar on a terminal while objects are deleted.

        Raises:
            InvalidInputError: a flag is not True.
            RepoNotFoundError: no repo of that name.

        Example:
            >>> client.delete_repo("climate/era", imsure=True, imreallysure=True)
        """
        self._delete(name, imsure, imreallysure, progress)
