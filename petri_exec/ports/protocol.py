"""Ports: the user callables a step's side effect goes through.

A port is called with a :class:`StepContext` and returns a :class:`StepResult`, a plain
dict of facts (= ok), or None (= ok). A raised exception is a failure whose reason names
the exception. Ports may be ``async def``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs

from ..errors import UsageError
from ..run.facts import MAX_FACTS_BYTES, MAX_NESTING, json_problem
from ..run.model import Slice

__all__ = [
    "PortCaller",
    "StepContext",
    "StepResult",
    "check_seconds",
    "exception_result",
    "missing_port_reason",
    "normalise_result",
    "resolve_port",
    "timeout_result",
]


@attrs.frozen
class StepResult:
    """The outcome of one step attempt.

    Attributes:
        reason: None for success; the failure's reason otherwise.
        facts: Values to record (in the slice's facts for slice steps, the run's facts
            for run steps) when the step succeeds; kept in the journal when it fails.
    """

    reason: str | None = None
    facts: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def ok(cls, **facts: Any) -> StepResult:
        """A success recording ``facts``.

        Returns:
            The result.
        """
        return cls(None, facts)

    @classmethod
    def fail(cls, reason: str, **facts: Any) -> StepResult:
        """A failure with ``reason`` (e.g. ``"promotion_no_changes"``).

        Args:
            reason: Why the step failed; must be a non-empty string.
            **facts: Details kept in the journal (never in run.json).

        Returns:
            The result.

        Raises:
            ValueError: ``reason`` is empty or not a string.
        """
        if not isinstance(reason, str) or not reason:
            raise ValueError(f"StepResult.fail needs a non-empty reason string, got {reason!r}")
        return cls(reason, facts)

    @property
    def failed(self) -> bool:
        """True when the step failed."""
        return self.reason is not None


#: The ``dependencies`` of a run step or a slice without dependencies.
_NO_DEPENDENCIES: Mapping[str, Mapping[str, Any]] = MappingProxyType({})


@attrs.frozen(slots=False)  # one per attempt, short-lived: a dict builds twice as fast
class StepContext:
    """Everything a port is told about the step it performs.

    Attributes:
        run_id: The run's id.
        transition: The transition's name (``agent_result:api``).
        step: The template step (``agent_result``).
        slice_id: The slice, or None for run steps.
        slice: The slice as it is before this step (id, title, epic, depends_on, status,
            facts, meta), or None for run steps.
        run_facts: The run's facts so far.
        attempt: 1 for the first attempt of this transition, then 2, 3, …
        idempotency_key: Stable across attempts of the same transition of the same run:
            use it to make effects idempotent.
        run_dir: Directory holding run.json, or None for an in-memory run.
        port: The port's name (None for a step without one).
        run_status: The run's status before this step.
        run_path: The run file (symbolic links resolved), or None for an in-memory run.
            Files a port keeps for the run go in ``<run stem>.work/`` beside it.
        dependencies: For a slice step, each slice it depends on (id -> that slice's
            facts, read-only); empty for run steps and slices without dependencies.
    """

    run_id: str
    transition: str
    step: str
    slice_id: str | None
    slice: Slice | None
    run_facts: Mapping[str, Any]
    attempt: int
    idempotency_key: str
    run_dir: Path | None
    port: str | None
    run_status: str
    run_path: Path | None = None
    dependencies: Mapping[str, Mapping[str, Any]] = _NO_DEPENDENCIES

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle for a worker process (``run_facts`` and ``dependencies`` are read-only
        views, which the standard pickle cannot ship: they travel as dicts and are
        wrapped again)."""
        fields = attrs.asdict(self, recurse=False)
        fields["run_facts"] = dict(self.run_facts)
        fields["dependencies"] = {k: dict(v) for k, v in self.dependencies.items()}
        return _context, (fields,)


def _context(fields: dict[str, Any]) -> StepContext:
    deps = fields.get("dependencies") or {}
    return StepContext(**{**fields, "run_facts": MappingProxyType(fields["run_facts"]),
                          "dependencies": MappingProxyType(
                              {k: MappingProxyType(v) for k, v in deps.items()})})


def resolve_port(ports: Any, name: str) -> Callable[[StepContext], Any] | None:
    """Find port ``name`` in a mapping or as an attribute of an object.

    Args:
        ports: ``{name: callable}`` or an object with callable attributes, or None.
        name: The port's name.

    Returns:
        The callable, or None when it is not supplied.
    """
    if ports is None:
        return None
    fn = ports.get(name) if isinstance(ports, Mapping) else getattr(ports, name, None)
    return fn if callable(fn) else None


