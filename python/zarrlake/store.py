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
    """A Zarr store over the session a zarrlake repo has checked out when it is made."""

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
        return self._pinned(self._core, self._pin, read_only)

    @property
    def supports_consolidated_metadata(self) -> bool:
        return True

    # ---- reads ----
    async def get(
        self, key: str, prototype: BufferPrototype | None = None, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        prototype = prototype or default_buffer_prototype()
        data = await self._session.get_async(key, _range_arg(byte_range))
        return None if data is None else prototype.buffer.from_bytes(data)

    def get_sync(
        self, key: str, *, prototype: BufferPrototype | None = None, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        prototype = prototype or default_buffer_prototype()
        data = self._session.get_view(key, _range_arg(byte_range))
        return None if data is None else prototype.buffer.from_bytes(data)

    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        requests = [(k, _range_arg(r)) for k, r in key_ranges]
        if not requests:
            return []
        results = await self._session.get_many_async(requests)
        return [None if d is None else prototype.buffer.from_bytes(d) for d in results]

    async def exists(self, key: str) -> bool:
        return await self._session.exists_async(key)

    async def getsize(self, key: str) -> int:
        size = await self._session.getsize_async(key)
        if size is None:
            raise FileNotFoundError(key)
        return size

    # ---- writes ----
    async def set(self, key: str, value: Buffer) -> None:
        self._check_writable()
        if not isinstance(value, Buffer):
            raise TypeError(f"ZarrlakeStore.set(): `value` must be a Buffer instance. Got {type(value)}")
        await self._session.set_async(key, value.to_bytes())

    def set_sync(self, key: str, value: Buffer) -> None:
        self._check_writable()
        self._session.set(key, value.to_bytes())

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        self._check_writable()
        await self._session.set_if_not_exists_async(key, value.to_bytes())

    async def _set_many(self, values: Iterable[tuple[str, Buffer]]) -> None:
        self._check_writable()
        items = [(k, v.to_bytes()) for k, v in values]
        if items:
            await self._session.set_many_async(items)

    async def delete(self, key: str) -> None:
        self._check_writable()
        await self._session.delete_async(key)

    def delete_sync(self, key: str) -> None:
        self._check_writable()
        self._session.delete(key)

    async def delete_dir(self, prefix: str) -> None:
        self._check_writable()
        await self._session.delete_dir_async(prefix)

    # ---- listing ----
    async def list(self) -> AsyncIterator[str]:
        for k in await self._session.list_prefix_async(""):
            yield k

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        for k in await self._session.list_prefix_async(prefix):
            yield k

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        for k in await self._session.list_dir_async(prefix):
            yield k
