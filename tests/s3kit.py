"""S3 test kit: an in-process moto S3 server and a fault-injecting HTTP proxy.

Why: zarrlake's S3 backend must survive what real object stores do under load
(503 SlowDown, stalls, reset connections, writes whose response was lost). moto
gives a local S3; ``FaultProxy`` sits between a client (boto3 or the Rust
``object_store``/``reqwest`` client) and moto and injects those faults on demand,
deterministically (counts) or randomly (seeded probabilities).

Only the standard library is imported at module import; boto3/botocore/moto are
imported lazily so that merely importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import functools
import random
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

DUMMY_KEY = "testing"
DEFAULT_REGION = "us-east-1"

FaultKind = Literal["fail", "delay", "reset", "drop_response", "strip_header"]


def s3_client(endpoint: str, *, total_attempts: int | None = None, region: str = DEFAULT_REGION, **config: Any) -> Any:
    """A boto3 S3 client for ``endpoint`` with dummy credentials and path-style addressing.

    ``total_attempts=1`` disables botocore retries so tests see raw faults. (Beware:
    botocore's own ``retries={"max_attempts": 1}`` means one *retry*, two attempts.)
    Extra keyword arguments go to ``botocore.config.Config``.
    """
    import boto3
    from botocore.config import Config

    if total_attempts is not None:
        config.setdefault("retries", {"total_max_attempts": total_attempts, "mode": "standard"})
    config.setdefault("s3", {"addressing_style": "path"})
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=DUMMY_KEY,
        aws_secret_access_key=DUMMY_KEY,
        region_name=region,
        config=Config(**config),
    )


def s3_env(endpoint: str, region: str = DEFAULT_REGION) -> dict[str, str]:
    """Env vars that point object_store/boto-style clients at ``endpoint`` with dummy keys."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": DUMMY_KEY,
        "AWS_SECRET_ACCESS_KEY": DUMMY_KEY,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        # No instance-metadata probing (it can stall clients for seconds off-cloud).
        "AWS_EC2_METADATA_DISABLED": "true",
    }


_patch_lock = threading.Lock()
_patched = False


