"""Workload 8: searching attributes of N nodes (1,000 quick, 10,000 full).

The hierarchy: N/100 groups under the root, each holding 99 small arrays; every node has
attributes. It is written as zarr.json documents through the Store API and committed (setup,
untimed). The query is the same JMESPath expression for everyone:

- zarrlake: ``repo.filter_metadata(EXPR)`` on a repo checked out read-only in setup.
- every backend (zarrlake included): the equivalent with zarr's API: walk the hierarchy with
  ``Group.members(max_depth=None)`` and evaluate the compiled expression on each node's
  attributes with the ``jmespath`` package. For LocalStore and Icechunk this walk is also
  their value in the filter_metadata row.

Both must return the same set of paths.
"""

from __future__ import annotations

import json

import backends
import harness
import jmespath
import pytest
import zarr

EXPR = "units == 'K' && level >= `50`"

ARRAY_DOC = {
    "shape": [10],
    "data_type": "float32",
    "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [10]}},
    "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
    "fill_value": 0.0,
    "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
    "zarr_format": 3,
    "node_type": "array",
    "storage_transformers": [],
}


def layout(n_nodes):
    """(path, attributes, is_group) for every node but the root."""
    n_groups = max(n_nodes // 100, 1)
    per_group = n_nodes // n_groups - 1
    for g in range(n_groups):
        gp = f"g{g:03d}"
        yield gp, {"kind": "group", "index": g, "units": "none"}, True
        for j in range(per_group):
            yield (
                f"{gp}/v{j:03d}",
                {
                    "long_name": f"variable {j} of group {g}",
                    "units": ["K", "m s-1", "Pa", "1"][j % 4],
                    "level": j,
                    "group": g,
                    "tags": ["bench", f"set{j % 7}"],
                },
                False,
            )


def documents(n_nodes):
    yield "zarr.json", json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {}})
    for path, attributes, is_group in layout(n_nodes):
        if is_group:
            doc = {"zarr_format": 3, "node_type": "group", "attributes": attributes}
        else:
            doc = {**ARRAY_DOC, "attributes": attributes}
        yield f"{path}/zarr.json", json.dumps(doc)


def expected(n_nodes):
    compiled = jmespath.compile(EXPR)
    return sorted(p for p, a, _ in layout(n_nodes) if harness.jmespath_truthy(compiled.search(a)))


def walk_and_filter(store):
    compiled = jmespath.compile(EXPR)
    root = zarr.open_group(store, mode="r", zarr_format=3)
    hits = []
    for path, node in root.members(max_depth=None):
        if harness.jmespath_truthy(compiled.search(node.attrs.asdict())):
            hits.append(path)
    return hits


@pytest.fixture(scope="module")
def repos(sizes, work):
    built = {}

    def get(writer_name):
        if writer_name not in built:
            writer = backends.BACKENDS[writer_name]
            path = work / "w8" / writer_name
            h = writer.create(path)
            docs = ((k, v.encode()) for k, v in documents(sizes.n_nodes))
            harness.set_raw(h.store, docs)
            h.commit("nodes")
            built[writer_name] = path
        return built[writer_name]

    return get


@pytest.fixture(scope="module")
def want(sizes):
    return expected(sizes.n_nodes)


def test_filter_metadata_zarrlake(benchmark, request, sizes, repos, want):
    backend = harness.use_backend(request, benchmark, "w8.filter", "zarrlake", nodes=sizes.n_nodes)
    path = repos("zarrlake")

    def setup():
        return (backend.open_repo_read(path),), {}

    def run(repo):
        return repo.filter_metadata(EXPR)

    hits = benchmark.pedantic(run, setup=setup, rounds=sizes.meta_rounds, iterations=1)
    assert sorted(h.strip("/") for h in hits) == want


@pytest.mark.parametrize("name", backends.ALL)
def test_walk_and_jmespath(benchmark, request, sizes, repos, want, name):
    backend = harness.use_backend(request, benchmark, "w8.walk", name, nodes=sizes.n_nodes)
    path = repos(backend.writer)

    def setup():
        return (backend.open_read(path),), {}

    hits = benchmark.pedantic(walk_and_filter, setup=setup, rounds=sizes.meta_rounds, iterations=1)
    assert sorted(h.strip("/") for h in hits) == want
