from __future__ import annotations

import datetime
import multiprocessing as mp
import pickle

import pytest
import zarrlake
from conftest import put, read


def test_expiry_limits(repo):
    with pytest.raises(ValueError, match="Max expiry exceeded"):
        repo.checkout(expires_in=datetime.timedelta(days=8))
    with pytest.raises(ValueError, match="Max expiry exceeded"):
        repo.create_session(expires_in=datetime.timedelta(days=1000))
    s = repo.create_session()
    assert abs((s.expiration - s.start_time) - datetime.timedelta(days=1)) < datetime.timedelta(seconds=1)
    with pytest.raises(ValueError, match="Max expiry exceeded"):
        s.update_expiration(datetime.timedelta(days=7, seconds=1))
    s.update_expiration(datetime.timedelta(days=7))


def test_expired_and_abandoned_sessions_refuse_writes_and_joins(repo):
    sid = repo.session.id
    for bad in (datetime.timedelta(seconds=-1), datetime.timedelta(0)):
        with pytest.raises(zarrlake.InvalidInputError, match="must be positive"):
            repo.session.update_expiration(bad)
    with pytest.raises(zarrlake.InvalidInputError, match="must be positive"):
        repo.checkout(expires_in=datetime.timedelta(0))
    repo.session.update_expiration(datetime.timedelta(microseconds=1))  # over already
    with pytest.raises(zarrlake.SessionExpiredError, match="expired"):
        put(repo, "a", b"1")
    with pytest.raises(zarrlake.SessionExpiredError):
        repo.join_session(sid)
    repo.checkout()
    sid2 = repo.session.id
    put(repo, "a", b"1")
    repo.session.abandon()
    with pytest.raises(zarrlake.SessionExpiredError, match="abandoned"):
        put(repo, "b", b"1")
    with pytest.raises(zarrlake.SessionExpiredError):
        repo.checkout(session_token=sid2)
    with pytest.raises(zarrlake.SessionNotFoundError):
        repo.join_session("no-such-session")
    assert isinstance(zarrlake.SessionExpiredError("x"), ValueError)


def test_list_active_sessions(repo):
    first = repo.session.id
    s2 = repo.create_session(message="second")
    s3 = repo.create_session()
    s3.abandon()
    s4 = repo.create_session()
    s4.update_expiration(datetime.timedelta(microseconds=1))
    repo.create_session(for_writing=False)  # read sessions are never listed
    active = [s.id for s in repo.list_active_sessions()]
    assert active == [first, s2.id]
    assert repo.list_active_sessions()[1].message == "second"
    assert repo.session.session_type == "read"  # create_session made the last one current
    repo.join_session(first)
    put(repo, "a", b"1")
    repo.commit("c")  # a committed session is no longer active
    assert first not in [s.id for s in repo.list_active_sessions()]


def test_read_session_has_no_expiration_methods(repo):
    s = repo.create_session(for_writing=False)
    assert isinstance(s, zarrlake.LocalReadSession)
    assert not hasattr(s, "abandon")
    assert s.id.startswith("read-")


def test_join_session_shares_writes(client, repo):
    put(repo, "mine", b"1")
    other = client.get_repo("org/repo", checkout=False)
    other.checkout(session_token=repo.session.id)
    assert read(other, "mine") == b"1"
    put(other, "theirs", b"2")
    cid = repo.commit("joint")
    assert cid is not None
    assert read(repo, "theirs") == b"2"
    # The committed session refuses further writes from the joiner.
    with pytest.raises(zarrlake.SessionExpiredError):
        put(other, "late", b"3")


def _worker_write(state: bytes, key: str) -> None:
    repo = pickle.loads(state)
    from conftest import put as p

    p(repo, key, key.encode())


def test_join_from_other_processes(shared_client):
    repo = shared_client.create_repo("org/repo")
    state = pickle.dumps(repo)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker_write, args=(state, f"w{i}/c/0")) for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    cid = repo.commit("from workers")
    assert cid is not None
    for i in range(3):
        assert read(repo, f"w{i}/c/0") == f"w{i}/c/0".encode()


def test_pickled_read_only_repo(repo):
    put(repo, "a", b"1")
    cid = repo.commit("c", checkout_for_writing=False)
    clone = pickle.loads(pickle.dumps(repo))
    assert clone.session.base_commit == cid
    assert read(clone, "a") == b"1"
    with pytest.raises(zarrlake.ReadOnlyError):
        put(clone, "b", b"2")
