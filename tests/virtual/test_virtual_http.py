"""Virtual datasets over http:// (a range-capable server on 127.0.0.1)."""

from __future__ import annotations

import email.utils
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zarrlake

from . import virtual_samples as samples


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    root: Path
    gets: list[str]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _file(self) -> Path | None:
        p = (self.root / self.path.lstrip("/")).resolve()
        return p if p.is_file() and self.root in p.parents else None

    def _headers(self, p: Path, status: int, length: int, extra: dict[str, str]) -> None:
        st = p.stat()
        self.send_response(status)
        self.send_header("Content-Length", str(length))
        self.send_header("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True))
        self.send_header("ETag", f'"{st.st_size:x}-{st.st_mtime_ns:x}"')
        self.send_header("Accept-Ranges", "bytes")
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()

    def do_HEAD(self) -> None:
        p = self._file()
        if p is None:
            self.send_error(404)
            return
        self._headers(p, 200, p.stat().st_size, {})

    def do_GET(self) -> None:
        p = self._file()
        if p is None:
            self.send_error(404)
            return
        data = p.read_bytes()
        rng = self.headers.get("Range")
        self.gets.append(rng or "")
        if not rng:
            self._headers(p, 200, len(data), {})
            self.wfile.write(data)
            return
        start_s, end_s = rng.removeprefix("bytes=").split("-")
        start, end = int(start_s), min(int(end_s), len(data) - 1)
        body = data[start : end + 1]
        self._headers(p, 206, len(body), {"Content-Range": f"bytes {start}-{end}/{len(data)}"})
        self.wfile.write(body)


@pytest.fixture
def gets() -> list[str]:
    """The Range header of every GET the server answered."""
    return []


@pytest.fixture
def http_root(data_dir: Path, gets: list[str]) -> Iterator[str]:
    handler = type("Handler", (_RangeHandler,), {"root": data_dir.resolve(), "gets": gets})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_netcdf_and_tiff_over_http(tmp_path, data_dir, http_root):
    nc = samples.netcdf4(data_dir / "a.nc")
    tif, data = samples.tiff_multiband(data_dir / "b.tif")
    repo = zarrlake.Client(tmp_path / "lake", allow_virtual=[http_root + "/"]).create_repo("org/http")
    repo.add_virtual_netcdf(f"{http_root}/a.nc", "nc")
    repo.add_virtual_tiff(f"{http_root}/b.tif", "img", "rgb")
    repo.commit("over HTTP")
    samples.assert_same(repo.to_xarray("nc"), samples.xr_open(nc))
    assert (repo.to_xarray("img")["rgb"].values == data).all()
    reader = zarrlake.Client(tmp_path / "lake").get_repo("org/http")
    with pytest.raises(zarrlake.VirtualAccessError, match="http://127.0.0.1"):
        _ = reader.to_xarray("nc")["temp"].values


def test_nearby_ranges_are_coalesced(tmp_path, data_dir, http_root, gets):
    import asyncio
    import json

    (data_dir / "raw.bin").write_bytes(bytes(range(256)) * 400)
    zarray = {
        "shape": [50_000],
        "chunks": [1000],
        "dtype": "|u1",
        "fill_value": 0,
        "order": "C",
        "filters": None,
        "compressor": None,
        "zarr_format": 2,
    }
    refs = {".zgroup": "{}", "x/.zarray": json.dumps(zarray)}
    for i in range(50):  # 1000-byte chunks with 500-byte gaps
        refs[f"x/{i}"] = [f"{http_root}/raw.bin", i * 1500, 1000]
    repo = zarrlake.Client(tmp_path / "lake", allow_virtual=[http_root]).create_repo("org/coalesce")
    repo.add_kerchunk_references(refs, "k")
    repo.commit("refs")
    session = repo._core.session_native
    keys = [(f"k/x/{i}", None) for i in range(50)]
    gets.clear()

    async def many() -> list[bytes]:
        return await session.get_many_async(keys)

    got = asyncio.run(many())
    assert [bytes(b) for b in got] == [(bytes(range(256)) * 400)[i * 1500 : i * 1500 + 1000] for i in range(50)]
    assert gets == ["bytes=0-74499"]  # one request for all fifty
    gets.clear()
    assert bytes(session.get("k/x/7")) == bytes(got[7])
    assert gets == ["bytes=10500-11499"]


def test_concurrent_chunk_reads_are_coalesced(tmp_path, data_dir, http_root, gets):
    """zarr reads chunk by chunk, a few at a time: those reads share requests too."""
    import json

    import numpy as np
    import zarr

    values = np.arange(40_000, dtype="<i4")
    (data_dir / "ints.bin").write_bytes(values.tobytes())
    zarray = {
        "shape": [40_000],
        "chunks": [1000],
        "dtype": "<i4",
        "fill_value": 0,
        "order": "C",
        "filters": None,
        "compressor": None,
        "zarr_format": 2,
    }
    refs = {".zgroup": "{}", "x/.zarray": json.dumps(zarray)}
    refs.update({f"x/{i}": [f"{http_root}/ints.bin", i * 4000, 4000] for i in range(40)})
    repo = zarrlake.Client(tmp_path / "lake", allow_virtual=[http_root]).create_repo("org/batch")
    repo.add_kerchunk_references(refs, "k")
    repo.commit("refs")
    gets.clear()
    with zarr.config.set({"async.concurrency": 10}):
        got = zarr.open_array(repo.store, path="k/x", mode="r")[:]
    np.testing.assert_array_equal(got, values)
    assert len(gets) < 40, gets  # fewer requests than chunks
