"""Commands that operate a run over days: ``retry`` and ``amend``."""

from __future__ import annotations

import argparse
from typing import Any

from ..engine.operate import amend, retry
from ..views.terminal import for_terminal
from .options import load_ports

__all__ = ["register"]


def cmd_retry(a: argparse.Namespace) -> int:
    ports = load_ports(a.ports) if a.ports else None
    run = retry(a.run, a.target, only=a.only, ports=ports)
    print(for_terminal(f"{a.run}: {a.target} will run again: run status {run.status!r}; "
                       f"drive the run to go on"))
    return 0


def cmd_amend(a: argparse.Namespace) -> int:
    run = amend(a.run, a.plan)
    print(for_terminal(f"{a.run}: plan amended: {len(run.slices)} slices; drive the run to "
                       "go on"))
    return 0


def register(add: Any) -> None:
    """Declare ``retry`` and ``amend``.

    Args:
        add: The parser's ``add(name, handler, help, examples)``.
    """
    r = add("retry", cmd_retry,
            "put a slice (and every slice downstream of it that had started) or a run step "
            "back, so that the next drive runs it again; the dropped facts stay in the "
            "journal (slice_reset)",
            "petri-exec retry run.json api\n"
            "petri-exec retry run.json api --only\n"
            "petri-exec retry run.json run_complete")
    r.add_argument("target", metavar="SLICE_OR_STEP",
                   help="a slice id, or a run step (run_complete resets the slices whose "
                        "verdict failed)")
    r.add_argument("--only", action="store_true",
                   help="reset only this slice (refused when a slice depending on it has "
                        "started)")
    r.add_argument("--ports", metavar="SPEC",
                   help="the run's ports, when they keep state per slice (git: resets the "
                        "slice branches and worktrees)")
    m = add("amend", cmd_amend,
            "let a new plan supersede the run's plan: slices only in the plan are added, "
            "slices missing from it that have not started are removed, a slice that has "
            "not started takes the plan's title, meta and dependencies; started slices "
            "cannot change (retry them first)",
            "petri-exec amend run.json plan.json")
    m.add_argument("plan", metavar="PLAN.json",
                   help="a JSON file of the run file's shape (at least \"slices\")")
