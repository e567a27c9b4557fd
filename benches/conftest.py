"""pytest configuration of the benchmark suite (collected only when pytest is pointed at benches/).

Records n/a skips and failures with their table row and backend into the pytest-benchmark JSON,
so ``run.py`` can show "n/a" with the reason, or "ERR", instead of an empty cell.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import backends  # noqa: E402  (sets ICECHUNK_LOG before icechunk is imported)
import harness  # noqa: E402

_OUTCOMES: list[dict[str, Any]] = []
_OWN_TMP = "ZL_BENCH_TMP" not in os.environ


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not (report.skipped or report.failed):
        return
    props = dict_multi(report.user_properties)
    rows = props.get("row", [])
    backend = (props.get("backend") or [None])[-1]
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        kind = "skipped"
        for k in ("n/a", "same"):
            if reason.startswith(f"{k}: "):
                kind, reason = k, reason.removeprefix(f"{k}: ")
    else:
        kind = "error"
        crash = getattr(report.longrepr, "reprcrash", None)
        reason = crash.message if crash is not None else str(report.longrepr)[-500:]
        reason = reason.splitlines()[0][:300] if reason else "failed"
    _OUTCOMES.append(
        {
            "nodeid": report.nodeid,
            "when": report.when,
            "kind": kind,
            "rows": rows,
            "backend": backend,
            "reason": reason,
        }
    )


def dict_multi(pairs: list[tuple[str, Any]]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out


def pytest_benchmark_update_json(config: Any, benchmarks: Any, output_json: dict[str, Any]) -> None:
    import numpy
    import zarr

    versions = {"python": platform.python_version(), "zarr": zarr.__version__}
    versions["numpy"] = numpy.__version__
    for mod in ("zarrlake", "icechunk"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception as e:  # pragma: no cover - reported, not fatal
            versions[mod] = f"unavailable: {e}"
    for dist in ("zarrs", "tensorstore"):  # the native-engine section's peers
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    versions["zarrlake_native_built"] = _native_built()
    output_json["zarrlake_bench"] = {
        "mode": harness.MODE,
        "sizes": harness.sizes_dict(),
        "outcomes": _OUTCOMES,
        "versions": versions,
        "zarr_config": {"async.concurrency": zarr.config.get("async.concurrency")},
        "icechunk_settings": _icechunk_settings(),
        "cpu_count": os.cpu_count(),
    }
    if "s3env" in sys.modules:  # the S3 workloads ran (or were collected)
        output_json["zarrlake_bench"]["s3"] = dict(sys.modules["s3env"].INFO)


def _native_built() -> str | None:
    """When the loaded zarrlake extension was built (editable installs change under a run's feet)."""
    import datetime as dt

    native = sys.modules.get("zarrlake._native")
    path = getattr(native, "__file__", None)
    if not path:
        return None
    return dt.datetime.fromtimestamp(Path(path).stat().st_mtime, dt.UTC).isoformat(timespec="seconds")


def _icechunk_settings() -> Any:
    try:
        return backends.icechunk_settings_description()
    except Exception as e:  # pragma: no cover
        return f"unavailable: {e}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _OWN_TMP and "ZL_BENCH_TMP" in os.environ:
        harness.rmtree(Path(os.environ["ZL_BENCH_TMP"]))


# ---- fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def sizes() -> harness.Sizes:
    return harness.sizes()


@pytest.fixture(scope="module")
def work(request: pytest.FixtureRequest) -> Any:
    """This module's scratch directory, deleted when the module is done (keeps disk use low)."""
    path = harness.tmp_root() / request.module.__name__
    path.mkdir(parents=True, exist_ok=True)
    yield path
    harness.rmtree(path)


@pytest.fixture(scope="session")
def bulk(sizes: harness.Sizes) -> Any:
    """The bulk payload (64 MiB quick, 1 GiB full), generated once per run."""
    return harness.bulk_data(sizes.bulk_side)


@pytest.fixture(scope="session")
def shared() -> dict[Any, Any]:
    """Repos that one workload leaves for a later one (e.g. bulk write -> fresh-process read)."""
    return {}
