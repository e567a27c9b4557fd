"""``zarrlake virtual add``: reference an existing file's arrays in a repo without copying.

A CLI process keeps no session of its own between runs, so ``virtual add`` checks out a
branch, adds the references and commits them. ``--no-commit`` leaves them in a *shared*
session instead (stored, so other processes can join it) and prints its id; a later
``virtual add --session ID`` adds more to it, and commits them all unless it is given
``--no-commit`` too.
"""

from __future__ import annotations

from typing import Any

from ._common import CommandError, Context, Groups, UsageError

#: KIND -> the repo method that ingests it.
KINDS = {
    "kerchunk": "add_kerchunk_references",
    "netcdf": "add_virtual_netcdf",
    "hdf": "add_virtual_hdf",
    "grib": "add_virtual_grib",
    "zarr": "add_virtual_zarr",
    "tiff": "add_virtual_tiff",
}


def register(g: Groups) -> None:
    sub = g.group("virtual", "reference existing files (netCDF, HDF5, GRIB, TIFF, Zarr, kerchunk) without copying")
    p = g.command(sub, "add", add, "add a file's arrays under PATH as virtual references, and commit them", True)
    p.add_argument("name", metavar="NAME", help="org/name")
    p.add_argument("kind", metavar="KIND", choices=list(KINDS), help=f"the source's format: {', '.join(KINDS)}")
    p.add_argument("url", metavar="URL", help="a local path, file://, s3://, gs:// or http(s):// URL")
    p.add_argument("path", metavar="PATH", help="the group (or, for tiff, the parent group) to put it under")
    p.add_argument("--name", dest="array", metavar="ARRAY", default=None, help="tiff: the array's name under PATH")
    p.add_argument("-b", "--branch", default=None, help="the branch to add to (main)")
    p.add_argument("-s", "--session", metavar="ID", default=None, help="add to this shared session instead")
    p.add_argument("-m", "--message", default=None, help="the commit message (add virtual KIND URL at PATH)")
    p.add_argument(
        "--no-commit",
        action="store_true",
        help="leave the references uncommitted in a shared session and print its id",
    )


def _check(args: Any) -> None:
    if args.kind == "tiff" and not args.array:
        raise UsageError("virtual add tiff needs --name ARRAY: the array's name under PATH")
    if args.kind != "tiff" and args.array:
        raise UsageError(f"--name is for tiff sources only, not {args.kind}")
    if args.session and args.branch:
        raise UsageError("give --branch or --session, not both (a session is on its own branch)")
    if args.no_commit and args.message:
        raise UsageError("--message is for the commit, and --no-commit makes none")


def add(ctx: Context) -> None:
    args = ctx.args
    _check(args)
    repo = ctx.repo(args.name)
    if args.session:
        repo.join_session(args.session)
    else:
        repo.checkout(args.branch or "main")
    extra = (args.array,) if args.kind == "tiff" else ()
    try:
        prefixes = repo._core.ingest_virtual(KINDS[args.kind], args.url, args.path, *extra, progress=True)
    except ImportError as e:  # an optional reader (h5py, cfgrib, tifffile, kerchunk) is missing
        raise CommandError(
            f"reading {args.kind} sources needs the 'virtual' extra (pip install 'zarrlake[virtual]'): {e}"
        ) from e
    path = "/" + args.path.strip("/")
    branch = repo.session.branch
    commit = session = None
    if args.no_commit:
        session = repo.session.id  # reading it stores the session, so it can be joined
    else:
        commit = repo.commit(args.message or f"add virtual {args.kind} {args.url} at {path}")
    if ctx.json:
        ctx.print_json(
            {
                "kind": args.kind,
                "url": args.url,
                "path": path,
                "branch": branch,
                "commit": commit,
                "session": session,
                "prefixes": prefixes,
            }
        )
        return
    ctx.say(f"added {args.kind} references from {args.url} at {path}")
    if session is not None:
        ctx.say(f"uncommitted, in session {session} on {branch}")
        ctx.say(
            f"add more with 'zarrlake virtual add {args.name} ... --session {session}' (commits unless --no-commit)"
        )
        ctx.say(f"see it with 'zarrlake status {args.name} --session {session}'")
    else:
        ctx.say(f"committed {commit} on {branch}")
    if prefixes:
        ctx.say(f"readers must allow: {' '.join(prefixes)} (Client(..., allow_virtual=[...]))")
