"""``zarrlake branch list|create|delete|reset`` and ``zarrlake tag list|create|delete``."""

from __future__ import annotations

import warnings
from typing import Any

from ._common import Context, Groups


def register(g: Groups) -> None:
    sub = g.group("branch", "list, create, delete and reset branches")
    p = g.command(sub, "list", list_branches, "branches, with the commit each points at", True)
    p.add_argument("name", metavar="NAME", help="org/name")
    p = g.command(sub, "create", create_branch, "create a branch at a ref (main)")
    p.add_argument("name", metavar="NAME", help="org/name")
    p.add_argument("branch", metavar="BRANCH")
    p.add_argument("-r", "--ref", default="main", help="branch, tag or commit id to start it at (main)")
    p = g.command(sub, "delete", delete_branch, "delete a branch (never main)")
    p.add_argument("name", metavar="NAME", help="org/name")
    p.add_argument("branch", metavar="BRANCH")
    p = g.command(sub, "reset", reset_branch, "point a branch at any commit")
    p.add_argument("name", metavar="NAME", help="org/name")
    p.add_argument("branch", metavar="BRANCH")
    p.add_argument("to", metavar="REF", help="branch, tag or commit id to point it at")
    p.add_argument("--expected", metavar="COMMIT", default=None, help="only if the branch is still at this commit")

    sub = g.group("tag", "list, create and delete tags")
    p = g.command(sub, "list", list_tags, "tags, with the commit each points at", True)
    p.add_argument("name", metavar="NAME", help="org/name")
    p = g.command(sub, "create", create_tag, "tag a ref (main); tags are immutable")
    p.add_argument("name", metavar="NAME", help="org/name")
    p.add_argument("tag", metavar="TAG")
    p.add_argument("-r", "--ref", default="main", help="branch, tag or commit id to tag (main)")
    p.add_argument("-m", "--message", default=None, help="the tag's message")
    p = g.command(sub, "delete", delete_tag, "delete a tag")
    p.add_argument("name", metavar="NAME", help="org/name")
    p.add_argument("tag", metavar="TAG")


def _listing(ctx: Context, repo: Any, refs: list[tuple[str, str | None]], kind: str) -> None:
    from .._display import abbreviations, first_line

    native = repo._core.native
    messages = {c: native.get_commit(c)[2] for c in {c for _, c in refs if c is not None}}
    if ctx.json:
        ctx.print_json([{"name": n, "commit": c, "message": messages.get(c) if c else None} for n, c in refs])
        return
    if not refs:
        ctx.say(f"no {kind}es" if kind == "branch" else f"no {kind}s")
        return
    abbrev = abbreviations(c for _, c in refs if c is not None)
    rows = [[n, abbrev[c] if c else "-", first_line(messages[c]) if c else "(no commits yet)"] for n, c in refs]
    ctx.table([kind, "commit", "message"], rows, ["cyan", "yellow"])


def list_branches(ctx: Context) -> None:
    repo = ctx.repo(ctx.args.name)
    _listing(ctx, repo, repo._core.native.branches(), "branch")


def create_branch(ctx: Context) -> None:
    args = ctx.args
    repo = ctx.repo(args.name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # starting at a tag or commit is fine here
        base = repo.checkout(args.ref, for_writing=False)
    repo.new_branch(args.branch)
    ctx.say(f"created branch {args.branch} at {base or '(no commits yet)'}")


def delete_branch(ctx: Context) -> None:
    args = ctx.args
    ctx.repo(args.name).delete_branch(args.branch)
    ctx.say(f"deleted branch {args.branch}")


def reset_branch(ctx: Context) -> None:
    args = ctx.args
    repo = ctx.repo(args.name)
    repo.reset_branch(args.branch, to=args.to, expected=args.expected)
    ctx.say(f"branch {args.branch} now at {repo._core.native.resolve(args.branch)[0]}")


def list_tags(ctx: Context) -> None:
    repo = ctx.repo(ctx.args.name)
    _listing(ctx, repo, repo._core.native.tags(), "tag")


def create_tag(ctx: Context) -> None:
    args = ctx.args
    tag = ctx.repo(args.name).tag(args.tag, commit_id=args.ref, message=args.message)
    ctx.say(f"created tag {tag.id} at {tag.commit_id}")


def delete_tag(ctx: Context) -> None:
    args = ctx.args
    ctx.repo(args.name).delete_tag(args.tag)
    ctx.say(f"deleted tag {args.tag}")
