from __future__ import annotations

import pytest
import zarrlake
from conftest import put, quiet, read


def test_main_exists_in_empty_repo(repo):
    assert repo.session.base_commit is None
    assert repo.checkout("main") is None
    assert repo.branches() == []  # a branch exists once it has a commit
    assert len(repo.commit_log()) == 0


def test_resolution_order_branch_then_tag_then_commit(repo):
    put(repo, "a", b"1")
    c1 = repo.commit("one")
    repo.tag("t1")
    put(repo, "a", b"2")
    c2 = repo.commit("two")
    # A branch named like an existing tag cannot be made, but resolution prefers branches:
    assert repo.checkout("main") == c2
    with pytest.warns(UserWarning, match="not on a branch tip"):
        assert repo.checkout("t1") == c1
    assert read(repo, "a") == b"1"
    with pytest.warns(UserWarning, match="not on a branch tip"):
        assert repo.checkout(c1) == c1
    with pytest.raises(zarrlake.RefNotFoundError, match="not found in branches, tags, or commits"):
        repo.checkout("nope")
    with pytest.raises(zarrlake.RefNotFoundError, match="not found in commit history"):
        repo.checkout("0" * 24)


def test_detached_checkouts_are_read_only(repo):
    put(repo, "a", b"1")
    c1 = repo.commit("one")
    repo.tag("v1")
    for ref in ("v1", c1):
        with pytest.warns(UserWarning, match="not on a branch tip"):
            repo.checkout(ref)
        with pytest.raises(zarrlake.ReadOnlyError):
            put(repo, "a", b"2")
        with pytest.raises(zarrlake.NotOnBranchError):
            repo.commit("nope")
        with pytest.raises(zarrlake.NotOnBranchError):
            repo.fast_forward()
        assert isinstance(zarrlake.ReadOnlyError("x"), OSError)
        assert isinstance(zarrlake.NotOnBranchError("x"), RuntimeError)


def test_new_branch_exists_at_once_and_isolates(repo):
    put(repo, "a", b"1")
    c1 = repo.commit("one")
    repo.new_branch("dev")
    assert set(repo.branches()) == {"main", "dev"}
    assert repo.session.branch == "dev"
    put(repo, "a", b"dev")
    c2 = repo.commit("on dev")
    assert repo.checkout("main") == c1
    assert read(repo, "a") == b"1"
    assert repo.checkout("dev") == c2
    assert read(repo, "a") == b"dev"


def test_new_branch_in_empty_repo_is_created_by_first_commit(repo):
    repo.new_branch("first")
    assert repo.branches() == []
    put(repo, "a", b"1")
    cid = repo.commit("c")
    assert repo.branches() == ["first"]
    assert repo.checkout("first") == cid


def test_new_branch_refuses_existing_names(repo):
    put(repo, "a", b"1")
    repo.commit("one")
    repo.tag("v1")
    repo.new_branch("dev")
    for name in ("dev", "main", "v1"):
        with pytest.raises(zarrlake.RefExistsError, match="already exists"):
            repo.new_branch(name)
    with pytest.raises(zarrlake.InvalidNameError):
        repo.new_branch("bad name")
    with pytest.raises(zarrlake.InvalidNameError):
        repo.new_branch("../x")


def test_delete_branch(repo):
    put(repo, "a", b"1")
    repo.commit("one")
    repo.new_branch("dev")
    with pytest.raises(ValueError, match="checked out"):
        repo.delete_branch("dev")
    repo.checkout("main")
    repo.delete_branch("dev")
    assert repo.branches() == ["main"]
    with pytest.raises(zarrlake.RefNotFoundError, match="does not exist"):
        repo.delete_branch("dev")
    with pytest.raises(ValueError, match="main"):
        repo.delete_branch("main")
    with pytest.raises(zarrlake.RefNotFoundError):
        repo.checkout("dev")
    # A deleted name can be used again.
    repo.new_branch("dev")
    assert "dev" in repo.branches()


def test_tags_are_immutable(repo):
    with pytest.raises(ValueError, match="without creating a commit"):
        repo.tag("early")
    put(repo, "a", b"1")
    c1 = repo.commit("one")
    t = repo.tag("v1", message="first release")
    assert (t.id, t.commit_id, t.message) == ("v1", c1, "first release")
    put(repo, "a", b"2")
    c2 = repo.commit("two")
    with pytest.raises(zarrlake.RefExistsError):
        repo.tag("v1")
    with pytest.raises(zarrlake.RefExistsError):
        repo.tag("v1", commit_id=c2)
    with pytest.raises(zarrlake.RefExistsError):
        repo.tag("main")
    repo.tag("v2", commit_id="v1")  # any ref resolves
    assert sorted(repo.tags()) == ["v1", "v2"]
    with pytest.warns(UserWarning):
        assert repo.checkout("v2") == c1
    repo.checkout("main")
    repo.delete_tag("v1")
    with pytest.raises(zarrlake.RefNotFoundError, match="Tag 'v1' does not exist"):
        repo.delete_tag("v1")
    with pytest.raises(zarrlake.RefNotFoundError):
        repo.tag("v3", commit_id="f" * 24)
    with pytest.raises(TypeError):
        repo.tag("v4", message=5)


def test_commit_data_and_log(repo):
    put(repo, "a", b"1")
    c1 = repo.commit("one")
    put(repo, "a", b"2")
    c2 = repo.commit("two")
    log = repo.commit_log()
    assert [c.id for c in log] == [c2, c1]
    assert len(log) == 2
    assert log[0].parent_commit == c1 and log[1].parent_commit is None
    assert log[0].author_name == "Ada" and log[0].author_email == "ada@example.org"
    assert log[0].message == "two"
    data = repo.commit_data()
    assert set(data.commits) == {c1, c2}
    assert data.branches == {"main": c2}
    quiet(repo.checkout, c1)
    assert [c.id for c in repo.commit_log()] == [c1]
