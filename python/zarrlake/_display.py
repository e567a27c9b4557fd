"""Small text and HTML helpers for the reprs of commits, logs, statuses, repos and trees.

Nothing here imports rich: plain reprs must work (and stay cheap) without it.
"""

from __future__ import annotations

import datetime
import html
from collections.abc import Iterable, Sequence

#: Hex characters of an abbreviated commit id. Ids start with 8 hex of seconds and 10 of
#: per-process randomness, so 12 tell apart commits of different seconds or processes.
SHORT_ID_LEN = 12
#: Characters of a message's first line shown in one-line displays.
MESSAGE_WIDTH = 60


def short_id(commit_id: str | None) -> str:
    """The first ``SHORT_ID_LEN`` characters of an id, or ``"-"`` for none."""
    return commit_id[:SHORT_ID_LEN] if commit_id else "-"


def abbreviations(ids: Iterable[str], min_len: int = SHORT_ID_LEN) -> dict[str, str]:
    """The shortest prefix of each id (at least ``min_len``) that no other id shares.

    Commits of one process in one second differ only in their last characters, so a
    fixed-length prefix could show two commits of a log as the same.
    """
    unique = sorted(set(ids))
    out: dict[str, str] = {}
    for i, cid in enumerate(unique):
        need = min_len
        for j in (i - 1, i + 1):  # in sorted order, only neighbours share the longest prefix
            if 0 <= j < len(unique):
                other = unique[j]
                common = next((k for k, (a, b) in enumerate(zip(cid, other, strict=False)) if a != b), len(cid))
                need = max(need, common + 1)
        out[cid] = cid[:need]
    return out


def clean(text: str) -> str:
    """``text`` with control characters (terminal escapes, tabs) replaced, for one-line display."""
    return "".join(c if c.isprintable() else ("\N{REPLACEMENT CHARACTER}" if c != "\t" else " ") for c in text)


def first_line(message: str | None, width: int = MESSAGE_WIDTH) -> str:
    """The first line of a message, cut at ``width`` with an ellipsis (also when lines follow)."""
    if not message:
        return ""
    lines = message.strip().splitlines() or [""]
    line = clean(lines[0].strip())
    if len(line) > width:
        return line[: width - 1] + "\N{HORIZONTAL ELLIPSIS}"
    return line + (" \N{HORIZONTAL ELLIPSIS}" if len(lines) > 1 else "")


def when(t: datetime.datetime) -> str:
    """A time as ``YYYY-MM-DD HH:MM:SS UTC``."""
    return f"{t.astimezone(datetime.UTC):%Y-%m-%d %H:%M:%S} UTC"


def human_bytes(n: int) -> str:
    """A byte count as ``512 B``, ``1.5 KiB``, ``3.2 GiB``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def columns(rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    """Rows as lines of left-aligned columns two spaces apart (the last column is not padded)."""
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return [indent + "  ".join([c.ljust(w) for c, w in zip(r, widths, strict=False)] + [r[-1]]).rstrip() for r in rows]


# ---- HTML: plain elements, inline styles only, every user string escaped ----

e = html.escape

_BOX = "font-family:ui-monospace,monospace;font-size:12px;line-height:1.4"
_CELL = "text-align:left;padding:1px 8px 1px 0;vertical-align:top"


def html_box(kind: str, title: str, body: str) -> str:
    """A titled block; ``title`` is escaped here, ``body`` must be HTML already."""
    return f'<div class="zarrlake-{e(kind)}" style="{_BOX}"><div><b>{e(title)}</b></div>{body}</div>'


def html_fields(fields: Sequence[tuple[str, str]]) -> str:
    """A two-column table of label and value, both escaped."""
    rows = "".join(f'<tr><th style="{_CELL}">{e(k)}</th><td style="{_CELL}">{e(v)}</td></tr>' for k, v in fields)
    return f"<table>{rows}</table>"


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table with a header row; every cell escaped."""
    head = "".join(f'<th style="{_CELL}">{e(h)}</th>' for h in header)
    body = "".join("<tr>" + "".join(f'<td style="{_CELL}">{e(c)}</td>' for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_note(text: str) -> str:
    return f"<div><i>{e(text)}</i></div>"
