"""``zarrlake log|status|diff|tree``: what a repo holds and how it got there."""

from __future__ import annotations

import warnings
from typing import Any

from ._common import Context, Groups, commit_json


def register(g: Groups) -> None:
    p = g.command(g.sub, "log", log, "the commits of a branch, tag or commit, newest first", True)
    p.add_argument("name", metavar="NAME", help="org/name")
    p.add_argument("-r", "--ref", default="main", help="branch, tag or commit id (prefix) to start from (main)")
    p.add_argument("-n", "--max-count", type=_count, default=None, metavar="N", help="show at most N commits")
    p.add_argument("--oneline", action="store_true", help="one line per commit: short id and first line")
    p = g.command(g.sub, "status", status, "branches, tags and active sessions, or one session's changes", True)
    p.add_argument("name", metavar="NAME", help="org/name")
    p.add_argument("-s", "--session", metavar="ID", help="show what this session changed, per node")
    p = g.command(g.sub, "diff", diff, "what changed between two refs, per group and array", True)
    p.add_argument("name", metavar="NAME", help="org/name")
    p.add_argument("old", metavar="A", help="branch, tag or commit id (prefix)")
    p.add_argument("new", metavar="B", nargs="?", default="main", help="the same (main)")
    p.add_argument("--keys", action="store_true", help="also list the chunk keys that changed")
    p = g.command(g.sub, "tree", tree, "the groups and arrays of a branch, tag or commit", True)
    p.add_argument("name", metavar="NAME", help="org/name")
    p.add_argument("-r", "--ref", default="main", help="branch, tag or commit id (prefix) (main)")
    p.add_argument("--depth", type=_count, default=10, metavar="N", help="levels to show (10)")
    p.add_argument("--prefix", default="", help="show only the nodes under this group")
    p.add_argument("--filter", default=None, metavar="JMESPATH", help="only nodes whose attributes match")


def _count(text: str) -> int:
    import argparse

    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {n}")
    return n


def decorations(repo: Any) -> dict[str, list[str]]:
    """Branch and tag names by the commit they point at (``tag: v1`` for tags), as git shows them."""
    native = repo._core.native
    out: dict[str, list[str]] = {}
    for name, commit in native.branches():
        if commit is not None:
            out.setdefault(commit, []).append(name)
    for name, commit in native.tags():
        if commit is not None:
            out.setdefault(commit, []).append(f"tag: {name}")
    return out


def diff(ctx: Context) -> None:
    args = ctx.args
    d = ctx.repo(args.name).diff(args.old, args.new, chunk_keys=args.keys)
    if ctx.json:
        ctx.print_json(
            [
                {
                    "path": n.path,
                    "kind": n.kind,
                    "status": n.status,
                    "metadata": [{"key": m.key, "old": m.old, "new": m.new} for m in n.metadata],
                    "chunks": {"added": n.chunks_added, "changed": n.chunks_changed, "deleted": n.chunks_deleted},
                    **(
                        {"keys": {"added": n.added_keys, "changed": n.changed_keys, "deleted": n.deleted_keys}}
                        if args.keys
                        else {}
                    ),
                }
                for n in d
            ]
        )
        return
    if not len(d):
        ctx.say(f"no changes between {args.old} and {args.new}")
        return
    from .._display import clean

    ctx.line(d._summary())
    ctx.table(["node", "kind", "change"], [[f"/{clean(n.path)}", n.kind, n.describe()] for n in d], ["cyan"])
    if args.keys:
        for n in d:
            for word, keys in (("+", n.added_keys), ("~", n.changed_keys), ("-", n.deleted_keys)):
                for k in keys or []:
                    ctx.line(f"{word} {clean(k)}")


def log(ctx: Context) -> None:
    from .._display import abbreviations, clean, first_line, when

    args = ctx.args
    repo = ctx.repo(args.name)
    # -n 0 shows nothing (the API's limit 0 would mean no limit), but the ref is still checked.
    commits = list(repo.commit_log(args.ref, limit=args.max_count or None))[: args.max_count]
    refs = decorations(repo)
    if ctx.json:
        ctx.print_json([commit_json(c, refs.get(c.id, [])) for c in commits])
        return
    if not commits:
        ctx.say(f"no commits on {args.ref}")
        return
    abbrev = abbreviations(c.id for c in commits)
    if ctx.tty:
        from rich.text import Text

    for i, c in enumerate(commits):
        decor = f" ({', '.join(refs[c.id])})" if c.id in refs else ""
        if args.oneline:
            subject = first_line(c.message, 72)
            if ctx.tty:
                ctx.console.print(Text.assemble((abbrev[c.id], "yellow"), (decor, "bold cyan"), " ", subject))
            else:
                print(f"{abbrev[c.id]}{decor} {subject}")
            continue
        if i:
            ctx.line()
        if ctx.tty:
            ctx.console.print(Text.assemble((f"commit {c.id}", "yellow"), (decor, "bold cyan")))
        else:
            print(f"commit {c.id}{decor}")
        ctx.line(f"Author: {clean(c.author_entry())}")
        ctx.line(f"Date:   {when(c.commit_time)}")
        ctx.line()
        for line in (c.message.strip() or "(no message)").splitlines():
            ctx.line(f"    {clean(line)}")


