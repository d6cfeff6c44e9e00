"""Durability: the journal is the run's write-ahead log, run.json its checkpoint.

- A firing is durable once its ``transition_fired`` event is appended (and, by default,
  fsync-ed) to ``<run stem>.events.jsonl``. run.json is rewritten atomically only at
  checkpoints, each followed by a ``checkpoint`` event.
- Loading a run = run.json plus the ``transition_fired`` events after the last
  ``checkpoint``, replayed through the net: an event whose firing run.json already holds
  (its lane is at or past the step's target) is skipped; one that is neither applied nor
  enabled, or names an unknown transition, is refused with :class:`JournalError`.
- One driver per run: an exclusive ``flock`` on ``<run stem>.lock``, released by the OS
  when the holder dies.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import attrs

from ..core.compile import compile_checked, marking_of
from ..core.runnet import RunNet
from ..errors import JournalError, RunLockedError, UnknownTransitionError
from ..run.model import Run
from ..run.runfile import load_checked
from ..run.templates import Template
from .journal import Event, journal_path, read_journal
from .live import LiveRun

__all__ = ["Durable", "load_durable", "load_run", "lock_path", "run_lock"]


@attrs.frozen
class Durable:
    """The durable state of a run file.

    Attributes:
        run: run.json with the journal's later firings applied.
        template: Its template.
        deps: Each slice's effective dependencies.
        events: Every event of the journal.
        torn: Whether the journal's last line was torn (and ignored).
        replayed: How many firings came from the journal rather than run.json.
    """

    run: Run
    template: Template
    deps: list[tuple[int, ...]]
    events: list[Event]
    torn: bool
    replayed: int


def load_durable(
    path: str | os.PathLike[str], *, template_dirs: Iterable[str | os.PathLike[str]] = ()
) -> Durable:
    """Read run.json and replay the journal's firings after its last checkpoint.

    Args:
        path: The run file.
        template_dirs: Extra template directories.

    Returns:
        The durable state.

    Raises:
        RunFileError: run.json is invalid.
        JournalError: The journal is damaged or contradicts the run.
    """
    run, template, deps = load_checked(path, template_dirs=template_dirs)
    jpath = journal_path(path)
    events, torn = read_journal(jpath)
    last = -1
    for i in range(len(events) - 1, -1, -1):
        if events[i].kind == "checkpoint":
            last = i
            break
    tail = [(i, e) for i, e in enumerate(events[last + 1:], start=last + 1)
            if e.kind in ("transition_fired", "run_abandoned")]
    if not tail:
        return Durable(run, template, deps, events, torn, 0)
    net = compile_checked(run, template, False, deps)
    live = LiveRun(run, template, net.slice_of if isinstance(net, RunNet) else None)
    state = net.state(marking_of(run))
    replayed = 0
    for i, e in tail:
        where = f"{jpath}: line {i + 1}"
        if e.kind == "run_abandoned":
            live.abandoned = e.reason or "abandoned"
            continue
        if e.run_id != run.run_id:
            raise JournalError(f"{where}: event of run {e.run_id!r}, not {run.run_id!r}: this "
                               "journal belongs to another run; move it aside")
        try:
            t = net.transition(e.transition or "")
        except UnknownTransitionError:
            raise JournalError(f"{where}: unknown transition {e.transition!r}: the journal "
                               f"does not match {os.fspath(path)}; move it aside") from None
        if state.is_enabled(t):
            state.fire(t)
            live.apply(t, e.facts or {})
            replayed += 1
        elif not live.applied(t):
            lacking = ", ".join(p for p, _, _ in state.missing(t))
            raise JournalError(f"{where}: {t.name!r} fired but was not enabled (missing "
                               f"{lacking}): the journal contradicts {os.fspath(path)}; "
                               "restore the matching run.json or move the journal aside")
    return Durable(live.snapshot(), template, deps, events, torn, replayed)


def lock_path(path: str | os.PathLike[str]) -> Path:
    """``<run stem>.lock`` beside the run file."""
    p = Path(path)
    return p.with_name(f"{p.stem}.lock")


@contextlib.contextmanager
def run_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the run's exclusive lock for the duration of the block.

    The lock is an OS ``flock`` on ``<run stem>.lock`` (which records the holder's pid); the
    OS releases it when the holder exits or dies. The lock file is left in place.

    Raises:
        RunLockedError: Another process (or another drive in this one) holds the lock.
    """
    lpath = lock_path(path)
    fd = os.open(lpath, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            raise RunLockedError(
                f"{os.fspath(path)}: the run is locked by pid {holder} (another drive or "
                f"fire holds {lpath.name}); wait for it to finish or stop that process"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def load_run(
    path: str | os.PathLike[str], *, template_dirs: Iterable[str | os.PathLike[str]] = ()
) -> Run:
    """Read and validate a run: run.json plus the journal's firings after its last checkpoint.

    Args:
        path: The run.json file (its journal ``<stem>.events.jsonl`` is read if present).
        template_dirs: Extra directories to look up the run's template in.

    Returns:
        The validated, durable run, with every default filled in.

    Raises:
        RunFileError: The file is unreadable, not JSON, or breaks a rule of the format.
        JournalError: The journal is damaged or contradicts run.json.
    """
    from ..engine.durable import load_durable  # the journal layer builds on this module

    return load_durable(path, template_dirs=template_dirs).run
