"""The concurrent loop: up to ``max_parallel`` port calls in flight, no waves.

As each port call returns, its firing is committed (marking, journal, checkpoint), the
enabled set is updated incrementally, and newly enabled transitions start at once. Two
steps whose tokens overlap (one consumes what the other consumes or reads) never run at
the same time, and enabling is re-checked at commit. After a failure no new step starts;
steps in flight finish and their successes are committed.

Group commit (``durability="fsync"``): the firings whose port calls came back together
are journaled one after the other and share one fsync, and so do the
``transition_started`` events of the steps that start together. Nothing acts on a firing
(no step starts, no observer sees it, the drive does not return) before that sync, and no
port is called before its start is synced: no single firing is less durable than with one
fsync each.
"""

from __future__ import annotations

import concurrent.futures as cf
import heapq
import pickle
import queue
import time
from collections import Counter
from typing import Any

from ..core.net import Transition
from ..ports.protocol import StepResult, timeout_result
from .driver import Driver
from .interrupt import Interrupt
from .outcome import DriveOutcome, Failure, Job, call_port
from .readyqueue import ReadyQueue

__all__ = ["run_parallel"]


class _Slots:
    """Places held by steps in flight: what they consume and what they read."""

    def __init__(self, d: Driver) -> None:
        self.net = d.net
        self.consumed: Counter[int] = Counter()
        self.read: Counter[int] = Counter()

    def free(self, t: Transition) -> bool:
        net, consumed, read = self.net, self.consumed, self.read
        i = t.index
        return not any(consumed[p] or read[p] for p, _ in net.consume[i]) and not any(
            consumed[p] for p, _ in net.read[i])

    def take(self, t: Transition) -> None:
        for p, _ in self.net.consume[t.index]:
            self.consumed[p] += 1
        for p, _ in self.net.read[t.index]:
            self.read[p] += 1

    def give(self, t: Transition) -> None:
        self.consumed.subtract(p for p, _ in self.net.consume[t.index])
        self.read.subtract(p for p, _ in self.net.read[t.index])


def _shippable(job: Job, executor: cf.Executor) -> str | None:
    """Why ``job`` cannot go to a process-based executor, or None."""
    if isinstance(executor, cf.ThreadPoolExecutor):
        return None
    try:
        pickle.dumps(job.fn)
    except Exception as e:
        return (f"port {job.port!r} cannot be shipped to {type(executor).__name__} "
                f"({type(e).__name__}: {e}); define it at module level, without closures "
                "over unpicklable objects, or use the default thread executor")
    return None


def run_parallel(d: Driver, ports: Any, max_firings: int | None, max_parallel: int,
                 executor: cf.Executor | None, stop: Interrupt) -> DriveOutcome:
    """Drive with up to ``max_parallel`` port calls in flight.

    Args:
        d: The driver.
        ports: The ports.
        max_firings: Pause after this many firings.
        max_parallel: Slots for port calls.
        executor: Where port calls run (default: a private thread pool).
        stop: The interrupt flag (after it is set, steps in flight get its grace period).

    Returns:
        The outcome.
    """
    own = executor is None
    pool: cf.Executor = executor or cf.ThreadPoolExecutor(
        max_parallel, thread_name_prefix="petri-exec-port")
    loop = _Loop(d, ports, max_firings, max_parallel, pool, stop)
    try:
        return loop.run()
    finally:
        if own:
            # idle workers are joined here, while the drive's signal handlers still only set
            # flags (not in the interpreter's exit, where a signal would interrupt the join);
            # a port that still runs keeps its thread, which the drive does not wait for
            busy = any(not f.done() for f in (*loop.inflight, *loop.zombies))
            pool.shutdown(wait=not busy, cancel_futures=True)


