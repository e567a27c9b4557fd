"""Arraylake's session semantics: which session is current, abandon, lazy storing of
sessions, uncommitted work left behind, and the errors of each."""

from __future__ import annotations

import pickle
import warnings

import pytest
import zarrlake
from conftest import put, read


@pytest.fixture
def repo_any(any_client) -> zarrlake.Repo:
    return any_client.create_repo("org/repo")


def test_create_session_becomes_current(any_client):
    any_client.create_repo("org/repo")
    r = any_client.get_repo("org/repo", checkout=False)
    s = r.create_session()
    assert r.session.id == s.id
    put(r, "a", b"1")
    assert r.status().modified_paths == [("a", False)]
    assert r.commit("via create_session") is not None


def test_join_session_becomes_current(any_client):
    repo = any_client.create_repo("org/repo")
    put(repo, "mine", b"1")
    r = any_client.get_repo("org/repo", checkout=False)
    joined = r.join_session(repo.session.id)
    assert r.session.id == joined.id == repo.session.id
    assert read(r, "mine") == b"1"
    put(r, "theirs", b"2")
    repo.commit("both")
    assert read(repo, "theirs") == b"2"


def test_join_unknown_session_is_not_found(repo_any):
    with pytest.raises(zarrlake.SessionNotFoundError, match="does not exist") as e:
        repo_any.join_session("0123456789abcdef01234567")
    assert isinstance(e.value, ValueError) and isinstance(e.value, zarrlake.ZarrlakeError)
    assert not isinstance(e.value, zarrlake.SessionExpiredError)
    with pytest.raises(zarrlake.SessionNotFoundError):
        repo_any.checkout(session_token="no-such-session")


def test_abandoned_session_refuses_every_use(repo_any):
    put(repo_any, "a", b"1")
    s = repo_any.session
    s.abandon()
    assert "abandoned" in repr(s)
    uses = [
        lambda: read(repo_any, "a"),
        lambda: put(repo_any, "b", b"2"),
        lambda: repo_any.status(),
        lambda: repo_any.commit("after abandon"),
        lambda: repo_any.filter_metadata("a == b"),
        lambda: list(repo_any.store._session.list_prefix("")),
    ]
    for use in uses:
        with pytest.raises(zarrlake.SessionExpiredError, match=r"abandoned.*checkout\(\)"):
            use()
    repo_any.checkout()  # a new session works, and never saw the abandoned write
    assert read(repo_any, "a") is None


def test_abandon_before_anything_was_stored(repo_any):
    s = repo_any.session
    s.abandon()
    with pytest.raises(zarrlake.SessionExpiredError, match="abandoned"):
        read(repo_any, "a")
    assert repo_any.list_active_sessions() == []


def test_checkout_warns_about_uncommitted_changes(repo_any):
    put(repo_any, "a", b"1")
    sid = repo_any.session.id
    with pytest.warns(UserWarning, match=f"Session {sid} has uncommitted changes.*session_token='{sid}'"):
        repo_any.checkout()
    assert read(repo_any, "a") is None
    repo_any.checkout(session_token=sid)  # the work is still there
    assert read(repo_any, "a") == b"1"
    assert repo_any.commit("rejoined") is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing uncommitted now: no warning
        repo_any.checkout()


def test_opening_a_repo_stores_no_session(client, tmp_path):
    client.create_repo("org/repo")
    for _ in range(5):
        client.get_repo("org/repo")
        client.get_or_create_repo("org/repo")
    r = client.get_repo("org/repo")
    assert r.list_active_sessions() == []
    assert not (tmp_path / "lake" / "org" / "repo" / "sessions").exists()
    assert r.commit_log() is not None
    assert "No changes in current session" in str(r.status())  # showing status stores nothing
    with pytest.warns(UserWarning, match="No changes to commit"):
        r.commit("nothing")
    assert r.list_active_sessions() == []


@pytest.mark.parametrize("trigger", ["write", "id", "pickle"])
def test_session_is_stored_when_needed(repo_any, trigger):
    assert repo_any.list_active_sessions() == []
    native_id = repo_any.store._session.id  # the internal id does not store it
    assert repo_any.list_active_sessions() == []
    if trigger == "write":
        # Stored, but private: its id was never handed out, so nobody can join or list it.
        put(repo_any, "a", b"1")
        assert repo_any.list_active_sessions() == []
        with pytest.raises(zarrlake.SessionNotFoundError, match="private to the process"):
            repo_any.join_session(native_id)
        assert repo_any.session.id == native_id  # handing it out shares it
    elif trigger == "id":
        assert repo_any.session.id == native_id
    else:
        pickle.dumps(repo_any)
    assert [s.id for s in repo_any.list_active_sessions()] == [native_id]


def test_commit_starts_next_session_lazily(repo_any):
    put(repo_any, "a", b"1")
    repo_any.commit("one")
    assert repo_any.list_active_sessions() == []  # the committed one is not active, the next not stored


