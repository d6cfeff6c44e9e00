"""Deterministic fake ports (the injection point, not mocks of the engine).

:class:`FakePorts` supplies every port of the built-in templates, records every call in
order, and can be told to fail chosen steps, give chosen verdicts, sleep, or land
nothing. :class:`PortBehaviour` is the same configuration as a frozen value (what the
``port_behaviours()`` strategy draws); ``behaviour.ports()`` makes fresh fakes from it.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs

from ..ports.protocol import StepContext, StepResult

__all__ = ["BUILTIN_PORTS", "Call", "FakePorts", "PortBehaviour"]

#: Every port named by the built-in templates.
BUILTIN_PORTS = ("workspace", "agent_runner", "test_runner", "land", "host_land", "runner")


@attrs.frozen
class Call:
    """One recorded port call.

    Attributes:
        port: Port name.
        transition: Transition name.
        slice_id: Slice or None.
        attempt: Attempt number.
        idempotency_key: The key the port was given.
    """

    port: str
    transition: str
    slice_id: str | None
    attempt: int
    idempotency_key: str


def _by_name(value: float | Mapping[str, float]) -> tuple[float, dict[str, float]]:
    if isinstance(value, Mapping):
        table = dict(value)
        default = 0.0
    else:
        table, default = {}, float(value)
    for key, seconds in (("<all>", default), *table.items()):
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise ValueError(f"FakePorts latency {seconds!r} for {key!r} must be a "
                             "non-negative number of seconds")
    return default, table


class FakePorts(Mapping[str, Callable[[StepContext], Any]]):
    """Deterministic ports for tests and examples.

    A mapping ``{port name: callable}`` as :func:`petri_exec.drive` expects. Results are
    a pure function of the step: ``agent_runner`` returns ``{"agent": "done <slice>"}``,
    ``test_runner`` ``{"verdict": ...}``, ``land`` ``{"commit": <sha of the run id>}``,
    ``runner`` ``{"ran": <slice>}``, the others None. Calls are recorded (thread-safely)
    in :attr:`calls`.

    Args:
        fail: Transition or port name -> failure. A string fails with that reason; an
            exception instance is raised by the port; a :class:`StepResult` is returned
            as is. A transition name wins over a port name.
        verdicts: Slice id -> verdict returned by ``test_runner``.
        land_changes: When False, ``land`` reports nothing to commit (``changes: false``).
        missing: Port names to leave out (to test the fail-closed path).
        names: Port names supplied (default: :data:`BUILTIN_PORTS`).
        latency: Seconds every call sleeps, or transition/port name -> seconds (a
            transition name wins; names not listed do not sleep).
        default_verdict: The verdict of slices not in ``verdicts``.
        asynchronous: Make every port an ``async def`` (sleeping with ``asyncio.sleep``).

    Raises:
        ValueError: A negative or non-numeric latency.
    """

    def __init__(
        self,
        *,
        fail: Mapping[str, str | BaseException | StepResult] | None = None,
        verdicts: Mapping[str, str] | None = None,
        land_changes: bool = True,
        missing: Iterable[str] = (),
        names: Iterable[str] = BUILTIN_PORTS,
        latency: float | Mapping[str, float] = 0.0,
        default_verdict: str = "passed",
        asynchronous: bool = False,
    ) -> None:
        self.fail = dict(fail or {})
        self.verdicts = dict(verdicts or {})
        self.land_changes = land_changes
        self.default_verdict = default_verdict
        self.asynchronous = asynchronous
        self._latency, self._latency_by_name = _by_name(latency)
        self._names = tuple(n for n in names if n not in set(missing))
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FakePorts({len(self.calls)} calls)"

    def __getitem__(self, name: str) -> Callable[[StepContext], Any]:
        if name not in self._names:
            raise KeyError(name)
        if self.asynchronous:

            async def async_port(ctx: StepContext) -> Any:
                delay = self._record(name, ctx)
                if delay:
                    await asyncio.sleep(delay)
                return self._result(name, ctx)

            return async_port

        def port(ctx: StepContext) -> Any:
            delay = self._record(name, ctx)
            if delay:
                time.sleep(delay)
            return self._result(name, ctx)

        return port

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def calls_to(self, port: str) -> list[Call]:
        """The recorded calls of one port, in order."""
        return [c for c in self.calls if c.port == port]

    def call_counts(self) -> Counter[str]:
        """How many times each transition's port was called (transition name -> count)."""
        return Counter(c.transition for c in self.calls)

    def reset(self) -> None:
        """Forget the recorded calls (the configuration stays)."""
        with self._lock:
            self.calls.clear()

    def latency_of(self, transition: str, port: str) -> float:
        """Seconds a call of ``port`` for ``transition`` sleeps."""
        table = self._latency_by_name
        return table.get(transition, table.get(port, self._latency))

    def _record(self, name: str, ctx: StepContext) -> float:
        with self._lock:
            self.calls.append(
                Call(name, ctx.transition, ctx.slice_id, ctx.attempt, ctx.idempotency_key)
            )
        return self.latency_of(ctx.transition, name)

    def _result(self, name: str, ctx: StepContext) -> Any:
        failure = self.fail.get(ctx.transition, self.fail.get(name))
        if isinstance(failure, BaseException):
            raise failure
        if isinstance(failure, str):
            return StepResult.fail(failure)
        if isinstance(failure, StepResult):
            return failure
        if name == "agent_runner":
            return {"agent": f"done {ctx.slice_id}"}
        if name == "test_runner":
            return {"verdict": self.verdicts.get(ctx.slice_id or "", self.default_verdict)}
        if name == "land":
            if not self.land_changes:
                return StepResult.ok(changes=False)
            sha = hashlib.sha1(ctx.run_id.encode()).hexdigest()[:12]
            return {"commit": sha}
        if name == "runner":
            return {"ran": ctx.slice_id}
        return None


def _pairs(value: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> tuple[tuple[str, Any], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple(sorted(items, key=lambda kv: kv[0]))


@attrs.frozen
class PortBehaviour:
    """How fake ports behave, as a frozen value (hashable, printable, shrinkable).

    Attributes:
        fail: ``(transition or port name, reason)`` pairs: those steps fail with that
            reason (a reason ``"raise:<text>"`` makes the port raise ``RuntimeError(text)``).
        verdicts: ``(slice id, verdict)`` pairs for ``test_runner``.
        latency: ``(transition or port name, seconds)`` pairs.
    """

    fail: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_pairs)
    verdicts: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_pairs)
    latency: tuple[tuple[str, float], ...] = attrs.field(default=(), converter=_pairs)

    def ports(self, **overrides: Any) -> FakePorts:
        """Fresh :class:`FakePorts` with this behaviour.

        Args:
            **overrides: Other :class:`FakePorts` arguments (e.g. ``asynchronous=True``).

        Returns:
            The ports (with no recorded calls).
        """
        fail: dict[str, str | BaseException | StepResult] = {
            name: RuntimeError(reason[6:]) if reason.startswith("raise:") else reason
            for name, reason in self.fail
        }
        kwargs: dict[str, Any] = {"fail": fail, "verdicts": dict(self.verdicts),
                                  "latency": dict(self.latency)}
        kwargs.update(overrides)
        return FakePorts(**kwargs)
