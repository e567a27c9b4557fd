"""``zarrlake export``: a version written out as plain Zarr, which reads without zarrlake."""

from __future__ import annotations

from ._common import Context, Groups, add_yes


def register(g: Groups) -> None:
    p = g.command(g.sub, "export", export, "write a branch, tag or commit as plain Zarr to a directory or URL", True)
    p.add_argument("name", metavar="NAME", help="org/name")
    p.add_argument("target", metavar="TARGET", help="a directory, or a URL fsspec opens (s3://bucket/era.zarr)")
    p.add_argument("-r", "--ref", default="main", help="branch, tag or commit id (prefix) to export (main)")
    p.add_argument(
        "--zarr-format",
        type=int,
        choices=(2, 3),
        default=None,
        help="write every group and array in this Zarr format (default: each keeps its own)",
    )
    p.add_argument("--overwrite", action="store_true", help="delete everything in TARGET first")
    add_yes(p)


def export(ctx: Context) -> None:
    args = ctx.args
    repo = ctx.repo(args.name)
    if args.overwrite:
        ctx.confirm(f"Delete everything in {args.target} before exporting {args.name}?", "overwrite the target")
    result = repo.export(args.target, ref=args.ref, zarr_format=args.zarr_format, overwrite=args.overwrite)
    if ctx.json:
        ctx.print_json(result)
        return
    ctx.say(repr(result))
