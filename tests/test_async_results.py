"""Async store calls finish in batches (one GIL acquisition per batch): each result and each
error must still reach its own future, on its own event loop."""

from __future__ import annotations

import asyncio
import threading

import pytest
import zarrlake
from zarr.core.buffer import cpu

IN_FLIGHT = 400


def value(tag: str, i: int) -> bytes:
    return f"{tag}:{i}".encode() * (1 + i % 7)


async def write_then_read(store, tag: str) -> list[object]:
    keys = [f"{tag}/c/{i}" for i in range(IN_FLIGHT)]
    await asyncio.gather(*(store.set(k, cpu.Buffer.from_bytes(value(tag, i))) for i, k in enumerate(keys)))
    calls = []
    for k in keys:
        calls.append(store.get(k, cpu.buffer_prototype))
        calls.append(store.get(f"{k}//bad", cpu.buffer_prototype))
    return await asyncio.gather(*calls, return_exceptions=True)


def check(results: list[object], tag: str) -> None:
    assert len(results) == 2 * IN_FLIGHT
    for i in range(IN_FLIGHT):
        got, bad = results[2 * i], results[2 * i + 1]
        assert got.to_bytes() == value(tag, i)
        assert isinstance(bad, zarrlake.InvalidNameError), bad


def test_results_and_errors_in_flight_reach_their_own_futures(repo):
    check(asyncio.run(write_then_read(repo.store, "one")), "one")


def test_two_event_loops_at_once_get_their_own_results(repo):
    store = repo.store
    out: dict[str, object] = {}
    start = threading.Barrier(2)

    def run(tag: str) -> None:
        start.wait()
        try:
            out[tag] = asyncio.run(write_then_read(store, tag))
        except BaseException as e:  # reported below, in the test's thread
            out[tag] = e

    threads = [threading.Thread(target=run, args=(t,)) for t in ("left", "right")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "an event loop never got its results"
    for tag in ("left", "right"):
        if isinstance(out[tag], BaseException):
            pytest.fail(f"{tag}: {out[tag]!r}")
        check(out[tag], tag)
