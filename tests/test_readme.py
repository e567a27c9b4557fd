"""The README's tour runs as written (against a temporary root instead of /data/lake)."""

from __future__ import annotations

import pathlib
import re
import warnings

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _tour() -> str:
    text = README.read_text()
    section = text.split("## A five-minute tour", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the tour's code block is missing"
    return match.group(1)


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
