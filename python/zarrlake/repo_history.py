"""The repo's history and maintenance methods: diff, reset_branch, squash, expire,
garbage_collect and export. Part of ``Repo`` and ``AsyncRepo`` (see ``repo``)."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from .types import CommitID

if TYPE_CHECKING:
    import os

    from zarr.abc.store import Store

    from ._core import RepoCore
    from .diff import Diff
    from .export import ExportResult
    from .maintenance import ExpiryResult, GCReport


class _HistoryMethods:
    """Looking at history, rewriting it, and cleaning up after it."""

    _core: RepoCore

    def diff(self, from_ref: str | CommitID, to_ref: str | CommitID | None = None, chunk_keys: bool = False) -> Diff:
        """What changed from ``from_ref`` to ``to_ref``, or to the current session (its
        uncommitted changes included) when ``to_ref`` is None, grouped by node.

        It reads only the manifests that differ between the two versions, so it costs
        O(changed), however large the repo.

        Args:
            from_ref: a branch, tag or commit id (or unique prefix).
            to_ref: the same, or None for the current session.
            chunk_keys: also list the keys of the chunks added, changed and deleted.

        Returns:
            A ``Diff``: per node, whether it was added, deleted or modified, its metadata
            documents before and after, and counts of chunks added, changed and deleted.

        Raises:
            RefNotFoundError: for an unknown ref.

        Example:
            >>> d = repo.diff("v1", "main")
            >>> d["temperature"].chunks_changed
            12
        """
        return self._core.diff(from_ref, to_ref, chunk_keys)

    def reset_branch(self, branch: str, to: str | CommitID, expected: str | CommitID | None = None) -> None:
        """Point ``branch`` at any commit: older, newer, or on another line.

        Nothing is deleted: commits the branch no longer reaches stay readable by id until
        ``garbage_collect`` removes them. A session of this handle on the branch, with
        nothing uncommitted, moves along to the new tip.

        Args:
            branch: the branch to move.
            to: a branch, tag or commit id to move it to.
            expected: move only if the branch is still at this commit (compare-and-swap).

        Raises:
            RefMovedError: with ``expected``, when the branch is elsewhere; nothing changed.
            RefNotFoundError: for an unknown branch or target.

        Example:
            >>> tip = repo.commit_log("main")[0].id
            >>> repo.reset_branch("main", to="v1", expected=tip)
        """
        self._core.reset_branch(branch, to, expected)

    def squash(self, branch: str, since: str | CommitID, message: str) -> CommitID:
        """Replace the commits after ``since`` on ``branch`` with one commit that has the
        same final state, and return it.

        The branch moves only if nobody moved it meanwhile. Tags keep pointing where they
        did. It refuses while a write session is based on a commit it would replace.

        Args:
            branch: the branch to rewrite.
            since: an ancestor of the branch tip; it becomes the new commit's parent.
            message: the new commit's message.

        Returns:
            The new commit's id.

        Raises:
            RefMovedError: the branch moved while squashing; nothing changed.
            InvalidInputError: ``since`` is not an ancestor of the branch, or a write
                session is based on a replaced commit.

        Example:
            >>> repo.squash("main", since="v1", message="daily ingest, squashed")
        """
        return self._core.squash(branch, since, message)

    def expire(self, older_than: datetime.timedelta | datetime.datetime) -> ExpiryResult:
        """Stop keeping history older than a cutoff.

        Commits made before the cutoff (``older_than`` ago, or at a ``datetime``) stop
        being reachable as history; every branch tip and every tag is kept, with whatever
        history newer than the cutoff leads to it. Commit ids do not change. Run
        ``garbage_collect`` afterwards to reclaim their objects.

        Args:
            older_than: an age (``timedelta``: that long ago) or a time (``datetime``;
                naive means UTC).

        Returns:
            An ``ExpiryResult``: the commits that expired, and those that became the
            oldest of their line.

        Raises:
            InvalidInputError: a cutoff in the future, or a write session based on a
                commit that would expire.

        Example:
            >>> repo.expire(older_than=datetime.timedelta(days=90))
        """
        return self._core.expire(older_than)

    def garbage_collect(
        self,
        older_than: datetime.timedelta = datetime.timedelta(days=1),
        dry_run: bool = False,
        full: bool = False,
        progress: bool = True,
    ) -> GCReport:
        """Delete what no branch, tag or live session can reach.

        That is chunks, manifests, snapshots, commits and change summaries of deleted
        branches, expired history, lost commit races and abandoned sessions, and the
        records of sessions that ended. Nothing written less than ``older_than`` ago is
        deleted, so work in flight is never harmed.

        A run builds on the previous one: it reads only what changed since (new commits,
        the sessions that ended), unless history was dropped since (a deleted branch,
        ``reset_branch``, ``squash``, ``expire``), which makes it read everything once.

        Args:
            older_than: the grace period.
            dry_run: delete nothing; report what would be deleted.
            full: read everything even when an incremental run would do; this also
                reclaims chunks a crashed writer stored without recording them.
            progress: show a progress bar on a terminal while manifests are read and
                objects deleted.

        Returns:
            A ``GCReport`` with objects and bytes per kind.

        Raises:
            InvalidInputError: a negative ``older_than``.
            TypeError: ``older_than`` is not a ``timedelta``.

        Example:
            >>> repo.garbage_collect(dry_run=True)
        """
        return self._core.garbage_collect(older_than, dry_run, full, progress)

    def export(
        self,
        target: Store | str | os.PathLike[str],
        ref: str | CommitID | None = None,
        zarr_format: int | None = None,
        progress: bool = True,
        overwrite: bool = False,
    ) -> ExportResult:
        """Write a version's groups and arrays to any Zarr store as plain Zarr, which any
        Zarr reader (zarr-python, xarray, ...) opens without zarrlake.

        Metadata and attributes are kept, and chunks are copied as stored, never decoded
        or re-encoded; virtual chunks are fetched from their source. It reads through a
        read-only session of its own: the current session and ``store`` are unchanged.

        An array's metadata is written after its chunks, and the root group last, so an
        interrupted export never looks complete. Running it again resumes: chunks
        already in the target with the same size are skipped. Sizes are all it checks,
        so resume the export of a commit or tag (``ExportResult.commit`` names the one
        exported), not of a branch that moved since.

        Args:
            target: a Zarr store, a local directory (created if missing), or a URL that
                fsspec opens (``s3://bucket/era.zarr``; the filesystem's package must be
                installed, with credentials in its usual places).
            ref: a branch, tag or commit id (or unique prefix); None for the current
                session, uncommitted changes included.
            zarr_format: 2 or 3 to write every node in that format, converting the
                others: their metadata documents are translated and their chunk keys
                renamed, and their chunks are still copied as stored. None keeps each
                node's own format and every key as it is.
            progress: show a progress bar on a terminal while chunks are copied.
            overwrite: delete everything in the target first. Without it the target
                must be empty or hold an earlier export of the same version and format.

        Returns:
            An ``ExportResult``: arrays and groups written, chunks copied and skipped,
            bytes copied, and the commit exported.

        Raises:
            InvalidInputError: a node that ``zarr_format`` cannot hold with the same
                chunk bytes (sharding or other codecs to v2, filters to v3, ...), a target
                holding other data, or a target that cannot be opened; nothing written.
            RefNotFoundError: for an unknown ref.

        Example:
            >>> repo.export("/data/era5-v1.zarr", ref="v1")
            >>> xr.open_zarr("/data/era5-v1.zarr", consolidated=False)
            >>> repo.export("/data/era5-v1-v2.zarr", ref="v1", zarr_format=2)
        """
        from .export import export

        return export(self._core, target, ref, zarr_format, progress, overwrite)
