"""Tests of the S3 test kit itself (tests/s3kit.py): moto wrapper and fault proxy.

Why: later S3 fault tests are only as trustworthy as the kit; each fault must
observably happen and normal traffic must pass through unchanged.
"""

from __future__ import annotations

import http.client
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError
from s3kit import FaultProxy, MotoS3

BUCKET = "kit-bucket"
# moto picks the backend from the SigV4 credential scope; it does not check the signature.
FAKE_AUTH = "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
NETWORK_ERRORS = (ConnectionError, HTTPClientError)


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoS3]:
    with MotoS3() as m:
        yield m


@pytest.fixture
def bucket(moto: MotoS3) -> str:
    moto.reset()
    moto.create_bucket(BUCKET)
    return BUCKET


@pytest.fixture
def proxy(moto: MotoS3) -> Iterator[FaultProxy]:
    with FaultProxy(moto.endpoint, seed=1234) as p:
        yield p


@pytest.fixture
def s3(moto: MotoS3, proxy: FaultProxy) -> Any:
    """boto3 through the proxy, no retries: faults surface raw."""
    return moto.client(proxy.endpoint, total_attempts=1)


@pytest.fixture
def direct(moto: MotoS3) -> Any:
    return moto.client()


def status_of(e: ClientError) -> int:
    return e.response["ResponseMetadata"]["HTTPStatusCode"]


# --------------------------------------------------------------------------- moto wrapper


def test_env_points_at_endpoint(moto: MotoS3, proxy: FaultProxy) -> None:
    env = moto.env()
    assert env["AWS_ENDPOINT_URL"] == moto.endpoint
    assert env["AWS_ALLOW_HTTP"] == "true"
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert moto.env(proxy.endpoint)["AWS_ENDPOINT_URL"] == proxy.endpoint


def test_reset_wipes_buckets(moto: MotoS3, bucket: str, direct: Any) -> None:
    direct.put_object(Bucket=bucket, Key="k", Body=b"v")
    moto.reset()
    assert direct.list_buckets()["Buckets"] == []


def test_moto_conditional_put_is_atomic(bucket: str, direct: Any, moto: MotoS3) -> None:
    """8 threads race If-None-Match:* on one key, 5 times: exactly one winner each.

    A tiny GIL switch interval widens moto's check-then-write window; unpatched
    moto 5.2 loses this race every few dozen rounds.
    """
    client = moto.client(total_attempts=1, max_pool_connections=16)
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        for race in range(5):
            key = f"race/{race}"
            barrier = threading.Barrier(8)
            winners: list[int] = []
            others: list[BaseException] = []

            def put(
                i: int,
                key: str = key,
                barrier: threading.Barrier = barrier,
                winners: list[int] = winners,
                others: list[BaseException] = others,
            ) -> None:
                barrier.wait()
                try:
                    client.put_object(Bucket=bucket, Key=key, Body=str(i).encode(), IfNoneMatch="*")
                    winners.append(i)
                except ClientError as e:
                    if e.response["Error"]["Code"] != "PreconditionFailed":
                        others.append(e)
                except BaseException as e:  # noqa: B036 - recorded and asserted below
                    others.append(e)

            threads = [threading.Thread(target=put, args=(i,)) for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert others == []
            assert len(winners) == 1, f"race {race}: winners {winners}"
            assert direct.get_object(Bucket=bucket, Key=key)["Body"].read() == str(winners[0]).encode()
    finally:
        sys.setswitchinterval(old)


# --------------------------------------------------------------------------- pass-through


def test_round_trip_through_proxy(bucket: str, s3: Any, proxy: FaultProxy) -> None:
    put = s3.put_object(Bucket=bucket, Key="a/b.txt", Body=b"hello", ContentType="text/plain", Metadata={"x": "1"})
    got = s3.get_object(Bucket=bucket, Key="a/b.txt")
    assert got["Body"].read() == b"hello"
    assert got["ETag"] == put["ETag"]
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"x": "1"}
    head = s3.head_object(Bucket=bucket, Key="a/b.txt")
    assert head["ContentLength"] == 5
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="a/")
    assert [o["Key"] for o in listed["Contents"]] == ["a/b.txt"]
    s3.delete_object(Bucket=bucket, Key="a/b.txt")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="a/b.txt")  # 404 HEAD: Content-Length but no body
    assert status_of(e.value) == 404
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="a/b.txt")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
    stats = proxy.stats
    assert stats.requests == {"PUT": 1, "GET": 3, "HEAD": 2, "DELETE": 1}
    assert stats.total_requests == 7
    assert stats.faults == {}
    assert stats.connections == 1  # botocore kept the one connection alive throughout


