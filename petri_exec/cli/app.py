"""The command line's frame: the parser, usage errors, exit codes and ``main``.

Commands live in sibling modules, each with a ``register(add)`` function that declares its
subcommands through ``add`` (see :data:`COMMANDS`); this module only dispatches and maps
errors to exit codes: ``PetriExecError`` (bad input) is one line and exit 2, anything else
an internal error (exit 1).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
import textwrap
import traceback
from collections.abc import Callable
from typing import NoReturn, Protocol

from ..errors import PetriExecError
from ..views.terminal import for_terminal
from . import commands, git, operate, serve
from .options import use_template_dirs

__all__ = ["COMMANDS", "AddCommand", "build_parser", "main"]

class AddCommand(Protocol):
    """``add(name, handler, help, examples, *, many=False) -> parser``: declares one
    subcommand taking RUN (``many``: one or more RUN, files or directories of runs)."""

    def __call__(self, name: str, fn: Callable[[argparse.Namespace], int], help_: str,
                 example: str, *, many: bool = False) -> argparse.ArgumentParser: ...


#: Each command module's ``register(add)``, in the order ``--help`` lists them.
COMMANDS: tuple[Callable[[AddCommand], None], ...] = (
    commands.register, operate.register, git.register, serve.register)

_EXIT_CODES = ("exit codes: 0 success/completed, 1 internal error, 2 bad input or usage, "
               "3 halted, 4 deadlocked, 5 paused")
_EPILOG = f"""examples:
  petri-exec check run.json                      validate and analyse
  petri-exec ready run.json                      what can fire now
  petri-exec why run.json slice_start:ui         what a transition waits for
  petri-exec drive run.json --ports shell        run each slice's meta.run command
  petri-exec fire run.json host_promotion --ports shell
  petri-exec history run.json                    the journal
  petri-exec visualize run.json -o run.svg       a picture of the net
  petri-exec export run.json --format pnml       the net in a standard format
  petri-exec abandon run.json --reason "..."     stop a run for good
  petri-exec serve run.json                      watch it live in a browser
  petri-exec drive run.json --ports git --agent CMD   an agent run over git (docs/git.md)
  petri-exec clean run.json --branches           remove a git run's worktrees and branches

{_EXIT_CODES}
run 'petri-exec COMMAND --help' for a command's options; docs/cli.md has the details."""


class _Parser(argparse.ArgumentParser):
    """Usage errors on one line (exit 2), like every other bad input."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def _version() -> str:
    try:
        return importlib.metadata.version("petri-exec")
    except importlib.metadata.PackageNotFoundError:  # a checkout on sys.path, not installed
        return "(not installed: version unknown)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    p = _Parser(
        prog="petri-exec",
        description="Drive multi-step runs compiled into Petri nets.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"petri-exec {_version()}")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, fn: Callable[[argparse.Namespace], int], help_: str,
            example: str, *, many: bool = False) -> argparse.ArgumentParser:
        lines = example.split("\n")
        sp = sub.add_parser(name, help=help_, description=textwrap.fill(help_, 79),
                            epilog=("example:" if len(lines) == 1 else "examples:") + "".join(
                                "\n  " + x for x in lines) + "\n\n" + _EXIT_CODES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        if many:
            sp.add_argument("run", metavar="RUN", nargs="+",
                            help="run files (run.json), or directories: every run file in them")
        else:
            sp.add_argument("run", metavar="RUN", help="the run file (run.json)")
        sp.add_argument("--template-dir", action="append", metavar="DIR",
                        help="a directory to look the run's template up in first "
                             "(repeatable; before PETRI_EXEC_TEMPLATE_PATH)")
        sp.set_defaults(func=fn)
        return sp

    for register in COMMANDS:
        register(add)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: Arguments (default ``sys.argv[1:]``).

    Returns:
        The exit code.
    """
    args = build_parser().parse_args(argv)
    try:
        use_template_dirs(args)
        code: int = args.func(args)
        return code
    except PetriExecError as e:
        print(for_terminal(f"petri-exec: error: {e}"), file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (| head): before OSError, its base
        return 0
    except OSError as e:  # a path the user gave: bad input, never an internal error
        where = f"{e.filename}: " if e.filename else ""
        cause = e.strerror or str(e) or type(e).__name__
        print(for_terminal(f"petri-exec: error: {where}{cause}; check the path and its "
                           "permissions"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # outside a drive (which turns signals into 'paused')
        print("petri-exec: interrupted", file=sys.stderr)
        return 130
    except Exception:
        traceback.print_exc()
        print("petri-exec: internal error (the traceback above); please report it",
              file=sys.stderr)
        return 1
