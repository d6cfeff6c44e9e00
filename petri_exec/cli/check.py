"""``petri-exec check``: validate a run, analyse its net, and with ``--ports`` find what a
drive with those ports would refuse, without firing anything.

Exit codes: 0 sound and ``drive()`` reaches the end; 4 unsound, or ``drive()`` stops at a
manual gate (unless ``--allow-manual``); 2 invalid input, or a problem the ports would
refuse at drive time.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..analysis.runproof import analyze_run
from ..analysis.soundness import properties_line
from ..engine.durable import load_run
from ..errors import PetriExecError
from ..ports.protocol import resolve_port
from ..ports.shell import unused_verify
from ..run.model import Run
from ..run.templates import Template, load_template
from ..views.terminal import for_terminal
from .git import add_git_options
from .options import load_ports

__all__ = ["cmd_check", "register"]


def _at_least_one(text: str) -> int:
    """An argparse type: an integer of at least 1 (the message is argparse's one line)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1; give a positive number")
    return value


def _preflight(a: argparse.Namespace, run: Run,
               template: Template) -> tuple[list[str], list[str], list[str]]:
    """``check``'s findings about driving the run with ``--ports``: (report, problems,
    warnings).

    Without ``--ports``: only warnings about a ``meta.verify`` that no step runs. With it:
    the ports every step still to fire needs, then the ports' own ``preflight(run_path,
    run)`` if they have one (as ``drive()`` calls it): what it raises is a problem; a
    result with ``lines()`` (the git ports' report) is reported as is; lines it returns are
    problems, or warnings when they start with ``warning: `` (the shell ports).
    """
    if a.ports is None:
        return [], [], unused_verify(run, template)
    ports = load_ports(a.ports, a)
    problems = []
    run_at = template.run.position(run.status)
    slice_at = min((template.slice.position(s.status) for s in run.slices),
                   default=len(template.slice.steps))
    remaining = [(st, st.name) for st in template.run.steps[run_at:]] + [
        (st, f"{st.name}:<slice>") for st in template.slice.steps[slice_at:]]
    for st, name in remaining:
        if st.port is not None and resolve_port(ports, st.port) is None:
            problems.append(f"step {name} calls port {st.port!r}, which --ports {a.ports} "
                            "does not supply: the step would fail there (a missing port "
                            "fails closed)")
    report: list[str] = []
    warnings: list[str] = []
    preflight = None if isinstance(ports, Mapping) else getattr(ports, "preflight", None)
    if not callable(preflight):
        return report, problems, warnings
    try:
        found = preflight(Path(a.run), run)
    except PetriExecError as e:  # a refusal: drive and fire would stop here too
        return report, [*problems, str(e)], warnings
    except Exception as e:  # the ports' own code: report it, as a drive would
        return report, [*problems, f"the preflight of --ports {a.ports} raised "
                                   f"{type(e).__name__}: {e}"], warnings
    lines = getattr(found, "lines", None)
    if callable(lines):
        report = [str(line) for line in lines()]
    elif found is not None:
        for line in map(str, found):
            if line.startswith("warning: "):
                warnings.append(line.removeprefix("warning: "))
            else:
                problems.append(line)
    return report, problems, warnings


def cmd_check(a: argparse.Namespace) -> int:
    """``petri-exec check``: validate, analyse, and with ``--ports`` preflight the ports."""
    run = load_run(a.run)
    template = load_template(run.template)
    rep = analyze_run(run, template=template, behavioural=a.behavioural,
                      max_states=a.max_states, max_memory=a.max_memory * 2**20)
    report, problems, warnings = _preflight(a, run, template)
    ok = rep.sound and (rep.drive_completes or a.allow_manual) and rep.agrees is not False
    code = 2 if problems else 0 if ok else 4
    if a.json:
        ports = None if a.ports is None else {"spec": a.ports, "preflight": report,
                                               "problems": problems}
        print(json.dumps({"run": a.run, "valid": True, **rep.to_json(), "ports": ports,
                          "warnings": warnings, "exit": code}, indent=2))
        return code

    def yn(v: bool | None) -> str:
        return {True: "yes", False: "no", None: "unknown"}[v]

    print(f"{a.run}: valid run {rep.run_id!r} of template {rep.template!r}, status "
          f"{rep.status!r}")
    print(f"  net: {rep.places} places, {rep.transitions} transitions, {rep.arcs} arcs; "
          f"{rep.slices} slice(s), {rep.dependency_edges} dependency edge(s)")
    acyclic = "acyclic" if rep.acyclic else "CYCLE " + " -> ".join(rep.cycle)
    print(f"  structure: dependencies {acyclic}; lanes linear; conflict-free; 1-safe; "
          f"frontier {template.run.frontier!r} {rep.frontier}")
    dead = ", ".join(rep.dead_transitions[:8]) + (
        f" and {len(rep.dead_transitions) - 8} more" if len(rep.dead_transitions) > 8 else "")
    print(f"  deadlock possible: {yn(rep.deadlock)}; option to complete: "
          f"{yn(rep.option_to_complete)}; proper completion: {yn(rep.proper_completion)}; "
          f"dead steps: {dead or 'none'}")
    print(f"  sound: {yn(rep.sound)}")
    print(textwrap.fill(rep.proof, width=92, initial_indent="  proof: ",
                        subsequent_indent=" " * 9))
    gates = (f"stops at manual gate(s) {', '.join(rep.manual_gates)}" if rep.manual_gates
             else f"reaches {template.run.end!r} without manual steps"
             if rep.drive_completes else f"cannot reach {template.run.end!r}")
    after = (f"; manual gates after the end: {', '.join(rep.gates_after_end)}"
             if rep.gates_after_end else "")
    print(f"  drive(): {gates}{after}")
    b = rep.behaviour
    if b is not None:
        extent = ("complete" if b.complete else "cut at --max-states"
                  if b.limit and "max_states=" in b.limit else "partial")
        verdict = {True: "confirms the proof", False: "CONTRADICTS the proof (please "
                   "report it)", None: "cannot confirm the proof"}[rep.agrees]
        print(f"  state space: {b.states} markings, {b.edges} firings ({extent}); "
              f"{b.deadlock_count} deadlock(s); {verdict}")
        if b.properties is not None:
            print(textwrap.fill(properties_line(b.properties), width=92,
                                initial_indent="  properties: ", subsequent_indent=" " * 14))
        if b.limit:
            print(f"  note: {b.limit}")
    for reason in rep.reasons:
        print(textwrap.fill(reason, width=92, initial_indent="  problem: ",
                            subsequent_indent=" " * 11))
    for line in report:
        print(for_terminal(f"  ports {a.ports}: {line}"))
    if a.ports is not None:
        print(f"  ports {a.ports}: " + (f"{len(problems)} problem(s), {len(warnings)} "
                                        "warning(s)" if problems or warnings else
                                        "ready to drive (nothing fired)"))
    for line in problems:
        print(textwrap.fill(line, width=92, initial_indent="  problem: ",
                            subsequent_indent=" " * 11))
    for line in warnings:
        print(textwrap.fill(line, width=92, initial_indent="  warning: ",
                            subsequent_indent=" " * 11))
    if problems:
        print(f"verdict: a drive with --ports {a.ports} would fail: fix the problem(s) above "
              "(exit 2)")
    elif ok:
        print("verdict: sound" + (" (manual gates allowed)" if rep.manual_gates else ""))
    elif rep.sound:
        print("verdict: sound, but drive() alone does not reach the end (exit 4; "
              "--allow-manual accepts manual gates)")
    else:
        print("verdict: NOT sound: a deadlock or an unreachable end is possible (exit 4)")
    return code


def register(add: Any) -> None:
    """Declare ``check``.

    Args:
        add: The parser's ``add(name, handler, help, examples)`` (see :mod:`.app`).
    """
    c = add("check", cmd_check, "validate the run and analyse its net; with --ports, also "
            "what a drive with those ports would refuse",
            "petri-exec check run.json\npetri-exec check run.json --ports shell")
    c.add_argument("--json", action="store_true", help="the report as JSON, for scripts")
    c.add_argument("--behavioural", action="store_true",
                   help="also build the state space and check that it confirms the proof")
    c.add_argument("--max-states", type=_at_least_one, default=100_000, metavar="N",
                   help="bound on the markings --behavioural explores (default 100000)")
    c.add_argument("--max-memory", type=_at_least_one, default=1024, metavar="MB",
                   help="bound on the memory --behavioural's state space may take, in MiB "
                        "(estimated; default 1024)")
    c.add_argument("--allow-manual", action="store_true",
                   help="exit 0 when sound even if drive() stops at a manual gate")
    c.add_argument("--ports", metavar="SPEC",
                   help="also check what a drive with these ports would refuse, without "
                        "firing anything: every port a remaining step needs, and the "
                        "ports' own preflight (shell: meta.run present, programs on PATH; "
                        "git: repository, base branch, worktree paths); exit 2 when a "
                        "drive would fail")
    add_git_options(c)
