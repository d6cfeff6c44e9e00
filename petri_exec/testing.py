"""Test helpers: deterministic fake ports (the injection point, not mocks of the engine).

``FakePorts`` supplies every port of the built-in templates, records every call in
order, and can be told to fail chosen steps, give chosen verdicts, or land nothing.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs

from .ports import StepContext, StepResult

__all__ = ["BUILTIN_PORTS", "Call", "FakePorts"]

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


class FakePorts(Mapping[str, Callable[[StepContext], Any]]):
    """Deterministic ports for tests and examples.

    Args:
        fail: Transition or port name -> failure. A string fails with that reason; an
            exception instance is raised by the port. A transition name wins over a port
            name.
        verdicts: Slice id -> verdict returned by ``test_runner`` (default ``"passed"``).
        land_changes: When False, ``land`` reports nothing to commit (``changes: false``).
        missing: Port names to leave out (to test the fail-closed path).
        names: Port names supplied (default: :data:`BUILTIN_PORTS`).
    """

    def __init__(
        self,
        *,
        fail: Mapping[str, str | BaseException] | None = None,
        verdicts: Mapping[str, str] | None = None,
        land_changes: bool = True,
        missing: Iterable[str] = (),
        names: Iterable[str] = BUILTIN_PORTS,
    ) -> None:
        self.fail = dict(fail or {})
        self.verdicts = dict(verdicts or {})
        self.land_changes = land_changes
        self._names = tuple(n for n in names if n not in set(missing))
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> Callable[[StepContext], Any]:
        if name not in self._names:
            raise KeyError(name)

        def port(ctx: StepContext) -> Any:
            return self._call(name, ctx)

        return port

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def calls_to(self, port: str) -> list[Call]:
        """The recorded calls of one port, in order."""
        return [c for c in self.calls if c.port == port]

    def _call(self, name: str, ctx: StepContext) -> Any:
        with self._lock:
            self.calls.append(
                Call(name, ctx.transition, ctx.slice_id, ctx.attempt, ctx.idempotency_key)
            )
        failure = self.fail.get(ctx.transition, self.fail.get(name))
        if isinstance(failure, BaseException):
            raise failure
        if isinstance(failure, str):
            return StepResult.fail(failure)
        if name == "agent_runner":
            return {"agent": f"done {ctx.slice_id}"}
        if name == "test_runner":
            return {"verdict": self.verdicts.get(ctx.slice_id or "", "passed")}
        if name == "land":
            if not self.land_changes:
                return StepResult.ok(changes=False)
            sha = hashlib.sha1(ctx.run_id.encode()).hexdigest()[:12]
            return {"commit": sha}
        if name == "runner":
            return {"ran": ctx.slice_id}
        return None
