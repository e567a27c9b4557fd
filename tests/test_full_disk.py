"""A full disk, for real: a small tmpfs filled so that the k-th write of a commit runs out
of space, for every k. The commit reports exactly what happened (it raises and the branch
did not move, or it returns an id a fresh reader sees), leaves no temp file behind, and
the session commits once space is freed (issue: trustworthy storage).

Mounting needs root; where the mount is refused the test is skipped with the reason. The
same sweep runs everywhere with injected faults in ``rust/zarrlake-core/tests/integration/faults.rs``.
"""

from __future__ import annotations

import errno
import os
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import zarr
import zarrlake

NAME = "org/full"
PAGE = 4096


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=True)


def _fill_leaving(mnt: Path, pages: int) -> Path:
    """Fills the disk, then frees `pages` pages of it."""
    filler = mnt / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, bytes(64 * 1024))
    except OSError as e:
        assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)
    os.truncate(filler, max(0, filler.stat().st_size - pages * PAGE))
    return filler


def _tip(root: Path) -> str:
    return zarrlake.Client(root).get_repo(NAME).commit_log()[0].id


def test_commit_on_a_full_disk_is_reported_as_it_happened(small_disk):
    outcomes = []
    for free_pages in range(16):
        root = small_disk / f"lake{free_pages}"
        repo = zarrlake.Client(root).create_repo(NAME)
        zarr.create_array(repo.store, name="a", shape=(4 * 1024,), chunks=(1024,), dtype="f8", compressors=None)
        repo.commit("base")
        before = _tip(root)
        zarr.open_array(repo.store, path="a", mode="a")[:] = np.arange(4 * 1024)  # acknowledged writes
        filler = _fill_leaving(small_disk, free_pages)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                cid = repo.commit("on a full disk")
            except zarrlake.ZarrlakeError as e:
                cid, error = None, e
        filler.unlink()
        if cid is None:
            assert isinstance(error, zarrlake.StorageError), repr(error)
            assert _tip(root) == before, f"{free_pages} pages: commit raised {error!r} but the branch moved"
            cid = repo.commit("after freeing space")
            outcomes.append("raised")
        else:
            outcomes.append("landed, warned" if caught else "landed")
        assert _tip(root) == cid, f"{free_pages} pages: commit {cid} is not what a fresh reader sees"
        values = zarr.open_array(zarrlake.Client(root).get_repo(NAME).store, path="a", mode="r")[:]
        np.testing.assert_array_equal(values, np.arange(4 * 1024))
        assert not any((root / NAME / ".tmp").glob("*")), f"{free_pages} pages: temp files left"
    print("outcomes by free pages:", outcomes)
    # Space ran out before the branch moved, after it, and not at all.
    assert {"raised", "landed"} <= set(outcomes), outcomes
