"""What every command shares: the parser class, shared options, errors, output and JSON.

rich is imported only when output goes to a terminal, and only inside functions.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from ..client import Client
    from ..repo import Repo

EXIT_OK = 0
EXIT_ERROR = 1  # zarrlake reported an error, or a confirmation was refused
EXIT_USAGE = 2  # bad command line
EXIT_INTERNAL = 3  # an unexpected error: a bug in zarrlake
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)

EXIT_CODES_HELP = f"""exit codes:
  {EXIT_OK}    success (an empty result is a success, and says so)
  {EXIT_ERROR}    error reported by zarrlake (not found, conflict, storage, refused confirmation)
  {EXIT_USAGE}    usage error (unknown command or option, missing argument)
  {EXIT_INTERNAL}    unexpected internal error (set ZARRLAKE_DEBUG=1 for a traceback)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)

--root, or $ZARRLAKE_ROOT, may be given before or after any command; the default is ~/.zarrlake."""


class UsageError(Exception):
    """A bad command line: exit code 2."""


class CommandError(Exception):
    """A command refused to go on (e.g. an unconfirmed delete): exit code 1."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, raised instead of printed with usage."""

    def error(self, message: str) -> Any:  # argparse declares NoReturn
        raise UsageError(f"{message} (see '{self.prog} --help')")


def shared_options() -> Parser:
    """The options every parser accepts, in any position.

    Their default is SUPPRESS, so a subcommand's parser leaves the attribute unset when the
    option is not repeated there, instead of resetting a value given before the subcommand.
    """
    p = Parser(add_help=False)
    p.add_argument(
        "--root",
        default=argparse.SUPPRESS,
        metavar="ROOT",
        help="where repos live: a directory or s3://, gs://, az:// URL (default: $ZARRLAKE_ROOT or ~/.zarrlake)",
    )
    return p


def json_option() -> Parser:
    """``--json`` for listing and inspection commands."""
    p = Parser(add_help=False)
    p.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print machine-readable JSON instead of text"
    )
    return p


@dataclass
class Groups:
    """What a command module needs to add its commands: the top-level subparsers and the
    parent parsers every command (``common``) and every listing command (``listing``) takes."""

    sub: Any  # argparse's _SubParsersAction
    common: list[argparse.ArgumentParser]
    listing: list[argparse.ArgumentParser] = field(default_factory=list)

    def command(self, sub: Any, name: str, func: Callable[[Context], int | None], help: str, listing: bool = False):  # type: ignore[no-untyped-def]
        """A leaf command parser that runs ``func``."""
        parents = self.common + (self.listing if listing else [])
        p = sub.add_parser(name, help=help, description=help, parents=parents)
        p.set_defaults(func=func)
        return p

    def group(self, name: str, help: str) -> Any:
        """A command group (``repo``, ``branch``, ...): returns its subparsers."""
        p = self.sub.add_parser(name, help=help, description=help, parents=self.common)
        inner = p.add_subparsers(title="commands", metavar="COMMAND")
        p.set_defaults(func=missing_command(p, inner))
        return inner


def missing_command(parser: argparse.ArgumentParser, sub: Any) -> Callable[[Context], int]:
    def run(ctx: Context) -> int:
        raise UsageError(f"missing command: one of {', '.join(sub.choices)} (see '{parser.prog} --help')")

    return run


def one_line(text: object) -> str:
    """An error message on one line."""
    return " ".join(str(text).split()) or "error"


def error(message: object) -> None:
    print(f"zarrlake: {one_line(message)}", file=sys.stderr)


# ---- JSON ----


def jsonable(o: Any) -> Any:
    """Records, times and tuples as JSON values."""
    if isinstance(o, datetime.datetime):
        return o.isoformat()
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return {f.name: jsonable(getattr(o, f.name)) for f in dataclasses.fields(o)}
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [jsonable(v) for v in o]
    return o


def commit_json(c: Any, refs: list[str] | None = None) -> dict[str, Any]:
    d = {
        "id": c.id,
        "parent": c.parent_commit,
        "time": c.commit_time.isoformat(),
        "author_name": c.author_name,
        "author_email": c.author_email,
        "message": c.message,
    }
    if refs is not None:
        d["refs"] = refs
    return d


# ---- the context a command runs in ----


class Context:
    """The parsed arguments, with the client, repos and output they lead to."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.json: bool = bool(getattr(args, "json", False))
        self.tty = sys.stdout.isatty()
        self._console: Console | None = None
        self._client: Client | None = None

    @property
    def root(self) -> str | None:
        """``--root`` if given, else None (the client then reads ``$ZARRLAKE_ROOT``)."""
        return getattr(self.args, "root", None)

    def client(self) -> Client:
        if self._client is None:
            from ..client import Client

            self._client = Client(self.root)
        return self._client

    def repo(self, name: str) -> Repo:
        """The repo, without a session (commands that need one check out what they read)."""
        return self.client().get_repo(name, checkout=False)

    # ---- output ----

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(highlight=False, soft_wrap=True)
        return self._console

    def print_json(self, value: Any) -> None:
        print(json.dumps(jsonable(value), indent=2, ensure_ascii=False))

    def line(self, text: str = "", style: str | None = None) -> None:
        """One line of text; styled (never parsed as markup) on a terminal."""
        if self.tty:
            from rich.text import Text

            self.console.print(Text(text, style=style or ""))
        else:
            print(text)

    def say(self, text: str) -> None:
        """A short message: what was done, or that a result is empty."""
        self.line(text, style="dim" if text.startswith("no ") else None)

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]], styles: Sequence[str] = ()) -> None:
        """Columns: a rich table on a terminal, plain aligned text (no header) otherwise."""
        if self.tty:
            from rich import box
            from rich.table import Table

            t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
            for i, h in enumerate(header):
                last = i == len(header) - 1  # ids and names stay whole; the last column wraps
                t.add_column(h, style=styles[i] if i < len(styles) else None, no_wrap=not last, overflow="fold")
            for r in rows:
                t.add_row(*r)
            self.console.print(t)
        else:
            from .._display import columns

            for line in columns(rows):
                print(line)

    def fields(self, fields: Sequence[tuple[str, str]]) -> None:
        """``label: value`` lines."""
        width = max((len(k) for k, _ in fields), default=0) + 1
        for k, v in fields:
            if self.tty:
                from rich.text import Text

                self.console.print(Text.assemble((f"{k + ':':<{width}} ", "bold"), v))
            else:
                print(f"{k + ':':<{width}} {v}")

    def confirm(self, question: str, what: str) -> None:
        """Ask ``question`` on a terminal unless ``--yes``; raise CommandError unless confirmed."""
        if getattr(self.args, "yes", False):
            return
        if not sys.stdin.isatty():
            raise CommandError(f"refusing to {what} without --yes (stdin is not a terminal)")
        sys.stderr.write(f"{question} [y/N] ")
        sys.stderr.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise CommandError(f"aborted: did not {what}")


def add_yes(p: argparse.ArgumentParser) -> None:
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")


def debug() -> bool:
    """Whether ``$ZARRLAKE_DEBUG`` asks for tracebacks of unexpected errors."""
    return os.environ.get("ZARRLAKE_DEBUG", "") not in ("", "0")
