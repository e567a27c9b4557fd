"""``zarrlake sessions list|abandon``: write sessions that can be joined."""

from __future__ import annotations

from ._common import Context, Groups, add_yes, jsonable


def register(g: Groups) -> None:
    sub = g.group("sessions", "list and abandon write sessions")
    p = g.command(sub, "list", list_sessions, "write sessions others can join: shared, not expired or done", True)
    p.add_argument("name", metavar="NAME", help="org/name")
    p = g.command(sub, "abandon", abandon_session, "discard a session and its uncommitted changes (asks first)")
    p.add_argument("name", metavar="NAME", help="org/name")
    p.add_argument("session", metavar="ID")
    add_yes(p)


def list_sessions(ctx: Context) -> None:
    from .._display import first_line, short_id, when

    sessions = list(ctx.repo(ctx.args.name).list_active_sessions())
    if ctx.json:
        ctx.print_json([jsonable(s) for s in sessions])
        return
    if not sessions:
        ctx.say("no active sessions")
        return
    rows = [
        [
            s.id,
            s.branch or "-",
            short_id(s.base_commit),
            s.author_name or s.author_email,
            when(s.start_time),
            when(s.expiration),
            first_line(s.message),
        ]
        for s in sessions
    ]
    ctx.table(["session", "branch", "base", "author", "started", "expires", "message"], rows, ["yellow", "cyan"])


def abandon_session(ctx: Context) -> None:
    args = ctx.args
    repo = ctx.repo(args.name)
    session = repo.join_session(args.session)  # SessionNotFoundError / SessionExpiredError before asking
    changes = len(session._native.status(0))
    ctx.confirm(
        f"Abandon session {args.session} of {args.name} and its {changes} changed key(s)?",
        f"abandon session {args.session}",
    )
    session.abandon()
    ctx.say(f"abandoned session {args.session}")
