"""Schedulers: which transitions may fire next.

The protocol is graphlib-sized. A scheduler has a ``net`` and a pure
``ready(marking)``; ``drive()`` asks it for a ``session(marking)`` — a live object with
``get_ready()`` / ``is_enabled()`` / ``fire()`` / ``marking()`` — and uses nothing else.
:class:`PetriScheduler` and :class:`LinearScheduler` answer sessions from their net's
incremental counters; a custom scheduler that only implements ``ready()`` gets
:class:`ScanSession`, which calls ``ready()`` after every firing.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import ClassVar, Protocol, runtime_checkable

from ..run.model import Run
from ..run.templates import Template
from .compile import compile_run
from .marking import Marking
from .net import Net, Transition
from .netstate import NetState

__all__ = [
    "LinearScheduler",
    "PetriScheduler",
    "ScanSession",
    "Scheduler",
    "Session",
    "open_session",
]


@runtime_checkable
class Session(Protocol):
    """A live marking handed out by a scheduler (what ``drive()`` talks to)."""

    def get_ready(self) -> list[Transition]:
        """Transitions that became ready since the last call, in net order."""

    def is_enabled(self, t: Transition) -> bool:
        """Whether ``t`` is enabled at the current marking."""

    def fire(self, t: Transition) -> None:
        """Commit the firing of ``t`` to the marking."""

    def marking(self) -> Marking:
        """A snapshot of the current marking."""

    def missing(self, t: Transition) -> list[tuple[str, int, int]]:
        """``(place, needed, present)`` for each arc of ``t`` lacking tokens."""


class Scheduler(abc.ABC):
    """Base class for schedulers: implement :meth:`ready`; optionally :meth:`session`.

    A scheduler declares optional promises with class attributes, which the contract
    harness (:mod:`petri_exec.testing`) then checks:

    Attributes:
        net: The net the scheduler schedules over.
        complete: True promises that ``ready()`` returns every enabled non-manual
            transition (exactly :class:`PetriScheduler`'s answer).
        linear: True promises that ``ready()`` returns at most one transition.
    """

    net: Net
    complete: ClassVar[bool] = False
    linear: ClassVar[bool] = False

    @abc.abstractmethod
    def ready(self, marking: Mapping[str, int]) -> frozenset[Transition]:
        """The transitions that may fire next at ``marking``. Must be pure.

        Args:
            marking: Place name -> token count.

        Returns:
            Enabled, non-manual transitions of :attr:`net`.
        """

    def session(self, marking: Mapping[str, int]) -> Session:
        """A live session starting at ``marking`` (default: :class:`ScanSession`)."""
        return ScanSession(self, marking)


class _NetScheduler(Scheduler):
    """A scheduler whose ``ready()`` is exactly the enabled non-manual set of its net."""

    def __init__(self, net: Net, *, stopped: bool = False) -> None:
        """Schedule over ``net``.

        Args:
            net: Any net (compiled or general).
            stopped: Return nothing at all (the run was abandoned).
        """
        self.net = net
        self.stopped = stopped

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.net!r})"

    def ready(self, marking: Mapping[str, int]) -> frozenset[Transition]:
        """Every enabled non-manual transition of :attr:`net` at ``marking``. Pure.

        Only transitions next to a marked place are examined. Empty for a stopped
        (abandoned) run.
        """
        if self.stopped:
            return frozenset()
        return frozenset(t for t in self.net.enabled(marking) if not t.manual)

    def session(self, marking: Mapping[str, int]) -> NetState:
        """An incremental session: firing costs O(the transition's neighbourhood)."""
        return self.net.state(marking)


class PetriScheduler(_NetScheduler):
    """All enabled transitions of the run's full concurrent net (declares ``complete``)."""

    complete: ClassVar[bool] = True

    @classmethod
    def for_run(cls, run: Run, *, template: Template | None = None) -> PetriScheduler:
        """Compile ``run`` and schedule over its net.

        Args:
            run: The run.
            template: Its template (looked up by name when None).

        Returns:
            The scheduler.
        """
        return cls(compile_run(run, template=template), stopped=run.abandoned is not None)


class LinearScheduler(_NetScheduler):
    """The degenerate net: at most one transition is ready at any marking it reaches.

    Same places and transitions as the run's net, plus read arcs chaining the slices'
    first steps in one deterministic topological order (ties by file order). Declares
    ``linear``.
    """

    linear: ClassVar[bool] = True

    @classmethod
    def for_run(cls, run: Run, *, template: Template | None = None) -> LinearScheduler:
        """Compile ``run``'s degenerate linear net and schedule over it.

        Args:
            run: The run.
            template: Its template (looked up by name when None).

        Returns:
            The scheduler.
        """
        return cls(compile_run(run, template=template, linear=True),
                   stopped=run.abandoned is not None)


class ScanSession:
    """Session for schedulers that implement only ``ready()``.

    Keeps the marking in a :class:`NetState` of the scheduler's net and calls
    ``scheduler.ready(marking)`` after every firing (O(net) per step: implement
    ``session()`` to do better).
    """

    def __init__(self, scheduler: Scheduler | _ReadyOnly, marking: Mapping[str, int]) -> None:
        """Start at ``marking``."""
        self._scheduler = scheduler
        self._state = scheduler.net.state(marking)
        self._handed: set[Transition] = set()
        self._stale = True

    def get_ready(self) -> list[Transition]:
        """Enabled transitions from ``ready()`` not handed out yet, in net order."""
        if not self._stale:
            return []
        self._stale = False
        state = self._state
        # hand out only what is enabled: a scheduler that returns a disabled transition is
        # not obeyed, and the transition is handed out again once it is enabled
        ready = {t for t in self._scheduler.ready(state.marking()) if state.is_enabled(t)}
        self._handed = {t for t in self._handed if t in ready}
        new = sorted((t for t in ready if t not in self._handed), key=lambda t: t.index)
        self._handed.update(new)
        return new

    def is_enabled(self, t: Transition) -> bool:
        """Whether ``t`` is enabled in the scheduler's net."""
        return self._state.is_enabled(t)

    def fire(self, t: Transition) -> None:
        """Fire ``t`` in the marking."""
        self._state.fire(t)
        self._handed.discard(t)
        self._stale = True

    def marking(self) -> Marking:
        """A snapshot of the current marking."""
        return self._state.marking()

    def missing(self, t: Transition) -> list[tuple[str, int, int]]:
        """``(place, needed, present)`` for each arc of ``t`` lacking tokens."""
        return self._state.missing(t)


class _ReadyOnly(Protocol):
    net: Net

    def ready(self, marking: Mapping[str, int]) -> frozenset[Transition]: ...


def open_session(scheduler: Scheduler | _ReadyOnly, marking: Mapping[str, int]) -> Session:
    """A session from any scheduler: its own ``session()`` or a :class:`ScanSession`.

    Args:
        scheduler: A :class:`Scheduler` or any object with ``net`` and ``ready()``.
        marking: The starting marking.

    Returns:
        The session.
    """
    make = getattr(scheduler, "session", None)
    if callable(make):
        session: Session = make(marking)
        return session
    return ScanSession(scheduler, marking)
