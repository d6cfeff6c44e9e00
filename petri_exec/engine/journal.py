"""Events and the run's journal (``<run stem>.events.jsonl``).

Every attempt, firing and terminal outcome is an :class:`Event`. The journal is an
append-only JSON-lines file beside run.json; a torn last line (a crash mid-append) is
ignored when reading and reported.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ..errors import JournalError

__all__ = ["EVENT_KINDS", "Event", "Journal", "journal_path", "read_journal"]

#: Every event kind, in the order a drive can emit them.
EVENT_KINDS = (
    "transition_started",
    "transition_fired",
    "transition_failed",
    "net_completed",
    "net_halted",
    "net_deadlocked",
    "net_paused",
    "checkpoint",
    "run_abandoned",
)


@attrs.frozen
class Event:
    """One thing that happened to a run.

    ``checkpoint`` means run.json now holds every firing journaled before it;
    ``run_abandoned`` records :func:`petri_exec.abandon`.

    Attributes:
        kind: One of :data:`EVENT_KINDS`.
        seq: Position in the run's journal (0-based, gap-free across drives).
        time: Wall-clock seconds since the epoch.
        run_id: The run.
        transition: The transition's name (transition events and ``net_halted``).
        attempt: Attempt number (transition events).
        consumed: Places and weights taken (``transition_fired``).
        produced: Places and weights added (``transition_fired``).
        facts: Facts recorded (``transition_fired``) or reported by a failure.
        reason: Why it failed, halted, deadlocked or paused.
        detail: Extra text for a failure (e.g. the land port's own message).
        run_status: The run's status after the event (terminal events).
    """

    kind: str
    seq: int
    time: float
    run_id: str
    transition: str | None = None
    attempt: int | None = None
    consumed: Mapping[str, int] | None = None
    produced: Mapping[str, int] | None = None
    facts: Mapping[str, Any] | None = None
    reason: str | None = None
    detail: str | None = None
    run_status: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON object, fields that do not apply left out."""
        return {k: v for k, v in attrs.asdict(self, recurse=False).items() if v is not None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Event:
        """Rebuild an event from :meth:`to_json` output.

        Raises:
            JournalError: Unknown kind, missing or unknown fields.
        """
        if data.get("kind") not in EVENT_KINDS:
            raise JournalError(f"unknown event kind {data.get('kind')!r}")
        try:
            return cls(**data)
        except TypeError as e:
            raise JournalError(f"malformed event: {e}") from None


def journal_path(run_path: str | os.PathLike[str]) -> Path:
    """``<run stem>.events.jsonl`` beside the run file."""
    p = Path(run_path)
    return p.with_name(f"{p.stem}.events.jsonl")


def read_journal(path: str | os.PathLike[str]) -> tuple[list[Event], bool]:
    """Read a journal.

    Args:
        path: The journal file (a missing file is an empty journal).

    Returns:
        The events, and whether a torn last line was found (and ignored).

    Raises:
        JournalError: A line other than the last is not a valid event; the message
            names the file and line.
    """
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return [], False
    lines = raw.split(b"\n")
    torn = lines[-1] != b""
    events: list[Event] = []
    for n, line in enumerate(lines[:-1], start=1):
        try:
            events.append(Event.from_json(json.loads(line)))
        except (ValueError, JournalError) as e:
            raise JournalError(f"{path}: line {n}: not a valid event ({e}); the journal is "
                               "damaged: restore it from a backup or move it aside") from None
    return events, torn


class Journal:
    """An open journal: appends one JSON line per event.

    Each line is written with a single ``write`` and flushed; with ``fsync=True`` (the
    default) it is also synced to disk before the call returns.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        """Open ``path`` for appending (created if missing).

        Args:
            path: The journal file.
            fsync: Sync every appended event to disk.
        """
        self.path = Path(path)
        self._fsync = fsync
        self._f = open(self.path, "ab")  # noqa: SIM115 - closed by close()
        self.torn = _drop_torn_tail(self._f)

    def append(self, event: Event) -> None:
        """Append ``event`` as one line."""
        line = json.dumps(event.to_json(), ensure_ascii=False, sort_keys=True) + "\n"
        self._f.write(line.encode("utf-8"))
        self._f.flush()
        if self._fsync:
            os.fsync(self._f.fileno())

    def close(self) -> None:
        """Close the file."""
        self._f.close()



def _drop_torn_tail(f: Any) -> bool:
    """Cut a torn last line (no trailing newline) so the next append starts clean."""
    size = f.seek(0, os.SEEK_END)
    if size == 0:
        return False
    with open(f.name, "rb") as r:
        r.seek(size - 1)
        if r.read(1) == b"\n":
            return False
        r.seek(0)
        keep = r.read().rfind(b"\n") + 1
    f.truncate(keep)
    f.seek(keep)
    return True
