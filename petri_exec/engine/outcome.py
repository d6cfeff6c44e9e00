"""What a drive returns and what a worker runs: outcomes, failures, step policies, jobs.

Values only, plus :func:`call_port`, the dask-style ``execute_task`` of the engine: it runs
a port anywhere (the driving thread, a worker thread, another process) and reports failure
as data, never as an exception.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any, Literal

import attrs

from ..core.net import Transition
from ..ports.protocol import (
    StepContext,
    StepResult,
    exception_result,
    normalise_result,
    timeout_result,
)
from ..run.model import Run

__all__ = ["DriveOutcome", "Failure", "Job", "Status", "StepPolicy", "call_port"]

#: How a drive or fire call ended (``fired``: one hand firing succeeded).
Status = Literal["completed", "halted", "deadlocked", "paused", "fired"]


@attrs.frozen
class Failure:
    """One failed step of a drive (after its last attempt).

    Attributes:
        transition: The transition's name.
        reason: Why it failed.
        attempt: The attempt that failed last.
        detail: More about it, or None.
    """

    transition: str
    reason: str
    attempt: int
    detail: str | None = None


def _run_of(value: Run | Callable[[], Run]) -> Run:
    return value if isinstance(value, Run) else value()


@attrs.frozen(repr=False)
class DriveOutcome:
    """How a :func:`~petri_exec.drive` (or :func:`~petri_exec.fire`) call ended.

    Attributes:
        status: ``completed`` (the driven chain reached its end), ``halted`` (a step
            failed), ``deadlocked`` (nothing enabled before the end), ``paused``
            (``max_firings`` reached, or interrupted); ``fire()`` returns ``fired`` or
            ``halted``.
        run_status: The run lane status at the end.
        step: The transition that halted (the first failure), else None.
        reason: Why it halted, deadlocked or paused; None when completed or fired.
        fired: Transitions fired by this call.
        run: The run as it is now (for a path: what run.json holds). Built on first
            access (a drive of N slices need not build N new slice values that nobody
            reads); the constructor takes the :class:`Run` or a function returning it.
        detail: More about a failure (e.g. the land port's own message), else None.
        failures: Every step that failed after its last attempt, in the order they failed.
        next_manual: The manual gates enabled at the end (e.g. ``("host_promotion",)`` when
            a drive completes before the executor's host promotion): the transitions only
            :func:`~petri_exec.fire` can fire next, in net order; empty for an abandoned
            run.
    """

    status: Status
    run_status: str
    step: str | None
    reason: str | None
    fired: int
    _run: Run | Callable[[], Run] = attrs.field(alias="run", eq=_run_of)
    detail: str | None = None
    failures: tuple[Failure, ...] = ()
    next_manual: tuple[str, ...] = ()

    @property
    def run(self) -> Run:
        """The run as it is now (built once, on first access)."""
        run = self._run
        if not isinstance(run, Run):
            run = run()
            # a frozen value's one cached field, set once (attrs' own idiom for caching)
            object.__setattr__(self, "_run", run)
        return run

    def __repr__(self) -> str:
        """``DriveOutcome(status=..., run=Run(...), ...)``: the fields, the run built."""
        shown = ", ".join(f"{f.alias}={self.run if f.name == '_run' else getattr(self, f.name)!r}"
                          for f in attrs.fields(DriveOutcome))
        return f"DriveOutcome({shown})"

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the built run, never the function that builds it."""
        return {f.name: self.run if f.name == "_run" else getattr(self, f.name)
                for f in attrs.fields(DriveOutcome)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled outcome."""
        for name, value in state.items():
            object.__setattr__(self, name, value)


@attrs.frozen
class StepPolicy:
    """Retries and timeout of one step (the template's, or the drive's overrides).

    Attributes:
        retries: Extra attempts after a failure.
        retry_backoff_s: Delay before the first retry; doubled for each further one.
        timeout_s: Seconds an attempt may take, or None.
    """

    retries: int = 0
    retry_backoff_s: float = 0.0
    timeout_s: float | None = None

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return float(self.retry_backoff_s * 2.0 ** (attempt - 1))


@attrs.frozen
class Job:
    """A port call ready to run anywhere (everything in it is picklable).

    Attributes:
        transition: The transition.
        ctx: The step context.
        fn: The port.
        port: The port's name.
        timeout_s: The attempt's timeout, or None.
    """

    transition: Transition
    ctx: StepContext
    fn: Callable[[StepContext], Any]
    port: str
    timeout_s: float | None


def call_port(fn: Callable[[StepContext], Any], ctx: StepContext, port: str,
              timeout_s: float | None = None) -> StepResult:
    """Call a port anywhere (a worker thread or another process) and normalise the result.

    ``async def`` ports run on a private event loop, cancelled after ``timeout_s``.

    Args:
        fn: The port.
        ctx: Its context.
        port: Its name, for messages.
        timeout_s: Cancel an async port after this many seconds.

    Returns:
        The result; an exception becomes a failure naming it.
    """
    try:
        value = fn(ctx)
        if inspect.isawaitable(value):
            value = asyncio.run(_bounded(value, timeout_s))
    except TimeoutError:
        return timeout_result(port, timeout_s)
    except Exception as e:
        return exception_result(e)
    return normalise_result(value, port)


async def _bounded(awaitable: Any, timeout_s: float | None) -> Any:
    return await asyncio.wait_for(awaitable, timeout_s)
