"""Many writers of one session, and concurrent sessions on one branch: what is reported."""

from __future__ import annotations

import warnings

import pytest
import zarrlake
from conftest import put, read


@pytest.fixture
def clients(client) -> zarrlake.Client:
    return client


def test_same_key_from_two_writers_warns(clients):
    repo = clients.create_repo("org/writers")
    put(repo, "a/c/0", b"from coordinator")
    worker = clients.get_repo("org/writers", checkout=False)
    worker.join_session(repo.session.id)
    put(worker, "a/c/0", b"from worker")
    put(worker, "a/c/1", b"distinct")
    with pytest.warns(UserWarning, match=r"1 key\(s\) were written by more than one writer.*a/c/0"):
        cid = repo.commit("two writers")
    assert cid is not None
    assert read(repo, "a/c/0") == b"from worker"  # the later write wins


def test_distinct_chunks_from_many_writers_do_not_warn(clients):
    repo = clients.create_repo("org/writers")
    sid = repo.session.id
    for i in range(3):
        w = clients.get_repo("org/writers", checkout=False)
        w.join_session(sid)
        put(w, f"a/c/{i}", b"x")
        put(w, "a/zarr.json", b"{}")  # the same bytes from everyone lose nothing
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert repo.commit("distinct") is not None


def test_conflict_names_the_commits_and_the_way_out(clients):
    repo = clients.create_repo("org/writers")
    put(repo, "base", b"0")
    repo.commit("base")
    other = clients.get_repo("org/writers")
    put(repo, "k", b"mine")
    put(other, "k", b"theirs")
    put(other, "unrelated", b"x")
    theirs = other.commit("their change\nwith a body")
    with pytest.raises(zarrlake.ConflictError) as e:
        repo.commit("mine")
    err = e.value
    assert err.paths == ["k"]
    assert err.commits == [theirs]
    msg = str(err)
    assert theirs in msg and '"their change"' in msg and "branch 'main'" in msg
    assert "start a new session from the tip (checkout('main'))" in msg
    with pytest.raises(zarrlake.ConflictError) as e2:
        repo.fast_forward()
    assert e2.value.commits == [theirs]
