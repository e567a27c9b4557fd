"""Workload 9: import time, each round in a fresh interpreter.

The child runs ``t = perf_counter(); import MODULE`` and prints the elapsed time; the table uses
that inner time (interpreter start-up is the same for all and left out). One untimed warm-up
run first, so bytecode caches exist (``PYTHONDONTWRITEBYTECODE`` is dropped for the child).
Columns: zarrlake = ``import zarrlake``, LocalStore = ``import zarr``, Icechunk =
``import icechunk``. The JSON records whether each import loaded zarr and numpy (zarrlake may
defer them until first use).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import harness
import pytest

MODULES = {"zarrlake": "zarrlake", "localstore": "zarr", "icechunk": "icechunk"}
SNIPPET = (
    "import json, sys, time; t = time.perf_counter(); import {m}; t = time.perf_counter() - t; "
    "print(json.dumps({{'seconds': t, 'zarr_loaded': 'zarr' in sys.modules, "
    "'numpy_loaded': 'numpy' in sys.modules}}))"
)


@pytest.mark.parametrize("name", ["zarrlake", "localstore", "icechunk", "icechunk-tuned"])
def test_import_time(benchmark, request, sizes, name):
    row = "w9.import"
    if name == "icechunk-tuned":
        harness.same_as_writer(request, row, name, "same module as the Icechunk column")
    harness.tag(benchmark, request, row, name, module=MODULES[name])
    code = SNIPPET.format(m=MODULES[name])
    # bytecode caches as an installed package has them, even if this shell disables writing
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def run():
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"import {MODULES[name]} failed: {proc.stderr.strip()[-500:]}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        harness.inner(benchmark, out["seconds"])
        benchmark.extra_info["zarr_loaded"] = out["zarr_loaded"]
        benchmark.extra_info["numpy_loaded"] = out["numpy_loaded"]

    run()  # warm-up: bytecode caches, OS file cache
    benchmark.extra_info.pop("inner_s", None)
    benchmark.pedantic(run, rounds=sizes.import_rounds, iterations=1)
