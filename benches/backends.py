"""Backend adapters: how each system under test creates, commits and reopens a store.

Every workload talks to a backend only through this module, so each one gets the same zarr
calls and only the create/commit/open steps differ.

Backends:
    zarrlake        a zarrlake repo in a local directory (``zarrlake.Client(dir)``)
    localstore      zarr's ``LocalStore``: same codec pipeline, no versioning (the floor)
    icechunk        Icechunk on ``local_filesystem_storage`` with its defaults
    icechunk-tuned  the same Icechunk repo opened with a larger local read request size
                    (``StorageConcurrencySettings.ideal_concurrent_request_size``); it only
                    changes reads, so it reads what the ``icechunk`` backend wrote
    zarrlake-s3     a zarrlake repo on S3 (``zarrlake.Client("s3://bucket/prefix",
                    storage_options=...)``), on the local moto server of ``s3env.py``
    icechunk-s3     Icechunk on ``s3_storage(...)`` on that server, with its defaults

The native-engine section (bench_native.py) adds:
    zarrlake-native   the zarrlake repo, its arrays created and opened with zarrlake's native
                      codec pipeline (``codec_pipeline.path``) in force
    localstore-zarrs  ``LocalStore`` with the ``zarrs`` package's codec pipeline, in strict mode
                      (an array it cannot take fails instead of falling back to zarr-python)
    tensorstore       TensorStore's ``zarr3`` driver on a local directory: no zarr store, so it
                      has its own two functions here (``tensorstore_open``)

For the two S3 backends the ``path`` argument is a key prefix (a string such as
``"zarrlake-s3/w1/r0"``) in the benchmark bucket, not a directory; each backend's prefixes
start with its own name.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Icechunk warns on every local repository that local filesystems are unsafe for concurrent
# commits. That is true and known; keep it out of the benchmark output.
os.environ.setdefault("ICECHUNK_LOG", "error")

REPO_NAME = "bench/repo"

#: local read request size for "icechunk-tuned" (its local default is 4 KiB with at most 5
#: concurrent requests per object, so a 1 MiB chunk becomes several ranged reads).
TUNED_REQUEST_SIZE = 16 * 1024 * 1024

NATIVE_PIPELINE = "zarrlake.codec_pipeline.ZarrlakeCodecPipeline"
ZARRS_PIPELINE = "zarrs.ZarrsCodecPipeline"


@dataclass(frozen=True)
class Backend:
    name: str
    label: str
    #: has a commit step (LocalStore has none; its "commit" is a no-op)
    commits: bool
    #: the backend whose data this one reads ("icechunk-tuned" reads the "icechunk" repo)
    writer: str
    #: the repo lives on S3 (``path`` is a key prefix in the benchmark bucket)
    s3: bool = False
    #: zarr config its arrays are created and opened under (a codec pipeline), as (key, value)
    config: tuple[tuple[str, Any], ...] = ()

    @property
    def is_zarrlake(self) -> bool:
        return self.name.startswith("zarrlake")

    @property
    def is_icechunk(self) -> bool:
        return self.name.startswith("icechunk")

    @property
    def is_localstore(self) -> bool:
        return self.name.startswith("localstore")

    @property
    def is_tensorstore(self) -> bool:
        return self.name == "tensorstore"

    @property
    def pipeline(self) -> str:
        """The codec pipeline's class name its zarr arrays must get."""
        return dict(self.config).get("codec_pipeline.path", "BatchedCodecPipeline").rsplit(".", 1)[-1]

    def configured(self) -> Any:
        """A context manager with this backend's zarr config in force (none: a no-op)."""
        import contextlib

        import zarr

        return zarr.config.set(dict(self.config)) if self.config else contextlib.nullcontext()

    # ---- creation and writing -------------------------------------------------------------
    def warm(self) -> None:
        """Import the backend's library (imports are timed separately, in workload 9)."""
        import zarr  # noqa: F401

        if self.is_zarrlake:
            import zarrlake  # noqa: F401
        elif self.is_icechunk:
            import icechunk  # noqa: F401
        elif self.is_tensorstore:
            import tensorstore  # noqa: F401
        path = dict(self.config).get("codec_pipeline.path")
        if path:
            importlib.import_module(path.rsplit(".", 1)[0])

    def create(self, path: Path) -> Handle:
        """A new, empty, writable repo (or directory store) at ``path``."""
        if self.s3:
            return self._s3_create(str(path))
        path = Path(path)
        if self.is_zarrlake:
            import zarrlake

            return Handle(self, path, zarrlake.Client(path).create_repo(REPO_NAME))
        if self.is_localstore:
            from zarr.storage import LocalStore

            path.mkdir(parents=True, exist_ok=True)
            return Handle(self, path, LocalStore(str(path)))
        import icechunk

        repo = icechunk.Repository.create(_ic_storage(path), config=_ic_config(self.name))
        return Handle(self, path, repo)

    def open_write(self, path: Path) -> Handle:
        """Reopen an existing repo for writing on ``main``."""
        if self.s3:
            return self._s3_open_write(str(path))
        path = Path(path)
        if self.is_zarrlake:
            import zarrlake

            return Handle(self, path, zarrlake.Client(path).get_repo(REPO_NAME, checkout=True))
        if self.is_localstore:
            from zarr.storage import LocalStore

            return Handle(self, path, LocalStore(str(path)))
        import icechunk

        repo = icechunk.Repository.open(_ic_storage(path), config=_ic_config(self.name))
        return Handle(self, path, repo)

    # ---- reading ---------------------------------------------------------------------------
    def open_repo_read(self, path: Path) -> Any:
        """The repo object checked out read-only at ``main`` (the store for LocalStore)."""
        if self.s3:
            return self._s3_open_repo_read(str(path))
        path = Path(path)
        if self.is_zarrlake:
            import zarrlake

            return zarrlake.Client(path).get_repo(REPO_NAME, checkout=True, read_only=True)
        if self.is_localstore:
            from zarr.storage import LocalStore

            return LocalStore(str(path), read_only=True)
        import icechunk

        repo = icechunk.Repository.open(_ic_storage(path), config=_ic_config(self.name))
        return repo.readonly_session(branch="main")

    def open_read(self, path: Path) -> Any:
        """A fresh read-only zarr store at the tip of ``main``: repo, checkout, store."""
        obj = self.open_repo_read(path)
        return obj if self.is_localstore else obj.store

    # ---- S3 ----------------------------------------------------------------------------------
    def _s3_create(self, prefix: str) -> Handle:
        if self.is_zarrlake:
            return Handle(self, prefix, _zl_s3_client(prefix).create_repo(REPO_NAME))
        import icechunk

        return Handle(self, prefix, icechunk.Repository.create(_ic_s3_storage(prefix)))

    def _s3_open_write(self, prefix: str) -> Handle:
        if self.is_zarrlake:
            return Handle(self, prefix, _zl_s3_client(prefix).get_repo(REPO_NAME, checkout=True))
        import icechunk

        return Handle(self, prefix, icechunk.Repository.open(_ic_s3_storage(prefix)))

    def _s3_open_repo_read(self, prefix: str) -> Any:
        if self.is_zarrlake:
            return _zl_s3_client(prefix).get_repo(REPO_NAME, checkout=True, read_only=True)
        import icechunk

        return icechunk.Repository.open(_ic_s3_storage(prefix)).readonly_session(branch="main")


