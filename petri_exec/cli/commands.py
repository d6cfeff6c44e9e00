"""The core commands of ``petri-exec``: visualize, ready, check, why, drive, fire, history,
export and abandon.

Exit codes: 0 success / completed; 2 bad input or usage (one line, no traceback, nothing
modified); 3 halted; 4 deadlocked; 5 paused; 1 internal error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..core.compile import compile_run, marking_of
from ..core.schedulers import LinearScheduler, PetriScheduler
from ..engine.api import DriveOutcome, abandon, drive, fire, preflight
from ..engine.durable import load_run
from ..engine.journal import journal_path, read_journal
from ..engine.writer import start_fresh
from ..errors import UsageError
from ..interchange.netjson import net_json
from ..interchange.pnml import to_pnml
from ..run.model import Run
from ..run.templates import Template, load_template
from ..views.progress import BoardProgress, LineProgress
from ..views.terminal import for_terminal
from ..views.viewchoice import NET_VIEW_MAX_AREA_PT2, NET_VIEW_MAX_SIDE_PT
from ..views.visualize import FORMATS, format_for, visualize
from .git import add_git_options, git_ports, report_preflight

__all__ = ["EXIT", "load_ports", "register"]

EXIT = {"completed": 0, "fired": 0, "halted": 3, "deadlocked": 4, "paused": 5}


def _at_least_one(text: str) -> int:
    """An argparse type: an integer of at least 1 (the message is argparse's one line)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1; give a positive number")
    return value


def _load(path: str) -> tuple[Run, Template]:
    run = load_run(path)
    return run, load_template(run.template)


def cmd_visualize(a: argparse.Namespace) -> int:
    notes: list[str] = []
    out = visualize(a.run, format_for(a.output, a.format), a.view, explain=notes.append)
    if a.output:
        Path(a.output).write_bytes(out)
    else:
        sys.stdout.buffer.write(out)
    for line in notes:  # which view was chosen, once the picture is out
        print(f"petri-exec visualize: {line}", file=sys.stderr)
    return 0


def cmd_ready(a: argparse.Namespace) -> int:
    run, template = _load(a.run)
    cls = LinearScheduler if a.scheduler == "linear" else PetriScheduler
    ready = sorted(cls.for_run(run, template=template).ready(marking_of(run)),
                   key=lambda t: t.index)
    if a.json:
        print(json.dumps([{"name": t.name, "step": t.step, "slice_id": t.slice_id,
                           "port": t.port} for t in ready], indent=2))
    else:
        for t in ready:
            print(t.name + (f"  (port {t.port})" if t.port else ""))
    return 0


def cmd_check(a: argparse.Namespace) -> int:
    from ..analysis.runproof import analyze_run
    from ..analysis.soundness import properties_line

    run, template = _load(a.run)
    ports = report_preflight(load_ports(a.ports, a), a.run) if a.ports else None
    rep = analyze_run(run, template=template, behavioural=a.behavioural,
                      max_states=a.max_states, max_memory=a.max_memory * 2**20)
    ok = rep.sound and (rep.drive_completes or a.allow_manual) and rep.agrees is not False
    code = 0 if ok else 4
    if a.json:
        extra = {} if ports is None else {"ports": {"spec": a.ports, "preflight": ports}}
        print(json.dumps({"run": a.run, "valid": True, **rep.to_json(), **extra,
                          "exit": code}, indent=2))
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
    import textwrap as tw

    print(tw.fill(rep.proof, width=92, initial_indent="  proof: ", subsequent_indent=" " * 9))
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
            print(tw.fill(properties_line(b.properties), width=92,
                          initial_indent="  properties: ", subsequent_indent=" " * 14))
        if b.limit:
            print(f"  note: {b.limit}")
    for reason in rep.reasons:
        print(tw.fill(reason, width=92, initial_indent="  problem: ", subsequent_indent=" " * 11))
    for line in ports or ():
        print(f"  ports {a.ports}: {line}")
    if ok:
        print("verdict: sound" + (" (manual gates allowed)" if rep.manual_gates else ""))
    elif rep.sound:
        print("verdict: sound, but drive() alone does not reach the end (exit 4; "
              "--allow-manual accepts manual gates)")
    else:
        print("verdict: NOT sound: a deadlock or an unreachable end is possible (exit 4)")
    return code


def cmd_why(a: argparse.Namespace) -> int:
    from ..analysis.why import why

    run, template = _load(a.run)
    net = compile_run(run, template=template)
    w = why(net, marking_of(run), a.transition)
    if a.json:
        print(json.dumps(w.to_json(), indent=2))
        return 0
    if w.enabled:
        extra = " (a manual gate: fire it with petri-exec fire)" if w.manual else ""
        print(f"{w.transition} is enabled{extra}")
        return 0

    status_of = {s.id: s.status for s in run.slices}  # linear in what is reported

    def lane(place: str) -> tuple[str, str, bool]:
        kind, _, rest = place.partition(":")
        sid, _, status = rest.rpartition(":")
        if kind == "run":
            ln, name, now = template.run, "run", run.status
        else:
            ln, name, now = template.slice, f"slice {sid!r}", status_of[sid]
        return name, now, ln.position(status) < ln.position(now)

    lines = [f"{w.transition} waits for:"]
    say = lines.append  # collected, then written at once
    for n in w.needs:
        name, now, behind = lane(n.place)
        if n.never:
            why_not = (f"{name} is already past {n.place.rsplit(':', 1)[1]!r} (now {now!r})"
                       if behind else n.never)
            say(f"  {n.place}: never: {why_not}")
            continue
        say(f"  {n.place}: waits for {name}: {' -> '.join(n.chain)} (now {now!r})")
        for step, place in n.side:
            say(f"    ({step} also waits for {place})")
    if w.never:
        say(f"{w.transition} can never fire from here")
    else:
        say(f"fire first, in order ({len(w.plan)} steps): {', '.join(w.plan)}")
    sys.stdout.write("\n".join(map(for_terminal, lines)) + "\n")
    return 0


def load_ports(spec: str, a: argparse.Namespace | None = None) -> Any:
    """The ports object a ``--ports`` spec names: ``shell``, ``git`` (built from the git
    options in ``a``) or ``module:attribute``.

    Raises:
        UsageError: The spec is malformed, the module cannot be imported (a syntax error
            in it is named with its file and line) or lacks the attribute; git options
            without ``--ports git``, or ``--ports git`` without ``--agent``.
    """
    git = git_ports(spec, a)  # --ports git, and git options only with it
    if git is not None:
        return git
    if spec == "shell":
        from ..ports.shell import ShellPorts

        return ShellPorts()
    return load_object(spec, "--ports", "'shell', 'git' or module:attribute")


def load_object(spec: str, flag: str, forms: str) -> Any:
    """Import ``module:attribute`` for a command-line flag (the current directory first).

    Raises:
        UsageError: One line naming the flag, the spec and what went wrong.
    """
    module, sep, attr = spec.partition(":")
    if not sep or not module or not attr or not all(
            part.isidentifier() for part in (*module.split("."), *attr.split("."))):
        raise UsageError(f"{flag} {spec!r}: use {forms} (a module importable from the "
                         "current directory and an attribute name)")
    sys.path.insert(0, str(Path.cwd()))
    try:
        obj: Any = importlib.import_module(module)
    except SyntaxError as e:
        raise UsageError(f"{flag} {spec!r}: {e.filename}:{e.lineno}: syntax error "
                         f"({e.msg}); fix the module") from None
    except ImportError as e:
        raise UsageError(f"{flag} {spec!r}: cannot import module {module!r} ({e})") from None
    except Exception as e:
        raise UsageError(f"{flag} {spec!r}: importing module {module!r} raised "
                         f"{type(e).__name__}: {e}") from None
    for name in attr.split("."):
        try:
            obj = getattr(obj, name)
        except AttributeError:
            raise UsageError(f"{flag} {spec!r}: module {module!r} has no attribute "
                             f"{attr!r}") from None
    return obj


def _observer(a: argparse.Namespace) -> LineProgress | BoardProgress | None:
    """The progress display chosen by ``--progress`` (auto: a board on a terminal, one
    line per event otherwise, nothing with ``--json``)."""
    mode = a.progress
    if mode == "auto":
        mode = "quiet" if a.json else "board" if sys.stdout.isatty() else "lines"
    stream = sys.stderr if a.json else sys.stdout
    if mode == "lines":
        return LineProgress(stream)
    if mode == "board":
        run, template = _load(a.run)
        return BoardProgress(run, template, stream)
    return None


def _report(a: argparse.Namespace, out: DriveOutcome, started: float) -> int:
    code = EXIT[out.status]
    if a.json:
        print(json.dumps({"status": out.status, "run_status": out.run_status, "step": out.step,
                          "reason": out.reason, "detail": out.detail, "fired": out.fired,
                          "exit_code": code}, indent=2))
        return code
    msg = f"{out.status}: run status {out.run_status}, {out.fired} fired in " \
          f"{time.monotonic() - started:.2f}s"
    if out.step:
        msg += f"; step {out.step}"
    if out.reason:
        msg += f"; reason: {out.reason}"
    if out.detail:
        msg += f" ({out.detail})"
    print(for_terminal(msg))
    return code


def cmd_drive(a: argparse.Namespace) -> int:
    ports = load_ports(a.ports, a)
    if a.fresh:
        preflight(a.run, ports)  # refuse bad ports before moving anything aside
        moved = start_fresh(a.run)
        if moved is not None:
            print(for_terminal(f"{a.run}: a new journal; the previous one is now {moved}"),
                  file=sys.stderr)
    observer = _observer(a)
    started = time.monotonic()
    try:
        out = drive(a.run, ports, scheduler=a.scheduler, max_parallel=a.max_parallel,
                    max_firings=a.max_firings, on_event=observer)
    finally:
        if observer is not None:
            observer.close()
    return _report(a, out, started)


def cmd_fire(a: argparse.Namespace) -> int:
    ports = load_ports(a.ports, a)
    observer = _observer(a)
    started = time.monotonic()
    try:
        out = fire(a.run, a.transition, ports, on_event=observer)
    finally:
        if observer is not None:
            observer.close()
    return _report(a, out, started)


def cmd_history(a: argparse.Namespace) -> int:
    load_run(a.run)
    events, torn = read_journal(journal_path(a.run))
    if a.json:
        print(json.dumps([e.to_json() for e in events], indent=2))
    else:
        for e in events:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.time))
            parts = [f"{e.seq:>5}", when, f"{e.kind:<19}", e.transition or ""]
            if e.attempt and e.attempt > 1:
                parts.append(f"attempt {e.attempt}")
            if e.reason:
                parts.append(f"reason: {e.reason}")
            if e.facts:
                parts.append(json.dumps(e.facts, sort_keys=True))
            print(for_terminal("  ".join(p for p in parts if p)))
    if torn:
        print(f"warning: {journal_path(a.run)}: the last line is torn (a crash mid-append); "
              "it was ignored", file=sys.stderr)
    return 0


