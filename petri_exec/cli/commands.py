"""The core commands of ``petri-exec``: visualize, ready, why, drive, fire, history, export
and abandon (``check`` is in :mod:`.check`; the options they share in :mod:`.options`).

Exit codes: 0 success / completed; 2 bad input or usage (one line, no traceback, nothing
modified); 3 halted; 4 deadlocked; 5 paused; 1 internal error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from ..core.compile import compile_run, marking_of
from ..core.net import Transition
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
from . import check
from .git import add_git_options
from .options import (
    count,
    dask_executor,
    fire_command,
    load_ports,
    positive_int,
    scheduler_for,
    scheduler_spec,
    seconds,
    template_dirs,
)

__all__ = ["EXIT", "register"]

EXIT = {"completed": 0, "fired": 0, "halted": 3, "deadlocked": 4, "paused": 5}


def _load(path: str) -> tuple[Run, Template]:
    run = load_run(path)
    return run, load_template(run.template)


def _write(output: str, data: bytes) -> None:
    """Write ``-o FILE``; a path that cannot be written is bad input, not a crash."""
    try:
        Path(output).write_bytes(data)
    except OSError as e:
        raise UsageError(f"-o {output}: cannot write the file ({e.strerror or e}); check "
                         "that its directory exists and is writable") from None


def _manual_gates(run: Run, template: Template) -> list[Transition]:
    """The manual gates enabled in ``run`` (none once it is abandoned), in lane order."""
    if run.abandoned is not None:
        return []
    net, m = compile_run(run, template=template), marking_of(run)
    gates = (net.transition(st.name) for st in template.run.steps if st.manual)
    return [t for t in gates if net.is_enabled(t, m)]


def cmd_visualize(a: argparse.Namespace) -> int:
    notes: list[str] = []
    out = visualize(a.run, format_for(a.output, a.format), a.view, explain=notes.append)
    if a.output:
        _write(a.output, out)
    else:
        sys.stdout.buffer.write(out)
    for line in notes:  # which view was chosen, once the picture is out
        print(f"petri-exec visualize: {line}", file=sys.stderr)
    return 0


def cmd_ready(a: argparse.Namespace) -> int:
    run, template = _load(a.run)
    spec = scheduler_for(a.scheduler, a.run)
    sched = (LinearScheduler if spec == "linear" else PetriScheduler).for_run(
        run, template=template) if isinstance(spec, str) else spec
    ready = sorted(sched.ready(marking_of(run)), key=lambda t: t.index)
    manual = _manual_gates(run, template)
    if a.json:
        print(json.dumps([{"name": t.name, "step": t.step, "slice_id": t.slice_id,
                           "port": t.port, "manual": t.manual} for t in [*ready, *manual]],
                         indent=2))
        return 0
    for t in ready:
        print(t.name + (f"  (port {t.port})" if t.port else ""))
    for t in manual:
        port = f"port {t.port}; " if t.port else ""
        print(f"{t.name}  ({port}manual gate: petri-exec fire {a.run} {t.name} --ports SPEC)")
    return 0


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
    commands = [fire_command(a, t) for t in out.next_manual]
    if a.json:
        print(json.dumps({"status": out.status, "run_status": out.run_status, "step": out.step,
                          "reason": out.reason, "detail": out.detail, "fired": out.fired,
                          "next_manual": list(out.next_manual), "next_commands": commands,
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
    for t, command in zip(out.next_manual, commands, strict=True):
        print(for_terminal(f"next: {t} is a manual gate; fire it with: {command}"))
    return code


def _drive_arguments(a: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of ``drive()`` given on the command line, checked."""
    options: dict[str, Any] = {
        "max_parallel": positive_int("--max-parallel", a.max_parallel),
        "max_firings": count("--max-firings", a.max_firings),
        "retries": count("--retries", a.retries),
        "retry_backoff_s": seconds("--retry-backoff", a.retry_backoff, positive=False),
        "timeout_s": seconds("--timeout", a.timeout, positive=True),
        "checkpoint_every": positive_int("--checkpoint-every", a.checkpoint_every),
        "durability": a.durability,
        "template_dirs": template_dirs(a),
    }
    if a.dask is not None:
        if options["max_parallel"] == 1:
            raise UsageError(f"--dask {a.dask}: ports go to the cluster only with "
                             "--max-parallel 2 or more; drop --max-parallel 1")
        if a.scheduler == "linear":
            raise UsageError(f"--dask {a.dask}: the linear scheduler runs one step at a time "
                             "in this process; use --scheduler petri (the default)")
    return {k: v for k, v in options.items() if v is not None}


