"""Virtual datasets over http:// (a range-capable server on 127.0.0.1)."""

from __future__ import annotations

import email.utils
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import virtual_samples as samples
import zarrlake


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    root: Path

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
def http_root(data_dir: Path) -> Iterator[str]:
    handler = type("Handler", (_RangeHandler,), {"root": data_dir.resolve()})
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
