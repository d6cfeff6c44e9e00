"""``drive()`` and ``fire()``: the only place where effects happen.

The loop asks the scheduler's session for ready transitions, calls each step's port
(or built-in handler), and commits a success: the marking, the run (run.json is the
loop state) and the journal. A failure commits nothing: run.json stays byte-identical
to before the attempt; the journal records ``transition_failed`` and ``net_halted``.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import attrs

from .compile import _compile, compile_run, marking_of
from .durable import load_durable, run_lock
from .errors import NotEnabledError, RunFileError, TemplateError, UsageError
from .events import Event, Journal, journal_path
from .handlers import HANDLERS, HandlerEnv
from .live import LiveRun
from .model import Run
from .net import Net, Transition, not_enabled
from .ports import PortCaller, StepContext, StepResult, missing_port_reason, resolve_port
from .runfile import save_run, validate_checked, write_atomic
from .schedulers import LinearScheduler, PetriScheduler, Scheduler, Session, open_session
from .templates import Template, load_template

__all__ = ["DriveOutcome", "abandon", "drive", "fire"]

log = logging.getLogger("petri_exec")

Status = Literal["completed", "halted", "deadlocked", "paused", "fired"]


@attrs.frozen
class DriveOutcome:
    """How a :func:`drive` (or :func:`fire`) call ended.

    Attributes:
        status: ``completed`` (the driven chain reached its end), ``halted`` (a step
            failed), ``deadlocked`` (nothing enabled before the end), ``paused``
            (``max_firings`` reached); ``fire()`` returns ``fired`` or ``halted``.
        run_status: The run lane status at the end.
        step: The transition that halted, else None.
        reason: Why it halted, deadlocked or paused; None when completed or fired.
        fired: Transitions fired by this call.
        run: The run as it is now (for a path: what run.json holds).
        detail: More about a failure (e.g. the land port's own message), else None.
    """

    status: Status
    run_status: str
    step: str | None
    reason: str | None
    fired: int
    run: Run
    detail: str | None = None


def _resolve_scheduler(
    spec: str | Scheduler | Any, run: Run, template: Template, deps: list[tuple[int, ...]]
) -> Scheduler | Any:
    if spec == "petri":
        return PetriScheduler(_compile(run, template, False, deps))
    if spec == "linear":
        return LinearScheduler(_compile(run, template, True, deps))
    if isinstance(spec, str):
        raise UsageError(f"unknown scheduler {spec!r}; use 'petri', 'linear' or a Scheduler")
    if not hasattr(spec, "ready") or not hasattr(spec, "net"):
        raise UsageError(f"scheduler {spec!r} has no ready()/net; subclass petri_exec.Scheduler")
    return spec


class _Driver:
    """One drive or fire call: owns the live run, the session, the journal and the ports."""

    def __init__(
        self,
        run: str | os.PathLike[str] | Run,
        scheduler: str | Scheduler | Any,
        on_event: Callable[[Event], Any] | None,
        template_dirs: Iterable[str | os.PathLike[str]],
        *,
        checkpoint_every: int | None = None,
        durability: str = "fsync",
    ) -> None:
        self._exit = contextlib.ExitStack()
        try:
            self._open(run, scheduler, on_event, template_dirs, checkpoint_every, durability)
        except BaseException:
            self._exit.close()
            raise

    def _open(
        self,
        run: str | os.PathLike[str] | Run,
        scheduler: str | Scheduler | Any,
        on_event: Callable[[Event], Any] | None,
        template_dirs: Iterable[str | os.PathLike[str]],
        checkpoint_every: int | None,
        durability: str,
    ) -> None:
        events: list[Event] = []
        replayed = 0
        if isinstance(run, Run):
            self.path: Path | None = None
            try:
                template = load_template(run.template, template_dirs)
            except TemplateError as e:
                raise RunFileError(str(e), json_path="template") from None
            deps = validate_checked(run, template)
            loaded = run
        else:
            self.path = Path(run)
            before = _signature(self.path)
            durable = load_durable(self.path, template_dirs=template_dirs)  # validate first
            self._exit.enter_context(run_lock(self.path))
            _remove_stale_temp_files(self.path)
            if _signature(self.path) != before:  # another driver moved it meanwhile
                durable = load_durable(self.path, template_dirs=template_dirs)
            loaded, template, deps = durable.run, durable.template, durable.deps
            events, replayed = durable.events, durable.replayed
        self.template = template
        self.live = LiveRun(loaded, template)
        self.scheduler = _resolve_scheduler(scheduler, loaded, template, deps)
        self.net: Net = self.scheduler.net
        self._full_net: Net | None = None
        try:
            self.session: Session = open_session(self.scheduler, marking_of(loaded))
        except KeyError as e:
            raise UsageError(f"scheduler {self.scheduler!r} does not schedule run "
                             f"{loaded.run_id!r}: {e.args[0]}") from None
        self.on_event = on_event
        self.caller = PortCaller()
        self.attempts: dict[str, int] = {}
        self.seq = events[-1].seq + 1 if events else 0
        for ev in events:
            if ev.kind == "transition_started" and ev.transition is not None:
                self.attempts[ev.transition] = max(
                    self.attempts.get(ev.transition, 0), ev.attempt or 1
                )
        self.journal: Journal | None = None
        if self.path is not None:
            if durability not in ("fsync", "flush"):
                raise UsageError(f"durability={durability!r}: use 'fsync' (safe against power "
                                 "loss) or 'flush' (safe against a process crash only)")
            self.journal = Journal(journal_path(self.path), fsync=durability == "fsync")
            self._exit.callback(self.journal.close)
        if checkpoint_every is not None and (
            not isinstance(checkpoint_every, int) or checkpoint_every < 1
        ):
            raise UsageError(f"checkpoint_every={checkpoint_every!r} must be a positive integer")
        # rewriting run.json (size ~ slices) at most once per ~len(transitions) firings keeps
        # the amortized cost of persisting a firing constant
        self.checkpoint_every = checkpoint_every or max(1000, len(self.net.transitions))
        self.since_checkpoint = replayed
        self.observed = self.journal is not None or on_event is not None
        self._ports: dict[str, Callable[[StepContext], Any] | None] = {}
        self.fired = 0

    def close(self) -> None:
        self.caller.close()
        self._exit.close()

    def checkpoint(self) -> None:
        """Rewrite run.json from the live run, then journal a ``checkpoint`` event."""
        if self.path is None or not self.since_checkpoint:
            return
        save_run(self.live.snapshot(), self.path)
        self.since_checkpoint = 0
        self.emit("checkpoint", run_status=self.live.status)

    # -- events -----------------------------------------------------------------

    def emit(self, kind: str, **fields: Any) -> None:
        if not self.observed:
            self.seq += 1
            return
        event = Event(kind=kind, seq=self.seq, time=time.time(), run_id=self.live.base.run_id,
                      **fields)
        self.seq += 1
        if self.journal is not None:
            self.journal.append(event)
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                log.exception("on_event observer raised; the drive goes on")

    # -- one step ---------------------------------------------------------------

    def full_net(self) -> Net:
        if self._full_net is None:
            if isinstance(self.scheduler, PetriScheduler):
                self._full_net = self.net
            else:
                self._full_net = compile_run(self.live.snapshot(), template=self.template)
        return self._full_net

    def port(self, ports: Any, name: str) -> Callable[[StepContext], Any] | None:
        """The port called ``name`` (looked up once per drive)."""
        try:
            return self._ports[name]
        except KeyError:
            fn = self._ports[name] = resolve_port(ports, name)
            return fn

    def context(self, t: Transition, attempt: int) -> StepContext:
        live = self.live
        k = live.index.get(t.slice_id) if t.slice_id is not None else None
        info = live.slices[k] if k is not None else None
        run_id = live.base.run_id
        return StepContext(
            run_id, t.name, t.step, t.slice_id, info, live.run_facts(), attempt,
            run_id + "/" + t.name, self.path.parent if self.path is not None else None,
            t.port, live.status,
        )

    def attempt(self, t: Transition, ports: Any) -> StepResult:
        n = self.attempts.get(t.name, 0) + 1
        self.attempts[t.name] = n
        ctx = self.context(t, n)
        if self.observed:
            self.emit("transition_started", transition=t.name, attempt=n)
        fn = self.port(ports, t.port) if t.port is not None else None
        if t.port is not None and fn is None:
            return StepResult.fail(missing_port_reason(t.port, t.name))
        call_port = None
        if fn is not None:
            port_fn, port_name = fn, t.port or ""

            def call_port() -> StepResult:
                return self.caller.call(port_fn, ctx, port_name)

        if t.handler is not None:
            env = HandlerEnv(
                slices=lambda: self.live.slices,
                net=self.full_net,
                marking=self.session.marking,
                run_path=self.path,
                call_port=call_port,
                write_file=write_atomic,
            )
            try:
                return HANDLERS[t.handler](ctx, env)
            except Exception as e:
                return StepResult.fail(f"handler {t.handler!r} raised {type(e).__name__}: {e}")
        if call_port is not None:
            return call_port()
        return StepResult()

    def commit(self, t: Transition, result: StepResult) -> None:
        self.session.fire(t)
        self.live.apply(t, result.facts)
        self.fired += 1
        if not self.observed:
            self.seq += 1
            return
        effect = self.net.effect(t)
        self.emit(
            "transition_fired",
            transition=t.name,
            attempt=self.attempts.get(t.name, 1),
            consumed=dict(effect.consumed),
            produced=dict(effect.produced),
            facts=dict(result.facts),
        )
        if self.path is not None:
            self.since_checkpoint += 1
            if self.since_checkpoint >= self.checkpoint_every:
                self.checkpoint()

    def halt(self, t: Transition, result: StepResult) -> DriveOutcome:
        detail = result.facts.get("detail")
        detail = detail if isinstance(detail, str) else None
        self.emit("transition_failed", transition=t.name, attempt=self.attempts.get(t.name, 1),
                  reason=result.reason, facts=dict(result.facts) or None, detail=detail)
        self.checkpoint()
        self.emit("net_halted", transition=t.name, reason=result.reason, detail=detail,
                  run_status=self.live.status)
        return self.outcome("halted", step=t.name, reason=result.reason, detail=detail)

    def outcome(self, status: Status, *, step: str | None = None, reason: str | None = None,
                detail: str | None = None) -> DriveOutcome:
        return DriveOutcome(status=status, run_status=self.live.status, step=step,
                            reason=reason, fired=self.fired, run=self.live.snapshot(),
                            detail=detail)

    # -- the loop ---------------------------------------------------------------

    def loop(self, ports: Any, max_firings: int | None) -> DriveOutcome:
        pending: list[int] = []
        session = self.session
        transitions = self.net.transitions
        live = self.live
        push, pop = heapq.heappush, heapq.heappop
        while True:
            if live.abandoned is not None:
                self.checkpoint()
                self.emit("net_halted", reason="abandoned", detail=live.abandoned,
                          run_status=live.status)
                return self.outcome("halted", reason="abandoned", detail=live.abandoned)
            if live.at_end:
                self.checkpoint()
                self.emit("net_completed", run_status=live.status)
                return self.outcome("completed")
            if max_firings is not None and self.fired >= max_firings:
                reason = f"max_firings={max_firings} reached"
                self.checkpoint()
                self.emit("net_paused", reason=reason, run_status=live.status)
                return self.outcome("paused", reason=reason)
            for t in session.get_ready():
                push(pending, t.index)
            nxt = None
            while pending:
                cand = transitions[pop(pending)]
                if not cand.manual and session.is_enabled(cand):
                    nxt = cand
                    break
            if nxt is None:
                reason = self.deadlock_reason()
                self.checkpoint()
                self.emit("net_deadlocked", reason=reason, run_status=live.status)
                return self.outcome("deadlocked", reason=reason)
            result = self.attempt(nxt, ports)
            if result.reason is not None:
                return self.halt(nxt, result)
            self.commit(nxt, result)

    def deadlock_reason(self) -> str:
        """The blocked transitions next to a token, with their missing tokens (O(net), once)."""
        marking = self.session.marking()
        blocked: list[str] = []
        for t in self.net.transitions:
            effect_in = self.net.consume[t.index]
            if not effect_in or not all(marking.get(self.net.places[p], 0) >= w
                                        for p, w in effect_in):
                continue
            if t.manual and self.session.is_enabled(t):
                blocked.append(f"{t.name} (a manual gate: fire it by hand)")
                continue
            lacking = self.session.missing(t)
            if lacking:
                blocked.append(f"{t.name} waits for " + ", ".join(p for p, _, _ in lacking))
            else:
                blocked.append(f"{t.name} (enabled but not returned by the scheduler)")
        end = self.template.run.end
        shown = "; ".join(blocked[:10]) + (f"; and {len(blocked) - 10} more"
                                           if len(blocked) > 10 else "")
        return (f"nothing is enabled before run status {end!r}: "
                f"{shown or 'no transition holds a token'}")


def drive(
    run: str | os.PathLike[str] | Run,
    ports: Any,
    *,
    scheduler: str | Scheduler | Any = "petri",
    max_parallel: int = 1,
    max_firings: int | None = None,
    on_event: Callable[[Event], Any] | None = None,
    template_dirs: Iterable[str | os.PathLike[str]] = (),
    checkpoint_every: int | None = None,
    durability: str = "fsync",
) -> DriveOutcome:
    """Fire enabled transitions through ``ports`` until the run completes, halts,
    deadlocks or pauses.

    Args:
        run: A run file (persisted after every firing, with its journal
            ``<stem>.events.jsonl``) or an in-memory :class:`Run` (see ``outcome.run``).
        ports: ``{port_name: callable}`` or an object with those attributes.
        scheduler: ``"petri"`` (all enabled transitions, the default), ``"linear"``, or a
            scheduler object (``net`` and ``ready()``; see :class:`Scheduler`).
        max_parallel: How many steps may run at once. This release fires one at a time;
            only 1 is accepted.
        max_firings: Stop with ``paused`` after this many firings.
        on_event: Called with every :class:`Event`; an observer that raises is logged
            and ignored.
        template_dirs: Extra directories to look templates up in.
        checkpoint_every: Rewrite run.json after this many firings (default: the larger of
            1,000 and the number of transitions, so persisting costs O(1) per firing
            amortized). run.json is always up to date when the call returns.
        durability: ``"fsync"`` (default: every journal append is synced to disk) or
            ``"flush"`` (written to the OS only: survives a process crash, not power loss).

    Returns:
        The outcome (``halted`` with reason ``abandoned`` for an abandoned run).

    Raises:
        RunFileError: The run is invalid (nothing is modified).
        TemplateError: Its template cannot be found or is invalid.
        JournalError: The journal is damaged or contradicts run.json (nothing is modified).
        RunLockedError: Another drive or fire holds the run (nothing is modified).
        UsageError: A bad argument (scheduler, max_parallel, max_firings, durability).
    """
    if max_parallel != 1:
        raise UsageError(f"max_parallel={max_parallel!r}: this release fires one step at a time; "
                         "use max_parallel=1")
    if max_firings is not None and (not isinstance(max_firings, int) or max_firings < 0):
        raise UsageError(f"max_firings={max_firings!r} must be a non-negative integer or None")
    d = _Driver(run, scheduler, on_event, template_dirs, checkpoint_every=checkpoint_every,
                durability=durability)
    try:
        return d.loop(ports, max_firings)
    finally:
        d.close()


def fire(
    run: str | os.PathLike[str] | Run,
    transition: str,
    ports: Any,
    *,
    on_event: Callable[[Event], Any] | None = None,
    template_dirs: Iterable[str | os.PathLike[str]] = (),
    durability: str = "fsync",
) -> DriveOutcome:
    """Fire one named transition by hand — the only way to fire a ``manual`` step.

    Args:
        run: A run file or an in-memory :class:`Run`.
        transition: The transition's name (``host_promotion``, ``agent_result:api``).
        ports: As for :func:`drive`.
        on_event: As for :func:`drive`.
        template_dirs: Extra template directories.
        durability: As for :func:`drive`.

    Returns:
        ``fired`` (with ``fired == 1``) or ``halted`` (nothing recorded in run.json;
        reason ``abandoned`` for an abandoned run).

    Raises:
        UnknownTransitionError: The net has no such transition.
        NotEnabledError: It is not enabled; the message names the missing tokens.
        RunFileError: The run is invalid.
        JournalError: The journal is damaged or contradicts run.json.
        RunLockedError: Another driver holds the run.
    """
    d = _Driver(run, "petri", on_event, template_dirs, durability=durability)
    try:
        t = d.net.transition(transition)
        if d.live.abandoned is not None:
            d.emit("net_halted", transition=t.name, reason="abandoned", detail=d.live.abandoned,
                   run_status=d.live.status)
            return d.outcome("halted", step=t.name, reason="abandoned", detail=d.live.abandoned)
        if not d.session.is_enabled(t):
            err: NotEnabledError = not_enabled(t, d.session.missing(t))
            raise err
        result = d.attempt(t, ports)
        if result.failed:
            return d.halt(t, result)
        d.commit(t, result)
        d.checkpoint()
        return d.outcome("fired")
    finally:
        d.close()



def _signature(path: Path) -> tuple[int, ...]:
    """What changes when another process rewrites run.json or appends to its journal."""
    out: list[int] = []
    for p in (path, journal_path(path)):
        try:
            st = p.stat()
        except FileNotFoundError:
            out.extend((0, 0, 0))
        else:
            out.extend((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


def abandon(
    path: str | os.PathLike[str],
    reason: str,
    *,
    template_dirs: Iterable[str | os.PathLike[str]] = (),
) -> Run:
    """Mark a run abandoned: ``ready()`` is then empty and ``drive()``/``fire()`` return
    ``halted`` with reason ``abandoned``. Every artifact stays; remove the ``abandoned``
    key from run.json to undo it.

    Args:
        path: The run file.
        reason: Why (recorded in run.json and the journal).
        template_dirs: Extra template directories.

    Returns:
        The abandoned run.

    Raises:
        UsageError: ``reason`` is empty.
        RunFileError: The run is invalid (nothing is modified).
        JournalError: The journal is damaged or contradicts run.json.
        RunLockedError: A driver holds the run.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise UsageError("abandon needs a non-empty reason (--reason TEXT)")
    load_durable(path, template_dirs=template_dirs)  # refuse bad input before locking
    with run_lock(path):
        durable = load_durable(path, template_dirs=template_dirs)
        run = attrs.evolve(durable.run, abandoned=reason)
        seq = durable.events[-1].seq + 1 if durable.events else 0
        journal = Journal(journal_path(path))
        try:
            journal.append(Event(kind="run_abandoned", seq=seq, time=time.time(),
                                 run_id=run.run_id, reason=reason, run_status=run.status))
            save_run(run, path)
            journal.append(Event(kind="checkpoint", seq=seq + 1, time=time.time(),
                                 run_id=run.run_id, run_status=run.status))
        finally:
            journal.close()
    return run


def _remove_stale_temp_files(path: Path) -> None:
    """Remove temp files a killed checkpoint left behind (we hold the lock: none is live)."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
