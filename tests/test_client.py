from __future__ import annotations

import pickle

import pytest
import zarrlake


def test_create_get_list_delete(client):
    repo = client.create_repo("org/one")
    assert isinstance(repo, zarrlake.Repo)
    assert repo.session.branch == "main"
    with pytest.raises(zarrlake.RepoExistsError):
        client.create_repo("org/one")
    client.create_repo("org/two")
    assert client.list_repos("org") == ["org/one", "org/two"]
    assert client.list_repos("nobody") == []
    again = client.get_repo("org/one", read_only=True)
    assert again.session.session_type == "read"
    assert client.get_or_create_repo("org/three").session.branch == "main"
    with pytest.raises(ValueError):
        client.delete_repo("org/one")
    with pytest.raises(ValueError):
        client.delete_repo("org/one", imsure=True)
    client.delete_repo("org/one", imsure=True, imreallysure=True)
    with pytest.raises(zarrlake.RepoNotFoundError):
        client.get_repo("org/one")
    with pytest.raises(zarrlake.RepoNotFoundError):
        client.delete_repo("org/one", imsure=True, imreallysure=True)


def test_get_repo_without_checkout_has_no_session(client):
    client.create_repo("org/one")
    repo = client.get_repo("org/one", checkout=False)
    with pytest.raises(ValueError, match="no session active"):
        repo.status()


@pytest.mark.parametrize(
    "name",
    ["noslash", "a/bb", "aa/b", "org/na me", "../etc", "org/..", "org/.hidden", "o/r/x", "", "org/-x", 5],
)
def test_invalid_repo_names(client, name):
    with pytest.raises(zarrlake.InvalidNameError):
        client.create_repo(name)


def test_default_root_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("ZARRLAKE_ROOT", str(tmp_path / "envroot"))
    c = zarrlake.Client()
    c.create_repo("org/env")
    assert (tmp_path / "envroot" / "org" / "env" / "zarrlake.json").is_file()


def test_file_url_and_memory_roots(tmp_path):
    c = zarrlake.Client(f"file://{tmp_path}/lake")
    c.create_repo("org/xx")
    assert (tmp_path / "lake" / "org" / "xx" / "zarrlake.json").is_file()
    m = zarrlake.Client("memory://client-test")
    m.create_repo("org/xx")
    assert zarrlake.Client("memory://client-test").get_repo("org/xx").session.branch == "main"


def test_from_metastore_and_chunkstore(tmp_path):
    loc = str(tmp_path / "direct")
    repo = zarrlake.Repo.from_metastore_and_chunkstore(
        zarrlake.MetastoreDatabase(loc),
        zarrlake.Chunkstore(loc),
        name="org/direct",
        author=zarrlake.Author(name="Ada", email="ada@example.org"),
    )
    assert repo.session.branch == "main"
    with pytest.raises(ValueError, match="keeps its chunks at"):
        zarrlake.Repo.from_metastore_and_chunkstore(
            zarrlake.MetastoreDatabase(loc), zarrlake.Chunkstore(loc + "x"), "org/d", zarrlake.Author("A")
        )


async def test_async_client_and_repo(tmp_path):
    ac = zarrlake.AsyncClient(tmp_path / "alake")
    arepo = await ac.create_repo("org/async")
    assert isinstance(arepo, zarrlake.AsyncRepo)
    from conftest import put

    put(arepo, "a/zarr.json", b'{"zarr_format": 3, "node_type": "group"}')
    cid = await arepo.commit("async commit")
    assert [c.id for c in await arepo.commit_log()] == [cid]
    assert await arepo.branches() == ["main"]
    session = await arepo.create_session("main")
    await session.update_expiration(__import__("datetime").timedelta(hours=2))
    await session.abandon()
    assert (await ac.list_repos("org")) == ["org/async"]
    again = await ac.get_repo("org/async", read_only=True)
    assert (await again.status()).modified_paths == []


def test_import_is_lean():
    import subprocess
    import sys

    code = (
        "import sys, zarrlake; "
        "bad = [m for m in ('xarray', 'dask', 'kerchunk', 'rich') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_repo_pickles_into_the_same_session(repo):
    from conftest import put, read

    put(repo, "x/zarr.json", b"{}")
    clone = pickle.loads(pickle.dumps(repo))
    assert clone.session.id == repo.session.id
    assert read(clone, "x/zarr.json") == b"{}"
    put(clone, "y/zarr.json", b"{}")
    cid = repo.commit("both writers")
    assert cid is not None
    assert sorted(repo.store._session.list_prefix("")) == ["x/zarr.json", "y/zarr.json"]