class Handle:
    """A writable repo plus the store of its current session."""

    def __init__(self, backend: Backend, path: Path, obj: Any) -> None:
        self.backend = backend
        self.path = path
        self.obj = obj
        self._session = obj.writable_session("main") if backend.is_icechunk else None

    @property
    def store(self) -> Any:
        """The store of the current writable session (it changes after each commit)."""
        if self.backend.is_zarrlake:
            return self.obj.store
        if self.backend.is_localstore:
            return self.obj
        return self._session.store

    def commit(self, message: str = "bench") -> None:
        self.commit_only(message)
        self.next_session()

    def commit_only(self, message: str = "bench") -> str | None:
        """Exactly the backend's commit call: ``repo.commit`` (zarrlake, which also starts the
        next session itself) or ``session.commit`` (Icechunk, whose next writable session is
        ``next_session``). Returns the new commit's (snapshot's) id."""
        if self.backend.is_zarrlake:
            return str(self.obj.commit(message))
        if self.backend.is_icechunk:
            return self._session.commit(message)
        return None  # LocalStore: nothing to commit; writes are already final.

    # ---- history maintenance (workload 10) -------------------------------------------------
    def garbage_collect(self) -> Any:
        """Delete everything unreachable, with no grace period. zarrlake: ``garbage_collect``
        with its defaults otherwise (incremental when it can be); Icechunk:
        ``garbage_collect(delete_object_older_than=now)`` with its defaults otherwise."""
        import datetime

        if self.backend.is_zarrlake:
            return self.obj.garbage_collect(older_than=datetime.timedelta(0))
        return self.obj.garbage_collect(datetime.datetime.now(datetime.UTC))

    def garbage_collect_full(self) -> Any:
        """zarrlake's run over every object (``full=True``): what its first run costs."""
        import datetime

        return self.obj.garbage_collect(older_than=datetime.timedelta(0), full=True)

    def diff(self, from_commit: str) -> Any:
        """What changed from ``from_commit`` to the tip of ``main``, chunk keys included (Icechunk's
        diff always lists them)."""
        if self.backend.is_zarrlake:
            return self.obj.diff(from_commit, "main", chunk_keys=True)
        return self.obj.diff(from_snapshot_id=from_commit, to_branch="main")

    def next_session(self) -> None:
        """Icechunk: open the next writable session on ``main`` (zarrlake's commit did)."""
        if self.backend.is_icechunk:
            self._session = self.obj.writable_session("main")

    @property
    def counter(self) -> Any:
        """The object whose ``request_counts()`` counts this handle's requests (zarrlake), or None."""
        return self.obj if self.backend.is_zarrlake else None


