"""Processes that used the async store exit cleanly.

A runtime thread that completes a Python future while the interpreter finalizes crashes
the process (signal 11 under `Py_FinalizeEx`), and one that completes it into a closed
event loop prints a `RuntimeError`. Each child here leaves store operations in flight at
exit: a task cancelled by `asyncio.run`, a task on a loop closed without cancelling it,
and large writes started just before the interpreter exits.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import zarrlake
from zarr.core.buffer import cpu

# Forks the children from one process that imported zarr once (the import is most of a
# fresh process's start-up cost): each child then runs `work` and exits through the
# interpreter's normal finalization (SystemExit out of the main module, atexit and
# `Py_FinalizeEx` included), exactly as a fresh process would.
ZYGOTE = r"""
import asyncio
import json
import os
import sys
import time

import zarrlake
from zarr.core.buffer import cpu

root, n, parallel, errors = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
TIMEOUT = 60.0


def buf(n: int, fill: int = 0):
    return cpu.Buffer.from_bytes(bytes([fill % 256]) * n)


def work(me: int) -> None:
    store = zarrlake.Client(root).get_or_create_repo("org/exit").store

    async def main() -> None:
        keys = [f"k/{me}/{i}" for i in range(8)]
        await asyncio.gather(*(store.set(k, buf(1000 + i, i)) for i, k in enumerate(keys)))
        got = await asyncio.gather(*(store.get(k, prototype=cpu.buffer_prototype) for k in keys))
        assert [len(g.to_bytes()) for g in got] == [1000 + i for i in range(8)], got
        # Cancelled by asyncio.run when `main` returns: its Rust side finishes later.
        asyncio.ensure_future(store.set(f"cancelled/{me}", buf(1 << 20)))
        await asyncio.sleep(0)

    asyncio.run(main())

    # A loop closed with a store write still running on it: the runtime finishes the
    # write after the loop is gone.
    loop = asyncio.new_event_loop()
    loop.create_task(store.set(f"closed/{me}", buf(1 << 20)))
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()

    # Writes and reads still in flight while the interpreter exits, finishing one after
    # another through the whole of it.
    loop = asyncio.new_event_loop()
    for i in range(24):
        loop.create_task(store.set(f"exiting/{me}/{i}", buf(4096 << (i % 6))))
        loop.create_task(store.get(f"k/{me}/{i % 8}", prototype=cpu.buffer_prototype))
    loop.run_until_complete(asyncio.sleep(0))


todo, running, codes = list(range(n)), {}, {}
sys.stdout.flush()
while todo or running:
    while todo and len(running) < parallel:
        me = todo.pop()
        pid = os.fork()
        if pid == 0:
            out = os.open(os.path.join(errors, str(me)), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(out, 1)
            os.dup2(out, 2)
            work(me)
            sys.exit(0)  # through the whole shutdown of the interpreter
        running[pid] = (me, time.monotonic())
    pid, status = os.waitpid(-1, os.WNOHANG)
    if pid:
        codes[running.pop(pid)[0]] = os.waitstatus_to_exitcode(status)
        continue
    for pid, (me, started) in list(running.items()):
        if time.monotonic() - started > TIMEOUT:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            codes[running.pop(pid)[0]] = "hung"
    time.sleep(0.005)
print(json.dumps(codes))
"""


def _run_children(tmp_path: Path, n: int, parallel: int = 8) -> list[tuple[int | str, str]]:
    """Runs `n` children (`parallel` at a time); returns their (exit code, output)."""
    root = str(tmp_path / "lake")
    zarrlake.Client(root).get_or_create_repo("org/exit")
    errors = tmp_path / "errors"
    errors.mkdir()
    env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
    p = subprocess.run(
        [sys.executable, "-c", ZYGOTE, root, str(n), str(parallel), str(errors)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60 + 10 * n,
    )
    assert p.returncode == 0, p.stderr
    codes = json.loads(p.stdout)
    return [(code, (errors / me).read_text(errors="replace")) for me, code in sorted(codes.items())]


def _check(results: list[tuple[int | str, str]]) -> None:
    bad = [(code, err) for code, err in results if code != 0]
    codes = sorted({str(code) for code, _ in bad})
    assert not bad, f"{len(bad)} of {len(results)} children failed (exit codes {codes}); first:\n{bad[0][1][-3000:]}"
    noisy = [err for _, err in results if "Event loop is closed" in err or "panicked" in err]
    assert not noisy, f"{len(noisy)} children completed a future into a closed loop:\n{noisy[0][-3000:]}"


def test_children_exit_cleanly(tmp_path: Path) -> None:
    _check(_run_children(tmp_path, 60))


@pytest.mark.slow
def test_500_children_exit_cleanly(tmp_path: Path) -> None:
    _check(_run_children(tmp_path, 500))


AFTER_SHUTDOWN = r"""
import asyncio
import sys

import zarrlake
from zarr.core.buffer import cpu

store = zarrlake.Client(sys.argv[1]).get_or_create_repo("org/exit").store
zarrlake._native._shutdown()
zarrlake._native._shutdown()  # idempotent
value = cpu.Buffer.from_bytes(b"x")
for call in (lambda: store.set_sync("a", value), lambda: asyncio.run(store.set("a", value))):
    try:
        call()
    except zarrlake.StorageError as e:
        assert "shut down" in str(e), e
    else:
        raise AssertionError("a call after shutdown succeeded")
print("ok")
"""


def test_calls_after_shutdown_raise(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    zarrlake.Client(root).get_or_create_repo("org/exit")
    p = subprocess.run(
        [sys.executable, "-c", AFTER_SHUTDOWN, root], capture_output=True, text=True, timeout=60
    )
    assert (p.returncode, p.stdout.strip()) == (0, "ok"), p.stderr


async def test_cancelled_store_future_leaves_the_store_usable(repo: zarrlake.Repo) -> None:
    store = repo.store
    task = asyncio.ensure_future(store.set("big", cpu.Buffer.from_bytes(b"x" * (1 << 20))))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await store.set("small", cpu.Buffer.from_bytes(b"y"))
    got = await store.get("small", prototype=cpu.buffer_prototype)
    assert got is not None and got.to_bytes() == b"y"
