"""Every kind of stored object, damaged every way, then everything read back: each case is
a clean zarrlake error or provably unused, never wrong data (issue: trustworthy storage).

One repo is built once: two commits on ``main``, a tag, raw and zstd arrays, group
attributes, and an open session started at the first commit, holding an acknowledged
write. Each case copies it, damages every object of one kind (or one chosen ref version),
and reads everything a user can reach: both refs, the log, and the open session, which it
then commits (a rebase over the second commit, which reads its change summary).

``EXPECTED`` is the table the issue asks for; ``python tests/test_corruption_table.py``
prints it as Markdown.
"""

from __future__ import annotations

import datetime
import random
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import zarr
import zarrlake

NAME = "org/table"
N = 4096

CORRUPT = "CorruptObjectError"
# Objects whose content is never read: only whether they exist matters. They are empty,
# so a flip or a truncation has nothing to change.
MARKER = "unused: only its existence is read"
EMPTY = "unused: empty, nothing to flip or truncate"
# Deleting one of these loses nothing: it only weakens detection of another deletion.
DETECTOR = "unused: it only detects another object's deletion"
# A ref's older versions are never read, only known to exist (see `refs.rs`).
OLD_VERSION = "unused: only a ref's newest version is read"

#: (kind, method) -> outcome. Methods: flip one bit, truncate to half, replace with
#: random bytes, delete.
EXPECTED: dict[tuple[str, str], str] = {
    **{(k, m): CORRUPT for k in (
        "chunk", "manifest", "snapshot", "commit", "change summary", "branch tip version",
        "tag version", "session info", "session state", "session fragment", "repo settings",
    ) for m in ("flip", "truncate", "garbage", "delete")},
    **{("branch first version", m): OLD_VERSION for m in ("flip", "truncate", "garbage")},
    ("branch first version", "delete"): CORRUPT,
    **{(k, m): EMPTY for k in ("fragment marker", "ref witness") for m in ("flip", "truncate")},
    **{(k, "garbage"): MARKER for k in ("fragment marker", "ref witness")},
    ("fragment marker", "delete"): DETECTOR,
    ("ref witness", "delete"): DETECTOR,
}


def _files(repo: Path, pattern: str) -> list[Path]:
    return sorted(p for p in repo.glob(pattern) if p.is_file())


def _versions(repo: Path, cell: str) -> list[Path]:
    return [p for p in _files(repo, f"{cell}/*") if not p.name.endswith(".w")]


#: kind -> the files of a built repo it damages.
TARGETS: dict[str, Callable[[Path, str], list[Path]]] = {
    "chunk": lambda r, s: _files(r, "chunks/**/*"),
    "manifest": lambda r, s: _files(r, "manifests/*"),
    "snapshot": lambda r, s: _files(r, "snapshots/*"),
    "commit": lambda r, s: _files(r, "commits/*"),
    "change summary": lambda r, s: _files(r, "changes/*"),
    "branch tip version": lambda r, s: _versions(r, "refs/branches/main")[-1:],
    "branch first version": lambda r, s: _versions(r, "refs/branches/main")[:1],
    "tag version": lambda r, s: _versions(r, "refs/tags/v1"),
    "ref witness": lambda r, s: _files(r, "refs/**/*.w"),
    "session info": lambda r, s: _files(r, f"sessions/{s}/info"),
    "session state": lambda r, s: _versions(r, f"sessions/{s}/state")[-1:],
    "session fragment": lambda r, s: _files(r, f"sessions/{s}/fragments/**/*"),
    "fragment marker": lambda r, s: _files(r, f"sessions/{s}/acked/*"),
    "repo settings": lambda r, s: _files(r, "zarrlake.json"),
}


