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


KILL_ROUNDS = 100


def _commit_until_killed(root: str, start: int, out: int) -> None:
    """In a forked child: commit ever larger values, reporting each acknowledged commit."""
    try:
        repo = zarrlake.Client(root).get_repo("org/kill")
        arr = zarr.open_array(repo.store, path="a", mode="a")
        i = start
        while True:
            i += 1
            arr[:] = i
            cid = repo.commit(f"{i}")
            os.write(out, f"{i} {cid}\n".encode())
    finally:
        os._exit(1)


@pytest.mark.slow
# zarrlake's per-process state is fork-safe (docs/design.md), and this process is idle in
# zarrlake whenever it forks; the warning is Python's generic one.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_sigkill_during_commits_loses_no_acknowledged_commit(tmp_path):
    """100 committers SIGKILLed at random points: every commit a committer was told about is
    on ``main`` with its data, the tip is whole (one value in every chunk), and the next
    commit works."""
    import random

    root = str(tmp_path / "lake")
    repo = zarrlake.Client(root).create_repo("org/kill")
    zarr.create_array(repo.store, name="a", shape=(64,), chunks=(8,), dtype="i8", fill_value=0)
    repo.commit("base")
    rng = random.Random(100)
    value, acked_total = 0, 0
    for round_ in range(KILL_ROUNDS):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _commit_until_killed(root, value, write_fd)
        os.close(write_fd)
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        with os.fdopen(read_fd) as pipe:
            acked = [line.split() for line in pipe.read().splitlines()]
        fresh = zarrlake.Client(root).get_repo("org/kill")
        log = {c.id: c.message for c in fresh.commit_log()}
        for i, cid in acked:
            assert log.get(cid) == i, f"round {round_}: acknowledged commit {cid} ({i}) is not on main"
        tip = zarr.open_array(fresh.store, path="a", mode="r")[:]
        assert (tip == tip[0]).all(), f"round {round_}: a torn commit {tip}"
        assert tip[0] >= (int(acked[-1][0]) if acked else value), f"round {round_}: main went back"
        value = int(tip[0]) + 1
        zarr.open_array(fresh.store, path="a", mode="a")[:] = value
        assert fresh.commit(f"{value}") is not None
        acked_total += len(acked)
    print(f"{KILL_ROUNDS} kills, {acked_total} acknowledged commits, all on main")
    assert acked_total > KILL_ROUNDS, "the committers were killed before committing much"
