"""The ``zarrlake`` command: git-like subcommands over the Python API.

Each command group lives in its own module with a ``register(groups)`` function; adding
a group (``gc``, ``export``, ...) means adding a module and listing it in ``GROUPS``.
Errors are one line on stderr, ``zarrlake: <message>``, with the exit codes in
:data:`._common.EXIT_CODES_HELP`.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from types import ModuleType

from ._common import (
    EXIT_CODES_HELP,
    EXIT_ERROR,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    Context,
    Groups,
    Parser,
    UsageError,
    debug,
    error,
    json_option,
    missing_command,
    one_line,
    shared_options,
)

__all__ = ["build_parser", "main"]


def _groups() -> list[ModuleType]:
    from . import data, demo, history, maintenance, refs, repos, sessions, virtual

    return [repos, history, refs, sessions, maintenance, data, virtual, demo]


def build_parser() -> Parser:
    """The full command line: every group's commands, with ``--root`` accepted everywhere."""
    from .. import __version__

    common = [shared_options()]
    parser = Parser(
        prog="zarrlake",
        description="A version-controlled data lake for Zarr arrays.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keeps the exit-code table
        parents=common,
    )
    parser.add_argument("--version", action="version", version=f"zarrlake {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    parser.set_defaults(func=missing_command(parser, sub))
    groups = Groups(sub, common, [json_option()])
    for module in _groups():
        module.register(groups)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
    # Warnings of the library (an uncommitted session left behind, ...) as one line, like errors.
    print(f"zarrlake: warning: {one_line(message)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    from ..errors import ZarrlakeError

    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as e:  # --help and --version print and exit 0
            return e.code if isinstance(e.code, int) else EXIT_OK
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return args.func(Context(args)) or EXIT_OK
    except UsageError as e:
        error(e)
        return EXIT_USAGE
    except (ZarrlakeError, CommandError) as e:
        error(e)
        return EXIT_ERROR
    except KeyboardInterrupt:
        error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`zarrlake log x | head`): stop quietly, and keep Python from
        # complaining when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except OSError as e:  # e.g. a root that cannot be created or read
        error(e)
        return EXIT_ERROR
    except Exception as e:
        if debug():
            raise
        error(f"internal error: {type(e).__name__}: {e} (set ZARRLAKE_DEBUG=1 for a traceback)")
        return EXIT_INTERNAL
