"""Many machines, one session: a Dask distributed cluster of worker processes writes one
S3 repo, and one commit holds every write. No fork or merge step is needed."""

from __future__ import annotations

import os

import numpy as np
import pytest
import zarr
import zarrlake
from conftest import make_client

pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")
xr = pytest.importorskip("xarray")
da = pytest.importorskip("dask.array")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None, host="127.0.0.1"
    ) as c, distributed.Client(c) as dask_client:
        dask_client.wait_for_workers(2, timeout=120)
        yield dask_client


@pytest.fixture
def s3_client(request, tmp_path) -> zarrlake.Client:
    return make_client(request, "s3", tmp_path)


def _fresh(client: zarrlake.Client) -> zarrlake.Client:
    return zarrlake.Client(client.root, storage_options=client._open.storage_options)


def test_to_zarr_from_dask_workers_then_one_commit(cluster, s3_client):
    repo = s3_client.create_repo("org/dask")
    values = np.arange(64 * 48, dtype="f8").reshape(64, 48)
    ds = xr.Dataset(
        {"t": (("y", "x"), da.from_array(values, chunks=(8, 12)))},
        coords={"y": np.arange(64), "x": np.arange(48)},
    )
    ds.to_zarr(repo.store, mode="w", consolidated=False, compute=True)
    worker_pids = set(cluster.run(os.getpid).values())
    assert len(worker_pids) == 2 and os.getpid() not in worker_pids, "two worker processes"
    cid = repo.commit("written by dask workers")
    assert cid is not None
    back = xr.open_zarr(_fresh(s3_client).get_repo("org/dask").store, consolidated=False)
    np.testing.assert_array_equal(back["t"].values, values)


def _write_region(root: str, options: dict[str, str], session_id: str, rows: slice, fill: float) -> int:
    import os

    repo = zarrlake.Client(root, storage_options=options).get_repo("org/regions", checkout=False)
    repo.join_session(session_id)
    arr = zarr.open_array(repo.store, path="grid", mode="r+")
    arr[rows, :] = np.full((rows.stop - rows.start, arr.shape[1]), fill)
    return os.getpid()


def test_region_writes_from_workers_that_joined_by_id(cluster, s3_client):
    repo = s3_client.create_repo("org/regions")
    zarr.create_array(repo.store, name="grid", shape=(40, 10), chunks=(5, 10), dtype="f8", fill_value=-1.0)
    sid = repo.session.id
    opts = s3_client._open.storage_options
    futures = [
        cluster.submit(_write_region, s3_client.root, opts, sid, slice(5 * i, 5 * i + 5), float(i), pure=False)
        for i in range(8)
    ]
    pids = set(cluster.gather(futures))
    assert len(pids) == 2, "both worker processes wrote"
    repo.commit("regions from workers")
    got = zarr.open_array(_fresh(s3_client).get_repo("org/regions").store, path="grid")[:]
    np.testing.assert_array_equal(got, np.repeat(np.arange(8.0), 5)[:, None] * np.ones((1, 10)))
