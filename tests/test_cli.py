"""The ``zarrlake`` command, run as a subprocess: output, exit codes, --root, --json, errors."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import warnings

import pytest
import zarr
import zarrlake
from conftest import AUTHOR

NAME = "org/repo"


def run(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``python -m zarrlake.cli ARGS`` with stdin a pipe (not a terminal) and no $ZARRLAKE_ROOT
    unless ``env`` sets it."""
    full_env = {k: v for k, v in os.environ.items() if k != "ZARRLAKE_ROOT"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "zarrlake.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=full_env,
        timeout=120,
    )


def ok(*args: str, **kwargs) -> str:
    r = run(*args, **kwargs)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    assert r.stderr == "", r.stderr
    return r.stdout


def fails(*args: str, code: int = 1, **kwargs) -> str:
    """Runs a failing command; checks it says one line on stderr and nothing on stdout."""
    r = run(*args, **kwargs)
    assert r.returncode == code, (args, r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("zarrlake: "), r.stderr
    assert r.stdout == ""
    return lines[0]


@pytest.fixture
def lake(tmp_path) -> dict:
    """A root with org/repo: 3 commits on main, a branch "dev" with one more, tag v1, and a
    shared session with one uncommitted change. Returns ids and the root."""
    root = tmp_path / "lake"
    client = zarrlake.Client(root, author=AUTHOR)
    repo = client.create_repo(NAME)
    group = zarr.open_group(repo.store, mode="a")
    group.attrs["title"] = "test"
    zarr.create_array(repo.store, name="grp/temp", shape=(4, 4), chunks=(2, 2), dtype="f4")[:] = 1
    first = repo.commit("Initial import\n\nwith a body line")
    repo.tag("v1", message="first")
    zarr.open_array(repo.store, path="grp/temp", mode="a")[0] = 2
    second = repo.commit("Second")
    zarr.open_group(repo.store, mode="a").attrs["n"] = 3
    third = repo.commit("Third")
    repo.new_branch("dev")
    zarr.open_group(repo.store, mode="a").attrs["n"] = 4
    dev = repo.commit("On dev")
    zarr.open_group(repo.store, mode="a").attrs["n"] = 5  # uncommitted
    session = repo.session.id  # shared: listed and joinable
    return {"root": str(root), "first": first, "second": second, "third": third, "dev": dev, "session": session}


# ---- the command itself ----


def test_help_lists_every_command_and_the_exit_codes():
    out = ok("--help")
    for command in (
        "repo",
        "log",
        "status",
        "tree",
        "branch",
        "tag",
        "sessions",
        "demo",
        "diff",
        "gc",
        "expire",
        "squash",
        "virtual",
        "export",
    ):
        assert f"    {command} " in out
    assert "exit codes:" in out
    for code in ("0", "1", "2", "130"):
        assert f"\n  {code} " in out
    assert "ZARRLAKE_ROOT" in out


def test_installed_script_and_module_run(tmp_path):
    script = pathlib.Path(sys.executable).parent / "zarrlake"
    assert script.exists(), "pyproject's [project.scripts] zarrlake is not installed"
    r = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("zarrlake ")
    assert ok("--version") == r.stdout


@pytest.mark.parametrize(
    "where",
    ["first", "after-command", "last", "group-between", "group-last"],
)
def test_root_works_in_any_position(lake, where):
    root = lake["root"]
    args = {
        "first": ["--root", root, "log", NAME, "--oneline"],
        "after-command": ["log", "--root", root, NAME, "--oneline"],
        "last": ["log", NAME, "--oneline", "--root", root],
        "group-between": ["branch", "--root", root, "list", NAME],
        "group-last": ["branch", "list", NAME, f"--root={root}"],
    }[where]
    firsts = [line.split()[0] for line in ok(*args).splitlines()]
    if "branch" in args:
        assert firsts == ["dev", "main"]
    else:
        ids = [lake["third"], lake["second"], lake["first"]]
        assert len(firsts) == 3 and all(full.startswith(short) for full, short in zip(ids, firsts, strict=True))


def test_root_from_the_environment_and_overridden_by_the_option(lake, tmp_path):
    env = {"ZARRLAKE_ROOT": lake["root"]}
    assert lake["third"] in ok("log", NAME, "-n", "1", env=env)
    other = {"ZARRLAKE_ROOT": str(tmp_path / "empty")}
    assert "not found in" in fails("log", NAME, env=other)
    assert lake["third"] in ok("log", NAME, "-n", "1", "--root", lake["root"], env=other)


def test_a_command_is_required():
    assert "missing command" in fails(code=2)
    line = fails("repo", code=2)
    assert "list, create, delete, info" in line and "zarrlake repo --help" in line


# ---- repos ----


def test_repo_create_list_info_delete(tmp_path):
    root = str(tmp_path / "lake")
    assert ok("repo", "list", "--root", root).strip() == f"no repos in {root}"
    assert ok("repo", "list", "org", "--root", root).strip() == "no repos in org 'org'"
    assert json.loads(ok("repo", "list", "org", "--json", "--root", root)) == []
    out = ok("repo", "create", "org/one", "--root", root)
    assert out.strip() == f"created repo org/one at {root}/org/one"
    ok("repo", "create", "team/two", "--root", root)
    assert "already exists" in fails("repo", "create", "org/one", "--root", root)
    assert ok("repo", "list", "org", "--root", root).split() == ["org/one"]
    assert ok("repo", "list", "--root", root).split() == ["org/one", "team/two"]
    assert json.loads(ok("repo", "list", "--json", "--root", root)) == ["org/one", "team/two"]

    info = json.loads(ok("repo", "info", "org/one", "--json", "--root", root))
    assert info["location"] == f"{root}/org/one" and info["format_version"] >= 1
    assert info["commits"] == 0 and info["branches"] == 0 and info["tags"] == 0
    assert info["size_bytes"] > 0 and info["files"] >= 1

    line = fails("repo", "delete", "org/one", "--root", root)  # stdin is not a terminal
    assert "without --yes" in line
    assert ok("repo", "list", "org", "--root", root).split() == ["org/one"]
    assert ok("repo", "delete", "org/one", "--yes", "--root", root).strip() == "deleted repo org/one"
    assert ok("repo", "list", "org", "--root", root).strip() == "no repos in org 'org'"
    assert "not found" in fails("repo", "delete", "org/one", "--yes", "--root", root)


def test_repo_info_counts(lake):
    info = json.loads(ok("repo", "info", NAME, "--json", "--root", lake["root"]))
    assert (info["branches"], info["tags"], info["commits"], info["active_sessions"]) == (2, 1, 4, 1)
    text = ok("repo", "info", NAME, "--root", lake["root"])
    assert f"location: {lake['root']}/{NAME}" in text
    assert "commits:  4" in text and "branches: 2" in text and "format:   version " in text


def _pty_run(args: list[str], answer: bytes) -> tuple[int, str]:
    """Runs the command on a pseudo-terminal, typing ``answer``; returns (exit code, output)."""
    import pty
    import select

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "ZARRLAKE_ROOT"}
    p = subprocess.Popen(
        [sys.executable, "-m", "zarrlake.cli", *args], stdin=slave, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    out = b""
    sent = False
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                raise AssertionError(f"no output from {args}: {out!r}")
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
            if not sent and b"[y/N]" in out:
                os.write(master, answer)
                sent = True
    finally:
        os.close(master)
    return p.wait(timeout=60), out.decode(errors="replace")


def test_repo_delete_asks_on_a_terminal(tmp_path):
    root = str(tmp_path / "lake")
    ok("repo", "create", "org/one", "--root", root)
    code, out = _pty_run(["repo", "delete", "org/one", "--root", root], b"n\n")
    assert code == 1 and "Delete repo org/one" in out and "aborted" in out and "Traceback" not in out
    assert ok("repo", "list", "org", "--root", root).split() == ["org/one"]
    code, out = _pty_run(["repo", "delete", "org/one", "--root", root], b"y\n")
    assert code == 0 and "deleted repo org/one" in out
    assert ok("repo", "list", "org", "--root", root).strip() == "no repos in org 'org'"


def test_rich_output_on_a_terminal(lake):
    code, out = _pty_run(["log", NAME, "--oneline", "--root", lake["root"]], b"")
    assert code == 0
    assert "\x1b[" in out  # styled
    assert lake["first"][:12] in out and "Initial import" in out and "(tag: v1)" in out


# ---- history ----


def test_log(lake):
    root = lake["root"]
    out = ok("log", NAME, "--root", root)
    assert out.startswith(f"commit {lake['third']} (main)\n")
    assert "Author: Ada <ada@example.org>\n" in out and "Date:   " in out and " UTC\n" in out
    assert "    Initial import\n    \n    with a body line\n" in out  # every line of the message
    assert out.count("\ncommit ") == 2
    assert f"commit {lake['first']} (tag: v1)" in out

    one = ok("log", NAME, "--oneline", "-r", "dev", "--root", root).splitlines()
    assert len(one) == 4
    assert one[0].split()[0] == lake["dev"][: len(one[0].split()[0])] and one[0].endswith("(dev) On dev")
    assert one[-1].endswith("Initial import \N{HORIZONTAL ELLIPSIS}")

    assert len(ok("log", NAME, "-n", "2", "--oneline", "--root", root).splitlines()) == 2
    assert ok("log", NAME, "-r", "v1", "--oneline", "--root", root).count("\n") == 1
    assert ok("log", NAME, "-r", lake["second"], "--oneline", "--root", root).count("\n") == 2

    data = json.loads(ok("log", NAME, "-r", "dev", "--json", "--root", root))
    assert [c["id"] for c in data] == [lake["dev"], lake["third"], lake["second"], lake["first"]]
    assert data[0]["refs"] == ["dev"] and data[-1]["refs"] == ["tag: v1"]
    assert data[-1]["message"] == "Initial import\n\nwith a body line"
    assert data[-1]["author_name"] == "Ada" and data[-1]["parent"] is None
    assert data[0]["parent"] == lake["third"]


def test_log_of_an_empty_repo(tmp_path):
    root = str(tmp_path / "lake")
    ok("repo", "create", NAME, "--root", root)
    assert ok("log", NAME, "--root", root).strip() == "no commits on main"
    assert json.loads(ok("log", NAME, "--json", "--root", root)) == []


def test_status(lake):
    root = lake["root"]
    out = ok("status", NAME, "--root", root)
    assert "branches: dev, main" in out and "tags:     v1" in out
    assert f"main:     {lake['third'][:12]} Third" in out
    assert lake["session"] in out and "1 changed key" in out
    data = json.loads(ok("status", NAME, "--json", "--root", root))
    assert data["branches"] == {"dev": lake["dev"], "main": lake["third"]}
    assert data["tags"] == {"v1": lake["first"]}
    assert [(s["id"], s["branch"], s["changed_keys"]) for s in data["sessions"]] == [(lake["session"], "dev", 1)]

    out = ok("status", NAME, "--session", lake["session"], "--root", root)
    assert out.splitlines()[0] == f"Session {lake['session']} of {NAME}, on branch dev at {lake['dev'][:12]}"
    assert "1 changed key in 1 node:" in out and "  /  metadata" in out
    data = json.loads(ok("status", NAME, "-s", lake["session"], "--json", "--root", root))
    assert data["changes"] == [{"key": "zarr.json", "deleted": False}]
    assert data["nodes"][0]["path"] == "" and data["nodes"][0]["summary"] == "metadata"
    assert "does not exist" in fails("status", NAME, "-s", "0" * 24, "--root", root)


def test_status_without_sessions(tmp_path):
    root = str(tmp_path / "lake")
    ok("repo", "create", NAME, "--root", root)
    out = ok("status", NAME, "--root", root)
    assert "main:     no commits yet" in out and "no active sessions" in out
    assert json.loads(ok("status", NAME, "--json", "--root", root))["sessions"] == []


def test_tree(lake):
    root = lake["root"]
    out = ok("tree", NAME, "--root", root)
    assert out == "/\n└── grp/\n    └── temp (4, 4) float32\n"
    assert ok("tree", NAME, "--depth", "1", "--root", root) == "/\n└── grp/\n"
    assert json.loads(ok("tree", NAME, "-r", "v1", "--json", "--root", root)) == [
        {"path": "grp", "kind": "group"},
        {"path": "grp/temp", "kind": "array", "shape": [4, 4], "dtype": "float32"},
    ]
    assert (
        ok("tree", NAME, "--prefix", "nothing", "--root", root).strip() == "no groups or arrays under nothing on main"
    )
    assert "not found" in fails("tree", NAME, "-r", "nope", "--root", root)


def test_tree_of_an_empty_repo(tmp_path):
    root = str(tmp_path / "lake")
    ok("repo", "create", NAME, "--root", root)
    assert ok("tree", NAME, "--root", root).strip() == "no groups or arrays on main"
    assert json.loads(ok("tree", NAME, "--json", "--root", root)) == []


# ---- refs ----


def test_branches(lake):
    root = lake["root"]
    out = ok("branch", "list", NAME, "--root", root).splitlines()
    assert [line.split()[0] for line in out] == ["dev", "main"]
    assert out[1].endswith("Third")
    out = ok("branch", "create", NAME, "fix/one", "-r", "v1", "--root", root)
    assert out.strip() == f"created branch fix/one at {lake['first']}"
    data = json.loads(ok("branch", "list", NAME, "--json", "--root", root))
    assert {b["name"]: b["commit"] for b in data} == {
        "dev": lake["dev"],
        "fix/one": lake["first"],
        "main": lake["third"],
    }
    assert "already exists" in fails("branch", "create", NAME, "dev", "--root", root)
    assert ok("branch", "delete", NAME, "fix/one", "--root", root).strip() == "deleted branch fix/one"
    assert "main" in fails("branch", "delete", NAME, "main", "--root", root)
    assert [b["name"] for b in json.loads(ok("branch", "list", NAME, "--json", "--root", root))] == ["dev", "main"]


def test_branches_of_an_empty_repo(tmp_path):
    root = str(tmp_path / "lake")
    ok("repo", "create", NAME, "--root", root)
    assert ok("branch", "list", NAME, "--root", root).strip() == "no branches"


def test_tags(lake):
    root = lake["root"]
    assert ok("tag", "list", NAME, "--root", root).split()[:2] == ["v1", lake["first"][:12]]
    out = ok("tag", "create", NAME, "v2", "-r", "dev", "-m", "second tag", "--root", root)
    assert out.strip() == f"created tag v2 at {lake['dev']}"
    data = json.loads(ok("tag", "list", NAME, "--json", "--root", root))
    assert [(t["name"], t["commit"], t["message"]) for t in data] == [
        ("v1", lake["first"], "Initial import\n\nwith a body line"),
        ("v2", lake["dev"], "On dev"),
    ]
    assert "immutable" in fails("tag", "create", NAME, "v2", "--root", root)
    ok("tag", "delete", NAME, "v1", "--root", root)
    ok("tag", "delete", NAME, "v2", "--root", root)
    assert ok("tag", "list", NAME, "--root", root).strip() == "no tags"
    assert json.loads(ok("tag", "list", NAME, "--json", "--root", root)) == []


# ---- sessions ----


def test_sessions_list_and_abandon(lake):
    root, sid = lake["root"], lake["session"]
    out = ok("sessions", "list", NAME, "--root", root)
    assert out.split()[:3] == [sid, "dev", lake["dev"][:12]] and "Ada" in out
    data = json.loads(ok("sessions", "list", NAME, "--json", "--root", root))
    assert [(s["id"], s["branch"], s["base_commit"]) for s in data] == [(sid, "dev", lake["dev"])]
    assert "without --yes" in fails("sessions", "abandon", NAME, sid, "--root", root)
    assert ok("sessions", "abandon", NAME, sid, "-y", "--root", root).strip() == f"abandoned session {sid}"
    assert ok("sessions", "list", NAME, "--root", root).strip() == "no active sessions"
    assert json.loads(ok("sessions", "list", NAME, "--json", "--root", root)) == []
    assert "abandoned" in fails("sessions", "abandon", NAME, sid, "-y", "--root", root)


# ---- errors ----


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["log", "org/missing"], 1, "Repo 'org/missing' not found"),
        (["log", NAME, "-r", "nope"], 1, "'nope' was not found"),
        (["log", "not-a-name"], 1, "Not a valid repo identifier"),
        (["tree", NAME, "--filter", "&&"], 1, "invalid JMESPath"),
        (["log", NAME, "-n", "x"], 2, "not a number"),
        (["log", NAME, "-n", "-1"], 2, "must be >= 0"),
        (["log"], 2, "required: NAME"),
        (["lg", NAME], 2, "invalid choice: 'lg'"),
        (["log", NAME, "--bogus"], 2, "unrecognized arguments: --bogus"),
        (["repo", "create", NAME, "--json"], 2, "unrecognized arguments: --json"),
        (["branch", "rename", NAME, "main"], 2, "invalid choice: 'rename'"),
        (["virtual", "add", NAME, "bogus", "x.nc", "p"], 2, "invalid choice: 'bogus'"),
        (["virtual", "add", NAME, "netcdf", "missing.nc", "p"], 1, "missing.nc does not exist"),
        (["virtual", "add", NAME], 2, "required: KIND, URL, PATH"),
        (["export", NAME, "/nonexistent/out.zarr", "-r", "nope"], 1, "'nope' was not found"),
        (["export", NAME, "nosuch://x/out.zarr"], 1, "cannot open the export target"),
        (["export", NAME, "out.zarr", "--zarr-format", "4"], 2, "invalid choice: 4"),
        (["export", NAME], 2, "required: TARGET"),
    ],
)
def test_errors_are_one_line(lake, args, code, says):
    line = fails(*args, "--root", lake["root"], code=code)
    assert says in line


