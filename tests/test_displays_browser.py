"""The Jupyter displays (``_repr_html_``) as a browser shows them: Debian's chromium, headless.

Each display is put alone on a page, rendered to a PNG, and the PNG must not be blank; an
empty page rendered the same way must be (so the check can fail). The browser's own DOM
must hold no element made from a user string. Chromium comes from ``scripts/install-chromium``
(``make test`` runs it); without it these tests fail, they are never skipped.
"""

from __future__ import annotations

import html
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import zarr
import zarrlake
from conftest import AUTHOR

#: A commit message a notebook must show as text, never run or load.
EVIL = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\"> & done"
WIDTH, HEIGHT = 1000, 800
#: A display shows something when more than this share of the page's pixels differ from the
#: most common colour: 800 of 1000 x 800, a few words of 12px text (the smallest display here,
#: the tree of four nodes, draws about 0.2%).
MIN_INK = 0.001
#: The page of every display draws more than this (it draws about 4%).
MIN_INK_ALL = 0.005
#: An empty page must draw less than this: nothing at all, give or take a pixel.
MAX_BLANK = 0.00001


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "chromium is not installed: run scripts/install-chromium (as root; `make test` runs it) "
            "before these browser tests"
        )
    return path


def _browser(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={profile}",  # its own profile: runs in parallel do not share a lock
        *args,
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"chromium failed ({r.returncode}): {r.stderr[-2000:]}"
    return r


def page(body: str, title: str = "zarrlake display") -> str:
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f'<body style="margin:8px;background:#fff;color:#000">{body}</body></html>'
    )


def screenshot(chromium: str, markup: str, out: Path) -> Path:
    """``markup`` rendered as a page of WIDTH x HEIGHT pixels into ``out`` (a PNG)."""
    src = out.with_suffix(".html")
    src.write_text(markup, encoding="utf-8")
    _browser(
        chromium,
        out.parent / f"{out.stem}-profile",
        f"--screenshot={out}",
        f"--window-size={WIDTH},{HEIGHT}",
        src.as_uri(),
    )
    assert out.exists() and out.stat().st_size > 0, f"chromium wrote no screenshot to {out}"
    return out


def dom(chromium: str, markup: str, out: Path) -> str:
    """The page's DOM as the browser built it (after any script would have run)."""
    src = out.with_suffix(".html")
    src.write_text(markup, encoding="utf-8")
    return _browser(chromium, out.parent / f"{out.stem}-profile", "--dump-dom", src.as_uri()).stdout


def ink(png: Path) -> float:
    """The share of pixels that differ from the most common colour (the background)."""
    from PIL import Image

    with Image.open(png) as im:
        rgb = im.convert("RGB")
        assert rgb.size[0] >= WIDTH // 2 and rgb.size[1] >= HEIGHT // 2, rgb.size
        colours = rgb.getcolors(maxcolors=rgb.size[0] * rgb.size[1])
    assert colours, png
    background = max(n for n, _ in colours)
    return 1 - background / sum(n for n, _ in colours)


@pytest.fixture(scope="module")
def displays(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every object with an HTML display, from a repo with commits (one with EVIL for a
    message), a branch, an uncommitted change and a diff across them."""
    root = tmp_path_factory.mktemp("browser") / "lake"
    repo = zarrlake.Client(root, author=AUTHOR).create_repo("org/browser")
    group = zarr.open_group(repo.store, mode="a")
    group.attrs["title"] = "browser test"
    temp = zarr.create_array(repo.store, name="weather/temp", shape=(8, 8), chunks=(4, 4), dtype="f4")
    temp[:] = 1
    repo.commit("Initial import\n\nwith a longer body")
    repo.tag("v1")
    temp[0:4, 0:4] = 2
    repo.commit(EVIL)
    repo.new_branch("dev")
    zarr.create_array(repo.store, name="weather/wind", shape=(4,), chunks=(2,), dtype="i2")[:] = 3
    repo.commit("Add wind on dev")
    temp[4:8, :] = 5  # uncommitted
    zarr.create_group(repo.store, path="scratch<b>")
    log = repo.commit_log()
    return {
        "repo": repo,
        "commit_log": log,
        "commit": log[1],  # the EVIL one
        "status": repo.status(),
        "diff": repo.diff("v1"),
        "tree": repo.tree(),
    }


NAMES = ["repo", "commit_log", "commit", "status", "diff", "tree"]


@pytest.mark.parametrize("name", NAMES)
def test_each_display_renders_something(chromium, displays, tmp_path, name):
    markup = displays[name]._repr_html_()
    png = screenshot(chromium, page(markup, name), tmp_path / f"{name}.png")
    share = ink(png)
    assert share > MIN_INK, f"the {name} display renders blank: {share:.4%} of pixels drawn ({png})"


def test_an_empty_page_is_blank(chromium, tmp_path):
    """The check above can fail: a page with nothing on it is found blank."""
    png = screenshot(chromium, page(""), tmp_path / "empty.png")
    assert ink(png) < MAX_BLANK, f"an empty page is not blank ({png})"
    png = screenshot(chromium, page('<div style="display:none">hidden text</div>'), tmp_path / "hidden.png")
    assert ink(png) < MAX_BLANK
    # One stray word is seen, but is below the bar: a display must draw more than that.
    word = ink(screenshot(chromium, page('<b style="font-size:12px">zarrlake</b>'), tmp_path / "word.png"))
    assert MAX_BLANK < word < MIN_INK, word


def test_all_displays_on_one_labelled_page(chromium, displays, tmp_path):
    """One page with every display under its name, for a person to look at
    (``pytest --basetemp=DIR`` keeps ``all.png``)."""
    sections = "".join(
        f'<h3 style="font-family:sans-serif;margin:12px 0 4px">{html.escape(n)}</h3>{displays[n]._repr_html_()}'
        for n in NAMES
    )
    png = screenshot(chromium, page(sections), tmp_path / "all.png")
    assert ink(png) > MIN_INK_ALL


def test_user_strings_make_no_elements_in_the_browser(chromium, displays, tmp_path):
    """The EVIL message (and a group named ``scratch<b>``) reach the browser as text: its
    DOM has no script, image or bold element made of them, and no script ran."""
    body = "".join(f'<section id="{n}">{displays[n]._repr_html_()}</section>' for n in NAMES)
    built = dom(chromium, page(body, "zarrlake display"), tmp_path / "dom.html")
    assert "<body" in built, built[:500]
    assert "<title>zarrlake display</title>" in built  # no script renamed the page
    lowered = built.lower()
    assert "<script" not in lowered and "<img" not in lowered
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in built  # shown, as text
    assert "scratch&lt;b&gt;" in built and "scratch<b>" not in lowered  # the group name, as text