def cmd_drive(a: argparse.Namespace) -> int:
    options = _drive_arguments(a)
    ports = load_ports(a.ports, a)
    named = scheduler_spec(a.scheduler)  # every argument checked before --fresh moves a file
    if a.fresh:
        preflight(a.run, ports)  # refuse bad ports before moving anything aside
        moved = start_fresh(a.run)
        if moved is not None:
            print(for_terminal(f"{a.run}: a new journal; the previous one is now {moved}"),
                  file=sys.stderr)
    scheduler = scheduler_for(a.scheduler, a.run, named)
    with contextlib.ExitStack() as stack:
        if a.dask is not None:
            executor: Executor
            executor, threads = stack.enter_context(dask_executor(a.dask))
            options["executor"] = executor
            options.setdefault("max_parallel", max(2, threads))
        observer = _observer(a)
        if observer is not None:
            stack.callback(observer.close)
        started = time.monotonic()
        out = drive(a.run, ports, scheduler=scheduler, on_event=observer, **options)
    return _report(a, out, started)


def cmd_fire(a: argparse.Namespace) -> int:
    ports = load_ports(a.ports, a)
    observer = _observer(a)
    started = time.monotonic()
    try:
        out = fire(a.run, a.transition, ports, on_event=observer,
                   template_dirs=template_dirs(a), durability=a.durability)
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
        _write(a.output, data)
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
                         "detail, fired, next_manual, next_commands, exit_code); no "
                         "progress unless --progress is given")
    add_git_options(sp)
    sp.add_argument("--durability", choices=("fsync", "flush"), default="fsync",
                    help="fsync (default): every journal line is synced to disk (survives a "
                         "power loss); flush: handed to the OS only (survives a crash of "
                         "petri-exec, not a power loss; faster on slow disks)")


def _drive_only_options(d: argparse.ArgumentParser) -> None:
    d.add_argument("--scheduler", default="petri", metavar="petri|linear|MODULE:ATTR",
                   help="petri: fire every enabled transition (default); linear: one "
                        "deterministic topological order; module:attr: your scheduler "
                        "object, or a factory called with the run (a class with "
                        "for_run(run), or any callable run -> scheduler)")
    d.add_argument("--max-parallel", metavar="N",
                   help="how many steps may run at once (default 1; with --dask, the "
                        "cluster's worker threads, at least 2)")
    d.add_argument("--max-firings", metavar="N",
                   help="stop with 'paused' (exit 5) after N firings")
    d.add_argument("--retries", metavar="N",
                   help="extra attempts of every failing step before the run halts "
                        "(overrides the template's retries)")
    d.add_argument("--retry-backoff", metavar="S",
                   help="seconds before the first retry, doubled for each further one "
                        "(overrides the template's retry_backoff_s)")
    d.add_argument("--timeout", metavar="S",
                   help="seconds an attempt may take before it fails (overrides the "
                        "template's timeout_s)")
    d.add_argument("--checkpoint-every", metavar="N",
                   help="rewrite run.json after every N firings (default: the larger of "
                        "1000 and the number of transitions; the journal has every firing)")
    d.add_argument("--dask", metavar="ADDRESS",
                   help="run the ports on the workers of the Dask scheduler at ADDRESS "
                        "(tcp://host:port); the ports must be importable there")


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
    r.add_argument("--scheduler", default="petri", metavar="petri|linear|MODULE:ATTR",
                   help="petri: every enabled transition (default); linear: at most one; "
                        "module:attr: your scheduler or its factory (as for drive). "
                        "Enabled manual gates follow, marked as such")
    r.add_argument("--json", action="store_true",
                   help="a JSON list of {name, step, slice_id, port, manual}")
    check.register(add)
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
            "petri-exec drive run.json --ports shell --json | jq -r .status\n"
            "petri-exec drive run.json --ports myports:PORTS --dask tcp://10.0.0.5:8786")
    _drive_options(d)
    d.add_argument("--fresh", action="store_true",
                   help="start a new journal (and run identity): the old journal is moved "
                        "aside as <stem>.events.<time>.jsonl; its firings stay in run.json "
                        "when it is this run's own")
    _drive_only_options(d)
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
