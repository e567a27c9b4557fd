"""Garbage collection under fire: a collector killed with SIGKILL at random points, and
one running while writers write and commit. The repo must read fully afterwards, and no
acknowledged write or commit may be lost."""

from __future__ import annotations

import datetime
import random
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import zarr
from conftest import fresh_client, object_keys, quiet

#: Run in a child: collect everything unreachable, as fast as it can.
COLLECT = textwrap.dedent(
    """
    import datetime, json, sys, zarrlake
    root, options = sys.argv[1], json.loads(sys.argv[2])
    repo = zarrlake.Client(root, storage_options=options or None).get_repo("org/gc", checkout=False)
    print("start", flush=True)
    repo.garbage_collect(older_than=datetime.timedelta(0))
    print("done", flush=True)
    """
)


def _options(client) -> str:
    import json

    return json.dumps(client._open.storage_options or {})


#: Elements per chunk: 2 KiB chunks, stored as objects of their own (not inline).
CHUNK = 256


def _garbage(repo, arrays: int, chunks: int) -> None:
    """A side branch of ``arrays`` arrays, then deleted: all of it garbage."""
    repo.new_branch("side")
    for i in range(arrays):
        a = zarr.create_array(
            repo.store, name=f"side{i}", shape=(chunks * CHUNK,), chunks=(CHUNK,), dtype="f8", compressors=None
        )
        a[:] = np.random.default_rng(i).random(chunks * CHUNK)
    quiet(repo.commit, "side")
    quiet(repo.checkout, "main")
    repo.delete_branch("side")


def _check_reads(client, expected: dict[str, np.ndarray]) -> None:
    repo = fresh_client(client).get_repo("org/gc")
    for name, want in expected.items():
        np.testing.assert_array_equal(zarr.open_array(repo.store, path=name, mode="r")[:], want)


def test_a_collector_killed_at_random_points_leaves_a_repo_that_reads(shared_client):
    repo = shared_client.create_repo("org/gc")
    expected = {}
    for i in range(2):
        a = zarr.create_array(
            repo.store, name=f"keep{i}", shape=(200 * CHUNK,), chunks=(CHUNK,), dtype="f8", compressors=None
        )
        expected[f"keep{i}"] = np.arange(200 * CHUNK) * (i + 1.0)
        a[:] = expected[f"keep{i}"]
        quiet(repo.commit, f"keep {i}")
    _garbage(repo, arrays=3, chunks=300)
    time.sleep(0.01)
    kills = 0
    # From right after the start (marking) to well into the deletes; random jitter on top.
    rng = random.Random(7)
    for delay in (0.0, 0.02, 0.05, 0.1, 0.2):
        child = subprocess.Popen(
            [sys.executable, "-c", COLLECT, str(shared_client.root), _options(shared_client)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "start"
        time.sleep(delay + rng.uniform(0.0, 0.01))
        child.kill()  # SIGKILL: no cleanup of any kind
        child.wait()
        kills += child.returncode == -9
        _check_reads(shared_client, expected)
    assert kills >= 1, "every collector finished before it could be killed"
    # A run to the end finishes the job: the side branch's chunks are gone.
    repo.garbage_collect(older_than=datetime.timedelta(0))
    assert len(object_keys(repo, "chunks")) == 2 * 200
    assert repo.garbage_collect(older_than=datetime.timedelta(0)).objects == 0
    _check_reads(shared_client, expected)


def test_collection_while_writers_write_and_commit_loses_nothing(client, request):
    if request.node.callspec.params.get("backend") == "s3":
        # Known and open (issue 11): on S3 this has failed 2 runs in 5 with a chunk of an
        # old commit missing afterwards. Reported as xfail, never as a pass.
        request.applymarker(pytest.mark.xfail(reason="intermittent chunk loss under GC on S3 (open)", strict=False))
    """Writers in threads of this process, each with its own repo handle, commit rounds of
    chunks (with auto fast-forward), some rounds abandoned first and rewritten; a collector
    with a 2 s grace period (longer than any write or commit takes here, as the grace period
    must be) runs back to back. Every commit and every acknowledged write reads afterwards."""
    repo = client.create_repo("org/gc")
    shape = (6 * CHUNK,)
    for w in range(3):  # created up front: creating arrays also writes the root group
        zarr.create_array(
            repo.store, name=f"w{w}", shape=shape, chunks=(CHUNK,), dtype="i8", fill_value=-1, compressors=None
        )
    quiet(repo.commit, "arrays")
    grace = datetime.timedelta(seconds=2)
    stop = threading.Event()
    errors: list[BaseException] = []
    reports = []

    def collect() -> None:
        handle = fresh_client(client).get_repo("org/gc", checkout=False)
        while not stop.is_set():
            try:
                reports.append(handle.garbage_collect(older_than=grace))
            except BaseException as e:  # reported by the main thread
                errors.append(e)
                return

    def write(w: int) -> None:
        try:
            handle = fresh_client(client).get_repo("org/gc")
            a = zarr.open_array(handle.store, path=f"w{w}")
            for round_ in range(4):
                data = np.arange(shape[0]) + 100 * round_ + w
                if round_ % 2:  # a draft, abandoned, then the same bytes written again later
                    a[:] = data
                    handle.session.abandon()
                    quiet(handle.checkout, "main")
                    time.sleep(grace.total_seconds() + 0.1)
                    a = zarr.open_array(handle.store, path=f"w{w}")
                a[:] = data
                quiet(handle.commit, f"w{w} round {round_}")
        except BaseException as e:
            errors.append(e)

    collector = threading.Thread(target=collect)
    writers = [threading.Thread(target=write, args=(w,)) for w in range(3)]
    collector.start()
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    collector.join()
    assert not errors, errors
    assert reports, "the collector never finished a run"
    fresh = fresh_client(client).get_repo("org/gc")
    for w in range(3):
        np.testing.assert_array_equal(zarr.open_array(fresh.store, path=f"w{w}")[:], np.arange(shape[0]) + 300 + w)
    # Every commit of main still reads in full.
    for c in fresh.commit_log():
        quiet(fresh.checkout, c.id)
        for _, arr in zarr.open_group(fresh.store, mode="r").arrays():
            assert arr[:].shape == arr.shape


def test_nothing_young_is_deleted(repo):
    zarr.create_array(repo.store, name="a", shape=(4 * CHUNK,), chunks=(CHUNK,), dtype="f8", compressors=None)[:] = 1.5
    repo.session.abandon()
    quiet(repo.checkout)
    report = repo.garbage_collect(older_than=datetime.timedelta(days=1))
    assert report.objects == 0 and report.kept_young >= 1
    assert len(object_keys(repo, "chunks")) == 1  # four equal chunks: one object
