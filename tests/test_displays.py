"""Reprs and HTML of Commit, CommitLog, SessionStatus, Repo and repo.tree()."""

from __future__ import annotations

import datetime
import html.parser
import subprocess
import sys
import warnings

import pytest
import zarr
import zarrlake
from conftest import AUTHOR
from zarrlake._changes import chunk_node, summarize
from zarrlake._display import abbreviations, first_line

EVIL = '<script>alert("x")</script> & [bold red]markup[/]'


@pytest.fixture
def repo(tmp_path):
    return zarrlake.Client(tmp_path / "lake", author=AUTHOR).create_repo("org/repo")


def _commit(message: str = "Fix the bias\n\nLonger explanation.", cid: str = "6b1237c6e6e17cc6e430ae2a"):
    t = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    return zarrlake.Commit(cid, None, t, "Ada", "ada@example.org", message, t)


class _Parser(html.parser.HTMLParser):
    """Collects tags and text, to check HTML is well formed and scripts are not in it."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, (self.open, tag)
        self.open.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(markup: str) -> _Parser:
    p = _Parser()
    p.feed(markup)
    p.close()
    assert p.open == [], f"unclosed tags: {p.open}"
    assert "script" not in p.tags and "img" not in p.tags
    return p


# ---- Commit ----


def test_commit_repr_is_one_short_line():
    r = repr(_commit())
    assert r == "<Commit 6b1237c6e6e1 2026-01-02 03:04:05 UTC Ada: Fix the bias \N{HORIZONTAL ELLIPSIS}>"
    assert _commit().short_id == "6b1237c6e6e1"
    long = repr(_commit("x" * 500))
    assert len(long) < 120 and long.endswith("\N{HORIZONTAL ELLIPSIS}>")
    # Control characters (a terminal escape) do not reach the terminal.
    assert "\x1b" not in repr(_commit("\x1b[31mred\x1b[0m"))


def test_commit_html_escapes_the_message():
    markup = _commit(EVIL)._repr_html_()
    p = parse(markup)
    assert "&lt;script&gt;" in markup and "<script>" not in markup
    text = "".join(p.text)
    assert EVIL in text and "6b1237c6e6e17cc6e430ae2a" in text and "Ada <ada@example.org>" in text


# ---- CommitLog ----


def test_log_repr_shows_the_newest_ten(repo):
    for i in range(100):
        zarr.open_group(repo.store, mode="a").attrs["i"] = i
        repo.commit(f"step {i}\nsecond line that is not shown")
    log = repo.commit_log()
    assert len(log) == 100
    lines = repr(log).splitlines()
    assert len(lines) == 12
    assert lines[0] == "<CommitLog: 100 commits, newest first>"
    assert lines[1].split()[-3:] == ["step", "99", "\N{HORIZONTAL ELLIPSIS}"]
    assert lines[10].split()[-3:] == ["step", "90", "\N{HORIZONTAL ELLIPSIS}"]
    assert lines[-1].strip() == "\N{HORIZONTAL ELLIPSIS} 90 more"
    assert "second line" not in repr(log)
    # Each shown id is a unique prefix of its commit's id.
    shown = [line.split()[0] for line in lines[1:11]]
    assert len(set(shown)) == 10
    assert all(log[i].id.startswith(s) for i, s in enumerate(shown))
    assert all(len(s) >= 12 for s in shown)

    markup = log._repr_html_()
    p = parse(markup)
    assert p.tags.count("tr") == 1 + zarrlake.CommitLog.SHOWN_HTML == 51  # the header and 50 rows
    assert "50 more" in markup


def test_log_repr_of_few_and_no_commits(repo):
    assert repr(repo.commit_log()) == "<CommitLog: no commits>"
    assert "no commits" in repo.commit_log()._repr_html_()
    zarr.open_group(repo.store, mode="a").attrs["x"] = 1
    repo.commit(EVIL)
    log = repo.commit_log()
    lines = repr(log).splitlines()
    assert lines[0] == "<CommitLog: 1 commit, newest first>" and len(lines) == 2
    assert lines[1].endswith(" UTC  Ada  " + EVIL)  # plain text: nothing to escape
    markup = log._repr_html_()
    parse(markup)
    assert "<script>" not in markup and "&lt;script&gt;" in markup


def test_log_rich_rendering_does_not_interpret_markup(repo):
    from rich.console import Console

    zarr.open_group(repo.store, mode="a").attrs["x"] = 1
    repo.commit(EVIL)
    console = Console(record=True, width=200)
    console.print(repo.commit_log())
    assert "[bold red]markup[/]" in console.export_text()


def test_abbreviations_are_unique_prefixes():
    ids = ["6b1237c6e6e17cc6e430ae2a", "6b1237c6e6e17cc6e430ae2b", "6b1237c7000000000000000a"]
    a = abbreviations(ids)
    assert a == {ids[0]: ids[0], ids[1]: ids[1], ids[2]: "6b1237c70000"}
    assert abbreviations([]) == {}
    assert first_line("a\nb") == "a \N{HORIZONTAL ELLIPSIS}" and first_line(None) == ""


# ---- SessionStatus ----


@pytest.mark.filterwarnings("ignore:Both zarr.json")  # a v2 array below a v3 root
def test_status_repr_sums_up_per_node(repo):
    zarr.open_group(repo.store, mode="a").attrs["title"] = "t"
    arr = zarr.create_array(repo.store, name="grp/temp", shape=(8, 8), chunks=(2, 2), dtype="f4")
    arr[:] = 1
    v2 = zarr.create_array(repo.store, name="legacy", shape=(4,), chunks=(2,), dtype="i2", zarr_format=2)
    v2[:] = 3
    st = repo.status()
    text = repr(st)
    lines = text.splitlines()
    sid = repo.session._native.id
    assert lines[0] == f"Session {sid} of org/repo, on branch main at no commits yet"
    keys = len(st.modified_paths)
    assert lines[1] == f"{keys} changed keys in 4 nodes:"
    rows = {line.split()[0]: " ".join(line.split()[1:]) for line in lines[2:]}
    assert rows == {
        "/": "metadata",
        "/grp": "metadata",
        "/grp/temp": "metadata, 16 chunks",
        "/legacy": "metadata, 2 chunks",
    }
    assert str(st) == text == st.rich_output()
    assert len(lines) == 6  # not one line per key

    repo.commit("first")
    zarr.open_group(repo.store, mode="a")["grp/temp"][0:2, 0:2] = 5
    lines = repr(repo.status()).splitlines()
    assert lines[1:] == ["1 changed key in 1 node:", "  /grp/temp  1 chunk"]


def test_status_of_no_changes_and_deletes(repo):
    text = repr(repo.status())
    assert text.splitlines()[1] == "No changes in current session"
    zarr.create_array(repo.store, name="a", shape=(4,), chunks=(2,), dtype="i2")[:] = 1
    repo.commit("a")
    zarr.open_group(repo.store, mode="a").__delitem__("a")
    text = repr(repo.status())
    assert "  /a  deleted" in text


def test_status_repr_caps_the_nodes_shown(repo):
    for i in range(30):
        zarr.create_group(repo.store, path=f"g{i:02d}")
    lines = repr(repo.status()).splitlines()
    assert lines[1] == "31 changed keys in 31 nodes:"
    assert len(lines) == 2 + zarrlake.SessionStatus.SHOWN_NODES + 1
    assert lines[-1].strip() == "\N{HORIZONTAL ELLIPSIS} 11 more"


def test_status_and_diff_html_cap_the_rows_shown(repo, monkeypatch):
    from zarrlake.diff import Diff

    monkeypatch.setattr(zarrlake.SessionStatus, "SHOWN_HTML", 10)
    monkeypatch.setattr(Diff, "SHOWN_HTML", 10)
    zarr.create_group(repo.store)
    base = repo.commit("root")
    for i in range(25):
        zarr.create_group(repo.store, path=f"g{i:02d}")
    status = repo.status()
    html = status._repr_html_()
    assert len(status.nodes) == 25
    assert html.count("<tr>") == 1 + 10 and "15 more" in html  # the header row and 10 nodes
    repo.commit("groups")
    d = repo.diff(base, "main")
    html = d._repr_html_()
    assert len(d) == 25
    assert html.count("<tr>") == 1 + 10 and "15 more" in html


def test_status_html(repo):
    zarr.create_group(repo.store, path="evil<img src=x onerror=alert(1)>")
    markup = repo.status()._repr_html_()
    p = parse(markup)
    assert "/evil<img src=x onerror=alert(1)>" in "".join(p.text) and "&lt;img" in markup
    assert f"{len(repo.status().modified_paths)} changed keys in 2 nodes" in markup  # the group and the root


def test_status_marks_a_truncated_listing(repo):
    for i in range(3):
        zarr.create_group(repo.store, path=f"g{i}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        st = repo.status(limit=2)
    assert st.truncated and "2 changed keys+ in" in repr(st)
    assert not repo.status().truncated


def test_chunk_keys_map_to_their_node():
    assert chunk_node("temp/c/0/1") == "temp"
    assert chunk_node("a/b/c/0") == "a/b"
    assert chunk_node("c/0") == ""  # a root array
    assert chunk_node("temp/c.0.1") == "temp"  # v3 with "." separators
    assert chunk_node("scalar/c") == "scalar"  # a 0-d array
    assert chunk_node("old/0.1") == "old"  # v2
    assert chunk_node("old/0/1") == "old"  # v2 with "/" separators
    assert chunk_node("g/c/0", known={"g/c"}) == "g/c"  # a v2 array named c
    assert chunk_node("g/c/0", known={"g"}) == "g"
    assert chunk_node("notes.txt") is None
    summary = {n.path: n.describe() for n in summarize([("x/zarr.json", True), ("x/c/0", True), ("junk", False)])}
    assert summary == {"x": "deleted", "": "1 other key"}


# ---- Repo ----


def test_repo_repr(repo, tmp_path):
    location = f"{tmp_path / 'lake'}/org/repo"
    sid = repo.session._native.id
    assert repr(repo) == f"<Repo org/repo at {location}: branch main at no commits yet, session {sid} (write)>"
    zarr.open_group(repo.store, mode="a").attrs["x"] = 1
    assert repr(repo).endswith("(write, uncommitted changes)>")
    first = repo.commit("one")
    sid = repo.session._native.id
    assert repr(repo) == f"<Repo org/repo at {location}: branch main at {first[:12]}, session {sid} (write)>"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        repo.checkout(first, for_writing=False)
    assert f"commit {first[:12]} (not on a branch)" in repr(repo) and repr(repo).endswith("(read)>")
    fresh = zarrlake.Client(tmp_path / "lake").get_repo("org/repo", checkout=False)
    assert repr(fresh) == f"<Repo org/repo at {location}: session none (call checkout() to start one)>"
    repo.checkout("main")
    repo.session.abandon()
    assert repr(repo).endswith("(write, abandoned)>")


def test_repr_does_not_store_the_session(repo, tmp_path):
    repr(repo)
    repo._repr_html_()
    repr(repo.status())
    assert not repo._core.session_native.stored
    assert not (tmp_path / "lake" / "org" / "repo" / "sessions").exists()


def test_repo_html(tmp_path):
    client = zarrlake.Client(tmp_path / "lake", author=zarrlake.Author("<b>Mallory</b>", "m@x"))
    repo = client.create_repo("org/evil")
    markup = repo._repr_html_()
    p = parse(markup)
    text = "".join(p.text)
    assert "Repo org/evil" in text and "location" in text and str(tmp_path) in text and "branch" in text


def test_async_repo_repr(tmp_path):
    import asyncio

    async def main():
        repo = await zarrlake.AsyncClient(tmp_path / "lake").create_repo("org/arepo")
        return repr(repo)

    assert asyncio.run(main()).startswith("<AsyncRepo org/arepo at ")


# ---- tree ----


@pytest.fixture
def tree_repo(repo):
    root = zarr.open_group(repo.store, mode="a")
    root.create_group("foo").create_group("bar").create_array("spam", shape=(4,), dtype="i2")
    root.create_array("plain", shape=(3, 2), dtype="f4")
    root.create_group("evil[bold]<b>")
    return repo


def test_tree_prints_as_a_tree(tree_repo):
    t = tree_repo.tree()
    assert isinstance(t, zarrlake.TreeView) and len(t) == 5
    assert repr(t) == "\n".join(
        [
            "/",
            "├── evil[bold]<b>/",
            "├── foo/",
            "│   └── bar/",
            "│       └── spam (4,) int16",
            "└── plain (3, 2) float32",
        ]
    )
    assert str(t) == repr(t)
    assert repr(tree_repo.tree(depth=1)).splitlines() == [
        "/",
        "├── evil[bold]<b>/",
        "├── foo/",
        "└── plain (3, 2) float32",
    ]
    assert repr(tree_repo.tree(prefix="foo")).splitlines() == ["/foo", "└── bar/", "    └── spam (4,) int16"]
    assert repr(tree_repo.tree(prefix="nothing")) == "/nothing"


def test_tree_in_a_plain_repl():
    """What ``python -i`` prints for ``repo.tree()``: the text tree, not an object address."""
    code = (
        "import tempfile, zarr, zarrlake\n"
        "repo = zarrlake.Client(tempfile.mkdtemp()).create_repo('org/repl')\n"
        "zarr.open_group(repo.store, mode='a').create_array('x', shape=(2,), dtype='i1')\n"
        "repo.tree()\n"
    )
    r = subprocess.run([sys.executable, "-i", "-q"], input=code, capture_output=True, text=True, timeout=60)
    assert "└── x (2,) int8" in r.stdout, r.stdout + r.stderr
    assert "object at 0x" not in r.stdout


def test_tree_rich_and_html(tree_repo):
    from rich.console import Console

    t = tree_repo.tree()
    console = Console(record=True, width=120)
    console.print(t)
    text = console.export_text()
    assert "spam (4,) int16" in text and "evil[bold]<b>" in text  # names are not markup
    markup = t._repr_html_()
    p = parse(markup)
    assert p.tags.count("li") == 5
    assert "evil[bold]<b>/" in "".join(p.text) and "&lt;b&gt;" in markup
    assert t.to_list()[0] == {"path": "evil[bold]<b>", "kind": "group"}
    assert {"path": "plain", "kind": "array", "shape": [3, 2], "dtype": "float32"} in t.to_list()


def test_rich_stays_out_of_plain_reprs():
    code = (
        "import sys, tempfile, zarr, zarrlake\n"
        "repo = zarrlake.Client(tempfile.mkdtemp()).create_repo('org/lean')\n"
        "zarr.open_group(repo.store, mode='a').create_array('x', shape=(2,), dtype='i1')\n"
        "repr(repo); repr(repo.status()); repr(repo.tree()); repo.tree()._repr_html_()\n"
        "repo.commit('m'); repr(repo.commit_log()); repo.commit_log()._repr_html_(); repo._repr_html_()\n"
        "print(sorted(m for m in ('rich', 'xarray', 'dask', 'kerchunk') if m in sys.modules))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
