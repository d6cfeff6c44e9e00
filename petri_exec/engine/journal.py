"""Events and the run's journal (``<run stem>.events.jsonl``).

Every attempt, firing, checkpoint, operation and terminal outcome is an :class:`Event`. The
journal is an append-only JSON-lines file beside run.json. Its first line is a
``journal_started`` header naming the run (``run_id``, its ``identity`` and the run file's
name); ``checkpoint`` events (and the operations that rewrite run.json) carry the
``digest`` (SHA-256) of the run.json bytes they write, so a reader finds exactly where the
run.json it read sits in the journal (:mod:`.journalscan`). A torn last line (a crash
mid-append) is ignored when reading and reported; the next writer cuts it off.

Every event read is validated field by field: a line of the wrong shape is refused with
:class:`~petri_exec.errors.JournalError` naming the file and line, never a traceback. A
journal path that is not a regular file (a directory, FIFO, device, dangling symlink) is
refused the same way.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ..errors import JournalError
from ..run.jsonio import fsync_dir, open_regular

__all__ = [
    "DIGEST_KINDS",
    "EVENT_KINDS",
    "Event",
    "Journal",
    "journal_path",
    "open_for_reading",
    "read_journal",
]

#: Every event kind.
EVENT_KINDS = (
    "journal_started",
    "transition_started",
    "transition_fired",
    "transition_failed",
    "net_completed",
    "net_halted",
    "net_deadlocked",
    "net_paused",
    "checkpoint",
    "run_abandoned",
    "slice_reset",
    "plan_amended",
)

#: Kinds that record the digest of the run.json they go with (written just before it).
DIGEST_KINDS = frozenset({"journal_started", "checkpoint", "run_abandoned", "slice_reset",
                          "plan_amended"})

_STR = (str,)
_INT = (int,)
_NUM = (int, float)


@attrs.frozen
class Event:
    """One thing that happened to a run.

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
        reason: Why it failed, halted, deadlocked, paused, was abandoned or reset.
        detail: Extra text for a failure (e.g. the land port's own message).
        run_status: The run's status after the event (terminal events, checkpoints).
        digest: SHA-256 (hex) of the run.json bytes written with this event
            (:data:`DIGEST_KINDS`).
        identity: The run's identity (``journal_started``).
        run_file: The run file's name (``journal_started``).
        origin: The digest of the run file before its identity was stamped into it
            (``journal_started`` of a run file's first drive): a reader that read the
            file just before the stamp still finds its place.
        attempts: Attempts so far of transitions not yet fired (``checkpoint``), so that
            loading never needs the events before the last checkpoint.
        slices: Slice ids reset (``slice_reset``).
        change: What an operation changed (``slice_reset``: the transitions reset and
            their facts; ``plan_amended``: slices added, removed and changed).
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
    digest: str | None = None
    identity: str | None = None
    run_file: str | None = None
    origin: str | None = None
    attempts: Mapping[str, int] | None = None
    slices: tuple[str, ...] | None = None
    change: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON object, fields that do not apply left out."""
        out = {k: v for k, v in attrs.asdict(self, recurse=False).items() if v is not None}
        if self.slices is not None:
            out["slices"] = list(self.slices)
        return out

    @classmethod
    def from_json(cls, data: Any) -> Event:
        """Rebuild an event from :meth:`to_json` output, checking every field's type.

        Raises:
            JournalError: Not an object, unknown kind, missing, unknown or mistyped fields.
        """
        if not isinstance(data, dict):
            raise JournalError(f"an event must be a JSON object, got {_kind(data)}")
        kind = data.get("kind")
        if kind not in EVENT_KINDS:
            raise JournalError(f"unknown event kind {kind!r}")
        unknown = sorted(set(data) - _FIELDS)
        if unknown:
            raise JournalError(f"unknown field {unknown[0]!r} in a {kind} event")
        for name in ("seq", "time", "run_id"):
            if name not in data:
                raise JournalError(f"a {kind} event lacks {name!r}")
        for name, types in _SCALARS.items():
            v = data.get(name)
            if v is not None and (not isinstance(v, types) or isinstance(v, bool)):
                raise JournalError(f"{name!r} of a {kind} event must be "
                                   f"{_TYPE_NAMES[types]}, got {_kind(v)}")
        if data["seq"] < 0 or not math.isfinite(data["time"]):
            raise JournalError(f"a {kind} event has seq {data['seq']!r} and time "
                               f"{data['time']!r}: expected seq >= 0 and a finite time")
        for name in ("consumed", "produced", "attempts"):
            v = data.get(name)
            if v is not None and not (isinstance(v, dict) and all(
                    type(n) is int for n in v.values())):
                raise JournalError(f"{name!r} of a {kind} event must map names to integers")
        for name in ("facts", "change"):
            v = data.get(name)
            if v is not None and not isinstance(v, dict):
                raise JournalError(f"{name!r} of a {kind} event must be an object, "
                                   f"got {_kind(v)}")
        slices = data.get("slices")
        if slices is not None:
            if not (isinstance(slices, list) and all(isinstance(s, str) for s in slices)):
                raise JournalError(f"'slices' of a {kind} event must be a list of slice ids")
            data = {**data, "slices": tuple(slices)}
        return cls(**data)


_FIELDS = frozenset(f.name for f in attrs.fields(Event))
_SCALARS: dict[str, tuple[type, ...]] = {
    "seq": _INT, "time": _NUM, "run_id": _STR, "transition": _STR, "attempt": _INT,
    "reason": _STR, "detail": _STR, "run_status": _STR, "digest": _STR, "identity": _STR,
    "run_file": _STR, "origin": _STR, "kind": _STR,
}
_TYPE_NAMES = {_STR: "a string", _INT: "an integer", _NUM: "a number"}


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "an object"}.get(type(v), type(v).__name__)


def journal_path(run_path: str | os.PathLike[str]) -> Path:
    """``<run stem>.events.jsonl`` beside the run file (a symbolic link is resolved first,
    so a run reached through a link has the same journal).

    Args:
        run_path: The run file.

    Returns:
        The journal's path.
    """
    p = Path(os.path.realpath(run_path))
    return p.with_name(f"{p.stem}.events.jsonl")


def parse_line(line: bytes, where: str) -> Event:
    """One journal line as a validated event.

    Args:
        line: The line's bytes (without its newline).
        where: ``file: line N`` (or a byte offset), for the message.

    Returns:
        The event.

    Raises:
        JournalError: The line is not a valid event; the message names ``where``.
    """
    try:
        return Event.from_json(json.loads(line))
    except (ValueError, RecursionError, JournalError) as e:
        raise JournalError(f"{where}: not a valid event ({e}); the journal is damaged: "
                           "restore it from a backup, or start a new one with "
                           "drive --fresh (the old one is kept)") from None


def open_for_reading(path: str | os.PathLike[str]) -> int | None:
    """Open a journal for reading: a descriptor, or None when there is no journal.

    Raises:
        JournalError: The path is a dangling symbolic link, not a regular file (a directory,
            FIFO, device: never blocks), or cannot be opened.
    """
    file = os.fspath(path)
    try:
        return open_regular(file, os.O_RDONLY)
    except FileNotFoundError as e:
        if e.strerror and "symbolic link" in e.strerror:
            raise JournalError(f"{file}: the journal is {e.strerror}; remove the link or "
                               "restore its target") from None
        return None
    except OSError as e:
        what = e.strerror if e.errno == errno.EINVAL else f"cannot read it: {e.strerror}"
        raise JournalError(f"{file}: the journal is {what}; move it aside (it must be a "
                           "regular file)") from None


def read_journal(path: str | os.PathLike[str]) -> tuple[list[Event], bool]:
    """Read a whole journal (``history`` and tools; loading a run reads only its tail).

    Args:
        path: The journal file (a missing file is an empty journal).

    Returns:
        The events, and whether a torn last line was found (and ignored).

    Raises:
        JournalError: The path is not a regular file, cannot be read, or a line other
            than the last is not a valid event; the message names the file and line.
    """
    fd = open_for_reading(path)
    if fd is None:
        return [], False
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    except OSError as e:
        raise JournalError(f"{os.fspath(path)}: cannot read the journal: {e.strerror}; "
                           "it must be a readable regular file") from None
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    lines = raw.split(b"\n")
    torn = lines[-1] != b""
    return [parse_line(line, f"{os.fspath(path)}: line {n}")
            for n, line in enumerate(lines[:-1], start=1)], torn


def encode(event: Event) -> bytes:
    """The journal line of ``event`` (with its newline)."""
    return (json.dumps(event.to_json(), ensure_ascii=False, sort_keys=True,
                       allow_nan=False) + "\n").encode("utf-8")


class Journal:
    """An open journal: appends one JSON line per event with a single unbuffered write.

    With ``fsync=True`` (the default) each line is synced to disk before :meth:`append`
    returns. After a failed append the journal refuses further appends (a partial line
    may have been written; the next opener cuts it off).
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        """Open ``path`` for appending (created if missing).

        Args:
            path: The journal file.
            fsync: Sync every appended event to disk.

        Raises:
            JournalError: The path is not a regular file or cannot be opened for writing.
        """
        self.path = Path(path)
        self._fsync = fsync
        self._broken: BaseException | None = None
        existed = self.path.exists()
        try:
            self._fd = open_regular(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        except OSError as e:
            raise JournalError(f"{self.path}: cannot open the journal for writing: "
                               f"{e.strerror}; it must be a writable regular file") from None
        try:
            self.torn = _drop_torn_tail(self._fd)
            self.size = os.fstat(self._fd).st_size
            if not existed:
                fsync_dir(self.path.parent)
        except OSError:
            os.close(self._fd)
            raise

    def append(self, event: Event, *, sync: bool = True) -> None:
        """Append ``event`` as one line.

        Args:
            event: The event.
            sync: With a syncing journal, sync it now (False: the caller calls
                :meth:`sync` once for a group of appends, a *group commit*; the line is
                written to the OS at once either way).

        Raises:
            OSError: The write failed (e.g. the disk is full); the journal is then closed
                to appends.
            ValueError: The event holds a value JSON cannot represent.
        """
        if self._broken is not None:
            raise OSError(f"journal {self.path} failed earlier ({self._broken}); "
                          "nothing more is appended")
        line = encode(event)
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view):]
            if self._fsync and sync:
                os.fsync(self._fd)
        except OSError as e:
            self._broken = e
            raise
        self.size += len(line)

    def sync(self) -> None:
        """Sync every line appended so far to disk (a no-op without ``fsync``).

        Raises:
            OSError: The sync failed; the journal is then closed to appends.
        """
        if self._broken is not None:
            raise OSError(f"journal {self.path} failed earlier ({self._broken}); "
                          "nothing more is appended")
        if not self._fsync:
            return
        try:
            os.fsync(self._fd)
        except OSError as e:
            self._broken = e
            raise

    def close(self) -> None:
        """Close the file (idempotent; never raises)."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1


def _drop_torn_tail(fd: int) -> bool:
    """Cut a torn last line (no trailing newline) so the next append starts clean."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return False
    keep = 0
    pos = size
    while pos > 0:
        start = max(0, pos - 65536)
        chunk = os.pread(fd, pos - start, start)
        i = chunk.rfind(b"\n")
        if i >= 0:
            keep = start + i + 1
            break
        pos = start
    os.ftruncate(fd, keep)
    return True