def _serialise_moto_s3() -> None:
    """Runs moto's S3 bucket- and key-level request handlers under one process-wide lock (idempotent).

    Why: moto 5 checks ``If-None-Match``/``If-Match`` and then writes in two
    unlocked steps, so racing conditional PUTs can both "win" (seen here: 2 of 40
    8-way races with ``sys.setswitchinterval(1e-6)``); a concurrent overwrite can
    also close the buffer of a key another request is still reading (500,
    "I/O operation on closed file"). Real S3 conditional writes are atomic and
    zarrlake's ref updates rely on that. moto is GIL-bound anyway, so the lock
    costs little. The patch is process-global (it also affects ``mock_aws``).
    """
    global _patched
    with _patch_lock:
        if _patched:
            return
        from moto.s3.responses import S3Response

        lock = threading.RLock()
        for name in ("_key_response", "_bucket_response"):
            original = getattr(S3Response, name, None)
            if original is None:  # moto internals moved: fail loudly rather than test a racy store
                raise RuntimeError(f"moto.s3.responses.S3Response.{name} not found; update s3kit")

            def locked(self: Any, *args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
                with lock:
                    return _original(self, *args, **kwargs)

            functools.update_wrapper(locked, original)
            setattr(S3Response, name, locked)
        _patched = True


class MotoS3:
    """moto's threaded S3 server on 127.0.0.1 with an ephemeral port.

    Why: an in-process server is fast to start and shared by boto3 and
    subprocess/Rust clients alike (via ``env()``). moto state is process-global,
    so use ``reset()`` between tests rather than restarting the server.

    ``atomic_conditional_puts`` (default on) patches moto so conditional
    writes are atomic, as on real S3 (see ``_serialise_moto_s3``).

    With ``process=True`` the server runs in a child process instead: it then does not
    compete for this process's GIL, so a test suite's S3 requests run beside its Python
    code on another core. The child ends with this object, or when this process dies
    (it watches its stdin).
    """

    def __init__(
        self, *, region: str = DEFAULT_REGION, atomic_conditional_puts: bool = True, process: bool = False
    ) -> None:
        self.region = region
        self._stopped = False
        self._child: subprocess.Popen[str] | None = None
        if process:
            args = [sys.executable, __file__, "--serve"] + ([] if atomic_conditional_puts else ["--racy"])
            self._child = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert self._child.stdout is not None
            line = self._child.stdout.readline().strip()
            if not line.isdigit():
                self._child.kill()
                raise RuntimeError(f"moto server process did not start: {line!r}")
            self.host, self.port = "127.0.0.1", int(line)
            self.endpoint = f"http://{self.host}:{self.port}"
            return
        import logging

        from moto.server import ThreadedMotoServer

        if atomic_conditional_puts:
            _serialise_moto_s3()
        # werkzeug logs every request at INFO to stderr unless told otherwise.
        wz = logging.getLogger("werkzeug")
        if wz.level == logging.NOTSET:
            wz.setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        self.host, self.port = self._server.get_host_and_port()
        self.endpoint = f"http://{self.host}:{self.port}"

    def client(self, endpoint: str | None = None, *, total_attempts: int | None = None, **config: Any) -> Any:
        """boto3 S3 client (see ``s3_client``), direct to moto unless ``endpoint`` (e.g. a proxy) is given."""
        return s3_client(endpoint or self.endpoint, total_attempts=total_attempts, region=self.region, **config)

    def create_bucket(self, name: str) -> None:
        """Creates ``name`` directly on moto (no proxy in between); an existing one is kept."""
        if getattr(self, "_admin", None) is None:
            self._admin = self.client()
        self._admin.create_bucket(Bucket=name)

    def env(self, endpoint: str | None = None) -> dict[str, str]:
        """Env vars for object_store-based clients; ``endpoint`` overrides moto's (e.g. a proxy)."""
        return s3_env(endpoint or self.endpoint, self.region)

    def reset(self) -> None:
        """Wipes all moto state (all buckets, all services) via ``POST /moto-api/reset``."""
        req = urllib.request.Request(f"{self.endpoint}/moto-api/reset", data=b"", method="POST")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via $HTTP_PROXY
        with opener.open(req, timeout=10) as resp:
            resp.read()

    def stop(self) -> None:
        """Stops the server thread or process (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        if self._child is None:
            self._server.stop()
            return
        assert self._child.stdin is not None
        self._child.stdin.close()
        try:
            self._child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


# --------------------------------------------------------------------------- fault proxy


@dataclass
class FaultRule:
    """One fault: applies to matching requests while ``remaining`` is not 0 (None = unlimited)."""

    kind: FaultKind
    method: str | None = None
    path: str | None = None
    remaining: int | None = 1
    probability: float | None = None
    status: int = 503
    code: str | None = None
    seconds: float = 0.0
    applied: int = 0

    def matches(self, method: str, target: str) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method is not None and self.method != "*" and self.method.upper() != method:
            return False
        return self.path is None or self.path in target


@dataclass(frozen=True)
class ProxyStats:
    """Snapshot of proxy counters: requests seen per method, faults applied per kind, connections."""

    requests: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    connections: int = 0  # client connections accepted (shows whether clients reuse them)
    max_in_flight: int = 0  # most requests being handled at once (a client's concurrency)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


class _ProtocolError(Exception):
    """Malformed HTTP from a peer; the connection is dropped."""


class _Abort(Exception):
    """The connection must end now (already reset or stopping)."""


@dataclass
class _Head:
    start_line: bytes  # without CRLF
    lines: list[bytes]  # raw header lines without CRLF
    headers: dict[str, str]  # lower-cased name -> last value (comma-joined for repeats)

    def tokens(self, name: str) -> set[str]:
        return {t.strip().lower() for t in self.headers.get(name, "").split(",") if t.strip()}


_MAX_LINE = 65536
_HOP_BY_HOP_RESPONSE = {b"connection", b"keep-alive"}


def _read_head(rfile: Any) -> _Head | None:
    """Reads a start line and headers; None on clean EOF before any byte."""
    line = rfile.readline(_MAX_LINE + 1)
    while line in (b"\r\n", b"\n"):  # tolerate stray CRLF between requests (RFC 9112 2.2)
        line = rfile.readline(_MAX_LINE + 1)
    if not line:
        return None
    if len(line) > _MAX_LINE or not line.endswith(b"\n"):
        raise _ProtocolError("start line too long or truncated")
    start = line.rstrip(b"\r\n")
    lines: list[bytes] = []
    headers: dict[str, str] = {}
    while True:
        line = rfile.readline(_MAX_LINE + 1)
        if not line or len(line) > _MAX_LINE:
            raise _ProtocolError("truncated headers")
        if line in (b"\r\n", b"\n"):
            break
        raw = line.rstrip(b"\r\n")
        lines.append(raw)
        name, sep, value = raw.partition(b":")
        if not sep:
            raise _ProtocolError("bad header line")
        key = name.strip().decode("latin-1").lower()
        val = value.strip().decode("latin-1")
        headers[key] = f"{headers[key]}, {val}" if key in headers else val
    return _Head(start, lines, headers)


def _copy_exact(rfile: Any, n: int, sink: Callable[[bytes], None]) -> None:
    while n > 0:
        chunk = rfile.read(min(n, 1 << 16))
        if not chunk:
            raise _ProtocolError("body truncated")
        sink(chunk)
        n -= len(chunk)


def _copy_chunked(rfile: Any, sink: Callable[[bytes], None]) -> None:
    """Relays a chunked body verbatim (framing, extensions and trailers included)."""
    while True:
        line = rfile.readline(_MAX_LINE + 1)
        if not line.endswith(b"\n"):
            raise _ProtocolError("bad chunk size line")
        sink(line)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError as e:
            raise _ProtocolError("bad chunk size") from e
        if size == 0:
            while True:  # trailers, then the final empty line
                line = rfile.readline(_MAX_LINE + 1)
                if not line.endswith(b"\n"):
                    raise _ProtocolError("truncated trailers")
                sink(line)
                if line in (b"\r\n", b"\n"):
                    return
        _copy_exact(rfile, size, sink)
        crlf = rfile.readline(_MAX_LINE + 1)
        if crlf not in (b"\r\n", b"\n"):
            raise _ProtocolError("missing CRLF after chunk")
        sink(crlf)


def _content_length(head: _Head) -> int | None:
    raw = head.headers.get("content-length")
    if raw is None:
        return None
    values = {v.strip() for v in raw.split(",")}
    if len(values) != 1 or not next(iter(values)).isdigit():
        raise _ProtocolError(f"bad Content-Length {raw!r}")
    return int(values.pop())


def _rst(sock: socket.socket) -> None:
    """Closes ``sock`` with SO_LINGER 0 so the peer sees a TCP RST, not a FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


_S3_CODES = {500: "InternalError", 503: "SlowDown", 403: "AccessDenied", 404: "NoSuchKey"}


class FaultProxy:
    """HTTP/1.1 reverse proxy (tests only) that injects S3-ish faults on the way to ``upstream``.

    Why: retry and idempotency logic can only be tested against failures that
    happen at the right moment; this proxy makes them happen on cue.

    Requests are forwarded byte-for-byte (request line, headers including Host,
    body), so SigV4 signatures stay valid. One thread per client connection;
    client keep-alive is honoured. Each request opens a fresh upstream
    connection (moto/werkzeug closes after every response anyway), and the
    hop-by-hop ``Connection``/``Keep-Alive`` response headers are therefore not
    passed back; everything else in the response is relayed verbatim.

    Each request consumes at most one rule: the first active matching rule in
    the order added. A rule with ``probability`` fires on a seeded coin flip and
    is unlimited unless ``count`` is also given; otherwise it fires for the next
    ``count`` (default 1) matching requests. ``path`` is a substring of the raw
    request target (path plus query string, e.g. ``"?uploads"`` or ``"/refs/"``).
    """

    def __init__(self, upstream: str, *, seed: int = 0, upstream_timeout: float = 30.0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be http://host:port, got {upstream!r}")
        self._upstream = (parts.hostname, parts.port or 80)
        self._upstream_timeout = upstream_timeout
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._rules: list[FaultRule] = []
        self._requests: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._connections = 0
        self._in_flight = 0
        self._max_in_flight = 0
        self._local = threading.local()
        self._stopping = threading.Event()
        self._socks: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port: int = self._listener.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._acceptor = threading.Thread(target=self._accept_loop, name=f"FaultProxy:{self.port}", daemon=True)
        self._acceptor.start()

    # ----------------------------------------------------------------- fault API

    def fail(
        self,
        status: int = 503,
        *,
        method: str | None = None,
        path: str | None = None,
        count: int | None = None,
        probability: float | None = None,
        code: str | None = None,
    ) -> FaultRule:
        """Answers matching requests with ``status`` and an S3 XML error body, without forwarding."""
        return self._add(FaultRule("fail", status=status, code=code), method, path, count, probability)

    def delay(
        self,
        seconds: float,
        *,
        method: str | None = None,
        path: str | None = None,
        count: int | None = None,
        probability: float | None = None,
    ) -> FaultRule:
        """Sleeps ``seconds`` before forwarding matching requests."""
        return self._add(FaultRule("delay", seconds=seconds), method, path, count, probability)

    def reset(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        count: int | None = None,
        probability: float | None = None,
    ) -> FaultRule:
        """Resets (TCP RST) the client connection instead of forwarding: the request never lands."""
        return self._add(FaultRule("reset"), method, path, count, probability)

    def drop_response(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        count: int | None = None,
        probability: float | None = None,
    ) -> FaultRule:
        """Forwards the request (it takes effect), then resets the client instead of answering."""
        return self._add(FaultRule("drop_response"), method, path, count, probability)

    def strip_header(
        self,
        header: str,
        *,
        method: str | None = None,
        path: str | None = None,
        count: int | None = None,
        probability: float | None = None,
    ) -> FaultRule:
        """Forwards the request without ``header``: a server that ignores, say, ``If-None-Match``."""
        rule = FaultRule("strip_header")
        rule.code = header.lower()
        return self._add(rule, method, path, count, probability)

    def clear(self) -> None:
        """Removes all fault rules (counters are kept; see ``clear_stats``)."""
        with self._lock:
            self._rules.clear()

    def clear_stats(self) -> None:
        with self._lock:
            self._requests.clear()
            self._faults.clear()
            self._connections = 0
            self._max_in_flight = 0

    @property
    def stats(self) -> ProxyStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            return ProxyStats(Counter(self._requests), Counter(self._faults), self._connections, self._max_in_flight)

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def _add(
        self, rule: FaultRule, method: str | None, path: str | None, count: int | None, probability: float | None
    ) -> FaultRule:
        if probability is not None and not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be in [0, 1]")
        if count is not None and count < 0:
            raise ValueError("count must be >= 0")
        rule.method = method
        rule.path = path
        rule.probability = probability
        rule.remaining = count if count is not None else (None if probability is not None else 1)
        with self._lock:
            self._rules.append(rule)
        return rule

    def _take(self, method: str, target: str) -> FaultRule | None:
        with self._lock:
            self._requests[method] += 1
            for rule in self._rules:
                if not rule.matches(method, target):
                    continue
                if rule.probability is not None and self._rng.random() >= rule.probability:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                rule.applied += 1
                self._faults[rule.kind] += 1
                return rule
        return None

    # ----------------------------------------------------------------- lifecycle

    def stop(self) -> None:
        """Stops accepting, cuts live connections and joins threads (all daemon; bounded wait)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept() on Linux
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self._acceptor.join(timeout=5)
        with self._lock:
            threads = list(self._threads)
        deadline = time.monotonic() + 5
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                time.sleep(0.01)
                continue
            t = threading.Thread(target=self._serve, args=(sock,), name=f"FaultProxy:{self.port}:conn", daemon=True)
            with self._lock:
                if self._stopping.is_set():
                    sock.close()
                    return
                self._socks.add(sock)
                self._threads.add(t)
                self._connections += 1
            t.start()

    @contextlib.contextmanager
    def _tracked(self, sock: socket.socket) -> Iterator[socket.socket]:
        with self._lock:
            self._socks.add(sock)
        try:
            yield sock
        finally:
            with self._lock:
                self._socks.discard(sock)

    # ----------------------------------------------------------------- per connection

    def _serve(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rfile = sock.makefile("rb")
        try:
            while not self._stopping.is_set():
                if not self._serve_one(sock, rfile):
                    break
        except (OSError, _ProtocolError, _Abort):
            pass
        finally:
            with contextlib.suppress(OSError):
                rfile.close()
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                self._socks.discard(sock)
                self._threads.discard(threading.current_thread())

    def _serve_one(self, sock: socket.socket, rfile: Any) -> bool:
        """Handles one request; returns whether the client connection stays open."""
        head = _read_head(rfile)
        if head is None:
            return False
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        self._local.answered = False
        try:
            return self._handle(sock, rfile, head)
        finally:
            self._answered()

    def _answered(self) -> None:
        """Ends this thread's request for the in-flight gauge, once, before the client can
        see the answer (and send its next request)."""
        if not getattr(self._local, "answered", True):
            self._local.answered = True
            with self._lock:
                self._in_flight -= 1

    def _handle(self, sock: socket.socket, rfile: Any, head: _Head) -> bool:
        parts = head.start_line.split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            raise _ProtocolError("bad request line")
        method = parts[0].decode("latin-1").upper()
        target = parts[1].decode("latin-1")
        http10 = parts[2] == b"HTTP/1.0"
        conn_tokens = head.tokens("connection")
        keep_alive = ("keep-alive" in conn_tokens) if http10 else ("close" not in conn_tokens)

        if "100-continue" in head.tokens("expect") and not http10:
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = bytearray()
        if "chunked" in head.tokens("transfer-encoding"):
            _copy_chunked(rfile, body.extend)
        else:
            n = _content_length(head)
            if n:
                _copy_exact(rfile, n, body.extend)
        request = b"\r\n".join([head.start_line, *head.lines]) + b"\r\n\r\n" + bytes(body)

        rule = self._take(method, target)
        if rule is None:
            return self._forward(request, method, sock, keep_alive, deliver=True)
        if rule.kind == "fail":
            self._send_error(sock, rule, method, target, keep_alive)
            return keep_alive
        if rule.kind == "strip_header":
            drop = (rule.code or "").encode("latin-1")
            kept = [line for line in head.lines if line.partition(b":")[0].strip().lower() != drop]
            request = b"\r\n".join([head.start_line, *kept]) + b"\r\n\r\n" + bytes(body)
            return self._forward(request, method, sock, keep_alive, deliver=True)
        if rule.kind == "delay":
            if self._stopping.wait(rule.seconds):
                raise _Abort
            return self._forward(request, method, sock, keep_alive, deliver=True)
        if rule.kind == "drop_response":
            self._forward(request, method, sock, keep_alive, deliver=False)
        # reset, or drop_response after the request landed upstream
        with contextlib.suppress(OSError):
            rfile.close()
        _rst(sock)
        raise _Abort

    def _send_error(self, sock: socket.socket, rule: FaultRule, method: str, target: str, keep_alive: bool) -> None:
        code = rule.code or _S3_CODES.get(rule.status, "InjectedFault")
        request_id = f"FAULT{rule.applied:012d}"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(code)}</Code><Message>Injected fault ({rule.status})</Message>"
            f"<Resource>{escape(target.split('?', 1)[0])}</Resource><RequestId>{request_id}</RequestId></Error>"
        ).encode()
        reason = {500: "Internal Server Error", 503: "Service Unavailable"}.get(rule.status, "Injected Fault")
        lines = [
            f"HTTP/1.1 {rule.status} {reason}",
            "Content-Type: application/xml",
            f"Content-Length: {0 if method == 'HEAD' else len(body)}",
            f"x-amz-request-id: {request_id}",
            "Server: FaultProxy",
        ]
        if not keep_alive:
            lines.append("Connection: close")
        out = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self._answered()
        sock.sendall(out if method == "HEAD" else out + body)

    def _forward(self, request: bytes, method: str, client: socket.socket, keep_alive: bool, *, deliver: bool) -> bool:
        """Sends ``request`` upstream and relays (or, if not ``deliver``, swallows) the response.

        Returns whether the client connection may stay open.
        """
        up = socket.create_connection(self._upstream, timeout=self._upstream_timeout)
        with self._tracked(up), contextlib.closing(up):
            up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            up.sendall(request)
            with up.makefile("rb") as urfile:
                while True:
                    head = _read_head(urfile)
                    if head is None:
                        raise _ProtocolError("upstream closed without a response")
                    try:
                        status = int(head.start_line.split(b" ", 2)[1])
                    except (IndexError, ValueError) as e:
                        raise _ProtocolError("bad status line") from e
                    if not (100 <= status < 200 and status != 101):
                        break  # interim 1xx (e.g. 100 Continue) are not relayed: we answered Expect ourselves

                pending = bytearray()

                def sink(data: bytes) -> None:
                    if not deliver:
                        return
                    pending.extend(data)
                    if len(pending) >= 1 << 16:
                        self._answered()
                        client.sendall(pending)
                        pending.clear()

                no_body = method == "HEAD" or 100 <= status < 200 or status in (204, 304)
                chunked = not no_body and "chunked" in head.tokens("transfer-encoding")
                length = None if no_body or chunked else _content_length(head)
                close_delimited = not no_body and not chunked and length is None
                keep = keep_alive and not close_delimited

                lines = [ln for ln in head.lines if ln.split(b":", 1)[0].strip().lower() not in _HOP_BY_HOP_RESPONSE]
                if not keep:
                    lines.append(b"Connection: close")
                sink(b"\r\n".join([head.start_line, *lines]) + b"\r\n\r\n")
                if chunked:
                    _copy_chunked(urfile, sink)
                elif length:
                    _copy_exact(urfile, length, sink)
                elif close_delimited:
                    while chunk := urfile.read1(1 << 16):
                        sink(chunk)
                if deliver and pending:
                    self._answered()
                    client.sendall(pending)
                return keep


def _serve(atomic: bool) -> None:
    """The child of ``MotoS3(process=True)``: prints the port, serves until stdin closes."""
    import logging

    from moto.server import ThreadedMotoServer

    if atomic:
        _serialise_moto_s3()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    print(server.get_host_and_port()[1], flush=True)
    sys.stdin.read()  # EOF: the parent stopped us, or died
    server.stop()


if __name__ == "__main__" and "--serve" in sys.argv:
    _serve(atomic="--racy" not in sys.argv)