def test_no_session_error(any_client):
    any_client.create_repo("org/repo")
    r = any_client.get_repo("org/repo", checkout=False)
    for use in (lambda: r.store, lambda: r.status(), lambda: r.commit("x"), lambda: r.session):
        with pytest.raises(zarrlake.NoSessionError, match="There is no session active") as e:
            use()
        assert isinstance(e.value, zarrlake.ZarrlakeError) and isinstance(e.value, ValueError)


def test_commit_in_read_only_session_raises(repo_any):
    put(repo_any, "a", b"1")
    cid = repo_any.commit("one")
    repo_any.checkout("main", for_writing=False)
    with pytest.raises(zarrlake.ReadOnlyError):
        repo_any.commit("read-only")
    with pytest.warns(UserWarning, match="not on a branch tip"):
        repo_any.checkout(cid)
    with pytest.raises(zarrlake.NotOnBranchError):
        repo_any.commit("detached")


def test_empty_commit_warns_and_returns_base(repo_any):
    with pytest.warns(UserWarning, match="No changes to commit"):
        assert repo_any.commit("nothing") is None
    put(repo_any, "a", b"1")
    cid = repo_any.commit("one")
    sid = repo_any.session.id
    with pytest.warns(UserWarning, match="No changes to commit"):
        assert repo_any.commit("nothing") == cid
    assert repo_any.session.id == sid  # no commit: the same session goes on


def test_commit_log_takes_ref_and_limit(repo_any):
    ids = []
    for i in range(4):
        put(repo_any, f"k{i}", b"x")
        ids.append(repo_any.commit(f"c{i}"))
    repo_any.new_branch("side")
    put(repo_any, "side-only", b"x")
    side = repo_any.commit("on side")
    assert [c.id for c in repo_any.commit_log()] == [side, *reversed(ids)]
    assert [c.id for c in repo_any.commit_log("main")] == list(reversed(ids))
    assert [c.id for c in repo_any.commit_log(ref=ids[1])] == [ids[1], ids[0]]
    assert [c.id for c in repo_any.commit_log("main", limit=2)] == [ids[3], ids[2]]
    assert len(repo_any.commit_log(limit=0)) == 5
    with pytest.raises(zarrlake.RefNotFoundError):
        repo_any.commit_log("nope")
    with pytest.raises(zarrlake.InvalidInputError):
        repo_any.commit_log(limit=-1)


def test_commit_data_walks_every_ref_once(repo_any):
    put(repo_any, "a", b"1")
    c1 = repo_any.commit("one")
    repo_any.new_branch("dev")
    put(repo_any, "b", b"1")
    c2 = repo_any.commit("two")
    repo_any.tag("v1", c1)
    data = repo_any.commit_data()
    assert set(data.commits) == {c1, c2}
    assert data.branches == {"main": c1, "dev": c2}
    assert data.tags == {"v1": c1}
    assert data.commits[c2].parent_commit == c1


def test_bad_jmespath_is_invalid_input(repo_any):
    for bad, parser_says in [("&&", "invalid token"), ("eo:val == 12", "Parse error"), ("a ==", "Incomplete")]:
        with pytest.raises(zarrlake.InvalidInputError, match=parser_says):
            repo_any.filter_metadata(bad)


def test_filter_metadata_evaluates_nodes_without_attributes(repo_any):
    import zarr

    root = zarr.open_group(repo_any.store, mode="w")
    root.create_group("plain")
    root.create_array("tagged", shape=(2,), dtype="i4").attrs["foo"] = 1
    assert repo_any.filter_metadata("foo == bar") == ["plain"]  # null == null
    assert repo_any.filter_metadata("foo == `1`") == ["tagged"]
    assert repo_any.filter_metadata("!foo") == ["plain"]


def test_a_private_commit_is_five_requests_and_a_shared_one_more(any_client):
    """A session whose id was never handed out commits without sealing, listing or
    recording "committed"; once shared it does all three, and both commits land."""
    repo = any_client.create_repo("org/requests")
    put(repo, "a/c/0", b"1")
    repo.request_counts(reset=True)
    first = repo.commit("private")
    assert sum(repo.request_counts(reset=True).values()) == 5
    put(repo, "a/c/1", b"2")
    joined = any_client.get_repo("org/requests", checkout=False)
    joined.join_session(repo.session.id)  # shares the session
    put(joined, "a/c/2", b"3")
    repo.request_counts(reset=True)
    second = repo.commit("shared")
    shared_cost = repo.request_counts()
    assert sum(shared_cost.values()) > 5 and shared_cost.get("list", 0) >= 2, shared_cost
    assert [c.id for c in repo.commit_log(limit=2)] == [second, first]
    assert read(repo, "a/c/2") == b"3"  # the joiner's acknowledged write is in it