def test_large_body(bucket: str, s3: Any, direct: Any) -> None:
    body = bytes(range(256)) * (5 * 1024 * 4)  # 5 MiB
    assert len(body) == 5 * 1024 * 1024
    s3.put_object(Bucket=bucket, Key="big", Body=body)
    assert direct.get_object(Bucket=bucket, Key="big")["Body"].read() == body
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == body
    ranged = s3.get_object(Bucket=bucket, Key="big", Range="bytes=1000-1999")
    assert ranged["Body"].read() == body[1000:2000]


def test_conditional_put_through_proxy(bucket: str, s3: Any) -> None:
    s3.put_object(Bucket=bucket, Key="ref", Body=b"1", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="ref", Body=b"2", IfNoneMatch="*")
    assert status_of(e.value) == 412
    assert e.value.response["Error"]["Code"] == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key="ref")["Body"].read() == b"1"


def test_raw_keep_alive_and_chunked_request(bucket: str, proxy: FaultProxy, direct: Any) -> None:
    """Two requests on one client connection, the first with a chunked body (as some clients send)."""
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    try:
        conn.request(
            "PUT", f"/{bucket}/chunked", body=iter([b"abc", b"defg", b""]), headers={"Authorization": FAKE_AUTH}
        )
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
        assert resp.getheader("Connection") is None  # upstream's "close" is hop-by-hop, not relayed
        conn.request("GET", f"/{bucket}/chunked", headers={"Authorization": FAKE_AUTH})
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.read() == b"abcdefg"
    finally:
        conn.close()
    assert proxy.stats.connections == 1
    assert direct.get_object(Bucket=bucket, Key="chunked")["Body"].read() == b"abcdefg"


# --------------------------------------------------------------------------- faults


def test_fail_503_then_recovers(bucket: str, s3: Any, proxy: FaultProxy) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    rule = proxy.fail(503, method="GET")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k")
    assert status_of(e.value) == 503
    assert e.value.response["Error"]["Code"] == "SlowDown"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"  # count=1: the next one passes
    assert rule.applied == 1 and rule.remaining == 0
    assert proxy.stats.faults == {"fail": 1}


def test_fail_filters_by_method_and_path(bucket: str, s3: Any, proxy: FaultProxy, direct: Any) -> None:
    proxy.fail(500, method="PUT", path="/refs/", count=2)
    s3.put_object(Bucket=bucket, Key="data/x", Body=b"d")  # path does not match
    for _ in range(2):
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=bucket, Key="refs/main", Body=b"r")
        assert status_of(e.value) == 500
        assert e.value.response["Error"]["Code"] == "InternalError"
    s3.head_object(Bucket=bucket, Key="data/x")  # method does not match
    with pytest.raises(ClientError):
        direct.head_object(Bucket=bucket, Key="refs/main")  # failed PUTs never reached moto
    s3.put_object(Bucket=bucket, Key="refs/main", Body=b"r")  # rule exhausted
    assert proxy.stats.faults == {"fail": 2}
    assert proxy.stats.requests == {"PUT": 4, "HEAD": 1}


def test_fail_on_head_has_no_body(bucket: str, s3: Any, proxy: FaultProxy) -> None:
    proxy.fail(503, method="HEAD")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="nope")
    assert status_of(e.value) == 503
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")  # connection still usable after the bodiless HEAD
    assert proxy.stats.connections == 1


