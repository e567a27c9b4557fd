"""What is read is what was written, or a clear error: chunk verification, ref holes,
commit bookkeeping, and small input gaps (issue: trustworthy storage)."""

from __future__ import annotations

import datetime
import pathlib

import numpy as np
import pytest
import zarr
import zarrlake
from conftest import put


@pytest.fixture
def client(local_client) -> zarrlake.Client:
    """These tests damage the repo's files on disk (the corruption table covers every kind)."""
    return local_client


def _repo_dir(client: zarrlake.Client, name: str) -> pathlib.Path:
    return pathlib.Path(client.root) / name


@pytest.fixture
def chunked(client):
    repo = client.create_repo("org/integrity")
    return repo


@pytest.mark.parametrize("codec", ["raw", "zstd"])
@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_damaged_chunk_is_corrupt_not_wrong_data(client, chunked, codec, damage):
    compressors = None if codec == "raw" else zarr.codecs.ZstdCodec()
    arr = zarr.create_array(chunked.store, name="a", shape=(4096,), chunks=(4096,), dtype="f8", compressors=compressors)
    arr[:] = np.arange(4096)
    chunked.commit("data")
    chunk_files = sorted((_repo_dir(client, "org/integrity") / "chunks").iterdir())
    assert len(chunk_files) == 1
    raw = bytearray(chunk_files[0].read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 0x01
    else:
        raw = raw[: len(raw) - 7]
    chunk_files[0].write_bytes(bytes(raw))
    fresh = zarrlake.Client(client.root).get_repo("org/integrity")
    with pytest.raises(zarrlake.CorruptObjectError, match=r"a/c/0") as e:
        zarr.open_array(fresh.store, path="a")[:]
    assert chunk_files[0].name in str(e.value)


def test_ranged_read_of_a_truncated_chunk_is_corrupt(client, chunked):
    from zarr.abc.store import RangeByteRequest

    put(chunked, "k/c/0", bytes(range(256)) * 8)
    chunked.commit("k")
    (f,) = (_repo_dir(client, "org/integrity") / "chunks").iterdir()
    f.write_bytes(f.read_bytes()[:100])
    store = zarrlake.Client(client.root).get_repo("org/integrity").store
    with pytest.raises(zarrlake.CorruptObjectError):
        store.get_sync("k/c/0", byte_range=RangeByteRequest(50, 200))
    with pytest.raises(zarrlake.CorruptObjectError):
        store.get_sync("k/c/0")


def _three_commits(client) -> tuple[zarrlake.Repo, list[str]]:
    repo = client.create_repo("org/refs")
    ids = []
    for i in range(3):
        put(repo, f"k{i}", b"x")
        ids.append(repo.commit(f"c{i}"))
    return repo, ids


@pytest.mark.parametrize("missing", [1, 2, 3])
def test_a_missing_ref_version_is_corruption(client, missing):
    _, ids = _three_commits(client)
    cell = _repo_dir(client, "org/refs") / "refs" / "branches" / "main"
    versions = sorted(p for p in cell.iterdir() if p.suffix != ".w")  # not the witnesses
    assert len(versions) == 3
    versions[missing - 1].unlink()
    fresh = zarrlake.Client(client.root)
    present = ", ".join(str(v) for v in (1, 2, 3) if v != missing)
    with pytest.raises(zarrlake.CorruptObjectError, match=f"missing version {missing}.*present: {present}\\)"):
        fresh.get_repo("org/refs")
    # Nothing commits on top of the hole, so no commit can "succeed" invisibly.
    r = fresh.get_repo("org/refs", checkout=False)
    with pytest.raises(zarrlake.CorruptObjectError):
        r.checkout("main")


def test_no_reader_silently_misses_a_commit_made_over_a_hole(client):
    repo, _ = _three_commits(client)  # this handle knows version 3 is the tip
    (_repo_dir(client, "org/refs") / "refs" / "branches" / "main" / f"{1:020}").unlink()
    put(repo, "more", b"y")
    repo.commit("over the hole")
    # A fresh reader does not see an empty main (the old failure): it sees corruption.
    with pytest.raises(zarrlake.CorruptObjectError, match="missing version 1"):
        zarrlake.Client(client.root).get_repo("org/refs")


def test_writes_after_commit_say_already_committed(client):
    repo = client.create_repo("org/state")
    put(repo, "a", b"1")
    joiner = client.get_repo("org/state", checkout=False)
    joiner.join_session(repo.session.id)
    repo.commit("done")
    with pytest.raises(zarrlake.SessionExpiredError, match="already committed"):
        put(joiner, "b", b"2")


def test_small_input_gaps(repo):
    for bad in (None, 123):
        with pytest.raises(TypeError, match="ref"):
            repo.checkout(bad)  # type: ignore[arg-type]
    with pytest.raises(zarrlake.InvalidInputError, match="must be positive"):
        repo.create_session(expires_in=datetime.timedelta(seconds=-5))
    client = zarrlake.Client(pathlib.Path(repo._core.native.location).parents[1])
    with pytest.raises(zarrlake.InvalidNameError, match="2 to 100 characters"):
        client.create_repo("org/" + "x" * 300)


def test_storage_errors_say_storage_error_once(client, chunked):
    put(chunked, "k/c/0", b"z" * 4096)
    chunked.commit("k")
    (f,) = (_repo_dir(client, "org/integrity") / "chunks").iterdir()
    f.unlink()
    f.mkdir()  # reading a directory fails in the storage layer
    with pytest.raises(zarrlake.ZarrlakeError) as e:
        zarrlake.Client(client.root).get_repo("org/integrity").store.get_sync("k/c/0")
    assert str(e.value).count("storage error") <= 1


@pytest.mark.parametrize("key", ["zarr.json", "g/zarr.json", "g/.zarray", "g/.zgroup", "g/.zattrs", "g/.zmetadata"])
@pytest.mark.parametrize("doc", [b"bar", b"", b"[1, 2]", b'{"a": 1', b'{"a": 1} trailing'])
def test_metadata_documents_must_be_json_objects(repo, key, doc):
    with pytest.raises(zarrlake.InvalidInputError, match=f"invalid metadata document '{key}'"):
        repo.store.set_sync(key, zarr.core.buffer.cpu.Buffer.from_bytes(doc))
    assert repo.store.get_sync(key) is None
    assert repo.status().modified_paths == []


def test_a_refused_document_fails_its_whole_batch(repo):
    from zarr.core.buffer.cpu import Buffer

    with pytest.raises(zarrlake.InvalidInputError, match="'b/zarr.json'"):
        repo.store._session.set_many([("a/zarr.json", b"{}"), ("b/zarr.json", b"nope")])
    assert repo.store.get_sync("a/zarr.json") is None
    repo.store.set_sync("a/zarr.json", Buffer.from_bytes(b'{"x": NaN, "y": -Infinity}'))


def test_attributes_zarr_writes_are_accepted(repo):
    odd = {"nan": float("nan"), "inf": float("inf"), "s": "é"}
    for fmt in (3, 2):
        group = zarr.open_group(repo.store, path=f"v{fmt}", mode="w", attributes=odd, zarr_format=fmt)
        group.create_array("a", shape=(2,), dtype="f8", fill_value=float("nan"))
    repo.commit("odd attributes")
    for fmt in (3, 2):
        attrs = zarr.open_group(repo.store, path=f"v{fmt}", mode="r", zarr_format=fmt).attrs
        assert np.isnan(attrs["nan"]) and attrs["inf"] == float("inf") and attrs["s"] == "é"


def test_a_deleted_fragment_is_corruption_for_every_other_handle(client):
    repo = client.create_repo("org/frag")
    put(repo, "a/zarr.json", b"{}")
    put(repo, "a/c/0", b"acknowledged")
    session_id = repo.session.id
    fragments = sorted((_repo_dir(client, "org/frag") / "sessions" / session_id / "fragments").glob("*/*"))
    assert len(fragments) == 2  # one per write
    fragments[-1].unlink()
    other = zarrlake.Client(client.root).get_repo("org/frag", checkout=False)
    with pytest.raises(zarrlake.CorruptObjectError, match=fragments[-1].name):
        other.join_session(session_id)
    # The writer still holds its writes in memory: its own commit loses nothing.
    repo.commit("from the writer")
    assert zarrlake.Client(client.root).get_repo("org/frag").store.get_sync("a/c/0").to_bytes() == b"acknowledged"
