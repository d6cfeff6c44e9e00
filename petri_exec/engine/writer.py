"""The writing side of a run file: the lock, the journal, checkpoints and the run's identity.

A :class:`RunWriter` is what a driver or an operation (abandon, retry, amend) holds while
it changes a run. It checks before anything is written that it can write everything it
needs (the directory, the journal), refuses run file names that collide with the run's own
sibling files, removes the temp files a killed checkpoint left (exact names only), gives a
new journal its header (minting the run's identity on its first drive), and writes
checkpoints in the order that lets readers go without a lock: the event with the new
file's digest first, then the new file (locked before it is renamed into place).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs

from ..errors import JournalError, RunPathError, UsageError
from ..run.jsonio import TEMP_MARK, dump_run, is_temp_file_of, write_atomic
from ..run.model import Run
from ..run.runfile import load_file
from .durable import Durable, digest_of, load_durable
from .journal import Event, Journal, journal_path
from .lock import RunLock, run_lock

__all__ = [
    "RunWriter",
    "check_sibling_names",
    "move_journal_aside",
    "sibling_names",
    "start_fresh",
]


def sibling_names(path: Path) -> dict[str, str]:
    """The files petri-exec keeps beside a run file, by role.

    Args:
        path: The run file.

    Returns:
        ``{"journal": <stem>.events.jsonl, "work directory": <stem>.work,
        "PNML export": <stem>.pnml}``.
    """
    stem = path.stem
    return {"journal": f"{stem}.events.jsonl", "work directory": f"{stem}.work",
            "PNML export": f"{stem}.pnml"}


def check_sibling_names(path: Path) -> None:
    """Refuse a run file whose name is one of its own sibling files' names.

    Raises:
        UsageError: e.g. a run file named ``plan.pnml`` (its PNML export would replace
            it) or ``x.work``.
    """
    for role, name in sibling_names(path).items():
        if name == path.name:
            raise UsageError(f"{path}: a run file cannot be named {name!r}: that is the name "
                             f"of its own {role}; rename it (e.g. {path.stem}.json)")
    if TEMP_MARK in path.name:
        raise UsageError(f"{path}: a run file's name cannot contain {TEMP_MARK!r} (reserved "
                         "for temp files); rename it")


def _check_writable(directory: Path) -> None:
    probe = directory / f".petri-exec-probe.{secrets.token_hex(8)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError as e:
        raise RunPathError(f"{directory}: cannot write in the run's directory "
                           f"({e.strerror}); the journal and checkpoints are written beside "
                           "the run file: make the directory writable") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def remove_stale_temp_files(path: Path) -> None:
    """Remove the temp files a killed checkpoint of ``path`` left (held lock: none live)."""
    with contextlib.suppress(OSError), os.scandir(path.parent) as entries:
        for entry in entries:
            if is_temp_file_of(entry.name, path.name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)


def move_journal_aside(path: Path) -> Path | None:
    """Rename the run's journal to ``<stem>.events.<UTC time>[.N].jsonl`` (``--fresh``).

    Args:
        path: The run file.

    Returns:
        The new name, or None when there was no journal.
    """
    jpath = journal_path(path)
    if not os.path.lexists(jpath):
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for n in range(1000):
        target = jpath.with_name(f"{path.stem}.events.{stamp}{'.' + str(n) if n else ''}.jsonl")
        if not os.path.lexists(target):
            os.rename(jpath, target)
            return target
    raise RunPathError(f"{jpath}: cannot find a free name to move the journal aside")


class RunWriter:
    """The lock, the journal and checkpoints of one run file, for one driver or operation.

    Nothing is written until the first event is recorded: a command refused after the
    writer exists (a transition that is not enabled, say) modifies nothing.
    """

    def __init__(self, durable: Durable, lock: RunLock, *, fsync: bool = True,
                 observe: Callable[[Event], None] | None = None) -> None:
        """Check that everything can be written; open nothing yet.

        Args:
            durable: The run as loaded under ``lock``.
            lock: The run file's lock (kept across checkpoints).
            fsync: Sync every journal append.
            observe: Called with every event appended (the header and checkpoints too).

        Raises:
            UsageError: The run file's name collides with one of its sibling files.
            RunPathError: The directory cannot be written.
        """
        self.path = durable.path
        check_sibling_names(self.path)
        _check_writable(self.path.parent)
        self.lock = lock
        self._fsync = fsync
        self._observe = observe
        self._durable = durable
        self.journal: Journal | None = None
        self._unsynced: list[Event] = []  # recorded, not yet synced nor observed
        self.seq = durable.last_seq + 1
        self.run_id = durable.run.run_id
        self._new = durable.last_seq < 0 and not durable.header
        #: The run's identity: as loaded, or minted now for a run file's first journal.
        self.identity = durable.run.identity
        if self.identity is None and self._new:
            self.identity = uuid.uuid4().hex
        remove_stale_temp_files(self.path)

    def _open(self) -> Journal:
        try:
            journal = Journal(journal_path(self.path), fsync=self._fsync)
        except JournalError as e:
            raise RunPathError(str(e)) from None
        self.journal = journal
        run = self._durable.run
        if self._new and journal.size == 0:
            digest = origin = self._durable.digest
            if run.identity != self.identity:  # stamp the identity before the header
                data = dump_run(attrs.evolve(run, identity=self.identity))
                self._replace(data)
                digest = digest_of(data)
            self._append(Event(kind="journal_started", seq=self.seq, time=time.time(),
                               run_id=run.run_id, identity=self.identity,
                               run_file=self.path.name, digest=digest,
                               origin=origin if origin != digest else None,
                               run_status=run.status))
        elif self._durable.edited:
            self._append(Event(kind="checkpoint", seq=self.seq, time=time.time(),
                               run_id=run.run_id, digest=self._durable.digest,
                               run_status=run.status, reason="run.json changed outside "
                               "petri-exec since the last checkpoint"))
        return journal

    def _append(self, event: Event, sync: bool = True) -> None:
        journal = self.journal if self.journal is not None else self._open()
        try:
            journal.append(event, sync=sync)
        except OSError as e:
            raise _append_failed(journal, e) from None
        self.seq += 1
        if not sync:  # observed once durable (sync())
            self._unsynced.append(event)
            return
        self._flush_observers()
        if self._observe is not None:
            self._observe(event)

    def _flush_observers(self) -> None:
        """Pass the events of a group that is now durable to the observer, in order."""
        if not self._unsynced:
            return
        events, self._unsynced = self._unsynced, []
        if self._observe is not None:
            for event in events:
                self._observe(event)

    def sync(self) -> None:
        """End a group commit: sync the journal once for every event recorded with
        ``sync=False`` since the last sync, then pass them to the observer.

        Raises:
            RunPathError: The journal cannot be synced; nothing after the last synced
                event is durable.
        """
        if not self._unsynced or self.journal is None:
            return
        try:
            self.journal.sync()
        except OSError as e:
            raise _append_failed(self.journal, e) from None
        self._flush_observers()

    def record(self, kind: str, sync: bool = True, **fields: Any) -> Event:
        """Journal one event (the journal is opened, and given its header, on first use).

        Args:
            kind: The event's kind.
            sync: Sync it now (and everything recorded before it); False leaves it to the
                next :meth:`sync` or synced record (a group commit), and the observer sees
                it only then.
            **fields: Its other fields (seq, time and run_id are filled in).

        Returns:
            The event appended.

        Raises:
            RunPathError: The journal cannot be written (e.g. the disk is full); nothing
                after the last appended event is durable.
        """
        if self.journal is None:
            self._open()
        event = Event(kind=kind, seq=self.seq, time=time.time(), run_id=self.run_id, **fields)
        self._append(event, sync)
        return event

    def _replace(self, data: bytes) -> None:
        try:
            fd = write_atomic(self.path, data, keep_locked=True)
        except OSError as e:
            raise RunPathError(f"{self.path}: cannot write the checkpoint ({e.strerror}); "
                               "the journal holds every firing: free space or fix "
                               "permissions, then drive again") from None
        self.lock.swap(fd if fd is not None else -1)

    def checkpoint(self, run: Run, kind: str = "checkpoint", **fields: Any) -> Event:
        """Journal ``kind`` with the digest of the new run.json, then write it.

        Args:
            run: The run to write.
            kind: ``checkpoint`` or an operation (``run_abandoned``, ``slice_reset``,
                ``plan_amended``).
            **fields: The event's other fields.

        Returns:
            The event journaled (with the new file's digest).

        Raises:
            RunPathError: The journal or run.json cannot be written; run.json is then
                untouched (the journaled digest matches nothing, which readers skip).
        """
        data = dump_run(run)
        event = self.record(kind, digest=digest_of(data), run_status=run.status, **fields)
        self._replace(data)
        return event

    def close(self) -> None:
        """Close the journal (the lock is its owner's to release)."""
        if self.journal is not None:
            self.journal.close()


def _append_failed(journal: Journal, e: OSError) -> RunPathError:
    return RunPathError(f"{journal.path}: cannot append to the journal "
                        f"({e.strerror or e}); the run is as of its last journaled "
                        "event: free space or fix permissions, then drive again")


def start_fresh(path: str | os.PathLike[str], *,
                template_dirs: Iterable[str | os.PathLike[str]] = ()) -> Path | None:
    """Give a run file a new journal and a new identity (``drive --fresh``).

    The firings the old journal holds beyond run.json are kept when that journal is the
    run's own (it is replayed first); a journal that is another run's, or contradicts
    run.json, is only moved aside. Order: run.json (with its new identity) is written
    first, then the old journal is renamed to ``<stem>.events.<UTC time>.jsonl``, then the
    new journal gets its header: a crash between the steps loses nothing.

    Args:
        path: The run file.
        template_dirs: Extra template directories.

    Returns:
        Where the old journal went, or None when there was none.

    Raises:
        RunFileError: run.json itself is invalid.
        RunLockedError: Another driver holds the run.
        RunPathError: The directory cannot be written.
    """
    with run_lock(path) as lock:
        real = lock.path
        check_sibling_names(real)
        _check_writable(real.parent)
        try:
            run = load_durable(real, template_dirs=template_dirs).run
        except JournalError:
            run = load_file(real, template_dirs=template_dirs)[1]
        run = attrs.evolve(run, identity=uuid.uuid4().hex)
        data = dump_run(run)
        try:
            lock.swap(write_atomic(real, data, keep_locked=True) or -1)
            moved = move_journal_aside(real)
            journal = Journal(journal_path(real))
        except OSError as e:
            raise RunPathError(f"{real}: cannot start a new journal ({e.strerror or e})"
                               ) from None
        try:
            journal.append(Event(
                kind="journal_started", seq=0, time=time.time(), run_id=run.run_id,
                identity=run.identity, run_file=real.name, digest=digest_of(data),
                run_status=run.status,
                reason=None if moved is None else f"--fresh: the previous journal is "
                f"{moved.name}"))
        finally:
            journal.close()
        return moved
