"""zarrlake: a version-controlled data lake for Zarr arrays.

>>> import zarrlake
>>> repo = zarrlake.Client("/tmp/lake").get_or_create_repo("org/demo")
"""

from __future__ import annotations

import atexit
import os

from ._native import __version__, _note_fork, _shutdown
from .client import AsyncClient, Client
from .errors import (
    CommitFailedError,
    ConflictError,
    CorruptObjectError,
    InvalidInputError,
    InvalidNameError,
    NoSessionError,
    NotOnBranchError,
    ReadOnlyError,
    RefExistsError,
    RefNotFoundError,
    RepoExistsError,
    RepoNotFoundError,
    SessionExpiredError,
    SessionNotFoundError,
    SourceChangedError,
    StorageError,
    UnsupportedStorageError,
    VirtualAccessError,
    ZarrlakeError,
)
from .repo import AsyncRepo, Repo
from .tree import TreeView
from .types import (
    Author,
    Branch,
    Chunkstore,
    Commit,
    CommitData,
    CommitLog,
    LocalReadSession,
    LocalSession,
    LocalWriteSession,
    MetastoreDatabase,
    SessionInfo,
    SessionStatus,
    Tag,
)

# Before the interpreter finalizes, stop the runtime threads that complete store futures:
# one still running then would touch freed Python objects and crash the process.
atexit.register(_shutdown)
# A private session that lives through a fork may have a child writing to it.
os.register_at_fork(after_in_parent=_note_fork)

__all__ = [
    "AsyncClient",
    "AsyncRepo",
    "Author",
    "Branch",
    "Chunkstore",
    "Client",
    "Commit",
    "CommitData",
    "CommitFailedError",
    "CommitLog",
    "ConflictError",
    "CorruptObjectError",
    "InvalidInputError",
    "InvalidNameError",
    "LocalReadSession",
    "LocalSession",
    "LocalWriteSession",
    "MetastoreDatabase",
    "NoSessionError",
    "NotOnBranchError",
    "ReadOnlyError",
    "RefExistsError",
    "RefNotFoundError",
    "Repo",
    "RepoExistsError",
    "RepoNotFoundError",
    "SessionExpiredError",
    "SessionInfo",
    "SessionNotFoundError",
    "SessionStatus",
    "SourceChangedError",
    "StorageError",
    "UnsupportedStorageError",
    "Tag",
    "TreeView",
    "VirtualAccessError",
    "ZarrlakeError",
    "__version__",
]
