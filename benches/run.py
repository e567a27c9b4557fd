"""Run the benchmark suite and print one comparison table.

    .venv/bin/python benches/run.py            # full sizes (about 30-35 min on 2 cores)
    .venv/bin/python benches/run.py --quick    # small sizes (about 5 min)
    .venv/bin/python benches/run.py --quick -k "bulk or import"
    .venv/bin/python benches/run.py --quick -k s3         # only the S3 section
    .venv/bin/python benches/run.py --quick -k native     # only the native-engine section
    .venv/bin/python benches/run.py --quick -k "not s3"   # only local disk
    .venv/bin/python benches/run.py --table-only benches/results/latest.json

Runs pytest on benches/ in a child process with ``--benchmark-json``, then builds the table
from that JSON: one row per workload, a column per backend (median seconds), the physical
limit where it applies, and the ratios zarrlake / LocalStore and zarrlake / Icechunk (below 1
means zarrlake is faster). The native-engine workloads (bench_native.py) get their own section
below it: zarrlake's native codec pipeline next to zarr's default one, zarrs and TensorStore on
the bulk payload, with the writes' peak memory. The S3 workloads (bench_s3.py) get theirs too:
zarrlake and Icechunk on one local moto S3 server, with the HTTP requests each one made.
Writes everything, raw pytest-benchmark data included, to ``benches/results/latest.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
sys.path.insert(0, str(BENCH_DIR))

COLUMNS = [
    ("zarrlake", "zarrlake"),
    ("localstore", "LocalStore"),
    ("icechunk", "Icechunk"),
    ("icechunk-tuned", "Icechunk+rd"),
]
RATIOS = [
    ("localstore", "zl/LS"),
    ("icechunk", "zl/IC"),
    ("icechunk-tuned", "zl/IC+rd"),
]
#: the S3 section (bench_s3.py): its columns and its one ratio
S3_COLUMNS = [
    ("zarrlake-s3", "zarrlake"),
    ("icechunk-s3", "Icechunk"),
]
S3_RATIO = ("icechunk-s3", "zl/IC")
#: the native-engine section (bench_native.py): its columns and ratios (zarrlake-native / other)
NATIVE_COLUMNS = [
    ("zarrlake-native", "zl-native"),
    ("zarrlake", "zarrlake"),
    ("localstore", "LocalStore"),
    ("localstore-zarrs", "LS+zarrs"),
    ("tensorstore", "TensorStore"),
    ("icechunk", "Icechunk"),
]
NATIVE_RATIOS = [
    ("localstore", "nat/LS"),
    ("localstore-zarrs", "nat/zarrs"),
    ("tensorstore", "nat/TS"),
    ("icechunk", "nat/IC"),
]
#: what a memory row's number is, unless its benchmark says otherwise (``harness.memory``)
MEMORY_SOURCE = "peak RSS (VmHWM, reset right before) above the RSS right before the write, in the child"
#: rows whose "physical" column shows a physical-limit row
PHYSICAL_FOR = {
    "w1.raw": "phys.write",
    "w1.zstd": "phys.write",
    "w2.raw": "phys.read",
    "w2.zstd": "phys.read",
    "n1.raw": "phys.write",
    "n1.zstd": "phys.write",
    "n2.raw": "phys.read",
    "n2.zstd": "phys.read",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, under 3 minutes")
    ap.add_argument("-k", dest="keyword", help="pytest -k expression to run a subset")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the repos written")
    ap.add_argument("--tmp", help="directory for the repos (default: a new one under $TMPDIR)")
    ap.add_argument("--out", default=str(RESULTS / "latest.json"), help="results JSON path")
    ap.add_argument("--table-only", metavar="JSON", help="print the table of a results file")
    ap.add_argument("pytest_args", nargs="*", help="extra arguments for pytest (after --)")
    args = ap.parse_args()

    if args.table_only:
        print(render(json.loads(Path(args.table_only).read_text())))
        return 0

    mode = "quick" if args.quick else "full"
    tmp = Path(args.tmp) if args.tmp else Path(tempfile.mkdtemp(prefix="zarrlake-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    raw_path = RESULTS / f"pytest-benchmark-{mode}.json"
    raw_path.unlink(missing_ok=True)

    env = dict(os.environ)
    env.update({"ZL_BENCH_MODE": mode, "ZL_BENCH_TMP": str(tmp)})
    env.setdefault("ICECHUNK_LOG", "error")
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(BENCH_DIR),
        "-q",
        f"--benchmark-json={raw_path}",
        "--benchmark-quiet",
    ]
    if args.keyword:
        cmd += ["-k", args.keyword]
    cmd += args.pytest_args
    print(f"[bench] mode={mode} tmp={tmp}", flush=True)
    print("[bench] " + " ".join(cmd), flush=True)
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    try:
        rc = subprocess.call(cmd, cwd=ROOT, env=env)
    finally:
        if not args.keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    wall = time.perf_counter() - t0
    if not raw_path.exists():
        print(f"[bench] pytest wrote no results (exit {rc})", file=sys.stderr)
        return rc or 1

    raw = json.loads(raw_path.read_text())
    results = build(raw, mode)
    results.update(
        {
            "started": started.isoformat(timespec="seconds"),
            "wall_s": round(wall, 1),
            "pytest_exit": rc,
            "command": cmd,
            "machine": machine(),
        }
    )
    results["pytest_benchmark"] = raw
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    raw_path.unlink(missing_ok=True)
    print()
    print(render(results))
    print(f"\n[bench] raw results: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return rc


# ---- results --------------------------------------------------------------------------------
def build(raw: dict[str, Any], mode: str) -> dict[str, Any]:
    import harness

    meta = raw.get("zarrlake_bench", {})
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    reqs: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def put(row: str, backend: str, cell: dict[str, Any]) -> None:
        old = cells.get((row, backend))
        if old is None or old.get("status") != "ok":
            cells[(row, backend)] = cell

    for b in raw.get("benchmarks", []):
        info = b.get("extra_info", {})
        row, backend = info.get("row"), info.get("backend")
        if not row:
            continue
        if info.get("inner_s"):
            times = info["inner_s"]
            source = info.get("inner_source", "measured inside the child process")
        else:
            times, source = b["stats"].get("data") or [b["stats"]["median"]], "pytest-benchmark"
        cell = ok(times, source)
        for key in ("zarr_loaded", "numpy_loaded", "pipeline", "warnings"):
            if key in info:
                cell[key] = info[key]
        put(row, backend, cell)
        for xrow, xtimes in info.get("extra_rows", {}).items():
            put(xrow, backend, ok(xtimes, "phase inside the timed rounds"))
        for xrow, values in info.get("memory_rows", {}).items():
            source = info.get("memory_sources", {}).get(xrow, MEMORY_SOURCE)
            mem = ok_bytes(values, source)
            put(xrow, backend, {**mem, "rounds": info.get("rss", [])})
        for xrow, reason in info.get("na_rows", {}).items():
            put(xrow, backend, {"status": "n/a", "reason": reason})
        for xrow, meters in info.get("requests", {}).items():
            reqs.setdefault((xrow, backend), []).extend(meters)

    for o in meta.get("outcomes", []):
        status = {"n/a": "n/a", "same": "same", "error": "error"}.get(o["kind"], "skipped")
        for row in o.get("rows", []):
            if (row, o["backend"]) not in cells:
                cells[(row, o["backend"])] = {"status": status, "reason": o["reason"]}

    # filter_metadata exists only in zarrlake; the others' equivalent is the walk
    for backend, _ in COLUMNS[1:]:
        walk = cells.get(("w8.walk", backend))
        if walk and ("w8.filter", backend) not in cells:
            cells[("w8.filter", backend)] = {**walk, "source": "walk + jmespath (w8.walk)"}

    s3_names = {b for b, _ in S3_COLUMNS}
    order = harness.rows(mode)
    known = {r for r, _ in order}
    extra_rows = sorted({r for r, b in cells if b not in s3_names and not harness.is_native_row(r)} - known)
    table_rows = []
    for row, label in order + [(r, r) for r in extra_rows]:
        row_cells = {b: cells[(row, b)] for b, _ in COLUMNS if (row, b) in cells}
        phys = cells.get((row, "phys")) or cells.get((PHYSICAL_FOR.get(row, ""), "phys"))
        entry = {
            "id": row,
            "label": label,
            "shown": row in known,
            "cells": row_cells,
            "physical_s": phys.get("median_s") if phys and phys.get("status") == "ok" else None,
            "ratios": ratios(row_cells),
        }
        if row in known or row_cells:
            table_rows.append(entry)

    s3_order = harness.s3_rows(mode)
    s3_known = {r for r, _ in s3_order}
    s3_extra = sorted({r for r, b in list(cells) + list(reqs) if b in s3_names} - s3_known)
    s3_table = []
    for row, label in s3_order + [(r, r) for r in s3_extra]:
        row_cells = {b: cells[(row, b)] for b, _ in S3_COLUMNS if (row, b) in cells}
        row_reqs = {b: request_summary(reqs[(row, b)]) for b, _ in S3_COLUMNS if (row, b) in reqs}
        s3_table.append(
            {
                "id": row,
                "label": label,
                "shown": row in s3_known,
                "cells": row_cells,
                "ratios": ratios(row_cells, "zarrlake-s3", [S3_RATIO]),
                "requests": row_reqs,
                "request_ratio": request_ratio(row_reqs),
            }
        )
    native_order = harness.native_rows(mode)
    native_known = {r for r, _ in native_order}
    native_extra = sorted({r for r, _ in cells if harness.is_native_row(r)} - native_known)
    native_table = []
    for row, label in native_order + [(r, r) for r in native_extra]:
        row_cells = {b: cells[(row, b)] for b, _ in NATIVE_COLUMNS if (row, b) in cells}
        phys = cells.get((PHYSICAL_FOR.get(row, ""), "phys"))
        native_table.append(
            {
                "id": row,
                "label": label,
                "shown": row in native_known,
                "cells": row_cells,
                "physical_s": phys.get("median_s") if phys and phys.get("status") == "ok" else None,
                "ratios": ratios(row_cells, "zarrlake-native", NATIVE_RATIOS),
            }
        )
    return {
        "mode": mode,
        "sizes": meta.get("sizes"),
        "versions": meta.get("versions"),
        "zarr_config": meta.get("zarr_config"),
        "icechunk_settings": meta.get("icechunk_settings"),
        "outcomes": meta.get("outcomes"),
        "ratio_definition": "median(zarrlake) / median(other); below 1 means zarrlake is faster",
        "rows": table_rows,
        "s3": meta.get("s3"),
        "s3_request_definition": "HTTP requests per measured window, counted by a proxy in front of "
        "moto that both systems connect to (median over windows; 'own' = zarrlake's "
        "repo.request_counts() over the same window, where the proxy's GET is get + list)",
        "s3_rows": s3_table,
        "native_ratio_definition": "median(zarrlake-native) / median(other); below 1 means zarrlake-native "
        "is faster (.rss rows: uses less memory above the payload)",
        "native_rows": native_table,
    }


def request_summary(meters: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the measured windows: total and per HTTP method (proxy), total and per
    kind (zarrlake's own count), plus every window's totals."""
    proxy = [m.get("proxy") or {} for m in meters]
    own = [m["own"] for m in meters if m.get("own") is not None]

    def by_key(dicts: list[dict[str, int]]) -> dict[str, float]:
        keys = sorted({k for d in dicts for k in d})
        return {k: statistics.median([d.get(k, 0) for d in dicts]) for k in keys}

    out: dict[str, Any] = {
        "n": len(meters),
        "median": statistics.median([sum(d.values()) for d in proxy]) if proxy else None,
        "by_method": by_key(proxy),
        "totals": [sum(d.values()) for d in proxy],
    }
    if own:
        out["own_median"] = statistics.median([sum(d.values()) for d in own])
        out["own_by_kind"] = by_key(own)
        out["own_totals"] = [sum(d.values()) for d in own]
    return out


