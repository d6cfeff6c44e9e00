"""``drive()``, ``adrive()``, ``fire()`` and ``abandon()``: the only places effects happen.

The loop asks the scheduler's session for ready transitions, calls each step's port
(or built-in handler), and commits a success: the marking, the run and the journal. A
failure commits nothing: the durable state stays exactly as before the attempt; the
journal records ``transition_failed`` and ``net_halted``. With ``max_parallel`` above 1
the concurrent loop of ``parallel.py`` runs instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ..core.marking import not_enabled
from ..core.net import Transition
from ..core.schedulers import Scheduler
from ..errors import JournalError, NotEnabledError, UsageError
from ..ports.procgroup import groups_of, terminate_groups
from ..ports.protocol import StepResult, check_seconds, timeout_result
from ..run.model import Run
from ..run.runfile import load_file
from ..run.templates import searching
from .driver import Driver
from .durable import load_durable, load_run
from .interrupt import Interrupt, interrupts
from .journal import Event
from .lock import run_lock
from .outcome import DriveOutcome, Failure, Job, StepPolicy, call_port
from .parallel import run_parallel
from .readyqueue import ReadyQueue
from .writer import RunWriter, start_fresh

__all__ = ["DriveOutcome", "Failure", "abandon", "adrive", "drive", "fire", "preflight"]

#: Default for ``max_parallel``: steps run one at a time unless asked otherwise.
DEFAULT_MAX_PARALLEL = 1


def drive(
    run: str | os.PathLike[str] | Run,
    ports: Any,
    *,
    scheduler: str | Scheduler | Any = "petri",
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    executor: concurrent.futures.Executor | None = None,
    max_firings: int | None = None,
    on_event: Callable[[Event], Any] | None = None,
    template_dirs: Iterable[str | os.PathLike[str]] = (),
    checkpoint_every: int | None = None,
    durability: str = "fsync",
    retries: int | None = None,
    retry_backoff_s: float | None = None,
    timeout_s: float | None = None,
    grace_s: float = 30.0,
    fresh: bool = False,
) -> DriveOutcome:
    """Fire enabled transitions through ``ports`` until the run completes, halts,
    deadlocks or pauses.

    Args:
        run: A run file (journaled, checkpointed, locked) or an in-memory :class:`Run`
            (see ``outcome.run``).
        ports: ``{port_name: callable}`` or an object with those attributes.
        scheduler: ``"petri"`` (all enabled transitions, the default), ``"linear"``, or a
            scheduler object (``net`` and ``ready()``; see :class:`Scheduler`).
        max_parallel: How many port calls may run at once (default 1). Above 1, ready
            steps start as soon as they are enabled and a slot is free; the linear
            scheduler still runs one at a time.
        executor: Where port calls run when ``max_parallel`` > 1: any
            ``concurrent.futures.Executor`` (e.g. a Dask ``Client.get_executor()``);
            default a thread pool of ``max_parallel`` threads.
        max_firings: Stop with ``paused`` after this many firings.
        on_event: Called with every :class:`Event`; an observer that raises is logged
            and ignored.
        template_dirs: Extra directories to look templates up in.
        checkpoint_every: Rewrite run.json after this many firings (default: the larger of
            1,000 and the number of transitions, so persisting costs O(1) per firing
            amortized). run.json is always up to date when the call returns.
        durability: ``"fsync"`` (default: every journal append is synced to disk) or
            ``"flush"`` (written to the OS only: survives a process crash, not power loss).
        retries: Override every step's ``retries`` (extra attempts before halting).
        retry_backoff_s: Override every step's delay before the first retry (doubled for
            each further retry).
        timeout_s: Override every step's attempt timeout (an attempt that takes longer
            fails; a thread cannot be killed, so a timed-out sync port keeps its slot
            until it returns).
        grace_s: After SIGINT/SIGTERM, how long steps in flight get to finish (their
            successes are committed) before their commands' process groups are ended and
            the drive returns ``paused`` with reason ``interrupted``; a second signal ends
            them at once.
        fresh: Start a new journal first: the old one is moved aside as
            ``<stem>.events.<UTC time>.jsonl`` (its firings kept in run.json when it is
            this run's own) and the run gets a new identity. The way out when the journal
            belongs to another run.

    Returns:
        The outcome (``halted`` with reason ``abandoned`` for an abandoned run).

    Raises:
        RunFileError: The run is invalid (nothing is modified).
        TemplateError: Its template cannot be found or is invalid.
        JournalError: The journal is damaged or contradicts run.json (nothing is modified).
        RunLockedError: Another drive or fire holds the run (nothing is modified).
        UsageError: A bad argument.
    """
    if type(max_parallel) is not int or max_parallel < 1:
        raise UsageError(f"max_parallel={max_parallel!r} must be a positive integer")
    if max_firings is not None and (type(max_firings) is not int or max_firings < 0):
        raise UsageError(f"max_firings={max_firings!r} must be a non-negative integer or None")
    policy = _policy_override(retries, retry_backoff_s, timeout_s)
    if durability not in ("fsync", "flush"):
        raise UsageError(f"durability={durability!r}: use 'fsync' (safe against power "
                         "loss) or 'flush' (safe against a process crash only)")
    check_seconds("grace_s", grace_s, zero=True)
    if fresh and isinstance(run, Run):
        raise UsageError("fresh=True needs a run file (an in-memory run has no journal)")
    preflight(run, ports, template_dirs)
    if fresh and not isinstance(run, Run):
        start_fresh(run, template_dirs=template_dirs)
    d = Driver(run, scheduler, on_event, template_dirs, checkpoint_every=checkpoint_every,
               durability=durability, policy=policy)
    owner = os.fspath(d.path) if d.path is not None else None
    try:
        with interrupts(owner, grace_s) as stop:
            if max_parallel > 1 and scheduler != "linear":
                return run_parallel(d, ports, max_firings, max_parallel, executor, stop)
            return _run_sequential(d, ports, max_firings, stop)
    finally:
        try:
            if groups_of(owner):  # commands a timed-out or abandoned attempt left running
                terminate_groups(owner)
        finally:
            d.close()


async def adrive(run: str | os.PathLike[str] | Run, ports: Any, **options: Any) -> DriveOutcome:
    """:func:`drive` for callers inside an event loop: the drive runs in a worker thread so
    the caller's loop keeps running; ``async def`` ports run on that thread's own loop.

    Args:
        run: As for :func:`drive`.
        ports: As for :func:`drive`.
        **options: Keyword arguments of :func:`drive`.

    Returns:
        The outcome.
    """
    return await asyncio.to_thread(drive, run, ports, **options)


def preflight(run: str | os.PathLike[str] | Run, ports: Any,
              template_dirs: Iterable[str | os.PathLike[str]] = ()) -> None:
    """Let a ports object refuse a run before anything is touched.

    A ports *object* (not a mapping) with a callable ``preflight`` attribute is called as
    ``ports.preflight(run_path, run)`` (``run_path`` None for an in-memory run) before the
    run is locked or its journal opened; what it raises propagates (the git ports raise
    :class:`~petri_exec.errors.GitRepoError` for a repository they cannot use).
    ``drive()`` and ``fire()`` call it; the command line's ``check --ports`` too. While it
    runs, template lookups by name also search ``template_dirs`` (so a hook finds the
    run's template as the engine did).

    Args:
        run: A run file or an in-memory run.
        ports: The ports.
        template_dirs: Extra template directories (to load the run).

    Raises:
        PetriExecError: Whatever the ports' preflight raises, and what loading the run
            raises (``RunFileError``, ``TemplateError``, ``JournalError``).
    """
    check = None if isinstance(ports, Mapping) else getattr(ports, "preflight", None)
    if not callable(check):
        return
    with searching(template_dirs):  # the hook may look the run's template up by name
        if isinstance(run, Run):
            check(None, run)
            return
        try:
            loaded = load_run(run, template_dirs=template_dirs)
        except JournalError:  # another run's journal (drive --fresh sets it aside)
            loaded = load_file(run, template_dirs=template_dirs)[1]
        check(Path(run), loaded)


def _policy_override(retries: int | None, backoff: float | None,
                     timeout: float | None) -> StepPolicy | None:
    if retries is None and backoff is None and timeout is None:
        return None
    if retries is not None and (type(retries) is not int or retries < 0):
        raise UsageError(f"retries={retries!r} must be a non-negative integer")
    if backoff is not None:
        check_seconds("retry_backoff_s", backoff, zero=True)
    if timeout is not None:
        check_seconds("timeout_s", timeout, zero=False)
    return StepPolicy(retries or 0, backoff or 0.0, timeout)


def _run_sequential(d: Driver, ports: Any, max_firings: int | None,
                    stop: Interrupt) -> DriveOutcome:
    """Fire the earliest ready transition (net order) one at a time until the end."""
    session, live = d.session, d.live
    get_ready, is_enabled = session.get_ready, session.is_enabled
    transitions = d.net.transitions
    pending = ReadyQueue(len(transitions))  # ties go to the earliest in net order
    push, pop = pending.push, pending.pop
    commit, attempt = d.commit, d.attempt
    limit = -1 if max_firings is None else max_firings
    try:
        while True:
            if stop.requested:
                return d.finish("paused", "net_paused", reason="interrupted")
            if live.abandoned is not None:
                return d.finish("halted", "net_halted", reason="abandoned",
                                detail=live.abandoned)
            if live.at_end:
                return d.finish("completed", "net_completed")
            if d.fired == limit:
                return d.finish("paused", "net_paused",
                                reason=f"max_firings={max_firings} reached")
            for t in get_ready():
                push(t.index)
            nxt = None
            while (i := pop()) >= 0:
                cand = transitions[i]
                if not cand.manual and is_enabled(cand):
                    nxt = cand
                    break
            if nxt is None:
                return d.finish("deadlocked", "net_deadlocked", reason=d.deadlock_reason())
            result = attempt(nxt, ports, _run_job)
            if result.reason is not None:  # retry as the step's policy says, or fail
                retried = _retry(d, nxt, ports, result, d.policies[nxt.step], stop)
                if isinstance(retried, Failure):
                    if stop.requested:  # ended by the interrupt: resumable, not a halt
                        return d.finish("paused", "net_paused", reason="interrupted",
                                        failures=(retried,))
                    return d.halted([retried])
                result = retried
            commit(nxt, result)
    except KeyboardInterrupt:  # raised by a port itself: the attempt is not committed
        return d.finish("paused", "net_paused", reason="interrupted")


def _attempt(d: Driver, t: Transition, ports: Any, stop: Interrupt) -> StepResult | Failure:
    """Attempt ``t`` in the driving thread, retrying as its policy says."""
    result = d.attempt(t, ports, _run_job)
    if result.reason is None:
        return result
    return _retry(d, t, ports, result, d.policies[t.step], stop)


def _retry(d: Driver, t: Transition, ports: Any, result: StepResult,
           policy: StepPolicy, stop: Interrupt) -> StepResult | Failure:
    """After failed attempt ``result``: retry as ``policy`` says, or the failure."""
    for n in range(1, policy.retries + 2):
        failure = d.failed(t, result)
        if n > policy.retries or stop.requested:
            return failure
        _sleep(policy.backoff(n), stop)
        if stop.requested:
            return failure
        result = d.attempt(t, ports, _run_job)
        if result.reason is None:
            return result
    raise AssertionError("unreachable")  # pragma: no cover


def _sleep(seconds: float, stop: Interrupt) -> None:
    """Sleep, waking early when a stop is requested."""
    end = time.monotonic() + seconds
    while not stop.requested and (left := end - time.monotonic()) > 0:
        time.sleep(min(left, 0.05))


def _run_job(job: Job) -> StepResult:
    """Run a job with a timeout: in a worker thread, abandoned when it outlives it."""
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="petri-exec-port")
    try:
        future = pool.submit(call_port, job.fn, job.ctx, job.port, job.timeout_s)
        try:
            return future.result(timeout=job.timeout_s)
        except concurrent.futures.TimeoutError:
            return timeout_result(job.port, job.timeout_s)
    finally:
        pool.shutdown(wait=False)


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
        reason ``abandoned`` for an abandoned run). The step's retries apply.

    Raises:
        UnknownTransitionError: The net has no such transition.
        NotEnabledError: It is not enabled; the message names the missing tokens.
        RunFileError: The run is invalid.
        JournalError: The journal is damaged or contradicts run.json.
        RunLockedError: Another driver holds the run.
    """
    preflight(run, ports, template_dirs)
    d = Driver(run, "petri", on_event, template_dirs, durability=durability)
    try:
        t = d.net.transition(transition)
        if d.live.abandoned is not None:
            return d.finish("halted", "net_halted", step=t.name, reason="abandoned",
                            detail=d.live.abandoned)
        if not d.session.is_enabled(t):
            err: NotEnabledError = not_enabled(t, d.session.missing(t))
            raise err
        owner = os.fspath(d.path) if d.path is not None else None
        with interrupts(owner, 30.0) as stop:
            result = _attempt(d, t, ports, stop)
        if isinstance(result, Failure):
            return d.halted([result])
        d.commit(t, result)
        return d.finish("fired", "")
    finally:
        d.close()


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
    with run_lock(path) as lock:
        durable = load_durable(lock.path, template_dirs=template_dirs)
        writer = RunWriter(durable, lock)
        try:
            run = attrs.evolve(durable.run, identity=writer.identity, abandoned=reason)
            writer.checkpoint(run, "run_abandoned", reason=reason,
                              attempts=durable.attempts or None)
        finally:
            writer.close()
    return run