def test_botocore_retries_through_a_fault(bucket: str, moto: MotoS3, proxy: FaultProxy) -> None:
    retrying = moto.client(proxy.endpoint, total_attempts=3)
    proxy.fail(503, method="PUT")
    retrying.put_object(Bucket=bucket, Key="k", Body=b"v")
    assert proxy.stats.requests["PUT"] == 2


def test_delay(bucket: str, s3: Any, proxy: FaultProxy) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    proxy.delay(0.3, method="GET")
    t0 = time.monotonic()
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    assert time.monotonic() - t0 >= 0.25
    assert proxy.stats.faults == {"delay": 1}


def test_reset_gives_connection_error_and_request_never_lands(
    bucket: str, s3: Any, proxy: FaultProxy, direct: Any
) -> None:
    proxy.reset(method="PUT")
    with pytest.raises(NETWORK_ERRORS):
        s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    assert "Contents" not in direct.list_objects_v2(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")  # botocore reconnects
    assert proxy.stats.faults == {"reset": 1}
    assert proxy.stats.connections == 2


def test_reset_is_a_tcp_rst(bucket: str, proxy: FaultProxy) -> None:
    proxy.reset()
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        s.sendall(f"GET /{bucket} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        with pytest.raises(ConnectionResetError):
            while s.recv(1024):
                pass


def test_drop_response_lands_the_write(bucket: str, s3: Any, proxy: FaultProxy, direct: Any) -> None:
    proxy.drop_response(method="PUT")
    with pytest.raises(NETWORK_ERRORS):
        s3.put_object(Bucket=bucket, Key="landed", Body=b"payload", IfNoneMatch="*")
    assert direct.get_object(Bucket=bucket, Key="landed")["Body"].read() == b"payload"
    # The client's retry of the conditional PUT now sees its own write as a conflict.
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="landed", Body=b"payload", IfNoneMatch="*")
    assert status_of(e.value) == 412
    assert proxy.stats.faults == {"drop_response": 1}


def test_probability_is_seeded(moto: MotoS3, bucket: str) -> None:
    def outcomes(seed: int) -> list[bool]:
        with FaultProxy(moto.endpoint, seed=seed) as p:
            rule = p.fail(503, method="GET", probability=0.5)
            c = moto.client(p.endpoint, total_attempts=1)
            out = []
            for _ in range(16):
                try:
                    c.list_objects_v2(Bucket=bucket)
                    out.append(True)
                except ClientError:
                    out.append(False)
            assert rule.remaining is None  # probability without count: unlimited
            assert p.stats.faults["fail"] == rule.applied == out.count(False)
            return out

    first = outcomes(7)
    assert 0 < first.count(False) < 16
    assert outcomes(7) == first


def test_first_matching_rule_wins_and_clear(bucket: str, s3: Any, proxy: FaultProxy) -> None:
    proxy.fail(500, method="GET", count=1)
    proxy.fail(503, count=5)
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=bucket)
    assert status_of(e.value) == 500
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=bucket)
    assert status_of(e.value) == 503
    proxy.clear()
    assert proxy.rules == []
    s3.list_objects_v2(Bucket=bucket)
    assert proxy.stats.faults == {"fail": 2}
    proxy.clear_stats()
    assert proxy.stats.total_requests == 0


def test_stop_with_idle_keep_alive_connection(moto: MotoS3, bucket: str) -> None:
    p = FaultProxy(moto.endpoint)
    c = moto.client(p.endpoint, total_attempts=1)
    c.list_objects_v2(Bucket=bucket)  # leaves an idle pooled connection open
    t0 = time.monotonic()
    p.stop()
    assert time.monotonic() - t0 < 2
    assert not [t for t in threading.enumerate() if t.name.startswith(f"FaultProxy:{p.port}")]
    with pytest.raises(NETWORK_ERRORS):
        c.list_objects_v2(Bucket=bucket)