def request_ratio(row_reqs: dict[str, dict[str, Any]]) -> float | None:
    zl = (row_reqs.get("zarrlake-s3") or {}).get("median")
    ic = (row_reqs.get("icechunk-s3") or {}).get("median")
    return zl / ic if zl is not None and ic else None


def ok(times: list[float], source: str) -> dict[str, Any]:
    return {
        "status": "ok",
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "n": len(times),
        "times_s": list(times),
        "source": source,
    }


def ok_bytes(values: list[int], source: str) -> dict[str, Any]:
    return {
        "status": "ok",
        "median_bytes": statistics.median(values),
        "min_bytes": min(values),
        "max_bytes": max(values),
        "n": len(values),
        "values_bytes": list(values),
        "source": source,
    }


def median(cell: dict[str, Any]) -> float | None:
    """A cell's median: seconds, or bytes for a memory row."""
    return cell.get("median_s", cell.get("median_bytes"))


def ratios(
    row_cells: dict[str, dict[str, Any]],
    ours: str = "zarrlake",
    others: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    zl = row_cells.get(ours, {})
    out: dict[str, Any] = {}
    for other, _ in RATIOS if others is None else others:
        cell = row_cells.get(other, {})
        if cell.get("status") == "same":  # the tuned Icechunk config did not change this row
            cell = row_cells.get("icechunk", {})
        if zl.get("status") == "ok" and cell.get("status") == "ok" and median(cell) > 0:
            out[other] = median(zl) / median(cell)
        else:
            out[other] = None
    return out


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_kib"] = int(line.split()[1])
                break
    except OSError:
        pass
    return info


# ---- rendering ------------------------------------------------------------------------------
def fmt_s(s: float | None) -> str:
    if s is None:
        return ""
    if s >= 100:
        return f"{s:.0f} s"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def fmt_mib(n: float) -> str:
    return f"{n / 2**20:.0f} MiB" if n >= 10 * 2**20 else f"{n / 2**20:.1f} MiB"


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return ""
    return f"{r:.2f}" if r < 10 else f"{r:.1f}"


def render(results: dict[str, Any]) -> str:
    reasons: list[str] = []

    def note(text: str) -> int:
        if text not in reasons:
            reasons.append(text)
        return reasons.index(text) + 1

    def fmt_cell(row_id: str, cell: dict[str, Any] | None) -> str:
        if cell is None:
            return "—" if not row_id.startswith("phys.") else ""
        if cell["status"] == "ok" and "median_bytes" in cell:
            return fmt_mib(cell["median_bytes"])
        if cell["status"] == "ok":
            mark = ""
            if cell.get("source", "").startswith("walk") and row_id == "w8.filter":
                mark = "*"
            return fmt_s(cell["median_s"]) + mark
        if cell["status"] == "same":
            return "="
        if cell["status"] == "n/a":
            return f"n/a[{note(cell['reason'])}]"
        if cell["status"] == "error":
            return f"ERR[{note('error: ' + cell['reason'])}]"
        return f"skip[{note(cell['reason'])}]"

    header = ["workload"] + [label for _, label in COLUMNS] + ["physical"]
    header += [label for _, label in RATIOS]
    lines: list[list[str]] = []
    for row in results["rows"]:
        if not row.get("shown", True):
            continue
        line = [row["label"]]
        for backend, _ in COLUMNS:
            line.append(fmt_cell(row["id"], row["cells"].get(backend)))
        line.append(fmt_s(row.get("physical_s")))
        for other, _ in RATIOS:
            line.append(fmt_ratio(row["ratios"].get(other)))
        lines.append(line)

    s3_rows = [r for r in results.get("s3_rows") or [] if r.get("shown", True)]
    s3_ran = any(r["cells"] or r["requests"] for r in s3_rows)
    local_ran = any(r["cells"] for r in results["rows"] if not r["id"].startswith("phys."))
    native_rows = [r for r in results.get("native_rows") or [] if r.get("shown", True)]
    native_ran = any(r["cells"] for r in native_rows)
    main_shown = local_ran or not (s3_ran or native_ran)

    out = []
    mode = results.get("mode", "?")
    v = results.get("versions") or {}
    out.append(
        f"zarrlake benchmarks, {mode} mode: medians, lower is better; ratio = zarrlake / other (< 1: zarrlake faster)"
    )
    names = ("zarrlake", "zarr", "icechunk", "numpy", "python")
    cpus = (results.get("machine") or {}).get("cpus", "?")
    out.append("versions: " + ", ".join(f"{k} {v[k]}" for k in names if k in v) + f"; cpus {cpus}")
    if main_shown:
        out += table(header, lines)
    else:
        out.append("(local-disk workloads not run)")

    if native_ran:
        out.append("")
        out.append(
            "native engine: the bulk payload through each codec pipeline; medians, lower is better; "
            "ratio = zl-native / other (< 1: zl-native faster or smaller)"
        )
        out.append("versions: " + ", ".join(f"{k} {v[k]}" for k in ("zarrs", "tensorstore") if k in v))
        native_header = ["native workload"] + [label for _, label in NATIVE_COLUMNS] + ["physical"]
        native_header += [label for _, label in NATIVE_RATIOS]
        native_lines = []
        for row in native_rows:
            line = [row["label"]]
            for backend, _ in NATIVE_COLUMNS:
                line.append(fmt_cell(row["id"], row["cells"].get(backend)))
            line.append(fmt_s(row.get("physical_s")))
            for other, _ in NATIVE_RATIOS:
                line.append(fmt_ratio(row["ratios"].get(other)))
            native_lines.append(line)
        out += table(native_header, native_lines)

    s3 = results.get("s3") or {}
    if s3_ran:
        out.append("")
        out.append(
            "S3: zarrlake and Icechunk on one local moto S3 server, both through the same counting "
            "proxy; time medians; requests = HTTP requests per window (median)"
        )
        s3_header = ["S3 workload"] + [label for _, label in S3_COLUMNS] + [S3_RATIO[1]]
        s3_header += ["zl req", "zl own", "IC req", "req zl/IC"]
        s3_lines = []
        for row in s3_rows:
            line = [row["label"]]
            for backend, _ in S3_COLUMNS:
                line.append(fmt_cell(row["id"], row["cells"].get(backend)))
            line.append(fmt_ratio(row["ratios"].get(S3_RATIO[0])))
            zl = row["requests"].get("zarrlake-s3") or {}
            ic = row["requests"].get("icechunk-s3") or {}
            line += [fmt_n(zl.get("median")), fmt_n(zl.get("own_median")), fmt_n(ic.get("median"))]
            line.append(fmt_ratio(row.get("request_ratio")))
            s3_lines.append(line)
        out += table(s3_header, s3_lines)
    elif "s3_rows" in results:
        out.append("")
        out.append("(S3 workloads not run" + (f": {s3['unavailable']})" if s3.get("unavailable") else ")"))

    out.append("")
    out.append("notes:")
    if main_shown:
        out += [f"  {n}" for n in NOTES]
    if main_shown:
        out += [f"  {n}" for n in gc_speedup_notes(results)]
    zl_import = next((r["cells"].get("zarrlake") for r in results["rows"] if r["id"] == "w9.import"), None)
    if zl_import and zl_import.get("zarr_loaded") is False:
        out.append("  9: `import zarrlake` did not load zarr (deferred to first use); its first store use pays that.")
    if native_ran:
        out += [f"  {n}" for n in NATIVE_NOTES]
        out += [f"  {n}" for n in native_pipeline_notes(native_rows)]
    if s3_ran:
        out += [f"  {n}" for n in S3_NOTES]
        out += [f"  {n}" for n in s3_request_notes(results)]
        if s3.get("threads_left_after_stop"):
            out.append(f"  S3: threads still alive after stopping the server: {s3['threads_left_after_stop']}")
    if reasons:
        out.append("  cell notes:")
        out += [f"   [{i}] {r}" for i, r in enumerate(reasons, 1)]
    if s3_ran and "wall_s" in s3:
        out.append(f"  S3 part: {s3['wall_s']:.0f} s wall time (server start to stop)")
    if "wall_s" in results:
        out.append(f"  whole run: {results['wall_s']:.0f} s wall time")
    return "\n".join(out)


def gc_speedup_notes(results: dict[str, Any]) -> list[str]:
    """Workload 10's target: zarrlake's incremental GC against its own first (full) run."""
    import harness

    cells = {r["id"]: r["cells"].get("zarrlake") or {} for r in results["rows"]}
    out = []
    for n in harness.sizes(results.get("mode")).history_chunks:
        full, incr = cells.get(f"w10.gc.full.{n}", {}), cells.get(f"w10.gc.incr.{n}", {})
        if full.get("status") == incr.get("status") == "ok" and incr["median_s"] > 0:
            speedup = full["median_s"] / incr["median_s"]
            out.append(
                f"10: zarrlake's GC after 10 small commits on {harness.human_count(n)} chunks is "
                f"{speedup:.0f}x faster than its first run (target: at least 20x at 1e6)"
            )
    return out


def table(header: list[str], lines: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header] + lines) for i in range(len(header))]
    sep = "  "

    def fmt_line(cols: list[str]) -> str:
        rest = [c.rjust(w) for c, w in zip(cols[1:], widths[1:], strict=True)]
        return sep.join([cols[0].ljust(widths[0])] + rest).rstrip()

    return [fmt_line(header), sep.join("-" * w for w in widths)] + [fmt_line(line) for line in lines]


