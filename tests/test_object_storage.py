"""Repos on object storage: locations, options and credentials, the conditional-write
check, lost responses and retries (through a fault-injecting proxy in front of moto's S3
server), request counts and the in-flight bound."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import zarr
import zarrlake
from conftest import AUTHOR, S3_BUCKET, object_keys, put, quiet, read, s3_options
from s3kit import FaultProxy

_n = iter(range(10**9))


@pytest.fixture
def proxy(moto_s3):
    with FaultProxy(moto_s3.endpoint, seed=7) as p:
        yield p


def _client(options: dict[str, str], **kwargs) -> zarrlake.Client:
    return zarrlake.Client(f"s3://{S3_BUCKET}/os{next(_n)}", author=AUTHOR, storage_options=options, **kwargs)


def _via(proxy: FaultProxy, moto_s3, **extra: str) -> dict[str, str]:
    return {**s3_options(moto_s3), "endpoint": proxy.endpoint, **extra}


def _array(repo: zarrlake.Repo, n: int = 40, chunk: int = 4) -> zarr.Array:
    arr = zarr.create_array(repo.store, name="x", shape=(n,), chunks=(chunk,), dtype="i8", overwrite=True)
    arr[:] = np.arange(n)
    return arr


# ---- locations and options ---------------------------------------------------------------


@pytest.mark.parametrize(
    "root, match",
    [
        ("s3:/bucket/lake", "without '//'"),
        ("ftp://host/lake", "unsupported repo location"),
        ("s3://", "names no bucket"),
        ("s3://bucket/a//b", "empty"),
        ("az:///x", "names no container"),
    ],
)
def test_bad_roots_are_invalid_input_and_never_local_paths(root, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(zarrlake.InvalidInputError, match=match):
        zarrlake.Client(root)
    assert list(tmp_path.iterdir()) == [], "nothing was created locally"


def test_options_are_checked_when_the_client_is_made():
    with pytest.raises(zarrlake.InvalidInputError, match="'no_such_option'"):
        zarrlake.Client("s3://bucket/lake", storage_options={"no_such_option": "1"})
    with pytest.raises(zarrlake.InvalidInputError, match="max_concurrency"):
        zarrlake.Client("s3://bucket/lake", storage_options={"max_concurrency": 0})
    with pytest.raises(zarrlake.InvalidInputError, match="applies to object storage"):
        zarrlake.Client("memory://x", storage_options={"region": "us-east-1"})
    with pytest.raises(zarrlake.InvalidInputError, match="dict"):
        zarrlake.Client("s3://bucket/lake", storage_options=["region"])  # type: ignore[arg-type]


def test_gcs_and_azure_options_are_parsed_per_service():
    """No GCS or Azure server installs here: their clients are built and checked only."""
    zarrlake.Client("gs://bucket/lake", storage_options={"skip_signature": True})
    with pytest.raises(zarrlake.InvalidInputError, match="service account"):
        zarrlake.Client("gs://bucket/lake", storage_options={"service_account_key": "{}"})
    with pytest.raises(zarrlake.InvalidInputError, match="'region'"):
        zarrlake.Client("gs://bucket/lake", storage_options={"region": "x"})
    zarrlake.Client("az://container/lake", storage_options={"account_name": "devstoreaccount1", "use_emulator": True})
    with pytest.raises(zarrlake.InvalidInputError, match="'access_key_id'"):
        zarrlake.Client("az://container/lake", storage_options={"access_key_id": "x"})


def test_a_missing_bucket_is_named(moto_s3):
    opts = s3_options(moto_s3)
    c = zarrlake.Client("s3://no-such-bucket/lake", storage_options=opts)
    for call in (lambda: c.get_repo("org/repo"), lambda: c.create_repo("org/repo"), lambda: c.list_repos("org")):
        with pytest.raises(zarrlake.ZarrlakeError, match="bucket 'no-such-bucket' does not exist"):
            call()


def test_credentials_from_the_environment_are_not_pickled(moto_s3, monkeypatch):
    for k, v in moto_s3.env().items():
        monkeypatch.setenv(k, v)
    c = zarrlake.Client(f"s3://{S3_BUCKET}/env{next(_n)}")
    repo = c.create_repo("org/env")
    put(repo, "a/c/0", b"x" * 1000)
    repo.commit("from env")
    state = pickle.dumps(repo)
    assert b"testing" not in state and moto_s3.endpoint.encode() not in state
    again = pickle.loads(state)  # resolved again from the same environment
    assert read(again, "a/c/0") == b"x" * 1000


def test_explicit_options_travel_with_a_pickle_but_never_into_the_repo(moto_s3):
    opts = {**s3_options(moto_s3), "secret_access_key": "s3cr3t-never-stored"}
    repo = _client(opts).create_repo("org/explicit")
    _array(repo)
    repo.commit("c")
    again = pickle.loads(pickle.dumps(repo))
    assert zarr.open_array(again.store, path="x")[:].tolist() == list(range(40))
    for key in object_keys(repo):
        body = moto_s3.client().get_object(Bucket=S3_BUCKET, Key=f"{repo._core.native.location.split('/', 3)[3]}/{key}")
        assert b"s3cr3t-never-stored" not in body["Body"].read(), key


# ---- conditional writes ------------------------------------------------------------------


def test_a_store_that_ignores_if_none_match_is_refused_for_writing(moto_s3, proxy):
    proxy.strip_header("If-None-Match", probability=1.0)
    c = _client(_via(proxy, moto_s3))
    with pytest.raises(zarrlake.UnsupportedStorageError, match="accepted a second put-if-absent"):
        c.create_repo("org/unsafe")
    assert c.list_repos("org") == []


def test_conditional_puts_turned_off_are_refused(moto_s3):
    c = _client({**s3_options(moto_s3), "conditional_put": "disabled"})
    with pytest.raises(zarrlake.UnsupportedStorageError, match="conditional puts turned off"):
        c.create_repo("org/off")


# ---- lost responses and retries ----------------------------------------------------------


@pytest.mark.parametrize("what", ["refs/branches/main/", "/fragments/", "/sessions/", "zarrlake.json"])
def test_a_lost_put_response_is_decided_by_reading_back(moto_s3, proxy, what):
    c = _client(_via(proxy, moto_s3))
    proxy.drop_response(method="PUT", path=what, count=1)
    repo = c.create_repo("org/lost")
    _array(repo)
    cid = repo.commit("once")
    assert proxy.stats.faults["drop_response"] == 1, "the fault was injected"
    fresh_repo = zarrlake.Client(c.root, storage_options=s3_options(moto_s3)).get_repo("org/lost")
    assert [x.id for x in fresh_repo.commit_log()][:1] == [cid]
    assert zarr.open_array(fresh_repo.store, path="x")[:].tolist() == list(range(40))


def test_server_errors_resets_and_delays_are_survived(moto_s3, proxy):
    c = _client(_via(proxy, moto_s3))
    repo = c.create_repo("org/faulty")
    proxy.fail(503, count=6)
    proxy.fail(500, method="PUT", count=4)
    proxy.fail(503, method="GET", count=4)
    proxy.reset(method="GET", count=3)
    proxy.reset(method="PUT", path="/chunks/", count=3)
    proxy.delay(0.3, count=5)
    data = np.random.default_rng(0).integers(0, 2**60, 800)  # incompressible: chunks are stored
    arr = zarr.create_array(repo.store, name="x", shape=(800,), chunks=(80,), dtype="i8")
    arr[:] = data
    cid = repo.commit("through faults")
    assert (arr[:] == data).all()
    faults = proxy.stats.faults
    assert faults["fail"] == 14 and faults["reset"] == 6 and faults["delay"] == 5, faults
    assert repo.commit_log()[0].id == cid


def test_a_put_that_keeps_failing_is_an_error_and_nothing_is_acknowledged(moto_s3, proxy):
    repo = _client(_via(proxy, moto_s3, timeout="5s")).create_repo("org/down")
    proxy.fail(503, method="PUT", probability=1.0)
    with pytest.raises(zarrlake.StorageError):
        put(repo, "a/c/0", b"y" * 1000)
    proxy.clear()
    assert read(repo, "a/c/0") is None


# ---- requests ----------------------------------------------------------------------------


def test_request_counts_match_what_the_server_saw(moto_s3, proxy):
    repo = _client(_via(proxy, moto_s3)).create_repo("org/counted")
    repo.request_counts(reset=True)
    proxy.clear_stats()
    _array(repo, n=64, chunk=8)
    repo.commit("counted")
    ours = repo.request_counts()
    seen = proxy.stats.requests
    # A listing is a GET too, one per page.
    assert (ours["put"], ours["head"], ours["delete"]) == (seen["PUT"], seen["HEAD"], seen["DELETE"]), (ours, seen)
    assert ours["get"] + ours["list"] == seen["GET"], (ours, seen)
    assert ours["put"] >= 8, "eight chunks were written"


def test_a_burst_of_chunk_writes_shares_few_fragments(moto_s3):
    """N acknowledged chunk writes cost N chunk puts and O(1) fragments, not 2N puts: a
    fragment flush waits for the chunk puts already in flight and records them together."""
    client = _client(s3_options(moto_s3))
    repo = client.create_repo("org/burst")
    data = np.random.default_rng(1).integers(0, 2**60, 64 * 512)  # incompressible: chunks are stored
    arr = zarr.create_array(repo.store, name="x", shape=data.shape, chunks=(512,), dtype="i8", compressors=None)
    before = {k for k in object_keys(repo) if "/fragments/" in k}
    arr[:] = data  # zarr writes the 64 chunks concurrently
    fragments = {k for k in object_keys(repo) if "/fragments/" in k} - before
    assert 1 <= len(fragments) <= 64 // 4, len(fragments)
    repo.commit("burst")
    np.testing.assert_array_equal(zarr.open_array(client.get_repo("org/burst").store, path="x")[:], data)


def test_many_requests_are_in_flight_and_the_bound_holds(moto_s3, proxy):
    items = [(f"x/c/{i}", i.to_bytes(8, "little") * 128) for i in range(256)]
    for bound, check in ((4, lambda m: m <= 4), (None, lambda m: m > 16)):
        extra = {} if bound is None else {"max_concurrency": str(bound)}
        repo = _client(_via(proxy, moto_s3, **extra)).create_repo("org/inflight")
        assert repo.session.id  # stores the session first: only chunk puts follow
        proxy.clear_stats()
        repo._core.session_native.set_many(items)
        assert check(proxy.stats.max_in_flight), (bound, proxy.stats.max_in_flight)
        assert read(repo, "x/c/255") == items[255][1]


# ---- a separate chunk location -----------------------------------------------------------


def test_chunks_at_another_bucket_are_found_by_every_opener(moto_s3):
    moto_s3.create_bucket("zarrlake-chunks")
    opts = s3_options(moto_s3)
    meta = f"s3://{S3_BUCKET}/meta{next(_n)}"
    chunks = f"s3://zarrlake-chunks/c{next(_n)}"
    repo = zarrlake.Repo.from_metastore_and_chunkstore(
        zarrlake.MetastoreDatabase(meta, storage_options=opts),
        zarrlake.Chunkstore(chunks, storage_options=opts),
        "org/split",
        AUTHOR,
    )
    put(repo, "a/c/0", b"z" * 5000)
    repo.commit("split")
    listed = moto_s3.client().list_objects_v2(Bucket="zarrlake-chunks", Prefix=chunks.split("/", 3)[3])
    assert [o["Key"].rsplit("/", 2)[-2] for o in listed["Contents"]] == ["chunks"]
    assert not [k for k in object_keys(repo) if k.startswith("chunks/")]
    again = zarrlake.Repo.from_metastore_and_chunkstore(
        zarrlake.MetastoreDatabase(meta, storage_options=opts), zarrlake.Chunkstore(chunks, storage_options=opts),
        "org/split", AUTHOR,
    )
    assert read(again, "a/c/0") == b"z" * 5000
    with pytest.raises(zarrlake.InvalidInputError, match="keeps its chunks at"):
        zarrlake.Repo.from_metastore_and_chunkstore(
            zarrlake.MetastoreDatabase(meta, storage_options=opts), zarrlake.Chunkstore(meta, storage_options=opts),
            "org/split", AUTHOR,
        )


# ---- many committers, through faults ----------------------------------------------------


def _committer(args: tuple[str, dict[str, str], int, int]) -> list[str]:
    root, opts, w, m = args
    repo = zarrlake.Client(root, storage_options=opts).get_repo("org/race")
    done = []
    for i in range(m):
        put(repo, f"w{w}/c/{i}", f"{w}:{i}".encode() * 200)
        if i == m - 1 and w < 2:  # the two first writers both change one key last
            put(repo, "shared/c/0", f"{w}:{i}".encode() * 200)
        try:
            cid = quiet(repo.commit, f"w{w} #{i}")
        except zarrlake.ConflictError as e:
            assert "shared/c/0" in e.paths, e.paths
            repo.checkout("main")
            continue
        done.append(cid)
    return done


def test_concurrent_committers_through_faults_lose_nothing(moto_s3, proxy):
    import multiprocessing as mp

    opts = _via(proxy, moto_s3)
    c = _client(opts)
    c.create_repo("org/race")
    proxy.fail(503, probability=0.03)
    proxy.reset(probability=0.02)
    proxy.drop_response(method="PUT", probability=0.03)
    workers, per = 4, 5
    with mp.get_context("spawn").Pool(workers) as pool:
        results = pool.map(_committer, [(c.root, opts, w, per) for w in range(workers)])
    proxy.clear()
    repo = c.get_repo("org/race")
    log = {x.id for x in repo.commit_log()}
    returned = [cid for r in results for cid in r]
    assert set(returned) <= log, "every commit that returned is on main"
    assert len(returned) >= workers * per - 2  # at most the two shared-key writers conflicted
    faults = proxy.stats.faults
    assert sum(faults.values()) > 0, faults
    for w in range(workers):
        for i in range(per - 1):
            assert read(repo, f"w{w}/c/{i}") == f"{w}:{i}".encode() * 200