def cmd_abandon(a: argparse.Namespace) -> int:
    run = abandon(a.run, a.reason)
    print(for_terminal(f"{a.run}: run {run.run_id!r} abandoned at {run.status!r}: "
                       f"{run.abandoned}"))
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    run, template = _load(a.run)
    net = compile_run(run, template=template)
    m = marking_of(run)
    data = to_pnml(net, m) if a.format == "pnml" else (
        json.dumps(net_json(net, m, PetriScheduler(net).ready(m)), indent=2) + "\n").encode()
    if a.output:
        Path(a.output).write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
    return 0


def _drive_options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--ports", required=True, metavar="SPEC",
                    help="'shell' (the built-in shell ports: a slice's meta.run and "
                         "meta.verify commands), 'git' (an agent run over git: --agent "
                         "below) or module:attribute (your ports object)")
    sp.add_argument("--progress", choices=("auto", "board", "lines", "quiet"), default="auto",
                    help="auto (default): a status board on a terminal, one line per event "
                         "otherwise")
    sp.add_argument("--json", action="store_true",
                    help="print the outcome as JSON (status, run_status, step, reason, "
                         "fired, exit_code); no progress unless --progress is given")
    add_git_options(sp)


def register(add: Any) -> None:
    """Declare the core commands (visualize, ready, check, why, drive, fire, history, export,
    abandon).

    Args:
        add: The parser's ``add(name, handler, help, examples)`` (see :mod:`.app`).
    """
    v = add("visualize", cmd_visualize,
            "draw the compiled net with its current marking: tokens, enabled transitions, "
            "fired history and the failed step (DOT to stdout without -o)",
            "petri-exec visualize run.json -o run.svg\n"
            "petri-exec visualize run.json -o report.html --view slices\n"
            "petri-exec visualize run.json --format mermaid > run.mmd")
    v.add_argument("-o", "--output", metavar="FILE",
                   help="output file; its extension picks the format unless --format is given")
    v.add_argument("--format", choices=FORMATS,
                   help="svg and html need Graphviz (system dot, or pip install "
                        "'petri-exec[viz]'); png needs the system dot")
    v.add_argument("--view", choices=("net", "slices"),
                   help="net: every place and transition; slices: one node per slice. "
                        "Default: the net view while its picture stays readable (estimated "
                        f"from the net's structure at most {NET_VIEW_MAX_AREA_PT2:,} pt2, "
                        f"about six screens, and {NET_VIEW_MAX_SIDE_PT:,} pt a side), else the "
                        "slices view; a note on stderr says which was chosen and the "
                        "estimated size")
    r = add("ready", cmd_ready, "list enabled transitions",
            "petri-exec ready run.json\npetri-exec ready run.json --scheduler linear --json")
    r.add_argument("--scheduler", choices=("petri", "linear"), default="petri",
                   help="petri: every enabled transition (default); linear: at most one")
    r.add_argument("--json", action="store_true",
                   help="a JSON list of {name, step, slice_id, port}")
    c = add("check", cmd_check, "validate the run and analyse its net",
            "petri-exec check run.json")
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
                   help="also run these ports' preflight (git: repository, base branch, "
                        "worktree paths), firing nothing")
    add_git_options(c)
    w = add("why", cmd_why, "explain what a transition is waiting for",
            "petri-exec why run.json slice_start:ui")
    w.add_argument("transition", metavar="TRANSITION")
    w.add_argument("--json", action="store_true", help="the explanation as JSON")
    d = add("drive", cmd_drive,
            "drive the run until it completes, halts, deadlocks or pauses, with live "
            "progress (a status board on a terminal, one line per event otherwise)",
            "petri-exec drive run.json --ports shell\n"
            "petri-exec drive run.json --ports git --agent \"python3 scripted_agent.py\"\n"
            "petri-exec drive run.json --ports myports:PORTS --max-firings 10\n"
            "petri-exec drive run.json --ports shell --json | jq -r .status")
    _drive_options(d)
    d.add_argument("--scheduler", choices=("petri", "linear"), default="petri",
                   help="petri: fire every enabled transition (default); linear: one "
                        "deterministic topological order")
    d.add_argument("--max-parallel", type=int, default=1, metavar="N",
                   help="how many steps may run at once (default 1)")
    d.add_argument("--fresh", action="store_true",
                   help="start a new journal (and run identity): the old journal is moved "
                        "aside as <stem>.events.<time>.jsonl; its firings stay in run.json "
                        "when it is this run's own")
    d.add_argument("--max-firings", type=int, metavar="N",
                   help="stop with 'paused' (exit 5) after N firings")
    f = add("fire", cmd_fire, "fire one transition by hand (the only way past a manual gate)",
            "petri-exec fire run.json host_promotion --ports shell")
    f.add_argument("transition", metavar="TRANSITION", help="the transition's name")
    _drive_options(f)
    h = add("history", cmd_history, "show the run's journal, one line per event",
            "petri-exec history run.json\npetri-exec history run.json --json")
    h.add_argument("--json", action="store_true", help="the events as a JSON list")
    e = add("export", cmd_export, "export the compiled net with its marking",
            "petri-exec export run.json --format pnml -o run.pnml\n"
            "petri-exec export run.json --format json")
    e.add_argument("--format", choices=("pnml", "json"), required=True,
                   help="pnml: PNML place/transition net (read arcs as loops); json: "
                        "places, transitions with arcs, marking, enabled")
    e.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    ab = add("abandon", cmd_abandon, "mark the run abandoned: nothing is ready any more and "
             "drive/fire return halted (reason 'abandoned'); every file stays; undo by "
             "deleting the \"abandoned\" key from run.json",
             'petri-exec abandon run.json --reason "requirements changed"')
    ab.add_argument("--reason", required=True, metavar="TEXT", help="why (recorded)")
