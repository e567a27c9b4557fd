"""``zarrlake diff``, ``branch reset``, ``gc``, ``expire`` and ``squash``, through subprocess."""

from __future__ import annotations

import json

import pytest
import zarr
import zarrlake
from conftest import AUTHOR
from test_cli import NAME, fails, ok


@pytest.fixture
def lake(tmp_path) -> dict:
    """org/repo with three commits on main (the first tagged v1) and a deleted branch."""
    root = tmp_path / "lake"
    repo = zarrlake.Client(root, author=AUTHOR).create_repo(NAME)
    a = zarr.create_array(repo.store, name="grp/temp", shape=(4, 256), chunks=(1, 256), dtype="f8", compressors=None)
    a[:] = 1.0
    first = repo.commit("Initial")
    repo.tag("v1")
    a[0] = 2.0
    second = repo.commit("Second")
    a[1] = 3.0
    third = repo.commit("Third")
    repo.new_branch("side")
    zarr.create_array(repo.store, name="other", shape=(256,), chunks=(256,), dtype="f8", compressors=None)[:] = 7.0
    repo.commit("side")
    repo.checkout("main")
    repo.delete_branch("side")
    return {"root": str(root), "first": first, "second": second, "third": third}


def test_diff_lists_changed_nodes(lake):
    out = ok("--root", lake["root"], "diff", NAME, "v1")
    assert "1 modified (1 node)" in out and "/grp/temp" in out and "2 chunks changed" in out
    data = json.loads(ok("--root", lake["root"], "diff", NAME, "v1", "main", "--keys", "--json"))
    assert data[0]["path"] == "grp/temp" and data[0]["keys"]["changed"] == ["grp/temp/c/0/0", "grp/temp/c/1/0"]
    assert ok("--root", lake["root"], "diff", NAME, "main", "main").strip() == "no changes between main and main"
    assert "nope" in fails("--root", lake["root"], "diff", NAME, "nope")


def test_branch_reset_moves_with_and_without_expected(lake):
    root = lake["root"]
    ok("--root", root, "branch", "reset", NAME, "main", lake["first"], "--expected", lake["third"])
    assert json.loads(ok("--root", root, "log", NAME, "--json"))[0]["id"] == lake["first"]
    line = fails("--root", root, "branch", "reset", NAME, "main", lake["third"], "--expected", lake["third"])
    assert "not at" in line
    ok("--root", root, "branch", "reset", NAME, "main", lake["third"])


def test_squash_then_expire_then_gc(lake):
    root = lake["root"]
    out = ok("--root", root, "squash", NAME, "main", "--since", "v1", "-m", "two in one")
    assert out.startswith("squashed main onto v1")
    log = json.loads(ok("--root", root, "log", NAME, "--json"))
    assert [c["message"] for c in log] == ["two in one", "Initial"]
    # Refused without --yes when stdin is not a terminal.
    assert "--yes" in fails("--root", root, "gc", NAME, "--older-than", "0s")
    dry = json.loads(ok("--root", root, "gc", NAME, "--older-than", "0s", "--dry-run", "--json"))
    assert dry["dry_run"] and dry["deleted"]["commits"]["objects"] == 3  # second, third, side
    out = ok("--root", root, "gc", NAME, "--older-than", "0s", "--yes")
    assert out.startswith("Garbage collection deleted")
    assert ok("--root", root, "gc", NAME, "--older-than", "0s", "--yes").startswith("no garbage")


def test_expire_keeps_tips_and_tags(lake):
    root = lake["root"]
    out = ok("--root", root, "expire", NAME, "--older-than", "0s", "--yes")
    assert "1 commit expired" in out and "zarrlake gc" in out  # "Second": v1 and main's tip stay
    assert len(json.loads(ok("--root", root, "log", NAME, "--json"))) == 1
    assert ok("--root", root, "expire", NAME, "--older-than", "0s", "--yes").startswith("no history")
    assert "not an age" in fails("--root", root, "expire", NAME, "--older-than", "soon", "--yes", code=2)
