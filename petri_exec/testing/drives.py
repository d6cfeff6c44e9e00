"""The rules checked by driving whole runs: ``parity``, ``ports_once`` and ``halt``.

Each check drives a run with the scheduler under test and compares with
:class:`~petri_exec.LinearScheduler`, the reference: schedulers choose an order, never a
result.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs

from ..core.compile import compile_run
from ..engine.api import DriveOutcome, drive
from ..engine.durable import load_run
from ..engine.journal import Event
from ..run.model import Run
from ..run.runfile import dump_run, save_run
from ..run.templates import load_template
from .fakes import FakePorts, PortBehaviour
from .rules import ContractViolation

__all__ = ["build_scheduler", "check_drive", "check_halt"]

Factory = Callable[[Run], Any]


def build_scheduler(factory: Factory, run: Run, rule: str) -> Any:
    """``factory(run)``, turning an exception into a violation of ``rule``.

    Raises:
        ContractViolation: The factory raised.
    """
    try:
        return factory(run)
    except Exception as e:
        raise ContractViolation(rule, f"the factory raised {type(e).__name__}: {e}",
                                "a factory must build a scheduler for every valid run",
                                scheduler=factory, run=run) from e


def _ending(out: DriveOutcome) -> str:
    text = f"{out.status} at run status {out.run_status!r}"
    if out.step:
        text += f", step {out.step!r}"
    if out.reason:
        text += f" ({out.reason[:300]})"
    return text


def _first_difference(got: bytes, want: bytes, got_label: str = "this scheduler",
                      want_label: str = "LinearScheduler") -> str:
    diff = list(difflib.unified_diff(want.decode().splitlines(), got.decode().splitlines(),
                                     want_label, got_label, n=1, lineterm=""))
    return "\n".join(diff[:14])


def _drive(run: Any, ports: FakePorts, scheduler: Any, rule: str, base: Run,
           on_event: Callable[[Event], Any] | None, dirs: tuple[str, ...],
           **options: Any) -> DriveOutcome:
    if not isinstance(run, Run):
        options.setdefault("durability", "flush")  # a test needs no power-loss safety
    try:
        return drive(run, ports, scheduler=scheduler, on_event=on_event, template_dirs=dirs,
                     **options)
    except Exception as e:
        raise ContractViolation(rule, f"drive() raised {type(e).__name__}: {e} with this "
                                "scheduler", "drive() talks only to scheduler.net and "
                                "scheduler.session(marking): check both", scheduler=scheduler,
                                run=base) from e


def check_drive(factory: Factory, run: Run, behaviour: PortBehaviour | None = None, *,
                rules: Iterable[str] = ("parity", "ports_once"),
                template_dirs: Iterable[str] = (), max_parallel: int = 1) -> None:
    """Drive ``run`` in memory with the scheduler and with LinearScheduler, and compare.

    Args:
        factory: ``run -> scheduler``.
        run: The run (at any valid state).
        behaviour: How the fake ports behave (verdicts; failures make both drives halt);
            None: every port succeeds.
        rules: Which of ``parity`` and ``ports_once`` to check.
        template_dirs: Extra directories to look templates up in.
        max_parallel: ``drive(max_parallel=...)`` for the scheduler under test (the
            reference drive is sequential).

    Raises:
        ContractViolation: A rule is broken.
    """
    wanted = set(rules)
    dirs = tuple(template_dirs)
    behaviour = behaviour or PortBehaviour()
    first = "parity" if "parity" in wanted else "ports_once"
    scheduler = build_scheduler(factory, run, first)
    events: list[Event] = []
    ports = behaviour.ports()
    out = _drive(run, ports, scheduler, first, run, events.append, dirs,
                 max_parallel=max_parallel)
    ref = drive(run, behaviour.ports(), scheduler="linear", template_dirs=dirs)

    def fail(rule: str, problem: str, fix: str) -> ContractViolation:
        return ContractViolation(rule, problem, fix, scheduler=scheduler, run=run)

    if "parity" in wanted:
        if (out.status, out.step, out.run_status) != (ref.status, ref.step, ref.run_status):
            raise fail("parity", f"drive(max_parallel={max_parallel}) ended {_ending(out)}, "
                       "but with LinearScheduler it "
                       f"ended {_ending(ref)}", "hand out (through ready() or session()) "
                       "every transition the run needs, in an order its net allows")
        mine, theirs = _state(out.run), _state(ref.run)
        if mine != theirs:
            raise fail("parity", "the final run.json differs from LinearScheduler's:\n"
                       + _first_difference(mine, theirs),
                       "the final state must not depend on the scheduler")
    if "ports_once" in wanted:
        attempted = Counter(e.transition for e in events if e.kind == "transition_started")
        for name, n in sorted(ports.call_counts().items()):
            if n > 1 and not behaviour.fail:
                raise fail("ports_once", f"the port of {name!r} was called {n} times in one "
                           "drive", "hand each transition out once (a session's is_enabled() "
                           "must be false once the transition has fired)")
            if n != attempted.get(name, 0):
                raise fail("ports_once", f"the port of {name!r} was called {n} times, but "
                           f"drive() attempted that step {attempted.get(name, 0)} times",
                           "hand each transition out once per time it becomes enabled (a "
                           "session's is_enabled() must be false once it has fired)")
        if out.status == "completed":
            net = compile_run(run, template=load_template(run.template, dirs))
            called = ports.call_counts()
            lost = [t.name for t in net.transitions
                    if t.port is not None and not t.manual and t.name not in called
                    and not _done_before(run, t.name, net)]
            if lost:
                raise fail("ports_once", f"the drive completed without calling the port of "
                           f"{lost[:5]}", "every port-backed step must be attempted")


def _done_before(run: Run, name: str, net: Any) -> bool:
    """Whether transition ``name`` had already fired in ``run`` (its input is empty)."""
    from ..core.compile import marking_of

    m = marking_of(run)
    return all(m.get(place, 0) == 0 for place, _ in net.effect(name).consumed)


def _scratch() -> str | None:
    """A memory-backed directory for the halt rule's run files when there is one (the
    checks write and fsync many small files), else None (the system default)."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def check_halt(factory: Factory, run: Run, victim: str, failure: str | BaseException = "injected",
               *, template_dirs: Iterable[str] = ()) -> None:
    """Fail ``victim``'s port in a drive of ``run`` (as a run.json) and check rule ``halt``.

    Args:
        factory: ``run -> scheduler``.
        run: The run.
        victim: A port-backed transition of the run (attempted by a complete drive).
        failure: The failure's reason, or an exception the port raises.
        template_dirs: Extra directories to look templates up in.

    Raises:
        ContractViolation: The halt left the run changed, or the resume did not converge.
    """
    dirs = tuple(template_dirs)
    scheduler = build_scheduler(factory, run, "halt")

    def fail(problem: str, fix: str) -> ContractViolation:
        return ContractViolation("halt", problem, fix, scheduler=scheduler, run=run)

    with tempfile.TemporaryDirectory(prefix="petri-exec-halt-", dir=_scratch()) as d:
        clean, faulty = Path(d, "clean", "run.json"), Path(d, "faulty", "run.json")
        for p in (clean, faulty):
            p.parent.mkdir()
            save_run(run, p)
        drive(clean, FakePorts(), scheduler="linear", template_dirs=dirs, durability="flush")
        before: dict[str, bytes] = {}

        def observe(e: Event) -> None:
            if e.kind == "transition_started" and e.transition == victim and not before:
                before["run"] = dump_run(load_run(faulty, template_dirs=dirs))
                before["file"] = faulty.read_bytes()

        out = _drive(faulty, FakePorts(fail={victim: failure}), scheduler, "halt", run,
                     observe, dirs)
        if out.status != "halted" or out.step != victim:
            raise fail(f"with the port of {victim!r} failing, drive() ended {_ending(out)} "
                       f"instead of halting at {victim!r}", "the scheduler must let drive() "
                       "reach every step (see rule 'parity')")
        now = dump_run(load_run(faulty, template_dirs=dirs))
        if now != before["run"]:
            raise fail(f"after the halt at {victim!r} the run is not as before the attempt:\n"
                       + _first_difference(now, before["run"], "after the halt",
                                           "before the attempt"),
                       "a failed step must record nothing")
        if faulty.read_bytes() not in (before["file"], before["run"]):
            raise fail(f"after the halt at {victim!r} run.json holds a state that is neither "
                       "the file before the attempt nor the run before it",
                       "a failed step must record nothing")
        halted_run = load_run(faulty, template_dirs=dirs)
        again = build_scheduler(factory, halted_run, "halt")
        res = _drive(faulty, FakePorts(), again, "halt", halted_run, None, dirs)
        final = _state(load_run(faulty, template_dirs=dirs))
        expected = _state(load_run(clean, template_dirs=dirs))
        if res.status != "completed" or final != expected:
            raise fail(f"after the halt at {victim!r}, a new drive with factory(halted run) "
                       f"ended {_ending(res)}"
                       + ("" if final == expected else " with a different run.json:\n"
                          + _first_difference(final, expected, "resumed", "uninterrupted")),
                       "the factory must build a working scheduler from any run.json a "
                       "drive leaves behind, not only from a fresh run")


def _state(run: Run) -> bytes:
    """A run's bytes without its identity: runs driven separately each mint their own."""
    return dump_run(attrs.evolve(run, identity=None))
