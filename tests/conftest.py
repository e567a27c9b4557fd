from __future__ import annotations

import itertools
import warnings

import pytest
import zarrlake

_counter = itertools.count()


@pytest.fixture
def client(tmp_path) -> zarrlake.Client:
    return zarrlake.Client(tmp_path / "lake", author=zarrlake.Author("Ada", "ada@example.org"))


@pytest.fixture
def repo(client) -> zarrlake.Repo:
    return client.create_repo("org/repo")


@pytest.fixture
def memory_client() -> zarrlake.Client:
    return zarrlake.Client(f"memory://test-{next(_counter)}")


def quiet(fn, *args, **kwargs):
    """Calls fn with zarrlake's expected user warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fn(*args, **kwargs)


def put(repo, key: str, data: bytes) -> None:
    """Writes raw bytes through the repo's Zarr store."""
    from zarr.core.buffer import cpu

    repo.store.set_sync(key, cpu.Buffer.from_bytes(data))


def read(repo, key: str) -> bytes | None:
    b = repo.store.get_sync(key)
    return None if b is None else b.to_bytes()