#: TensorStore's file kvstore fsyncs every chunk it writes by default; no other backend fsyncs,
#: so it is turned off here and TensorStore, like the others, writes into the page cache.
TENSORSTORE_CONTEXT = {"file_io_sync": False}


def tensorstore_open(path: Path, metadata: dict[str, Any] | None = None) -> Any:
    """TensorStore's zarr3 driver on the array directory ``path``: created with ``metadata``
    (a zarr.json document), or, without it, opened read-only. Other settings at its defaults."""
    import tensorstore as ts

    spec: dict[str, Any] = {
        "driver": "zarr3",
        "kvstore": {"driver": "file", "path": str(path)},
        "context": TENSORSTORE_CONTEXT,
    }
    if metadata is None:
        return ts.open(spec, open=True, read=True).result()
    return ts.open({**spec, "metadata": metadata}, create=True).result()


def _ic_storage(path: Path) -> Any:
    import icechunk

    return icechunk.local_filesystem_storage(str(path))


def _zl_s3_client(prefix: str) -> Any:
    import s3env
    import zarrlake

    options = {
        "endpoint": s3env.endpoint(),
        "allow_http": "true",
        "access_key_id": s3env.KEY,
        "secret_access_key": s3env.KEY,
        "region": s3env.REGION,
    }
    return zarrlake.Client(f"s3://{s3env.bucket()}/{prefix}", storage_options=options)


def _ic_s3_storage(prefix: str) -> Any:
    import icechunk
    import s3env

    return icechunk.s3_storage(
        bucket=s3env.bucket(),
        prefix=prefix,
        endpoint_url=s3env.endpoint(),
        allow_http=True,
        region=s3env.REGION,
        access_key_id=s3env.KEY,
        secret_access_key=s3env.KEY,
        force_path_style=True,
    )


def icechunk_s3_settings_description() -> str:
    """Icechunk's S3 storage settings as the library reports its defaults (all left as is)."""
    import icechunk

    storage = icechunk.s3_storage(
        bucket="b", prefix="p", endpoint_url="http://127.0.0.1:9", allow_http=True, region="us-east-1"
    )
    return " ".join(str(storage.default_settings()).split())


def _ic_config(name: str) -> Any:
    """None (all defaults) for "icechunk"; a raised read request size for "icechunk-tuned"."""
    if name != "icechunk-tuned":
        return None
    import icechunk

    settings = icechunk.StorageSettings(
        concurrency=icechunk.StorageConcurrencySettings(
            ideal_concurrent_request_size=TUNED_REQUEST_SIZE,
        )
    )
    return icechunk.RepositoryConfig(storage=settings)


def icechunk_settings_description() -> dict[str, Any]:
    """What the two Icechunk columns were configured with (read back from the library)."""
    import tempfile

    import icechunk

    with tempfile.TemporaryDirectory() as d:
        local = icechunk.local_filesystem_storage(d).default_settings()
    conc = local.concurrency
    return {
        "icechunk": {
            "config": "RepositoryConfig defaults",
            "local_ideal_concurrent_request_size": conc.ideal_concurrent_request_size,
            "local_max_concurrent_requests_for_object": conc.max_concurrent_requests_for_object,
        },
        "icechunk-tuned": {
            "config": "RepositoryConfig(storage=StorageSettings(concurrency="
            "StorageConcurrencySettings(ideal_concurrent_request_size=...)))",
            "ideal_concurrent_request_size": TUNED_REQUEST_SIZE,
        },
    }


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend("zarrlake", "zarrlake", True, "zarrlake"),
        Backend("localstore", "LocalStore", False, "localstore"),
        Backend("icechunk", "Icechunk", True, "icechunk"),
        Backend("icechunk-tuned", "Icechunk+rd", True, "icechunk"),
        Backend("zarrlake-s3", "zarrlake", True, "zarrlake-s3", s3=True),
        Backend("icechunk-s3", "Icechunk", True, "icechunk-s3", s3=True),
        Backend(
            "zarrlake-native",
            "zarrlake-native",
            True,
            "zarrlake-native",
            config=(("codec_pipeline.path", NATIVE_PIPELINE),),
        ),
        Backend(
            "localstore-zarrs",
            "LocalStore+zarrs",
            False,
            "localstore-zarrs",
            config=(("codec_pipeline.path", ZARRS_PIPELINE), ("codec_pipeline.strict", True)),
        ),
        Backend("tensorstore", "TensorStore", False, "tensorstore"),
    )
}

#: the local-disk backends (the columns of the main table)
ALL = ["zarrlake", "localstore", "icechunk", "icechunk-tuned"]
WRITERS = ["zarrlake", "localstore", "icechunk"]
#: the S3 backends (the columns of the S3 section)
S3 = ["zarrlake-s3", "icechunk-s3"]
#: the native-engine section's backends (bench_native.py)
NATIVE = ["zarrlake-native", "zarrlake", "localstore", "localstore-zarrs", "tensorstore", "icechunk"]
