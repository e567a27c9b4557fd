"""Workload 6: many sequential small commits.

A repo with one array of 4-byte chunks; then N times (20 quick, 200 full): write one chunk
through the Store API and commit. The timed part is all N write+commit pairs, so per-commit
fixed costs (snapshot and commit objects, branch ref update) dominate. LocalStore: n/a.
"""

from __future__ import annotations

import backends
import harness
import pytest


@pytest.mark.parametrize("name", backends.ALL)
def test_sequential_small_commits(benchmark, request, sizes, work, name):
    row = "w6.commits"
    if name == "localstore":
        harness.not_available(request, row, name, "no commit step")
    if name == "icechunk-tuned":
        harness.same_as_writer(request, row, name)
    backend = harness.use_backend(request, benchmark, row, name, commits=sizes.n_commits)
    rounds = harness.Rounds(work / "w6" / name)
    n = sizes.n_commits

    def setup():
        h = backend.create(rounds.next())
        harness.create_tiny_array(h.store, "tiny", n)
        h.commit("create array")
        return (h,), {}

    def run(h):
        for key, data in harness.tiny_items("tiny", n):
            harness.set_raw(h.store, [(key, data)])
            h.commit(key)

    benchmark.pedantic(run, setup=setup, rounds=sizes.commits_rounds, iterations=1)
