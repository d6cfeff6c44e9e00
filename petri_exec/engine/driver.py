"""The driver: the one object through which a drive or a fire touches the world.

It owns the live run, the scheduler's session, the journal, the lock and the ports, and
splits a step into three parts so that the loops (sequential in ``drive.py``, concurrent
in ``parallel.py``) can run the middle one anywhere:

1. :meth:`Driver.begin` (the driving thread): count the attempt, build the context,
   journal ``transition_started``; run built-in handlers and port-less steps inline.
2. :func:`call_port` (a worker, a thread, another process): call the user's port.
3. :meth:`Driver.commit` or a failure (the driving thread): fire, apply, journal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs

from .._gc import gc_paused
from ..core.compile import compile_checked, compile_run, marking_of
from ..core.net import Net, Transition
from ..core.runnet import RunNet
from ..core.schedulers import LinearScheduler, PetriScheduler, Scheduler, Session, open_session
from ..errors import RunFileError, TemplateError, UnknownTransitionError, UsageError
from ..ports.handlers import HANDLERS, HandlerEnv
from ..ports.protocol import (
    PortCaller,
    StepContext,
    StepResult,
    missing_port_reason,
    resolve_port,
)
from ..run.model import Run
from ..run.runfile import validate_checked, write_atomic
from ..run.templates import Step, Template, load_template
from .durable import load_durable
from .journal import Event
from .live import DependencyFacts, LiveRun
from .lock import run_lock
from .outcome import DriveOutcome, Failure, Job, Status, StepPolicy
from .writer import RunWriter

__all__ = ["Driver"]

log = logging.getLogger("petri_exec")

def _resolve_scheduler(
    spec: str | Scheduler | Any, run: Run, template: Template, deps: list[tuple[int, ...]]
) -> Scheduler | Any:
    if spec == "petri":
        return PetriScheduler(compile_checked(run, template, False, deps))
    if spec == "linear":
        return LinearScheduler(compile_checked(run, template, True, deps))
    if isinstance(spec, str):
        raise UsageError(f"unknown scheduler {spec!r}; use 'petri', 'linear' or a Scheduler")
    if not hasattr(spec, "ready") or not hasattr(spec, "net"):
        raise UsageError(f"scheduler {spec!r} has no ready()/net; subclass petri_exec.Scheduler")
    return spec


def _policies(template: Template, overrides: StepPolicy | None) -> dict[str, StepPolicy]:
    def policy(st: Step) -> StepPolicy:
        if overrides is not None:
            return overrides
        return StepPolicy(st.retries, st.retry_backoff_s, st.timeout_s)

    return {st.name: policy(st) for st in (*template.run.steps, *template.slice.steps)}


class Driver:
    """One drive or fire call: the live run, the session, the journal, the lock, the ports."""

    def __init__(
        self,
        run: str | os.PathLike[str] | Run,
        scheduler: str | Scheduler | Any,
        on_event: Callable[[Event], Any] | None,
        template_dirs: Iterable[str | os.PathLike[str]],
        *,
        checkpoint_every: int | None = None,
        durability: str = "fsync",
        policy: StepPolicy | None = None,
    ) -> None:
        """Load (or validate) the run, lock it, open its journal and the scheduler session.

        Raises:
            RunFileError, TemplateError, JournalError, RunLockedError, UsageError: As
                documented on :func:`petri_exec.drive`; nothing is modified.
        """
        self._exit = contextlib.ExitStack()
        try:
            self._open(run, scheduler, on_event, template_dirs, checkpoint_every, durability)
        except BaseException:
            self._exit.close()
            raise
        self.policies = _policies(self.template, policy)

    def _open(
        self,
        run: str | os.PathLike[str] | Run,
        scheduler: str | Scheduler | Any,
        on_event: Callable[[Event], Any] | None,
        template_dirs: Iterable[str | os.PathLike[str]],
        checkpoint_every: int | None,
        durability: str,
    ) -> None:
        if checkpoint_every is not None and (
            type(checkpoint_every) is not int or checkpoint_every < 1
        ):
            raise UsageError(f"checkpoint_every={checkpoint_every!r} must be a positive integer")
        replayed = 0
        attempts: dict[str, int] = {}
        self.writer: RunWriter | None = None
        if isinstance(run, Run):
            self.path: Path | None = None
            try:
                template = load_template(run.template, template_dirs)
            except TemplateError as e:
                raise RunFileError(str(e), json_path="template") from None
            deps = validate_checked(run, template)
            loaded = run
            self.seq = 0
        else:
            if durability not in ("fsync", "flush"):
                raise UsageError(f"durability={durability!r}: use 'fsync' (safe against power "
                                 "loss) or 'flush' (safe against a process crash only)")
            lock = self._exit.enter_context(run_lock(run))  # opens run.json read-only
            durable = load_durable(lock.path, template_dirs=template_dirs)
            self.path = durable.path
            self.writer = RunWriter(durable, lock, fsync=durability == "fsync",
                                    observe=self._observe)
            self._exit.callback(self.writer.close)
            loaded = durable.run
            if loaded.identity != self.writer.identity:
                loaded = attrs.evolve(loaded, identity=self.writer.identity)
            template, deps = durable.template, durable.deps
            attempts, replayed = durable.attempts, durable.replayed
            self.seq = self.writer.seq
        self.template = template
        #: Per slice (by index), the indexes of the slices it depends on.
        self.deps = deps
        #: Step name -> the optional port it calls when the ports supply it.
        self.optional_ports = {st.name: st.optional_port
                               for st in (*template.run.steps, *template.slice.steps)
                               if st.optional_port is not None}
        with gc_paused():  # per-slice structures, none in a reference cycle
            self.scheduler = _resolve_scheduler(scheduler, loaded, template, deps)
            self.net: Net = self.scheduler.net
            net = self.net
            self.live = LiveRun(loaded, template, net.slice_of if isinstance(net, RunNet)
                                and net.compiled_from(loaded) else None)
            self._full_net: Net | None = None
            try:
                self.session: Session = open_session(self.scheduler, marking_of(loaded))
            except KeyError as e:
                raise UsageError(f"scheduler {self.scheduler!r} does not schedule run "
                                 f"{loaded.run_id!r}: {e.args[0]}") from None
        self.on_event = on_event
        self.caller = PortCaller()
        self._exit.callback(self.caller.close)
        #: Per transition (by index), the attempts made so far, journaled ones included.
        self.attempts = [0] * len(self.net.transitions)
        for name, n in attempts.items():
            try:
                i = self.net.transition(name).index
            except UnknownTransitionError:  # not in a custom scheduler's net
                continue
            self.attempts[i] = max(self.attempts[i], n)
        # rewriting run.json (size ~ slices) at most once per ~len(transitions) firings keeps
        # the amortized cost of persisting a firing constant
        self.checkpoint_every = checkpoint_every or max(1000, len(self.net.transitions))
        self.since_checkpoint = replayed
        self.observed = self.writer is not None or on_event is not None
        self.run_dir = self.path.parent if self.path is not None else None
        self._ports: dict[str, Callable[[StepContext], Any] | None] = {}
        self.fired = 0

    def close(self) -> None:
        """Release the journal, the lock and the event loop."""
        self._exit.close()

    def checkpoint(self) -> None:
        """Rewrite run.json from the live run, then journal a ``checkpoint`` event."""
        if self.writer is None or not self.since_checkpoint:
            return
        live = self.live
        pending = {t.name: n for t, n in zip(self.net.transitions, self.attempts, strict=True)
                   if n and not live.applied(t)}
        self.writer.checkpoint(live.snapshot(), attempts=pending or None)
        self.seq = self.writer.seq
        self.since_checkpoint = 0

    def emit(self, kind: str, sync: bool = True, **fields: Any) -> None:
        """Journal an event and pass it to the observer (which may not break the drive);
        ``sync=False`` leaves syncing (and observing) it to :meth:`sync` (group commit)."""
        if not self.observed:
            self.seq += 1
            return
        if self.writer is not None:
            self.writer.record(kind, sync, **fields)
            self.seq = self.writer.seq
            return
        event = Event(kind=kind, seq=self.seq, time=time.time(), run_id=self.live.base.run_id,
                      **fields)
        self.seq += 1
        self._observe(event)

    def _observe(self, event: Event) -> None:
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                log.exception("on_event observer raised; the drive goes on")

    def full_net(self) -> Net:
        """The run's full Petri net (for the PNML export), compiled at most once."""
        if self._full_net is None:
            if isinstance(self.scheduler, PetriScheduler):
                self._full_net = self.net
            else:
                self._full_net = compile_run(self.live.snapshot(), template=self.template)
        return self._full_net

    def _start(self, t: Transition, ports: Any, sync: bool = True
               ) -> tuple[StepContext, Callable[[StepContext], Any] | None]:
        """Count the attempt, build its context from the live run, journal
        ``transition_started``; also find the step's port (looked up once per drive)."""
        n = self.attempts[t.index] + 1
        self.attempts[t.index] = n
        if self.observed:
            self.emit("transition_started", transition=t.name, attempt=n, sync=sync)
        live = self.live
        k = live.slice_of(t)
        run_id = live.base.run_id
        port = t.port
        if port is None and self.optional_ports:
            port = self.optional_ports.get(t.step)
        if k is None:
            ctx = StepContext(run_id, t.name, t.step, None, None, live.facts_view, n,
                              run_id + "/" + t.name, self.run_dir, port, live.status,
                              self.path)
        elif deps := self.deps[k]:  # a read-only view: O(1), facts read on access
            ctx = StepContext(run_id, t.name, t.step, t.slice_id, live.slice(k),
                              live.facts_view, n, run_id + "/" + t.name, self.run_dir, port,
                              live.status, self.path, DependencyFacts(live, deps))
        else:
            ctx = StepContext(run_id, t.name, t.step, t.slice_id, live.slice(k),
                              live.facts_view, n, run_id + "/" + t.name, self.run_dir, port,
                              live.status, self.path)
        if port is None:
            return ctx, None
        try:
            fn = self._ports[port]
        except KeyError:
            fn = self._ports[port] = resolve_port(ports, port)
        return ctx, fn

    def _without_job(self, t: Transition, ctx: StepContext,
                     fn: Callable[[StepContext], Any] | None) -> StepResult:
        """The result of a step with a handler, without a port, or with a missing port."""
        if t.port is not None and fn is None:
            return StepResult.fail(missing_port_reason(t.port, t.name))
        if t.handler is not None:
            return self._handle(t, ctx, fn)
        return StepResult()

    def begin(self, t: Transition, ports: Any, sync: bool = True) -> Job | StepResult:
        """Start an attempt of ``t``: a :class:`Job` to run, or the result when the step
        needs no port call elsewhere (handlers, port-less steps, a missing port).
        ``sync=False``: the caller syncs (:meth:`sync`) before running the job."""
        ctx, fn = self._start(t, ports, sync)
        if fn is None or t.handler is not None:
            return self._without_job(t, ctx, fn)
        return Job(t, ctx, fn, ctx.port or "", self.policies[t.step].timeout_s)

    def attempt(self, t: Transition, ports: Any,
                bounded: Callable[[Job], StepResult]) -> StepResult:
        """One attempt of ``t`` in the driving thread (the sequential loop's fast path:
        no :class:`Job` unless the step has a timeout, which ``bounded`` enforces)."""
        ctx, fn = self._start(t, ports)
        if fn is None or t.handler is not None:
            return self._without_job(t, ctx, fn)
        timeout = self.policies[t.step].timeout_s
        if timeout is None:
            return self.caller.call(fn, ctx, ctx.port or "")
        return bounded(Job(t, ctx, fn, ctx.port or "", timeout))

    def _handle(self, t: Transition, ctx: StepContext,
                fn: Callable[[StepContext], Any] | None) -> StepResult:
        call = None
        if fn is not None:
            port_fn, name = fn, ctx.port or ""

            def call() -> StepResult:
                return self.caller.call(port_fn, ctx, name)

        env = HandlerEnv(slices=lambda: self.live.slices, net=self.full_net,
                         marking=self.session.marking, run_path=self.path, call_port=call,
                         write_file=_write_file)
        try:
            return HANDLERS[t.handler or ""](ctx, env)
        except Exception as e:
            return StepResult.fail(f"handler {t.handler!r} raised {type(e).__name__}: {e}")

    def sync(self) -> None:
        """End a group commit: one sync for every firing committed with ``sync=False``
        since the last one (they are durable, and observed, once this returns)."""
        if self.writer is not None:
            self.writer.sync()

    def commit(self, t: Transition, result: StepResult, sync: bool = True) -> None:
        """Journal the firing of ``t`` with the facts of its successful attempt, then apply
        it (so the live run, and any checkpoint of it, never holds an unjournaled firing).

        With ``sync=False`` (group commit) the event is written to the journal before the
        firing is applied in memory, but synced by the caller's :meth:`sync`, which must
        come before anything acts on the firing (a step started, the drive's end); a
        checkpoint's own synced event syncs it too."""
        if not self.observed:
            self.session.fire(t)
            self.live.apply(t, result.facts)
            self.fired += 1
            self.seq += 1
            return
        effect = self.net.effect(t)
        self.emit("transition_fired", transition=t.name, attempt=self.attempts[t.index] or 1,
                  consumed=dict(effect.consumed), produced=dict(effect.produced),
                  facts=dict(result.facts), sync=sync)
        self.session.fire(t)
        self.live.apply(t, result.facts)
        self.fired += 1
        if self.path is not None:
            self.since_checkpoint += 1
            if self.since_checkpoint >= self.checkpoint_every:
                self.checkpoint()

    def failed(self, t: Transition, result: StepResult) -> Failure:
        """Journal a failed attempt of ``t``."""
        detail = result.facts.get("detail")
        detail = detail if isinstance(detail, str) else None
        attempt = self.attempts[t.index] or 1
        self.emit("transition_failed", transition=t.name, attempt=attempt,
                  reason=result.reason, facts=dict(result.facts) or None, detail=detail)
        return Failure(t.name, result.reason or "failed", attempt, detail)

    def finish(self, status: Status, kind: str, *, step: str | None = None,
               reason: str | None = None, detail: str | None = None,
               failures: tuple[Failure, ...] = ()) -> DriveOutcome:
        """Checkpoint, journal the terminal event ``kind`` and build the outcome."""
        self.checkpoint()
        if kind:
            self.emit(kind, transition=step, reason=reason, detail=detail,
                      run_status=self.live.status)
        return DriveOutcome(status=status, run_status=self.live.status, step=step,
                            reason=reason, fired=self.fired, run=self.live.snapshot,
                            detail=detail, failures=failures,
                            next_manual=self.enabled_manual())

    def enabled_manual(self) -> tuple[str, ...]:
        """The manual gates enabled now, in lane order (none once the run is abandoned)."""
        if self.live.abandoned is not None:
            return ()
        enabled: list[str] = []
        for step in self.template.run.steps:
            if step.manual:
                try:
                    t = self.net.transition(step.name)
                except UnknownTransitionError:  # not in a custom scheduler's net
                    continue
                if self.session.is_enabled(t):
                    enabled.append(t.name)
        return tuple(enabled)

    def halted(self, failures: list[Failure]) -> DriveOutcome:
        """The outcome after one or more failures; the first one names the halt."""
        first = failures[0]
        return self.finish("halted", "net_halted", step=first.transition, reason=first.reason,
                           detail=first.detail, failures=tuple(failures))

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


def _write_file(path: Path, data: bytes) -> None:
    write_atomic(path, data)