class _Loop:
    def __init__(self, d: Driver, ports: Any, max_firings: int | None, max_parallel: int,
                 pool: cf.Executor, stop: Interrupt) -> None:
        self.d, self.ports, self.max_firings = d, ports, max_firings
        self.max_parallel, self.pool = max_parallel, pool
        self.pending = ReadyQueue(len(d.net.transitions))  # earliest first
        self.blocked: list[int] = []  # enabled but overlapping with a step in flight
        self.delayed: list[tuple[float, int]] = []  # retries waiting for their backoff
        self.inflight: dict[cf.Future[StepResult], tuple[Transition, float | None]] = {}
        self.zombies: set[cf.Future[StepResult]] = set()  # timed out, still running
        # completions (and None: a wake-up from the interrupt handler; put() is reentrant)
        self.done: queue.SimpleQueue[cf.Future[StepResult] | None] = queue.SimpleQueue()
        self.stop = stop
        stop.wakeups.append(lambda: self.done.put(None))
        self.slots = _Slots(d)
        self.failures: list[Failure] = []
        self.tries: dict[str, int] = {}
        self.stopping = False

    def run(self) -> DriveOutcome:
        stop = self.stop
        try:
            while True:
                if stop.requested:
                    return self._drain()
                self._collect_ready()
                self._start()
                if not self.inflight:
                    if self.delayed and not self.stopping:
                        self._wait(limit=self.delayed[0][0])
                        continue
                    return self._end()
                self._wait()
        except KeyboardInterrupt:  # raised by Python code itself, not by our handlers
            self.stop.request()
            return self._drain()

    def _drain(self) -> DriveOutcome:
        """After an interrupt: start nothing; commit what finishes within the grace period."""
        self.stopping = True
        deadline = self.stop.deadline()
        while self.inflight and time.monotonic() < deadline:
            self._wait(limit=deadline)
        return self.d.finish("paused", "net_paused", reason="interrupted",
                             failures=tuple(self.failures))

    # -- starting ---------------------------------------------------------------

    def _collect_ready(self) -> None:
        for t in self.d.session.get_ready():
            self.pending.push(t.index)

    def _can_start(self, starting: int) -> bool:
        d = self.d
        if self.stopping or d.live.abandoned is not None or d.live.at_end:
            return False
        busy = len(self.inflight) + starting
        if busy + len(self.zombies) >= self.max_parallel:
            return False
        return self.max_firings is None or d.fired + busy < self.max_firings

    def _start(self) -> None:
        d, transitions = self.d, self.d.net.transitions
        starting: list[tuple[Transition, Job]] = []
        while self.pending and self._can_start(len(starting)):
            t = transitions[self.pending.pop()]
            if t.manual or not d.session.is_enabled(t):
                continue
            if not self.slots.free(t):
                self.blocked.append(t.index)
                continue
            begun = d.begin(t, self.ports, sync=False)
            if isinstance(begun, StepResult):  # handlers and port-less steps: inline
                self._done(t, begun)
                self._collect_ready()
                continue
            reason = _shippable(begun, self.pool)
            if reason is not None:
                self._done(t, StepResult.fail(reason))
                continue
            self.slots.take(t)
            starting.append((t, begun))
        if not starting:
            return
        # group commit: the steps starting together share one sync of their
        # transition_started events, which are durable before any of their ports is called
        d.sync()
        for t, job in starting:
            try:
                future = self.pool.submit(call_port, job.fn, job.ctx, job.port, job.timeout_s)
            except Exception as e:
                self.slots.give(t)
                self._done(t, StepResult.fail(f"port {job.port!r} could not be submitted "
                                              f"to {type(self.pool).__name__}: {e}"))
                continue
            deadline = None if job.timeout_s is None else time.monotonic() + job.timeout_s
            self.inflight[future] = (t, deadline)
            future.add_done_callback(self.done.put)

    # -- waiting and finishing ---------------------------------------------------

    def _wait(self, limit: float | None = None) -> None:
        now = time.monotonic()
        wakeups = [dl for _, dl in self.inflight.values() if dl is not None]
        if self.delayed:
            wakeups.append(self.delayed[0][0])
        if limit is not None:
            wakeups.append(limit)
        timeout = max(0.0, min(wakeups) - now) if wakeups else None
        done: list[cf.Future[StepResult] | None] = []
        try:  # completions arrive through a queue: O(1) per completion, not O(in flight)
            done.append(self.done.get(timeout=timeout))
            while True:
                done.append(self.done.get_nowait())
        except queue.Empty:
            pass
        self.zombies.difference_update(done)
        for future in done:
            if future is None or future not in self.inflight:
                continue
            t, _ = self.inflight.pop(future)
            self.slots.give(t)
            try:
                result = future.result()
            except Exception as e:  # the executor itself failed (lost worker, pickling)
                result = StepResult.fail(f"executor failed for {t.name!r}: "
                                         f"{type(e).__name__}: {e}")
            self._done(t, result, sync=False)
        now = time.monotonic()
        for future, (t, dl) in list(self.inflight.items()):
            if dl is not None and now >= dl:
                del self.inflight[future]
                self.slots.give(t)
                self.zombies.add(future)  # keeps its slot until the port really returns
                self._done(t, timeout_result(t.port, self.d.policies[t.step].timeout_s))
        # group commit: the firings that came back together share one sync, before any
        # step starts (a firing is acted upon, and observed, only once it is durable)
        self.d.sync()
        self._release_due()
        for i in self.blocked:
            self.pending.push(i)
        self.blocked.clear()

    def _release_due(self) -> None:
        now = time.monotonic()
        while self.delayed and self.delayed[0][0] <= now:
            self.pending.push(heapq.heappop(self.delayed)[1])

    def _done(self, t: Transition, result: StepResult, sync: bool = True) -> None:
        d = self.d
        if result.reason is None:
            if d.session.is_enabled(t):
                d.commit(t, result, sync)
                return
            result = StepResult.fail(f"conflict: {t.name!r} was no longer enabled when its "
                                     "port returned; its result was discarded")
        failure = d.failed(t, result)
        n = self.tries[t.name] = self.tries.get(t.name, 0) + 1
        policy = d.policies[t.step]
        if n <= policy.retries and not self.stopping:
            heapq.heappush(self.delayed, (time.monotonic() + policy.backoff(n), t.index))
            return
        self.failures.append(failure)
        self.stopping = True

    def _end(self) -> DriveOutcome:
        d = self.d
        if self.stop.requested:
            return d.finish("paused", "net_paused", reason="interrupted",
                            failures=tuple(self.failures))
        if self.failures:
            return d.halted(self.failures)
        if d.live.abandoned is not None:
            return d.finish("halted", "net_halted", reason="abandoned", detail=d.live.abandoned)
        if d.live.at_end:
            return d.finish("completed", "net_completed")
        if self.max_firings is not None and d.fired >= self.max_firings:
            return d.finish("paused", "net_paused",
                            reason=f"max_firings={self.max_firings} reached")
        return d.finish("deadlocked", "net_deadlocked", reason=d.deadlock_reason())
