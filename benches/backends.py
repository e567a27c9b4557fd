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
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class Backend:
    name: str
    label: str
    #: has a commit step (LocalStore has none; its "commit" is a no-op)
    commits: bool
    #: the backend whose data this one reads ("icechunk-tuned" reads the "icechunk" repo)
    writer: str

    # ---- creation and writing -------------------------------------------------------------
    def warm(self) -> None:
        """Import the backend's library (imports are timed separately, in workload 9)."""
        import zarr  # noqa: F401

        if self.name == "zarrlake":
            import zarrlake  # noqa: F401
        elif self.name.startswith("icechunk"):
            import icechunk  # noqa: F401

    def create(self, path: Path) -> Handle:
        """A new, empty, writable repo (or directory store) at ``path``."""
        path = Path(path)
        if self.name == "zarrlake":
            import zarrlake

            return Handle(self, path, zarrlake.Client(path).create_repo(REPO_NAME))
        if self.name == "localstore":
            from zarr.storage import LocalStore

            path.mkdir(parents=True, exist_ok=True)
            return Handle(self, path, LocalStore(str(path)))
        import icechunk

        repo = icechunk.Repository.create(_ic_storage(path), config=_ic_config(self.name))
        return Handle(self, path, repo)

    def open_write(self, path: Path) -> Handle:
        """Reopen an existing repo for writing on ``main``."""
        path = Path(path)
        if self.name == "zarrlake":
            import zarrlake

            return Handle(self, path, zarrlake.Client(path).get_repo(REPO_NAME, checkout=True))
        if self.name == "localstore":
            from zarr.storage import LocalStore

            return Handle(self, path, LocalStore(str(path)))
        import icechunk

        repo = icechunk.Repository.open(_ic_storage(path), config=_ic_config(self.name))
        return Handle(self, path, repo)

    # ---- reading ---------------------------------------------------------------------------
    def open_repo_read(self, path: Path) -> Any:
        """The repo object checked out read-only at ``main`` (the store for LocalStore)."""
        path = Path(path)
        if self.name == "zarrlake":
            import zarrlake

            return zarrlake.Client(path).get_repo(REPO_NAME, checkout=True, read_only=True)
        if self.name == "localstore":
            from zarr.storage import LocalStore

            return LocalStore(str(path), read_only=True)
        import icechunk

        repo = icechunk.Repository.open(_ic_storage(path), config=_ic_config(self.name))
        return repo.readonly_session(branch="main")

    def open_read(self, path: Path) -> Any:
        """A fresh read-only zarr store at the tip of ``main``: repo, checkout, store."""
        obj = self.open_repo_read(path)
        return obj if self.name == "localstore" else obj.store


class Handle:
    """A writable repo plus the store of its current session."""

    def __init__(self, backend: Backend, path: Path, obj: Any) -> None:
        self.backend = backend
        self.path = path
        self.obj = obj
        is_icechunk = backend.name.startswith("icechunk")
        self._session = obj.writable_session("main") if is_icechunk else None

    @property
    def store(self) -> Any:
        """The store of the current writable session (it changes after each commit)."""
        if self.backend.name == "zarrlake":
            return self.obj.store
        if self.backend.name == "localstore":
            return self.obj
        return self._session.store

    def commit(self, message: str = "bench") -> None:
        name = self.backend.name
        if name == "zarrlake":
            self.obj.commit(message)
        elif name.startswith("icechunk"):
            self._session.commit(message)
            self._session = self.obj.writable_session("main")
        # LocalStore: nothing to commit; writes are already final.


def _ic_storage(path: Path) -> Any:
    import icechunk

    return icechunk.local_filesystem_storage(str(path))


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
    )
}

ALL = list(BACKENDS)
WRITERS = ["zarrlake", "localstore", "icechunk"]