def missing_port_reason(port: str, transition: str) -> str:
    """The fail-closed message for a step whose port was not supplied."""
    return (
        f"port {port!r} is missing for transition {transition!r}; supply it as "
        f"ports[{port!r}] = callable(ctx) (or an attribute {port} on the ports object) "
        "returning StepResult.ok(...), StepResult.fail(reason), a dict of facts or None"
    )


def normalise_result(value: Any, port: str) -> StepResult:
    """Turn what a port returned into a :class:`StepResult`.

    Args:
        value: The return value.
        port: The port's name (for the failure message).

    Returns:
        The result; a wrong shape or facts that are not JSON become a failure naming the port.
    """
    if value is None:
        return _OK
    if isinstance(value, StepResult):
        result = value
    elif isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            return StepResult.fail(f"port {port!r} returned facts with non-string keys; "
                                   "use string keys")
        result = StepResult(None, dict(value))
    else:
        return StepResult.fail(
            f"port {port!r} returned {type(value).__name__} {value!r:.60}; return "
            "StepResult.ok(...), StepResult.fail(reason), a dict of facts or None"
        )
    if not result.facts:
        return result
    problem = json_problem(result.facts)
    if problem is None:
        try:
            encoded = json.dumps(result.facts, allow_nan=False, ensure_ascii=False)
        except ValueError as e:  # e.g. an integer longer than Python converts to text
            problem = f"facts: {e}"
        else:
            if len(encoded) > MAX_FACTS_BYTES:
                problem = (f"facts: {len(encoded)} bytes of JSON, more than "
                           f"{MAX_FACTS_BYTES}; store big outputs in a file and record its "
                           "name")
    if problem is not None:
        return StepResult.fail(f"port {port!r} returned facts that cannot be saved: "
                               f"{problem}; return JSON values only (string keys, finite "
                               f"numbers, valid Unicode, at most {MAX_NESTING} levels deep)")
    if result.reason is None and any(type(v) not in _PLAIN for v in result.facts.values()):
        result = StepResult(None, json.loads(encoded))  # tuples become lists, as on reload
    return result


_PLAIN = frozenset({str, int, float, bool, type(None)})


_OK = StepResult()


def exception_result(e: BaseException) -> StepResult:
    """The failure a port's exception becomes: ``"<Type>: <message>"``."""
    return StepResult.fail(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)


def timeout_result(port: str | None, timeout_s: float | None) -> StepResult:
    """The failure of an attempt that outlived its timeout."""
    return StepResult.fail(f"timeout: port {port!r} took longer than {timeout_s}s")


class PortCaller:
    """Calls ports, sync or async, turning every exception into a failed result.

    One event loop is reused for every ``async def`` port of a drive.
    """

    def __init__(self) -> None:
        """Create a caller; the event loop is created on first use."""
        self._runner: asyncio.Runner | None = None

    def call(self, fn: Callable[[StepContext], Any], ctx: StepContext, port: str) -> StepResult:
        """Call ``fn(ctx)`` and normalise the outcome.

        Args:
            fn: The port.
            ctx: Its context.
            port: Its name, for messages.

        Returns:
            The result; an exception becomes ``StepResult.fail("<Type>: <message>")``.
        """
        try:
            value = fn(ctx)
            if value is None:
                return _OK
            if inspect.isawaitable(value):
                value = self._await(value)
        except Exception as e:
            return exception_result(e)
        return normalise_result(value, port)

    def _await(self, awaitable: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            if self._runner is None:
                self._runner = asyncio.Runner()
            return self._runner.run(_await(awaitable))
        # Called from inside a running loop (e.g. a notebook): run on a private loop in a
        # worker thread so the caller's loop is never re-entered.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, _await(awaitable)).result()

    def close(self) -> None:
        """Close the event loop, if one was created."""
        if self._runner is not None:
            self._runner.close()
            self._runner = None


async def _await(value: Any) -> Any:
    return await value


def check_seconds(name: str, value: object, *, zero: bool) -> None:
    """Refuse a duration argument that is not a finite number of seconds.

    Args:
        name: The argument's name, for the message.
        value: The value given.
        zero: Whether 0 is allowed (``>= 0``) or the value must be positive.

    Raises:
        UsageError: ``value`` is not an int or float (a bool is not), is NaN or infinite,
            or is out of range.
    """
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
          and math.isfinite(value) and (value >= 0 if zero else value > 0))
    if not ok:
        raise UsageError(f"{name}={value!r} must be a {'non-negative' if zero else 'positive'}"
                         " finite number of seconds")
