"""Many processes committing to one local repo; a committer killed mid-commit."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import zarr
import zarrlake

PROCS = 4
COMMITS = 25


def _committer(root: str, worker: int) -> None:
    repo = zarrlake.Client(root).get_repo("org/conc")
    for i in range(COMMITS):
        arr = zarr.open_array(repo.store, path=f"w{worker}", mode="a")
        arr[i] = worker * 1000 + i
        repo.commit(f"worker {worker} commit {i}")


@pytest.mark.slow
def test_concurrent_committers_lose_nothing(tmp_path):
    root = str(tmp_path / "lake")
    repo = zarrlake.Client(root).create_repo("org/conc")
    for w in range(PROCS):
        zarr.create_array(repo.store, name=f"w{w}", shape=(COMMITS,), chunks=(1,), dtype="i4", fill_value=-1)
    repo.commit("arrays")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_committer, args=(root, w)) for w in range(PROCS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
        assert p.exitcode == 0
    repo.checkout("main")
    assert len(repo.commit_log()) == PROCS * COMMITS + 1
    for w in range(PROCS):
        values = zarr.open_array(repo.store, path=f"w{w}", mode="r")[:]
        assert (values == np.arange(COMMITS) + w * 1000).all(), values


KILLED_COMMITTER = textwrap.dedent(
    """
    import os, sys, zarrlake, zarr, numpy as np
    repo = zarrlake.Client(sys.argv[1]).get_repo("org/kill")
    arr = zarr.open_array(repo.store, path="a", mode="a")
    arr[:] = np.full(arr.shape, 7, dtype=arr.dtype)
    print("ready", flush=True)
    sys.stdin.readline()
    while True:
        arr[:] = np.random.randint(0, 100, size=arr.shape).astype(arr.dtype)
        repo.commit("churn")
    """
)


@pytest.mark.slow
def test_killed_committer_leaves_repo_readable(tmp_path):
    root = str(tmp_path / "lake")
    repo = zarrlake.Client(root).create_repo("org/kill")
    zarr.create_array(repo.store, name="a", shape=(64, 64), chunks=(8, 8), dtype="i4", fill_value=0)
    repo.commit("base")
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_COMMITTER, root], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "ready"
    proc.stdin.write("go\n")
    proc.stdin.flush()
    time.sleep(1.5)  # let it commit a few times, then kill it mid-way
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    fresh = zarrlake.Client(root).get_repo("org/kill")
    log = fresh.commit_log()
    assert len(log) >= 2
    arr = zarr.open_array(fresh.store, path="a", mode="a")
    values = arr[:]
    assert values.shape == (64, 64)
    arr[0, 0] = 12345
    cid = fresh.commit("after the crash")
    assert fresh.commit_log()[0].id == cid
    assert zarr.open_array(fresh.store, path="a", mode="r")[0, 0] == 12345