def test_a_root_that_cannot_be_used(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert fails("repo", "create", NAME, "--root", str(blocker / "lake"))
    assert "unsupported repo location" in fails("repo", "list", "org", "--root", "nosuch://x")


def test_interrupt_and_internal_errors_in_process(lake, monkeypatch, capsys):
    from zarrlake import cli
    from zarrlake.cli import history

    def interrupted(ctx):
        raise KeyboardInterrupt

    def broken(ctx):
        raise TypeError("a bug")

    monkeypatch.setattr(history, "log", interrupted)
    assert cli.main(["log", NAME, "--root", lake["root"]]) == 130
    assert capsys.readouterr().err == "zarrlake: interrupted\n"
    monkeypatch.setattr(history, "log", broken)
    monkeypatch.delenv("ZARRLAKE_DEBUG", raising=False)
    assert cli.main(["log", NAME, "--root", lake["root"]]) == 3
    err = capsys.readouterr().err
    assert err.startswith("zarrlake: internal error: TypeError: a bug") and err.count("\n") == 1
    monkeypatch.setenv("ZARRLAKE_DEBUG", "1")
    with pytest.raises(TypeError):
        cli.main(["log", NAME, "--root", lake["root"]])


def test_library_warnings_are_one_line(lake, monkeypatch, capsys):
    from zarrlake import cli
    from zarrlake.cli import history

    def warns(ctx):
        warnings.warn("something to know\nover two lines", UserWarning, stacklevel=1)

    monkeypatch.setattr(history, "log", warns)
    assert cli.main(["log", NAME, "--root", lake["root"]]) == 0
    assert capsys.readouterr().err == "zarrlake: warning: something to know over two lines\n"


def test_every_listing_prints_json(lake):
    root = lake["root"]
    for args in (
        ["repo", "list", "org"],
        ["repo", "list"],
        ["repo", "info", NAME],
        ["log", NAME],
        ["status", NAME],
        ["status", NAME, "-s", lake["session"]],
        ["tree", NAME],
        ["branch", "list", NAME],
        ["tag", "list", NAME],
        ["sessions", "list", NAME],
    ):
        assert json.loads(ok(*args, "--json", "--root", root)) not in (None, [], {}), args


# ---- the demo ----


@pytest.mark.slow
def test_demo_prints_the_commands_that_inspect_it(tmp_path):
    root = tmp_path / "demo-lake"
    r = subprocess.run(
        [sys.executable, "-m", "zarrlake.cli", "demo"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "ZARRLAKE_ROOT"},
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    command = f"zarrlake --root {root.resolve()} log demo/climate"
    assert command in r.stdout.splitlines()
    inspect = [line for line in r.stdout.splitlines() if line.startswith("zarrlake --root ")]
    assert len(inspect) >= 3
    for line in inspect:  # each printed command works as printed (from anywhere)
        out = ok(*line.split()[1:])
        assert out.strip()
    log = ok("--root", str(root), "log", "demo/climate", "-r", "warming", "--oneline").splitlines()
    assert len(log) == 2 and "Warm the first week" in log[0]


def test_the_readme_commands_run(tmp_path):
    """The README's `zarrlake` lines, against a repo shaped like the tour's."""
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("**The command.**", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].split() for line in block.strip().splitlines()]
    assert len(commands) >= 5 and all(c[0] == "zarrlake" for c in commands)
    root = tmp_path / "lake"
    repo = zarrlake.Client(root, author=AUTHOR).create_repo("climate/era")
    zarr.create_array(repo.store, name="air", shape=(4,), chunks=(2,), dtype="f4")[:] = 1
    repo.commit("Import air temperature")
    repo.new_branch("bias-fix")
    zarr.open_array(repo.store, path="air", mode="a")[0] = 0
    repo.commit("Remove warm bias")
    repo.tag("v1.1")
    for command in commands:
        args = [str(root) if a == "/data/lake" else a for a in command[1:]]
        assert ok(*args, env={"ZARRLAKE_ROOT": str(root)}).strip(), command
