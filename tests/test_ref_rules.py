"""Ref names with '/', names that look like commit ids, and commit-id prefixes."""

from __future__ import annotations

import os

import pytest
import zarrlake
from conftest import put, quiet, read
from zarrlake import _native

BAD_NAMES = ["a//b", "/a", "a/", "a/../b", "./a", "a/./b", "a/.b", "deadbeef", "DEADBEEF", "20240101"]


@pytest.fixture
def lake_repo(tmp_path) -> zarrlake.Repo:
    return zarrlake.Client(tmp_path).get_or_create_repo("org/name")


def test_slash_branch_create_commit_checkout_list_delete(lake_repo):
    repo = lake_repo
    put(repo, "a", b"main")
    c1 = repo.commit("one")
    repo.new_branch("feature/x")
    assert repo.session.branch == "feature/x"
    put(repo, "a", b"feature")
    c2 = repo.commit("on feature/x")
    repo.new_branch("feature")  # the parent segment is a separate branch
    assert repo.branches() == ["feature", "feature/x", "main"]
    assert repo.checkout("main") == c1
    assert read(repo, "a") == b"main"
    assert repo.checkout("feature/x") == c2
    assert read(repo, "a") == b"feature"
    repo.tag("release/v1", c1)
    assert repo.tags() == ["release/v1"]
    with pytest.warns(UserWarning, match="not on a branch tip"):
        assert repo.checkout("release/v1") == c1
    repo.checkout("main")
    repo.delete_branch("feature/x")
    assert repo.branches() == ["feature", "main"]
    with pytest.raises(zarrlake.RefNotFoundError):
        repo.checkout("feature/x")
    repo.delete_tag("release/v1")
    assert repo.tags() == []


def test_slash_branch_in_empty_repo_is_created_by_first_commit(lake_repo):
    lake_repo.new_branch("team/first")
    put(lake_repo, "a", b"1")
    cid = lake_repo.commit("c")
    assert lake_repo.branches() == ["team/first"]
    assert lake_repo.checkout("team/first") == cid


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_ref_names_raise_invalid_name(lake_repo, name):
    with pytest.raises(zarrlake.InvalidNameError):
        lake_repo.new_branch(name)  # empty repo: checked before the first commit
    put(lake_repo, "a", b"1")
    quiet(lake_repo.commit, "one")
    with pytest.raises(zarrlake.InvalidNameError):
        lake_repo.new_branch(name)
    with pytest.raises(zarrlake.InvalidNameError):
        lake_repo.tag(name)
    with pytest.raises(zarrlake.InvalidNameError):
        _native.Repository.validate_ref_name("branch", name)


def test_name_errors_describe_the_rules():
    with pytest.raises(zarrlake.InvalidNameError, match="'/'-separated segments"):
        _native.Repository.validate_ref_name("branch", "a//b")
    with pytest.raises(zarrlake.InvalidNameError, match="ambiguous with commit ids"):
        _native.Repository.validate_ref_name("tag", "0123abcd")
    _native.Repository.validate_ref_name("tag", "feature/deadbeef")
    _native.Repository.validate_ref_name("branch", "main")


def test_tag_named_like_a_commit_is_refused(lake_repo):
    put(lake_repo, "a", b"1")
    c1 = lake_repo.commit("one")
    put(lake_repo, "a", b"2")
    c2 = lake_repo.commit("two")
    with pytest.raises(zarrlake.InvalidNameError, match="ambiguous with commit ids"):
        lake_repo.tag(c2, c1)
    with pytest.raises(zarrlake.InvalidNameError):
        lake_repo.new_branch(c2[:8])
    assert lake_repo.tags() == []
    with pytest.warns(UserWarning, match="not on a branch tip"):
        assert lake_repo.checkout(c2) == c2
    assert read(lake_repo, "a") == b"2"


def _commits_sharing_a_prefix(repo) -> tuple[list[str], str]:
    """Commits until two share their first 8 characters (ids start with the time in
    seconds, so commits made within one second do)."""
    ids: list[str] = []
    for i in range(10):
        put(repo, "a", str(i).encode())
        ids.append(repo.commit(f"c{i}"))
        pairs = [(a, b) for a in ids for b in ids if a < b and a[:8] == b[:8]]
        if pairs:
            return ids, os.path.commonprefix(list(pairs[0]))
    raise AssertionError("no two commits share a prefix")


def _unique_prefix(cid: str, ids: list[str]) -> str:
    for n in range(8, 25):
        if sum(other.startswith(cid[:n]) for other in ids) == 1:
            return cid[:n]
    raise AssertionError(cid)


def test_unique_prefix_checks_out_the_same_data(lake_repo):
    put(lake_repo, "a", b"first")
    c1 = lake_repo.commit("one")
    with pytest.warns(UserWarning, match="not on a branch tip"):
        assert lake_repo.checkout(c1[:8]) == c1
    assert read(lake_repo, "a") == b"first"
    lake_repo.checkout("main")
    ids, _ = _commits_sharing_a_prefix(lake_repo)
    ids.insert(0, c1)
    for i, cid in enumerate(ids):
        prefix = _unique_prefix(cid, ids)
        with pytest.warns(UserWarning, match="not on a branch tip"):
            assert lake_repo.checkout(prefix.upper()) == cid
        assert read(lake_repo, "a") == (b"first" if i == 0 else str(i - 1).encode())
        assert lake_repo._core.native.resolve_commit(prefix) == cid
    lake_repo.checkout("main")
    tag = lake_repo.tag("v-prefix", _unique_prefix(c1, ids))
    assert tag.commit_id == c1
    with pytest.warns(UserWarning, match="not on a branch tip"):
        assert lake_repo.checkout("v-prefix") == c1


def test_ambiguous_and_unknown_prefixes(lake_repo):
    ids, common = _commits_sharing_a_prefix(lake_repo)
    assert 8 <= len(common) < 24
    with pytest.raises(zarrlake.InvalidInputError, match="ambiguous") as info:
        lake_repo.checkout(common)
    shared = [c for c in ids if c.startswith(common)]
    assert all(c in str(info.value) for c in shared[:5])
    with pytest.raises(zarrlake.InvalidInputError, match="ambiguous"):
        lake_repo.tag("t", common)
    for unknown in ("ffffffff", "ffffffffffffffffffff", "f" * 24):
        with pytest.raises(zarrlake.RefNotFoundError):
            lake_repo.checkout(unknown)
    with pytest.raises(zarrlake.RefNotFoundError):
        lake_repo.checkout("abc1234")  # 7 characters: a name, not a prefix


def test_native_commit_graph_lists_each_reachable_commit_once(lake_repo):
    put(lake_repo, "a", b"1")
    c1 = lake_repo.commit("one")
    lake_repo.new_branch("side/a")
    put(lake_repo, "a", b"2")
    c2 = lake_repo.commit("side")
    lake_repo.checkout("main")
    put(lake_repo, "a", b"3")
    c3 = lake_repo.commit("main")
    native = lake_repo._core.native
    graph = native.commit_graph([c3, c2, c1, None])
    assert sorted(t[0] for t in graph) == sorted([c1, c2, c3])
    assert [t[0] for t in graph][-1] == c1
    times = [t[5] for t in graph]
    assert times == sorted(times, reverse=True)
    assert native.commit_graph([None]) == []
    assert [t[0] for t in native.commit_graph([c1])] == [c1]
