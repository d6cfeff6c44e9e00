"""Interrupts: SIGINT and SIGTERM set a flag that the drive loops check at safe points.

No exception is ever injected into the driving thread, so a signal can never cut a commit
in half (a firing in run.json without its ``transition_fired``, a finished step's result
dropped). While a drive runs in the main thread:

- the first signal asks the loops to stop: no new step starts; steps in flight get
  ``grace_s`` seconds to finish (their successes are committed); when the grace period
  ends, every process group the drive's commands started gets ``SIGTERM``, then
  ``SIGKILL`` after :data:`~petri_exec.ports.procgroup.KILL_AFTER_S` (a ``SIGALRM`` timer
  does this even while the driving thread waits inside a port);
- a second signal ends the commands at once.

The drive then returns ``paused`` with reason ``interrupted``; the next drive resumes.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from ..ports.procgroup import KILL_AFTER_S, signal_groups

__all__ = ["Interrupt", "interrupts"]


class Interrupt:
    """The stop request of one drive: set by signal handlers, read by the loops."""

    def __init__(self, owner: str | None, grace_s: float) -> None:
        """Args:
            owner: The drive's process-group owner (the run file's path), or None.
            grace_s: Seconds steps in flight get after the first signal.
        """
        self.owner = owner
        self.grace_s = grace_s
        self.requested = False
        self.at = 0.0
        self.wakeups: list[Callable[[], None]] = []
        self._stage = 0  # 0 none, 1 waiting for grace, 2 TERM sent, 3 KILL sent

    def deadline(self) -> float:
        """When the grace period of a requested stop ends (monotonic seconds)."""
        return self.at + self.grace_s

    def request(self) -> None:
        """A stop request (the first one starts the grace period, a second ends commands)."""
        if not self.requested:
            self.requested = True
            self.at = time.monotonic()
            self._stage = 1
            for wake in self.wakeups:
                wake()
            _arm(self.grace_s)
        else:
            self._escalate()

    def on_alarm(self) -> None:
        """The timer: end the commands' process groups (TERM, later KILL)."""
        if self._stage in (1, 2):
            self._escalate()

    def _escalate(self) -> None:
        if self._stage <= 1:
            self._stage = 2
            signal_groups(self.owner, signal.SIGTERM)
            _arm(KILL_AFTER_S)
        elif self._stage == 2:
            self._stage = 3
            signal_groups(self.owner, signal.SIGKILL)


def _arm(seconds: float) -> None:
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))


@contextlib.contextmanager
def interrupts(owner: str | None, grace_s: float) -> Iterator[Interrupt]:
    """Route SIGINT, SIGTERM (and the grace timer's SIGALRM) to an :class:`Interrupt` for
    the block's duration, when running in the main thread (elsewhere no signal arrives).

    Args:
        owner: The drive's process-group owner, or None.
        grace_s: Seconds steps in flight get after the first signal.

    Yields:
        The interrupt to poll.
    """
    state = Interrupt(owner, grace_s)
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def on_stop(signum: int, frame: Any) -> None:
        state.request()

    def on_alarm(signum: int, frame: Any) -> None:
        state.on_alarm()

    previous = {sig: signal.signal(sig, on_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, on_alarm)
    try:
        yield state
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