def _session_json(info: Any, changes: int | None = None) -> dict[str, Any]:
    from ._common import jsonable

    d = jsonable(info)
    if changes is not None:
        d["changed_keys"] = changes
    return d


#: Sessions whose changes ``status`` counts (each is joined to count them).
COUNTED_SESSIONS = 20


def status(ctx: Context) -> None:
    args = ctx.args
    repo = ctx.repo(args.name)
    if args.session:
        _session_status(ctx, repo, args.session)
        return
    from .._display import first_line, short_id, when

    native = repo._core.native
    branches = native.branches()
    tags = native.tags()
    main = dict(branches).get("main")
    main_commit = repo.commit_log("main", limit=1)[0] if main else None
    sessions = list(repo.list_active_sessions())
    counts: dict[str, int | None] = {}
    for s in sessions:
        counts[s.id] = None
        if len(sessions) <= COUNTED_SESSIONS:
            # Joined natively: counting must not make it the repo's session (nor warn about leaving one).
            counts[s.id] = len(native.join_session(s.id).status(0))
    if ctx.json:
        ctx.print_json(
            {
                "repo": repo.repo_name,
                "location": native.location,
                "main": commit_json(main_commit) if main_commit else None,
                "branches": {n: c for n, c in branches},
                "tags": {n: c for n, c in tags},
                "sessions": [_session_json(s, counts[s.id]) for s in sessions],
            }
        )
        return
    head = f"{short_id(main_commit.id)} {first_line(main_commit.message)}" if main_commit else "no commits yet"
    ctx.fields(
        [
            ("repo", f"{repo.repo_name} at {native.location}"),
            ("main", head),
            ("branches", ", ".join(n for n, _ in branches) or "none"),
            ("tags", ", ".join(n for n, _ in tags) or "none"),
        ]
    )
    ctx.line()
    if not sessions:
        ctx.say("no active sessions (nothing uncommitted that others can join)")
        return
    ctx.line(f"active sessions ({len(sessions)}):", style="bold")
    rows = []
    for s in sessions:
        n = counts[s.id]
        rows.append(
            [
                s.id,
                s.branch or f"at {short_id(s.base_commit)}",
                s.author_name or s.author_email,
                "?" if n is None else f"{n} changed key{'s' if n != 1 else ''}",
                when(s.expiration),
            ]
        )
    ctx.table(["session", "branch", "author", "changes", "expires"], rows, ["yellow", "cyan"])
    ctx.line()
    ctx.say(f"see a session's changes: zarrlake status {repo.repo_name} --session ID")


def _session_status(ctx: Context, repo: Any, session_id: str) -> None:
    session = repo.join_session(session_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # limit=0: no truncation to warn about
        st = repo.status(limit=0)
    if ctx.json:
        ctx.print_json(
            {
                "session": {
                    "id": session_id,
                    "branch": session.branch,
                    "base_commit": session.base_commit,
                    "author_name": session.author_name,
                    "author_email": session.author_email,
                    "start_time": session.start_time.isoformat(),
                },
                "changes": [{"key": k, "deleted": d} for k, d in st.modified_paths],
                "nodes": [n.__dict__ | {"summary": n.describe()} for n in st.nodes],
            }
        )
        return
    for line in st.rich_output().splitlines():
        ctx.line(line)


def tree(ctx: Context) -> None:
    args = ctx.args
    repo = ctx.repo(args.name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a tag or commit is read-only: fine here
        repo.checkout(args.ref, for_writing=False)
    t = repo.tree(prefix=args.prefix, depth=args.depth, filter=args.filter)
    if ctx.json:
        ctx.print_json(t.to_list())
    elif len(t) == 0:
        where = f" under {args.prefix}" if args.prefix else ""
        ctx.say(f"no groups or arrays{where} on {args.ref}")
    elif ctx.tty:
        ctx.console.print(t)
    else:
        print(repr(t))
