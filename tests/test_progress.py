"""Progress bars: shown on a terminal for long work, quiet elsewhere, never in the way."""

from __future__ import annotations

import datetime

import numpy as np
import pytest
import zarr
import zarrlake
from zarrlake import _progress
from zarrlake._progress import ProgressBar


@pytest.fixture
def terminal(monkeypatch):
    """Pretend stderr is a terminal."""
    monkeypatch.setattr(_progress, "_interactive", lambda: True)


def test_quiet_when_not_on_a_terminal():
    # pytest captures stderr, so this is not a terminal: the bar never starts.
    bar = ProgressBar("work")
    assert not bar.enabled
    bar(10, 100_000)
    assert bar._progress is None


def test_progress_false_turns_it_off(terminal):
    bar = ProgressBar("work", enabled=False)
    bar(10, 100_000)
    assert bar._progress is None


def test_shown_only_for_big_work_and_closed_after(terminal):
    with ProgressBar("small") as bar:
        bar(1, 10)
        assert bar._progress is None
    with ProgressBar("big") as bar:
        bar(1, 5000)
        assert bar._progress is not None
        bar.phase("deleting chunks", 2, 5000)
        assert "deleting chunks" in bar._progress.tasks[0].description
        assert bar._progress.tasks[0].completed == 2
    assert bar._progress is None


def test_a_failing_display_does_not_stop_the_work(terminal, monkeypatch):
    import rich.progress

    def broken(*a, **k):
        raise RuntimeError("no display")

    monkeypatch.setattr(rich.progress.Progress, "start", broken)
    bar = ProgressBar("work")
    bar(1, 5000)  # must not raise
    assert not bar.enabled
    bar.close()


def test_garbage_collection_reports_its_phases(repo, terminal, monkeypatch):
    seen: list[tuple[str, int, int]] = []
    original = ProgressBar.phase

    def record(self, name, done, total):
        seen.append((name, done, total))
        original(self, name, done, total)

    monkeypatch.setattr(ProgressBar, "phase", record)
    # 1 KiB chunks: objects of their own, not inline
    arr = zarr.create_array(repo.store, name="a", shape=(40, 128), chunks=(1, 128), dtype="f8", compressors=None)
    arr[:] = np.arange(40 * 128, dtype="f8").reshape(40, 128)
    first = repo.commit("first")
    arr = zarr.open_array(repo.store, path="a")
    arr[:] = -1.0 - np.arange(40 * 128, dtype="f8").reshape(40, 128)  # 40 new chunks
    repo.commit("second")
    repo.reset_branch("main", first)  # nothing reaches them now
    repo.checkout("main")
    report = repo.garbage_collect(older_than=datetime.timedelta(0))
    assert report.deleted["chunks"][0] == 40
    phases = {name for name, _, _ in seen}
    assert {"reading manifests", "deleting chunks"} <= phases, seen
    last = [(d, t) for name, d, t in seen if name == "deleting chunks"][-1]
    assert last == (40, 40)
    # and progress=False asks for no bar at all
    seen.clear()
    repo.garbage_collect(older_than=datetime.timedelta(0), progress=False)
    assert all(name != "deleting chunks" for name, _, _ in seen)


def test_delete_repo_takes_progress(client, terminal):
    repo = client.create_repo("org/doomed")
    repo.store  # noqa: B018  (a session exists)
    client.delete_repo("org/doomed", imsure=True, imreallysure=True, progress=False)
    with pytest.raises(zarrlake.RepoNotFoundError):
        client.get_repo("org/doomed")


def test_a_big_commit_shows_progress_and_a_small_one_does_not(repo, terminal, monkeypatch):
    from zarrlake import _core

    seen: list[tuple[int, int]] = []
    original = ProgressBar.__call__

    def record(self, done, total):
        seen.append((done, total))
        original(self, done, total)

    monkeypatch.setattr(ProgressBar, "__call__", record)
    monkeypatch.setattr(_core, "COMMIT_PROGRESS_REFS", 500)  # "big" for the test's sake
    arr = zarr.create_array(repo.store, name="a", shape=(2000,), chunks=(1,), dtype="i4", fill_value=0)
    arr[:] = np.arange(1, 2001, dtype="i4")
    repo.commit("2,000 chunks")
    assert seen and seen[-1] == (2000, 2000), seen[-3:]
    seen.clear()
    arr = zarr.open_array(repo.store, path="a")
    arr[:5] = -1
    repo.commit("five chunks", progress=False)
    assert seen == []
