"""Fixtures of the virtual dataset tests: a repo whose client allows the sample directory,
and an S3-compatible server (moto) on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zarrlake
from conftest import BACKENDS, make_client


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture(params=BACKENDS)
def vclient(request: pytest.FixtureRequest, tmp_path: Path, data_dir: Path) -> zarrlake.Client:
    """A client on every backend: the repo holding the references lives there."""
    return make_client(request, request.param, tmp_path, allow_virtual=[str(data_dir)])


@pytest.fixture
def vrepo(vclient: zarrlake.Client) -> zarrlake.Repo:
    return vclient.create_repo("org/virtual")


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A moto S3 server on 127.0.0.1 (ephemeral port) with the bucket ``src``."""
    boto3 = pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        for k, v in {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }.items():
            monkeypatch.setenv(k, v)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        client.create_bucket(Bucket="src")
        yield {"endpoint": endpoint, "client": client, "bucket": "src"}
    finally:
        server.stop()
