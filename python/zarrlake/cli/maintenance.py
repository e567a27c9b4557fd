"""``zarrlake gc|expire|squash``: keeping a lake tidy."""

from __future__ import annotations

import argparse
import datetime
import re

from ._common import Context, Groups, add_yes

_AGE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def age(text: str) -> datetime.timedelta:
    """``30s``, ``15m``, ``12h``, ``7d`` or ``2w``, as a timedelta."""
    m = _AGE.match(text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"not an age: {text!r} (use e.g. 30s, 15m, 12h, 7d or 2w)")
    return datetime.timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})


def register(g: Groups) -> None:
    p = g.command(g.sub, "gc", gc, "delete what no branch, tag or live session reaches", True)
    p.add_argument("name", metavar="NAME", help="org/name")
    p.add_argument(
        "--older-than",
        type=age,
        default=datetime.timedelta(days=1),
        metavar="AGE",
        help="grace period: keep anything written more recently (1d)",
    )
    p.add_argument("-n", "--dry-run", action="store_true", help="delete nothing; show what would go")
    add_yes(p)
    p = g.command(g.sub, "expire", expire, "stop keeping history older than an age (tips and tags stay)", True)
    p.add_argument("name", metavar="NAME", help="org/name")
    p.add_argument("--older-than", type=age, required=True, metavar="AGE", help="e.g. 90d")
    add_yes(p)
    p = g.command(g.sub, "squash", squash, "replace a branch's commits after a ref with one commit", True)
    p.add_argument("name", metavar="NAME", help="org/name")
    p.add_argument("branch", metavar="BRANCH")
    p.add_argument("--since", required=True, metavar="REF", help="the ancestor to squash onto")
    p.add_argument("-m", "--message", required=True, help="the new commit's message")


def gc(ctx: Context) -> None:
    args = ctx.args
    repo = ctx.repo(args.name)
    if not args.dry_run:
        ctx.confirm(f"Delete unreachable objects of {args.name} older than {args.older_than}?", "collect garbage")
    report = repo.garbage_collect(older_than=args.older_than, dry_run=args.dry_run)
    if ctx.json:
        ctx.print_json(
            {
                "dry_run": report.dry_run,
                "kept_young": report.kept_young,
                "deleted": {k: {"objects": n, "bytes": b} for k, (n, b) in report.deleted.items()},
            }
        )
        return
    if not report.deleted:
        ctx.say(
            "no garbage"
            + (f" ({report.kept_young} unreachable object(s) within the grace period)" if report.kept_young else "")
        )
        return
    for line in repr(report).splitlines():
        ctx.line(line)


def expire(ctx: Context) -> None:
    args = ctx.args
    repo = ctx.repo(args.name)
    ctx.confirm(f"Expire the history of {args.name} older than {args.older_than}?", "expire history")
    result = repo.expire(older_than=args.older_than)
    if ctx.json:
        ctx.print_json({"expired": result.expired, "new_roots": result.new_roots})
        return
    if not result.expired:
        ctx.say("no history older than that")
        return
    ctx.say(repr(result) + f"; run 'zarrlake gc {args.name}' to reclaim the space")


def squash(ctx: Context) -> None:
    args = ctx.args
    new = ctx.repo(args.name).squash(args.branch, since=args.since, message=args.message)
    if ctx.json:
        ctx.print_json({"branch": args.branch, "commit": new})
        return
    ctx.say(f"squashed {args.branch} onto {args.since}: {new}")
