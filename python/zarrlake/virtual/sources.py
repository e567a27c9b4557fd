"""Source files of virtual datasets: URL normalisation, version capture and reading.

A *source URL* is what a virtual reference records: ``file:///abs/path`` for local files
(never a relative path), or ``s3://``, ``gs://``, ``http://`` and ``https://`` URLs. URLs
are taken literally (no percent-decoding, ``file://`` ones included), as kerchunk writes
them.

Ingest reads sources here, in Python; the repo reads referenced chunks later in Rust
(``object_store``). Both take endpoints and credentials from the standard environment
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...), so what ingests also reads.
"""

from __future__ import annotations

import io
import os
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from .. import _native
from ..errors import InvalidInputError, SourceChangedError, StorageError


@dataclass(frozen=True)
class SourceInfo:
    """What a source looked like when it was referenced."""

    url: str
    size: int
    etag: str | None = None
    #: modification time in microseconds since the epoch
    mtime: int | None = None


def normalize_url(uri: str | os.PathLike[str]) -> str:
    """The canonical source URL of a local path or a supported URL (the core's rule)."""
    s = os.fspath(uri)
    if not isinstance(s, str):
        raise InvalidInputError(f"expected a path or URL string, got {type(uri).__name__}")
    if not s:
        raise InvalidInputError("the source URI is empty")
    if "://" not in s:
        s = "file://" + os.path.abspath(os.path.expanduser(s))
    return _native.source_url(s)[0]


def prefix_of(url: str) -> str:
    """The prefix a reader allows for ``url``: its bucket or host, or a local file's directory."""
    return _native.source_url(url)[1]


def local_path(url: str) -> str | None:
    """The filesystem path of a ``file://`` URL, else None."""
    return url[len("file://") :] if url.startswith("file://") else None


def _split(url: str) -> tuple[str, str, str]:
    scheme, rest = url.split("://", 1)
    authority, _, key = rest.partition("/")
    return scheme, authority, key


# ---- backends ---------------------------------------------------------------------------


def _s3_client(storage_options: dict[str, Any]) -> Any:
    try:
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise InvalidInputError("reading s3:// sources at ingest needs boto3: pip install boto3") from e
    opts = dict(storage_options)
    anon = bool(opts.pop("anon", False))
    config = Config(signature_version=UNSIGNED) if anon else None
    return boto3.client("s3", config=config, **opts)


def _micros(dt: Any) -> int:
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


class _Backend:
    """Ranged reads and metadata of one remote object."""

    def info(self) -> SourceInfo:
        raise NotImplementedError

    def read(self, start: int, end: int) -> bytes:
        raise NotImplementedError


class _S3(_Backend):
    def __init__(self, url: str, storage_options: dict[str, Any]) -> None:
        self.url = url
        _, self.bucket, self.key = _split(url)
        self.client = _s3_client(storage_options)
        self.etag: str | None = None

    def _error(self, e: Exception) -> Exception:
        code = getattr(e, "response", {}).get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchKey", "NotFound"):
            return FileNotFoundError(f"source {self.url} does not exist")
        if code in ("412", "PreconditionFailed"):
            return SourceChangedError(f"source {self.url} changed while it was being read")
        return StorageError(f"cannot read source {self.url}: {e}")

    def info(self) -> SourceInfo:
        try:
            h = self.client.head_object(Bucket=self.bucket, Key=self.key)
        except Exception as e:
            raise self._error(e) from e
        self.etag = h.get("ETag")
        return SourceInfo(self.url, int(h["ContentLength"]), self.etag, _micros(h["LastModified"]))

    def read(self, start: int, end: int) -> bytes:
        kw: dict[str, Any] = {"Range": f"bytes={start}-{end - 1}"}
        if self.etag:
            kw["IfMatch"] = self.etag
        try:
            r = self.client.get_object(Bucket=self.bucket, Key=self.key, **kw)
            return bytes(r["Body"].read())
        except Exception as e:
            raise self._error(e) from e


