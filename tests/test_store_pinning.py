"""A store keeps the session it was opened on: checking out another ref does not move
it, committing through the repo moves it to the next session of the branch."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
import zarrlake
from conftest import quiet


@pytest.fixture
def repo(client) -> zarrlake.Repo:
    return client.create_repo("org/pinned")


def _array(repo: zarrlake.Repo, fill: int) -> str:
    arr = zarr.create_array(repo.store, name="x", shape=(4,), chunks=(2,), dtype="i4", overwrite=True)
    arr[:] = fill
    return repo.commit(f"fill {fill}")


def test_dataset_keeps_its_commit_after_checkout(repo):
    xr = pytest.importorskip("xarray")
    ds = xr.Dataset({"v": ("t", np.arange(4, dtype="i4"))})
    ds.to_zarr(repo.store, mode="w", consolidated=False)
    first = repo.commit("first")
    repo.new_branch("b")
    ds2 = ds.copy()
    ds2["v"] = ds2["v"] + 100
    ds2.to_zarr(repo.store, mode="w", consolidated=False)
    repo.commit("on b")
    quiet(repo.checkout, first)
    old = repo.to_xarray()
    repo.checkout("b")
    assert old["v"].values.tolist() == [0, 1, 2, 3]  # still the first commit's values
    assert repo.to_xarray()["v"].values.tolist() == [100, 101, 102, 103]


def test_write_through_array_opened_on_main_stays_on_main(repo):
    _array(repo, 1)
    repo.new_branch("exp")  # exp exists at the same commit; go back to main
    repo.checkout("main")
    on_main = zarr.open_array(repo.store, path="x", mode="r+")
    main_sid = repo.session.id  # the session `on_main` is pinned to
    assert on_main.store._session.id == main_sid
    repo.checkout("exp")
    on_main[0] = 42  # still main's session, not exp's
    assert repo.status().modified_paths == []
    with pytest.warns(UserWarning, match="No changes"):
        repo.commit("nothing on exp")
    assert on_main[0] == 42  # the store reads its own session
    repo.checkout(session_token=main_sid)
    repo.commit("on main")
    assert zarr.open_array(repo.store, path="x")[0] == 42
    repo.checkout("exp")
    assert zarr.open_array(repo.store, path="x")[0] == 1


def test_store_follows_commits_on_its_branch(repo):
    _array(repo, 0)
    arr = zarr.open_array(repo.store, path="x", mode="r+")
    ids = []
    for i in range(3):
        arr[i] = i + 10
        ids.append(repo.commit(f"step {i}"))
    assert len(set(ids)) == 3
    assert zarr.open_array(repo.store, path="x")[:].tolist() == [10, 11, 12, 0]
    quiet(repo.checkout, ids[0])
    assert zarr.open_array(repo.store, path="x")[:].tolist() == [10, 0, 0, 0]


def test_session_store_reads_versions_side_by_side(repo):
    first = _array(repo, 1)
    _array(repo, 2)
    old = quiet(repo.create_session, first, for_writing=False)
    new = repo.create_session("main", for_writing=False)
    a, b = zarr.open_array(old.store, path="x"), zarr.open_array(new.store, path="x")
    assert a[:].tolist() == [1, 1, 1, 1] and b[:].tolist() == [2, 2, 2, 2]


def test_store_pinned_to_a_session_survives_commit_of_another(repo):
    _array(repo, 1)
    s = repo.session
    store = s.store
    arr = zarr.open_array(store, path="x", mode="r+")
    arr[1] = 7
    assert repo.commit("through the repo") is not None
    # The session store was bound to that one session, which is now committed.
    with pytest.raises(zarrlake.SessionExpiredError, match="committed"):
        arr[2] = 8