def fmt_n(n: float | None) -> str:
    if n is None:
        return ""
    return f"{n:.0f}" if float(n).is_integer() else f"{n:.1f}"


def fmt_methods(counts: dict[str, float]) -> str:
    return " ".join(f"{k} {fmt_n(v)}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if v)


def native_pipeline_notes(rows: list[dict[str, Any]]) -> list[str]:
    """What the zarrlake-native and zarrs pipelines did per row, and the warnings they gave."""
    out = []
    for row in rows:
        for backend, label in NATIVE_COLUMNS[:1] + NATIVE_COLUMNS[3:4]:
            cell = row["cells"].get(backend) or {}
            info = cell.get("pipeline")
            if not info:
                continue
            engine = "native engine" if info.get("native_engine") else "NO native engine"
            if row["id"].startswith("n1.") and "native_writes" in info:
                engine += ", native writes" if info["native_writes"] else ", writes through zarr-python (fallback)"
            text = f"{row['id']} {label}: {info['class'].rsplit('.', 1)[-1]}, {engine}"
            if cell.get("warnings"):
                text += "; warned: " + " | ".join(cell["warnings"])
            out.append(text)
    return out


def s3_request_notes(results: dict[str, Any]) -> list[str]:
    """The commit rows' requests by HTTP method, and Icechunk's next-session cost."""
    out = []
    by_id = {r["id"]: r for r in results.get("s3_rows") or []}
    for row in results.get("s3_rows") or []:
        if not (row.get("shown", True) and row["id"].endswith(".commit") and row["requests"]):
            continue
        zl = row["requests"].get("zarrlake-s3") or {}
        ic = row["requests"].get("icechunk-s3") or {}
        label = row["label"].split()[0]
        parts = []
        if zl:
            parts.append(f"zarrlake {fmt_methods(zl['by_method'])} (own: {fmt_methods(zl.get('own_by_kind', {}))})")
        if ic:
            parts.append(f"Icechunk {fmt_methods(ic['by_method'])}")
        out.append(f"{label} commit requests by method: " + "; ".join(parts))
    nxt = by_id.get("s3.w4.next")
    if nxt:
        cell = nxt["cells"].get("icechunk-s3") or {}
        req = nxt["requests"].get("icechunk-s3") or {}
        if cell.get("status") == "ok" and req:
            out.append(
                f"S4: Icechunk's next writable_session('main') after each commit (outside its commit "
                f"window; zarrlake's commit() starts its next session itself): {fmt_s(cell['median_s'])}, "
                f"{fmt_methods(req['by_method'])} requests (median)"
            )
    return out


NOTES = [
    "Icechunk: local_filesystem_storage with all defaults. Icechunk+rd: the same repos opened "
    "with a 16 MiB ideal_concurrent_request_size (local default: 4 KiB); it changes reads "
    "only, so write rows show '=' (and the ratio uses the Icechunk column).",
    "LocalStore is zarr's own store: the same codec pipeline with no versioning; it has no "
    "commit, so 'write + commit' rows time the write alone there, and commit rows are n/a.",
    "physical: the limit for that row's data size, measured in this run (0 rows): sequential "
    "write/read of one file, page cache, no fsync (no backend fsyncs either).",
    "2: each round is a new interpreter; the time is the child's own, around open + checkout "
    "+ array open + read (imports excluded: see 9).",
    "4, 6, 7: chunk keys are written through the zarr Store API (Store._set_many, batches of "
    "10,000), not the codec pipeline, identically for every backend; chunks are 4 bytes, "
    "inlined by both versioned stores.",
    "4m: one new interpreter (_child.py commit-refs) writes N distinct 4-byte int32 chunks through "
    "the Store API as row 4 does, then commits them; the times are the child's own. RSS rows are "
    "absolute, the whole process (interpreter and libraries included): 'peak' = VmHWM of "
    "/proc/self/status reset with clear_refs right before the write or the commit, 'before' = "
    "VmRSS right before the commit. Target (issue 10): the commit's peak < 2 GiB at 1e7.",
    "8: * = LocalStore/Icechunk have no filter_metadata; their value is the equivalent walk "
    "(Group.members + jmespath on attrs), also shown on the next row for all.",
    "9: zarrlake = import zarrlake, LocalStore = import zarr, Icechunk = import icechunk.",
    "10: chunks of 520 B (just over both stores' 512 B inline limit, so each is an object), no "
    "grace period. First run: zarrlake garbage_collect(full=True), Icechunk garbage_collect (every "
    "run of its is full); nothing to delete. After 10 small commits: each round first commits 10 "
    "single-chunk changes (untimed), then collects; zarrlake's run is incremental. diff: from "
    "before those 10 commits to main, chunk keys included.",
]

NATIVE_NOTES = [
    "native: zl-native = a zarrlake repo with zarrlake.codec_pipeline.ZarrlakeCodecPipeline "
    "(codec_pipeline.path); zarrlake = the same repo type, zarr-python's default pipeline; "
    "LocalStore = zarr's LocalStore, default pipeline (the baseline); LS+zarrs = LocalStore with "
    "zarrs.ZarrsCodecPipeline, strict (no silent fallback), other zarrs settings at defaults; "
    "TensorStore = its zarr3 driver on a local directory with the zarr.json zarr writes for the "
    "same array (same chunks and codecs: bytes, + zstd level 0 without checksum), file_io_sync off "
    "(its default fsyncs every chunk; no other column fsyncs), all else at its defaults; Icechunk as above.",
    "N1: each round is a new interpreter that loads the payload from a .npy file, creates the "
    "repo/store and the array (untimed), then times one arr[...] = data + commit (TensorStore: "
    "write(data).result(); LocalStore, LS+zarrs and TensorStore have no commit). N2: as row 2, a "
    "new interpreter per round, timed inside it (open + checkout + array open + read).",
    "N1 peak RSS above the payload: the child's peak resident memory during the write + commit "
    "(/proc/self/status VmHWM, reset with clear_refs right before) minus its RSS right before "
    "(payload, interpreter, libraries); median over rounds. ru_maxrss is in the JSON too but "
    "not used: a child's ru_maxrss starts at its parent's RSS when it was started.",
    "physical: as in the main table (0 rows; measured by this section itself under -k native).",
]

S3_NOTES = [
    "S3: moto's threaded server on 127.0.0.1 in the benchmark process (tests/s3kit.py; conditional "
    "puts made atomic), started for the S3 workloads and stopped after them; both systems go through "
    "one tests/s3kit.py FaultProxy with no faults (one extra local hop per request for both). moto "
    "costs milliseconds per request, so request count dominates these times; real S3 adds 10-30 ms "
    "of latency per request on top, and more concurrency. Icechunk: s3_storage with its defaults.",
    "S3 requests: counted by the proxy, reset right before and read right after the measured call "
    "(write rows: write + commit windows); 'zl own' is zarrlake's repo.request_counts() over the "
    "same window (the proxy's GET = its get + list). 'commit' = exactly repo.commit (zarrlake) / "
    "session.commit (Icechunk). S4 per commit: median over every commit of every round.",
]


if __name__ == "__main__":
    raise SystemExit(main())