class _Http(_Backend):
    def __init__(self, url: str, storage_options: dict[str, Any]) -> None:
        self.url = url
        self.http_url = url
        if url.startswith("gs://"):
            _, bucket, key = _split(url)
            self.http_url = f"https://storage.googleapis.com/{bucket}/{urllib.parse.quote(key)}"
        self.headers: dict[str, str] = dict(storage_options.get("headers", {}))
        self.etag: str | None = None

    def _open(self, method: str, headers: dict[str, str]) -> Any:
        import urllib.error
        import urllib.request

        req = urllib.request.Request(self.http_url, method=method, headers={**self.headers, **headers})
        try:
            return urllib.request.urlopen(req, timeout=60)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                raise FileNotFoundError(f"source {self.url} does not exist") from e
            if e.code == 412:
                raise SourceChangedError(f"source {self.url} changed while it was being read") from e
            raise StorageError(f"cannot read source {self.url}: HTTP {e.code}") from e
        except OSError as e:
            raise StorageError(f"cannot read source {self.url}: {e}") from e

    def info(self) -> SourceInfo:
        import email.utils

        with self._open("HEAD", {}) as r:
            size = int(r.headers.get("Content-Length", -1))
            self.etag = r.headers.get("ETag")
            lm = r.headers.get("Last-Modified")
        if size < 0:
            raise StorageError(f"source {self.url} reports no Content-Length; cannot reference it")
        mtime = _micros(email.utils.parsedate_to_datetime(lm)) if lm else None
        return SourceInfo(self.url, size, self.etag, mtime)

    def read(self, start: int, end: int) -> bytes:
        headers = {"Range": f"bytes={start}-{end - 1}"}
        if self.etag:
            headers["If-Match"] = self.etag
        with self._open("GET", headers) as r:
            data = r.read()
            if r.status == 200 and len(data) != end - start:  # the server ignored Range
                data = data[start:end]
        return bytes(data)


def _backend(url: str, storage_options: dict[str, Any]) -> _Backend:
    if url.startswith("s3://"):
        return _S3(url, storage_options)
    return _Http(url, storage_options)


def stat(url: str, storage_options: dict[str, Any] | None = None) -> SourceInfo:
    """Size, ETag and modification time of a source; FileNotFoundError if it is missing."""
    path = local_path(url)
    if path is not None:
        st = os.stat(path)
        return SourceInfo(url, st.st_size, None, st.st_mtime_ns // 1000)
    return _backend(url, storage_options or {}).info()


class _RangeReader(io.RawIOBase):
    """A seekable read-only file over ranged reads, with a small block cache."""

    def __init__(self, read: Callable[[int, int], bytes], size: int, block: int = 1 << 20) -> None:
        super().__init__()
        self._read = read
        self._size = size
        self._pos = 0
        self._block = block
        self._cache: OrderedDict[int, bytes] = OrderedDict()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _get_block(self, i: int) -> bytes:
        b = self._cache.get(i)
        if b is None:
            start = i * self._block
            b = self._read(start, min(self._size, start + self._block))
            self._cache[i] = b
            if len(self._cache) > 64:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(i)
        return b

    def readinto(self, buf: Any) -> int:
        view = memoryview(buf).cast("B")
        n = min(len(view), self._size - self._pos)
        if n <= 0:
            return 0
        if n > 4 * self._block:  # large reads bypass the cache
            view[:n] = self._read(self._pos, self._pos + n)
        else:
            done = 0
            while done < n:
                pos = self._pos + done
                blk = self._get_block(pos // self._block)
                off = pos % self._block
                take = min(n - done, len(blk) - off)
                view[done : done + take] = blk[off : off + take]
                done += take
        self._pos += n
        return n


def open_source(url: str, storage_options: dict[str, Any] | None = None) -> tuple[IO[bytes], SourceInfo]:
    """Opens a source for reading and returns it with its version info."""
    path = local_path(url)
    try:
        if path is not None:
            info = stat(url)
            return open(path, "rb"), info
        backend = _backend(url, storage_options or {})
        info = backend.info()
    except FileNotFoundError as e:
        raise InvalidInputError(f"source {url} does not exist") from e
    except IsADirectoryError as e:
        raise InvalidInputError(f"source {url} is a directory, not a file") from e
    raw = _RangeReader(backend.read, info.size)
    return io.BufferedReader(raw, buffer_size=1 << 16), info


def read_head(url: str, n: int = 8, storage_options: dict[str, Any] | None = None) -> bytes:
    """The first ``n`` bytes of a source."""
    f, _ = open_source(url, storage_options)
    with f:
        return f.read(n)


def copy_to_local(url: str, dest: str, storage_options: dict[str, Any] | None = None) -> SourceInfo:
    """Downloads a remote source to ``dest`` (for scanners that need a local file)."""
    f, info = open_source(url, storage_options)
    with f, open(dest, "wb") as out:
        while chunk := f.read(8 << 20):
            out.write(chunk)
    return info
