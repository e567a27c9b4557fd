"""The README's tour runs as written (against a temporary root instead of /data/lake)."""

from __future__ import annotations

import pathlib
import re
import warnings

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _block(after: str) -> str:
    """The first python code block after the text ``after``."""
    section = README.read_text().split(after, 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"no code block after {after!r}"
    return match.group(1)


def _tour() -> str:
    return _block("## A five-minute tour")


def test_readme_tour_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = _tour().replace('"/data/lake"', repr(str(tmp_path / "lake")))
    scope: dict[str, object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the tour's detached checkout warns
        exec(compile(code, str(README), "exec"), scope)
    # The two versions the tour opens side by side differ by the bias fix.
    import numpy as np

    old, new = scope["old"], scope["new"]
    assert np.allclose(old[0] - new[0], 0.5) and np.array_equal(old[1:], new[1:])
    # The filter_metadata line finds what its comment shows, and that is not nothing.
    line = next(ln for ln in code.splitlines() if ln.startswith("repo.filter_metadata("))
    match = re.fullmatch(r"repo\.filter_metadata\((.+?)\)\s+# -> (\[.*?\]).*", line)
    assert match, line
    shown = eval(match.group(2))
    assert shown and scope["repo"].filter_metadata(eval(match.group(1))) == shown


def test_readme_many_writers_runs_with_fork(tmp_path):
    """The many-writers example, run as a script (its workers are forked)."""
    import subprocess
    import sys

    import zarrlake

    lake = tmp_path / "lake"
    script = tmp_path / "many_writers.py"
    script.write_text(_block("**Many writers, one commit.**").replace('"/data/lake"', repr(str(lake))))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    import zarr

    repo = zarrlake.Client(lake).get_repo("climate/grid", read_only=True)
    assert repo.commit_log()[0].message == "Written by 4 workers"
    grid = zarr.open_array(repo.store, path="grid")[:]
    assert [set(row.tolist()) for row in grid] == [{float(i)} for i in range(8)]
