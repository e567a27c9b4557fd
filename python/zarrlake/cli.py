"""The `zarrlake` command."""

from __future__ import annotations

import argparse
import sys


def _client(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from . import Client

    return Client(args.root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zarrlake", description="A version-controlled data lake for Zarr arrays.")
    parser.add_argument("--root", default=None, help="repo root (default: $ZARRLAKE_ROOT or ~/.zarrlake)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    demo = sub.add_parser("demo", help="run the end-to-end demo")
    demo.add_argument("demo_root", nargs="?", default=None, help="where to put the demo repo (default ./demo-lake)")
    sub.add_parser("list", help="list the repos of an org").add_argument("org")
    create = sub.add_parser("create", help="create a repo")
    create.add_argument("name")
    log = sub.add_parser("log", help="commit log of a ref")
    log.add_argument("name")
    log.add_argument("--ref", default="main")
    tree = sub.add_parser("tree", help="hierarchy of a ref")
    tree.add_argument("name")
    tree.add_argument("--ref", default="main")
    tree.add_argument("--depth", type=int, default=10)
    args = parser.parse_args(argv)

    from .errors import ZarrlakeError

    try:
        if args.cmd == "demo":
            from .demo import run

            run(args.demo_root or args.root)
        elif args.cmd == "list":
            print("\n".join(_client(args).list_repos(args.org)))
        elif args.cmd == "create":
            _client(args).create_repo(args.name)
            print(f"created {args.name}")
        elif args.cmd in ("log", "tree"):
            import warnings

            repo = _client(args).get_repo(args.name, checkout=False)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                repo.checkout(args.ref, for_writing=False)
            if args.cmd == "log":
                print(repr(repo.commit_log()))
            else:
                from rich import print as rprint

                rprint(repo.tree(depth=args.depth))
    except ZarrlakeError as e:
        print(f"zarrlake: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