def _damage(path: Path, method: str, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    if method == "delete":
        path.unlink()
    elif method == "flip" and data:
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    elif method == "truncate" and data:
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif method == "garbage":
        path.write_bytes(rng.randbytes(max(len(data), 16)))


def _arrays(repo: zarrlake.Repo) -> dict[str, np.ndarray]:
    group = zarr.open_group(repo.store, mode="r")
    return {
        "raw": group["raw"][:],
        "z": group["z"][:],
        "attrs": np.array(sorted(group.attrs.items()), dtype=object),
    }


def _build(root: Path) -> tuple[str, dict[str, object]]:
    """The repo to damage, the open session's id, and what reading it all must give."""
    repo = zarrlake.Client(root).create_repo(NAME)
    group = zarr.open_group(repo.store, mode="w", attributes={"title": "t"})
    group.create_array("raw", shape=(N,), chunks=(1024,), dtype="f8", compressors=None)[:] = np.arange(N)
    group.create_array("z", shape=(N,), chunks=(1024,), dtype="i4")[:] = np.arange(N) % 7
    one = repo.commit("one")
    writer = zarrlake.Client(root).get_repo(NAME)  # its session starts at "one"
    zarr.open_array(repo.store, path="raw")[:1024] = -1.0
    # Enough keys that the summary is stored apart from the commit (a small one rides in it).
    long_name = "a_long_array_name_so_that_its_chunk_keys_add_up_" * 2
    many = zarr.open_group(repo.store).create_array(long_name, shape=(2000,), chunks=(1,), dtype="i1")
    many[:] = 1
    two = repo.commit("two")
    repo.tag("v1", one)
    expected = {"main": _arrays(repo), "log": [two, one]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "not on a branch tip"
        repo.checkout("v1")
    expected["v1"] = _arrays(repo)

    zarr.open_array(writer.store, path="z")[:1024] = 100
    writer.session.update_expiration(datetime.timedelta(hours=2))  # a stored state version
    session_id = writer.session.id
    expected["session"] = _arrays(writer)
    expected["after"] = {**expected["main"], "z": expected["session"]["z"]}
    return session_id, expected


def _read_everything(root: Path, session_id: str, expected: dict[str, object]) -> str:
    """'ok' when everything reads back as built; else the zarrlake error class raised."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            repo = zarrlake.Client(root).get_repo(NAME, checkout=False)
            got: dict[str, object] = {}
            for ref in ("main", "v1"):
                repo.checkout(ref)
                got[ref] = _arrays(repo)
            got["log"] = [c.id for c in repo.commit_log("main")]
            repo.join_session(session_id)
            got["session"] = _arrays(repo)
            repo.commit("three")
            repo.checkout("main")
            got["after"] = _arrays(repo)
    except zarrlake.ZarrlakeError as e:
        return type(e).__name__
    for key, want in expected.items():
        if key == "log":
            assert got[key] == want, "wrong history"
        else:
            for name, arr in want.items():  # type: ignore[attr-defined]
                np.testing.assert_array_equal(got[key][name], arr, err_msg=f"wrong data in {key}/{name}")
    return "ok"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, str, dict[str, object]]:
    root = tmp_path_factory.mktemp("built")
    session_id, expected = _build(root)
    return root, session_id, expected


@pytest.mark.parametrize(("kind", "method"), sorted(EXPECTED))
def test_damage_is_an_error_or_unused(built, tmp_path, kind, method):
    source, session_id, expected = built
    root = tmp_path / "lake"
    shutil.copytree(source, root)
    targets = TARGETS[kind](root / NAME, session_id)
    assert targets, f"the built repo has no {kind}"
    if EXPECTED[(kind, method)] == EMPTY:
        assert all(p.stat().st_size == 0 for p in targets)
    rng = random.Random(f"{kind}/{method}")
    for path in targets:
        _damage(path, method, rng)
    outcome = _read_everything(root, session_id, expected)
    want = EXPECTED[(kind, method)]
    assert outcome == ("ok" if want.startswith("unused") else want), f"{kind} × {method}: {outcome}"


def test_the_table_covers_every_kind_and_method():
    assert {k for k, _ in EXPECTED} == set(TARGETS)
    assert {m for _, m in EXPECTED} == {"flip", "truncate", "garbage", "delete"}
    assert len(EXPECTED) == len(TARGETS) * 4


if __name__ == "__main__":
    methods = ("flip", "truncate", "garbage", "delete")
    print("| object kind | " + " | ".join(methods) + " |")
    print("|---|" + "---|" * len(methods))
    for kind in TARGETS:
        print(f"| {kind} | " + " | ".join(EXPECTED[(kind, m)] for m in methods) + " |")
