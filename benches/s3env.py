"""The local S3 the S3 workloads run against: a moto server and a counting proxy in front of it.

``S3Env.start()`` starts ``tests/s3kit.MotoS3`` (moto's threaded server on 127.0.0.1, an
ephemeral port, conditional puts made atomic) and a ``FaultProxy`` with no fault rules in front
of it, and creates one bucket. Both systems under test talk to the proxy, so every request they
make is counted the same way (``proxy.stats.requests``, per HTTP method). Administrative calls
(deleting a finished round's prefix, resetting moto) go straight to moto and are never counted.

``S3Env.current`` is the running environment (None outside the S3 module); the adapters in
``backends.py`` read their endpoint from it, or, in a fresh child process, from the
``ZL_BENCH_S3_ENDPOINT`` / ``ZL_BENCH_S3_BUCKET`` environment variables it exports.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

BUCKET = "zarrlake-bench"
REGION = "us-east-1"
KEY = "testing"
ENV_ENDPOINT = "ZL_BENCH_S3_ENDPOINT"
ENV_BUCKET = "ZL_BENCH_S3_BUCKET"

#: what the session recorded about the S3 server (added to the results JSON by conftest)
INFO: dict[str, Any] = {}


def endpoint() -> str:
    env = S3Env.current
    if env is not None:
        return env.endpoint
    ep = os.environ.get(ENV_ENDPOINT)
    if not ep:
        raise RuntimeError("no S3 endpoint: the S3 workloads start one (bench_s3.py)")
    return ep


def bucket() -> str:
    env = S3Env.current
    return env.bucket if env is not None else os.environ.get(ENV_BUCKET, BUCKET)


@dataclass
class Meter:
    """Requests counted by the proxy during one window (per HTTP method)."""

    proxy: dict[str, int]
    #: the zarrlake handle's own ``request_counts()`` over the same window (None for Icechunk)
    own: dict[str, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"proxy": self.proxy, "own": self.own}


class S3Env:
    current: ClassVar[S3Env | None] = None

    def __init__(self) -> None:
        tests = Path(__file__).resolve().parent.parent / "tests"
        if str(tests) not in sys.path:
            sys.path.insert(0, str(tests))
        from s3kit import FaultProxy, MotoS3

        self.threads_before = {t.ident for t in threading.enumerate()}
        t0 = time.perf_counter()
        self.moto = MotoS3(region=REGION)
        self.bucket = BUCKET
        self.moto.create_bucket(self.bucket)
        self.proxy = FaultProxy(self.moto.endpoint)
        self.endpoint = self.proxy.endpoint
        self.admin = self.moto.client()
        self.start_s = time.perf_counter() - t0

    @classmethod
    def start(cls) -> S3Env:
        env = cls()
        cls.current = env
        os.environ[ENV_ENDPOINT] = env.endpoint
        os.environ[ENV_BUCKET] = env.bucket
        import moto

        INFO.update(
            {
                "server": "moto ThreadedMotoServer on 127.0.0.1 (in the pytest process), "
                "conditional puts made atomic (tests/s3kit.py)",
                "moto": moto.__version__,
                "proxy": "tests/s3kit.py FaultProxy, no fault rules; both systems connect to it",
                "bucket": env.bucket,
                "start_s": round(env.start_s, 3),
            }
        )
        return env

    # ---- counting ---------------------------------------------------------------------------
    def reset_counts(self, handle: Any = None) -> None:
        """Zero the proxy's counters (and the zarrlake handle's own, if given)."""
        if handle is not None and hasattr(handle, "request_counts"):
            handle.request_counts(reset=True)
        self.proxy.clear_stats()

    def read_counts(self, handle: Any = None) -> Meter:
        proxy = {k: int(v) for k, v in sorted(self.proxy.stats.requests.items()) if v}
        own = None
        if handle is not None and hasattr(handle, "request_counts"):
            own = {k: int(v) for k, v in sorted(handle.request_counts().items()) if v}
        return Meter(proxy, own)

    # ---- housekeeping (straight to moto, never counted) -------------------------------------
    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix/`` (the objects of a finished round)."""
        prefix = prefix.rstrip("/") + "/"
        n = 0
        pages = self.admin.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            for i in range(0, len(keys), 1000):
                self.admin.delete_objects(Bucket=self.bucket, Delete={"Objects": keys[i : i + 1000], "Quiet": True})
            n += len(keys)
        return n

    def stop(self) -> None:
        """Stop the proxy and moto (wiping moto's state first) and check no thread is left."""
        if S3Env.current is self:
            S3Env.current = None
        os.environ.pop(ENV_ENDPOINT, None)
        os.environ.pop(ENV_BUCKET, None)
        try:
            self.moto.reset()
        except Exception:  # pragma: no cover - stopping matters more
            pass
        self.proxy.stop()
        self.moto.stop()
        deadline = time.monotonic() + 5
        while True:
            left = [t.name for t in self._server_threads()]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        INFO["stopped"] = True
        INFO["threads_left_after_stop"] = left
        INFO["listening_after_stop"] = [port for port in (self.moto.port, self.proxy.port) if _listening(port)]

    def _server_threads(self) -> list[threading.Thread]:
        """Live threads of moto's server (its serve loop, werkzeug's per-request threads) and
        of the proxy (acceptor and per-connection threads)."""
        moto_thread = getattr(getattr(self.moto, "_server", None), "_thread", None)
        out = []
        for t in threading.enumerate():
            if not t.is_alive() or t.ident in self.threads_before:
                continue
            if t is moto_thread or "FaultProxy" in t.name or "process_request_thread" in t.name:
                out.append(t)
        return out


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def total(counts: dict[str, int] | None) -> int | None:
    return None if counts is None else sum(counts.values())


def add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return dict(Counter(a) + Counter(b))
