"""``zarrlake demo``: the end-to-end demo (see :mod:`zarrlake.demo`)."""

from __future__ import annotations

from ._common import Context, Groups


def register(g: Groups) -> None:
    p = g.command(g.sub, "demo", run, "write, commit, branch, tag and read back a demo repo (demo/climate)")
    p.add_argument(
        "demo_root", nargs="?", default=None, metavar="DIR", help="where to put it (default: --root, or ./demo-lake)"
    )


def run(ctx: Context) -> None:
    from ..demo import run as run_demo

    # Not Client's default: the demo must not write into a user's real lake unless asked to.
    run_demo(ctx.args.demo_root or ctx.root)
