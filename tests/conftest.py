from __future__ import annotations

import itertools
import warnings

import pytest
import zarrlake

_counter = itertools.count()


#: Every backend a repo can live on. Suites that can run on more than one take ``client``
#: (or ``any_client``), which is parametrized over all of them; suites about local files
#: take ``local_client``.
BACKENDS = ("local", "memory", "s3")
S3_BUCKET = "zarrlake-tests"
AUTHOR = zarrlake.Author("Ada", "ada@example.org")


@pytest.fixture(scope="session")
def moto_s3():
    """One moto S3 server on 127.0.0.1 for the whole run, started on first use, in a
    process of its own (so it does not share the GIL with the tests)."""
    from s3kit import MotoS3

    with MotoS3(process=True) as server:
        server.create_bucket(S3_BUCKET)
        yield server


def s3_options(server) -> dict[str, str]:
    """Explicit options, so that tests which point ``AWS_*`` elsewhere do not move repos."""
    return {
        "endpoint": server.endpoint,
        "allow_http": "true",
        "access_key_id": "testing",
        "secret_access_key": "testing",
        "region": "us-east-1",
    }


def make_client(request, backend: str, tmp_path, **kwargs) -> zarrlake.Client:
    """A client with a fresh root on ``backend``."""
    kwargs.setdefault("author", AUTHOR)
    n = next(_counter)
    if backend == "local":
        return zarrlake.Client(tmp_path / f"lake{n}", **kwargs)
    if backend == "memory":
        return zarrlake.Client(f"memory://test-{n}", **kwargs)
    server = request.getfixturevalue("moto_s3")
    server.create_bucket(S3_BUCKET)  # again: moto's state is per process, and a test may reset it
    return zarrlake.Client(f"s3://{S3_BUCKET}/t{n}", storage_options=s3_options(server), **kwargs)


def fresh_client(client: zarrlake.Client) -> zarrlake.Client:
    """Another client on the same root, with the same explicit options."""
    return zarrlake.Client(client.root, author=client.author, storage_options=client._open.storage_options)


def object_keys(repo, below: str = "") -> list[str]:
    """The keys of the repo's objects under ``below`` (relative to it), sorted, on any backend."""
    prefix = below.strip("/")
    keys = repo._core.native.object_keys(prefix)
    return [k.removeprefix(prefix).lstrip("/") for k in keys]


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def client(request, backend, tmp_path) -> zarrlake.Client:
    return make_client(request, backend, tmp_path)


@pytest.fixture(params=[b for b in BACKENDS if b != "memory"])
def shared_client(request, tmp_path) -> zarrlake.Client:
    """A client on a backend that other processes can open too (memory:// is per process)."""
    return make_client(request, request.param, tmp_path)


@pytest.fixture
def any_client(client) -> zarrlake.Client:
    return client


@pytest.fixture
def local_client(tmp_path) -> zarrlake.Client:
    return zarrlake.Client(tmp_path / "lake", author=AUTHOR)


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
