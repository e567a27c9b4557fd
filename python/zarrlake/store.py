"""ZarrlakeStore: a zarr-python 3 ``Store`` over one session of a repo.

Every valid Zarr key is accepted (formats 2 and 3, and keys that belong to no array).
Listing comes from the snapshot and the session, never from listing object storage.
A store keeps the version it was opened on: checking out another ref in the repo does not
move it. After ``repo.commit()`` it follows into the next session of the same branch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from zarr.abc.store import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    Store,
    SuffixByteRequest,
)
from zarr.core.buffer import Buffer, BufferPrototype, default_buffer_prototype

from ._core import RepoCore, SessionPin

if TYPE_CHECKING:
    from ._native import ByteRangeArg


def _range_arg(byte_range: ByteRequest | None) -> ByteRangeArg:
    if byte_range is None:
        return None
    if isinstance(byte_range, RangeByteRequest):
        return ("range", byte_range.start, byte_range.end)
    if isinstance(byte_range, OffsetByteRequest):
        return ("offset", byte_range.offset)
    if isinstance(byte_range, SuffixByteRequest):
        return ("suffix", byte_range.suffix)
    raise TypeError(f"Unexpected byte_range, got {byte_range}.")


def _as_core(repo: Any) -> RepoCore:
    if isinstance(repo, RepoCore):
        return repo
    core = getattr(repo, "_core", None)
    if isinstance(core, RepoCore):
        return core
    raise TypeError(f"ZarrlakeStore needs a Repo or AsyncRepo, got {type(repo).__name__}")


class ZarrlakeStore(Store):
    """A Zarr store over the session a zarrlake repo has checked out when it is made.

    zarr-python and xarray drive it; you rarely call its methods yourself. It reads and
    writes that one session: checking out another ref in the repo does not move it, and
    after ``repo.commit()`` it follows into the next session of the same branch. It
    pickles: a worker that unpickles it joins the session (that is how Dask workers
    write one session).

    Args:
        repo: a ``Repo`` or ``AsyncRepo`` (usually you take ``repo.store`` instead).
        read_only: refuse writes through this store, whatever the session allows.

    Raises:
        NoSessionError: the repo has no session checked out.
        TypeError: ``repo`` is not a zarrlake repo.

    Example:
        >>> store = repo.store
        >>> zarr.create_array(store, name="t", shape=(100,), chunks=(10,), dtype="f4")
        >>> ds = xr.open_zarr(store, consolidated=False)
    """

    supports_writes: bool = True
    supports_deletes: bool = True
    supports_listing: bool = True

    def __init__(self, repo: Any, *, read_only: bool = False) -> None:
        super().__init__(read_only=read_only)
        self._core = _as_core(repo)
        self._pin = self._core.pin

    @classmethod
    def _pinned(cls, core: RepoCore, pin: SessionPin, read_only: bool = False) -> ZarrlakeStore:
        store = cls.__new__(cls)
        Store.__init__(store, read_only=read_only)
        store._core = core
        store._pin = pin
        return store

    @property
    def _session(self) -> Any:
        return self._pin.native

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ZarrlakeStore)
            and self._core.native.location == other._core.native.location
            and self._session.id == other._session.id
            and self.read_only == other.read_only
        )

    def __hash__(self) -> int:
        return hash((self._core.native.location, self._session.id, self.read_only))

    def __repr__(self) -> str:
        return f"ZarrlakeStore({self._core.name!r}, session={self._session.id})"

    def __getstate__(self) -> dict[str, Any]:
        return {"core": self._core.state(self._pin), "read_only": self._read_only}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._core = RepoCore.from_state(state["core"])
        self._pin = self._core.pin
        self._read_only = state["read_only"]
        self._is_open = False

    def with_read_only(self, read_only: bool = False) -> ZarrlakeStore:
        """The same store, on the same session, with another read-only setting.

        Args:
            read_only: whether the new store refuses writes.

        Returns:
            A new store; this one is unchanged.

        Example:
            >>> ro = repo.store.with_read_only(True)
        """
        return self._pinned(self._core, self._pin, read_only)

    @property
    def supports_consolidated_metadata(self) -> bool:
        """True: zarr may write and read consolidated metadata here (it is versioned like
        everything else, though listing is cheap, so ``consolidated=False`` is usual)."""
        return True

    # ---- reads ----
    async def get(
        self, key: str, prototype: BufferPrototype | None = None, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        """Read a key's value (or part of it).

        Args:
            key: a Zarr key, e.g. ``"air/zarr.json"`` or ``"air/c/0/0"``.
            prototype: the buffer class to return; zarr's default when None.
            byte_range: a part of the value: ``RangeByteRequest``, ``OffsetByteRequest``
                or ``SuffixByteRequest``; all of it when None.

        Returns:
            The bytes, or None if the key does not exist.

        Raises:
            CorruptObjectError: the stored chunk or object is damaged or missing.
            VirtualAccessError: a virtual chunk outside the allowed prefixes.
            SourceChangedError: a virtual chunk's source changed since it was referenced.

        Example:
            >>> buf = await repo.store.get("air/zarr.json")
            >>> json.loads(buf.to_bytes())["node_type"]
            'array'
        """
        prototype = prototype or default_buffer_prototype()
        data = await self._session.get_async(key, _range_arg(byte_range))
        return None if data is None else prototype.buffer.from_bytes(data)

    def get_sync(
        self, key: str, *, prototype: BufferPrototype | None = None, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        """``get`` without a coroutine, for zarr's synchronous code paths.

        Args:
            key: a Zarr key.
            prototype: the buffer class to return; zarr's default when None.
            byte_range: a part of the value: ``RangeByteRequest``, ``OffsetByteRequest``
                or ``SuffixByteRequest``; all of it when None.

        Returns:
            The bytes, or None if the key does not exist.

        Raises:
            CorruptObjectError: the stored chunk or object is damaged or missing.

        Example:
            >>> repo.store.get_sync("air/zarr.json").to_bytes()[:1]
            b'{'
        """
        prototype = prototype or default_buffer_prototype()
        data = self._session.get_view(key, _range_arg(byte_range))
        return None if data is None else prototype.buffer.from_bytes(data)

    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        """Read many keys (or parts) at once; ranges of one virtual source are coalesced.

        Args:
            prototype: the buffer class to return.
            key_ranges: ``(key, byte_range)`` pairs; a byte range of None reads it all.

        Returns:
            One buffer per pair, in order, None where the key does not exist.

        Raises:
            CorruptObjectError: a stored chunk or object is damaged or missing.

        Example:
            >>> proto = default_buffer_prototype()
            >>> await repo.store.get_partial_values(proto, [("air/c/0/0", None), ("air/c/0/1", None)])
        """
        requests = [(k, _range_arg(r)) for k, r in key_ranges]
        if not requests:
            return []
        results = await self._session.get_many_async(requests)
        return [None if d is None else prototype.buffer.from_bytes(d) for d in results]

    async def exists(self, key: str) -> bool:
        """Whether the key exists in the session.

        Args:
            key: a Zarr key.

        Returns:
            True if it exists.

        Example:
            >>> await repo.store.exists("air/zarr.json")
            True
        """
        return await self._session.exists_async(key)

    async def getsize(self, key: str) -> int:
        """The size in bytes of a key's value, without reading it.

        Args:
            key: a Zarr key.

        Returns:
            The size in bytes.

        Raises:
            FileNotFoundError: the key does not exist.

        Example:
            >>> await repo.store.getsize("air/c/0/0")
            17280
        """
        size = await self._session.getsize_async(key)
        if size is None:
            raise FileNotFoundError(key)
        return size

    # ---- writes ----
    async def set(self, key: str, value: Buffer) -> None:
        """Write a key's value into the session; it is stored when this returns.

        Metadata documents (``zarr.json``, ``.zarray``, ``.zattrs``, ...) must be JSON
        objects.

        Args:
            key: a Zarr key.
            value: the bytes, as a zarr ``Buffer``.

        Raises:
            ReadOnlyError: a read-only store or session, or one not on a branch tip.
            SessionExpiredError: the session expired, was abandoned or committed.
            TypeError: ``value`` is not a ``Buffer``.
            InvalidInputError: a metadata document that is not a JSON object.

        Example:
            >>> from zarr.core.buffer import cpu
            >>> doc = b'{"zarr_format": 3, "node_type": "group"}'
            >>> await repo.store.set("notes/zarr.json", cpu.Buffer.from_bytes(doc))
        """
        self._check_writable()
        if not isinstance(value, Buffer):
            raise TypeError(f"ZarrlakeStore.set(): `value` must be a Buffer instance. Got {type(value)}")
        await self._session.set_async(key, value.to_bytes())

    def set_sync(self, key: str, value: Buffer) -> None:
        """``set`` without a coroutine, for zarr's synchronous code paths.

        Args:
            key: a Zarr key.
            value: the bytes, as a zarr ``Buffer``.

        Raises:
            ReadOnlyError: a read-only store or session, or one not on a branch tip.
            SessionExpiredError: the session expired, was abandoned or committed.

        Example:
            >>> repo.store.set_sync("air/c/0/0", buf)
        """
        self._check_writable()
        self._session.set(key, value.to_bytes())

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        """Write a key's value unless the session already has the key.

        Args:
            key: a Zarr key.
            value: the bytes, as a zarr ``Buffer``.

        Raises:
            ReadOnlyError: a read-only store or session, or one not on a branch tip.
            SessionExpiredError: the session expired, was abandoned or committed.

        Example:
            >>> await repo.store.set_if_not_exists("air/zarr.json", buf)
        """
        self._check_writable()
        await self._session.set_if_not_exists_async(key, value.to_bytes())

    async def _set_many(self, values: Iterable[tuple[str, Buffer]]) -> None:
        self._check_writable()
        items = [(k, v.to_bytes()) for k, v in values]
        if items:
            await self._session.set_many_async(items)

    async def delete(self, key: str) -> None:
        """Delete a key in the session (the versions committed before keep it).

        Args:
            key: a Zarr key; deleting one that does not exist is not an error.

        Raises:
            ReadOnlyError: a read-only store or session, or one not on a branch tip.
            SessionExpiredError: the session expired, was abandoned or committed.

        Example:
            >>> await repo.store.delete("air/c/0/0")
        """
        self._check_writable()
        await self._session.delete_async(key)

    def delete_sync(self, key: str) -> None:
        """``delete`` without a coroutine, for zarr's synchronous code paths.

        Args:
            key: a Zarr key.

        Raises:
            ReadOnlyError: a read-only store or session, or one not on a branch tip.
            SessionExpiredError: the session expired, was abandoned or committed.

        Example:
            >>> repo.store.delete_sync("air/c/0/0")
        """
        self._check_writable()
        self._session.delete(key)

    async def delete_dir(self, prefix: str) -> None:
        """Delete every key under ``prefix`` in the session: a group or array and all it holds.

        Args:
            prefix: a node path, e.g. ``"air"``.

        Raises:
            ReadOnlyError: a read-only store or session, or one not on a branch tip.
            SessionExpiredError: the session expired, was abandoned or committed.

        Example:
            >>> await repo.store.delete_dir("air")
        """
        self._check_writable()
        await self._session.delete_dir_async(prefix)

    # ---- listing ----
    async def list(self) -> AsyncIterator[str]:
        """Every key of the session, from its snapshot and changes (object storage is not listed).

        Returns:
            An async iterator of keys, sorted.

        Example:
            >>> [k async for k in repo.store.list()]
            ['air/c/0/0', 'air/zarr.json', 'zarr.json']
        """
        for k in await self._session.list_prefix_async(""):
            yield k

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        """Every key that starts with ``prefix``.

        Args:
            prefix: a key prefix, e.g. ``"air/"``.

        Returns:
            An async iterator of full keys, sorted.

        Example:
            >>> [k async for k in repo.store.list_prefix("air/")]
            ['air/c/0/0', 'air/zarr.json']
        """
        for k in await self._session.list_prefix_async(prefix):
            yield k

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        """The names directly under ``prefix``, like a directory listing.

        Args:
            prefix: a node path (``""`` for the root).

        Returns:
            An async iterator of names (keys and "directories") one level below ``prefix``.

        Example:
            >>> [k async for k in repo.store.list_dir("")]
            ['air', 'zarr.json']
        """
        for k in await self._session.list_dir_async(prefix):
            yield k
