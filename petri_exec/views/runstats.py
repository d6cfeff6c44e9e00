"""What a run's journal says about each slice: attempts, timing, steps in flight, log files.

:class:`RunStats` folds events one at a time (O(1) each), so the live page follows a
journal without reading it again, and the HTML report folds the whole journal once. Keys
are slice ids, with ``""`` for the run lane's steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ..core.net import Net
from ..engine.journal import Event

__all__ = ["LaneStats", "RunStats", "log_paths"]


def log_paths(facts: Mapping[str, Any] | None) -> list[str]:
    """The log files a step's facts name: string values under ``log``, ``log_path`` or a key
    ending in ``_log`` (the shell ports write ``log`` and ``verify_log``).

    Args:
        facts: A step's facts, or None.

    Returns:
        The paths as given (relative to the run file's directory, or absolute).
    """
    out = []
    for key, value in (facts or {}).items():
        if isinstance(value, str) and value and (key in ("log", "log_path")
                                                 or key.endswith("_log")):
            out.append(value)
    return out


@attrs.define
class LaneStats:
    """One slice's (or the run lane's) history.

    Attributes:
        attempts: Attempts started (``transition_started`` events).
        failed: Attempts that failed.
        first: When its first attempt started (epoch seconds), or None.
        last: When its last step fired or failed, or None.
        running: Transitions started and not yet fired or failed, with their start times.
        logs: Log files named by its steps' facts, oldest first, without repeats.
    """

    attempts: int = 0
    failed: int = 0
    first: float | None = None
    last: float | None = None
    running: dict[str, float] = attrs.Factory(dict)
    logs: list[str] = attrs.Factory(list)


class RunStats:
    """Per-slice attempts, timing and logs, folded from a run's events."""

    def __init__(self, net: Net, events: Iterable[Event] = ()) -> None:
        """Start empty (or from ``events``).

        Args:
            net: The run's compiled net (which slice each transition belongs to).
            events: Events to fold now, oldest first.
        """
        self._slice_of = {t.name: t.slice_id or "" for t in net.transitions}
        self.lanes: dict[str, LaneStats] = {}
        self.events = 0
        for e in events:
            self.add(e)

    def lane(self, key: str) -> LaneStats:
        """The stats of slice ``key`` (``""``: the run lane); empty when nothing happened."""
        return self.lanes.get(key) or LaneStats()

    def add(self, e: Event) -> None:
        """Fold one event (O(1) plus its facts)."""
        self.events += 1
        if e.transition is None or e.kind not in ("transition_started", "transition_fired",
                                                  "transition_failed"):
            if e.kind in ("net_completed", "net_halted", "net_deadlocked", "net_paused"):
                for done in self.lanes.values():
                    done.running.clear()
            return
        key = self._slice_of.get(e.transition)
        if key is None:
            return
        lane = self.lanes.get(key)
        if lane is None:
            lane = self.lanes[key] = LaneStats()
        if e.kind == "transition_started":
            lane.attempts += 1
            lane.first = e.time if lane.first is None else lane.first
            lane.running[e.transition] = e.time
            return
        lane.running.pop(e.transition, None)
        lane.last = e.time
        if e.kind == "transition_failed":
            lane.failed += 1
        for path in log_paths(e.facts):
            if path not in lane.logs:
                lane.logs.append(path)
