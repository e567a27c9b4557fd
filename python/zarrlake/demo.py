"""`zarrlake demo`: the main job on the embedded local default, end to end."""

from __future__ import annotations

import os
import shlex
import time
import warnings
from typing import Any


def _dataset() -> Any:
    import numpy as np
    import pandas as pd
    import xarray as xr

    rng = np.random.default_rng(42)
    time_ = pd.date_range("2024-01-01", periods=96, freq="D")
    lat = np.linspace(-89.0, 89.0, 90)
    lon = np.linspace(-179.0, 179.0, 180)
    shape = (time_.size, lat.size, lon.size)
    base = 15 + 12 * np.cos(np.deg2rad(lat))[None, :, None]
    temperature = (base + rng.normal(0, 2, shape)).astype("float32")
    precipitation = rng.gamma(0.8, 2.5, shape).astype("float32")
    ds = xr.Dataset(
        {
            "temperature": (("time", "lat", "lon"), temperature, {"units": "degC", "long_name": "air temperature"}),
            "precipitation": (("time", "lat", "lon"), precipitation, {"units": "mm/day"}),
        },
        coords={
            "time": time_,
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
        },
        attrs={"title": "zarrlake demo climate", "source": "synthetic"},
    )
    encoding = {v: {"chunks": (8, 30, 30)} for v in ("temperature", "precipitation")}
    return ds, encoding


def run(root: str | None = None) -> None:
    import xarray as xr
    import zarr
    from rich.console import Console

    from . import Client

    console = Console()
    root = root or os.environ.get("ZARRLAKE_ROOT") or "./demo-lake"
    client = Client(root)
    name = "demo/climate"
    if name in client.list_repos("demo"):
        client.delete_repo(name, imsure=True, imreallysure=True)
    repo = client.create_repo(name)
    console.rule(f"[bold]zarrlake demo[/] — repo {name} in {client.root}")

    ds, encoding = _dataset()
    t0 = time.perf_counter()
    ds.to_zarr(repo.store, mode="w", encoding=encoding, consolidated=False)
    n_chunks = sum(1 for k in repo._core.session_native.list_prefix("") if "/c/" in k)
    first = repo.commit("Initial import: temperature and precipitation")
    console.print(
        f"wrote {ds.nbytes / 2**20:.1f} MiB in {n_chunks} chunks and committed {first} "
        f"in {time.perf_counter() - t0:.2f} s"
    )

    repo.new_branch("warming")
    temp = zarr.open_array(repo.store, path="temperature", mode="a")
    temp[0:8] = temp[0:8] + 1.5
    group = zarr.open_group(repo.store, mode="a")
    group.attrs["scenario"] = "+1.5 degC in the first week"
    temp.attrs["adjusted"] = True
    second = repo.commit("Warm the first week by 1.5 degC")
    repo.tag("warming-v1", message="first warming scenario")
    console.print(f"branch [cyan]warming[/] at {second}, tagged [cyan]warming-v1[/]")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # checking out a commit is read-only
        repo.checkout(first)
    back = repo.to_xarray().load()
    xr.testing.assert_identical(back, ds)
    console.print(f"[green]checked out {first}: identical to what was written[/]")
    repo.checkout("warming")
    warmed = repo.to_xarray()
    delta = float((warmed.temperature[0:8] - ds.temperature[0:8]).mean())
    console.print(f"on [cyan]warming[/]: first week is {delta:+.2f} degC, attrs: {dict(warmed.attrs)}")

    console.rule("commit log (warming)")
    console.print(repo.commit_log())
    console.rule("status")
    zarr.open_group(repo.store, mode="a").attrs["note"] = "uncommitted edit"
    console.print(repo.status().rich_output(), markup=False)
    console.rule("tree")
    console.print(repo.tree())
    console.print(f"branches: {repo.branches()}  tags: {repo.tags()}", markup=False)
    console.rule("inspect it")
    # The exact commands: the demo's root need not be the root other commands default to.
    for command in inspect_commands(client.root, name):
        console.print(command, markup=False, soft_wrap=True)


def inspect_commands(root: str, name: str) -> list[str]:
    """The ``zarrlake`` commands that show what the demo wrote under ``root``."""
    r = shlex.quote(root)
    return [
        f"zarrlake --root {r} log {name}",
        f"zarrlake --root {r} log {name} -r warming --oneline",
        f"zarrlake --root {r} tree {name} -r warming",
        f"zarrlake --root {r} repo info {name}",
    ]
