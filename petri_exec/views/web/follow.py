"""Following a run while another process drives it: the journal, read as it grows.

:class:`RunFollower` loads a run once (its journal, then run.json as ``load_run`` reads it),
then reads only the bytes appended to ``<run stem>.events.jsonl`` since the last look and
applies each firing to its own copy of the run. run.json is not polled: it is read again
only when its ``stat`` changed, and then only to compare its digest with the checkpoints the
journal announced (a drive's checkpoint holds nothing the follower lacks). The run is read
whole again only when something other than a firing changed it: an edit by hand, a
``journal_started`` (the first drive stamps the run's identity), ``slice_reset`` or
``plan_amended`` event, the journal replaced or cut, a firing it cannot apply. A run file
that disappears or breaks is an ``error`` (a line for the page), never an exception: the
follower keeps its last good state and recovers by itself when the file comes back. Each
look costs one ``stat``, one ``open`` and the new bytes.
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Iterable
from pathlib import Path

from ...core.compile import compile_run, marking_of
from ...core.net import Net
from ...core.schedulers import PetriScheduler
from ...engine.durable import digest_of, load_durable
from ...engine.journal import Event, journal_path, parse_line
from ...engine.live import LiveRun
from ...errors import JournalError, PetriExecError, RunFileError, UnknownTransitionError
from ...run.jsonio import open_regular, read_regular
from ...run.model import Run
from ...run.templates import Template
from ..htmlreport import last_failure
from ..netview import Overlay
from ..runstats import RunStats

__all__ = ["RunFollower"]

#: Events kept for the timeline (older ones are counted, not kept).
KEEP_EVENTS = 500
#: Events that change nothing in run.json (any other kind but a firing, an abandon or a
#: checkpoint rewrites it: ``journal_started`` stamps the run's identity, ``slice_reset``
#: and ``plan_amended`` change the plan; the follower then reads the run again).
_QUIET = ("transition_started", "transition_failed", "net_completed", "net_halted",
          "net_deadlocked", "net_paused")


def _signature(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class _Reload(Exception):
    """Something other than a firing changed the run: load it again."""


class RunFollower:
    """One run file, followed through its journal.

    Attributes:
        path: The run file.
        version: Bumped whenever what the page shows changes.
        error: Why the run cannot be shown now (file gone, damaged), else None.
        run: The run as of the last event read (None until it loaded once).
        template: Its template.
        net: Its compiled net.
        overlay: Enabled, fired and failed transitions.
        events: The last :data:`KEEP_EVENTS` events, oldest first.
        total: How many events the journal holds.
        torn: Whether the journal ends in a torn line (a crash mid-append).
        stats: Attempts, timing and logs per slice.
    """

    def __init__(self, path: str | os.PathLike[str],
                 template_dirs: Iterable[str | os.PathLike[str]] = ()) -> None:
        """Follow ``path`` (nothing is read until :meth:`poll`).

        Args:
            path: The run file.
            template_dirs: Extra template directories.
        """
        self.path = Path(path)
        self.journal = journal_path(path)
        self._dirs = tuple(template_dirs)
        self.version = 0
        self.error: str | None = None
        self.run: Run | None = None
        self.template: Template | None = None
        self.net: Net | None = None
        self.overlay = Overlay()
        self.events: collections.deque[Event] = collections.deque(maxlen=KEEP_EVENTS)
        self.total = 0
        self.torn = False
        self.stats: RunStats | None = None
        self._live: LiveRun | None = None
        self._fired: set[str] = set()
        self._offset = 0
        self._journal_id: tuple[int, int] | None = None
        self._run_sig: tuple[int, int, int, int] | None = None
        self._digest = ""
        self._checkpoints: collections.deque[str] = collections.deque(maxlen=8)
        self._dirty = False
        #: How many times the run was read whole (the first load included).
        self.loads = 0

    def poll(self) -> bool:
        """Look at the files once and apply what changed.

        Returns:
            Whether the state (or the error) changed; :attr:`version` is bumped then.
        """
        before = self.error
        try:
            if self.run is None:
                self._stat()
                self._load()
            else:
                try:
                    self._follow()
                except _Reload:
                    self._load()
                sig = self._stat()
                if sig != self._run_sig and not self._explained(sig):
                    self._load()
            self.error = None
        except PetriExecError as e:
            self.error = str(e)
        changed = self._dirty or before != self.error
        if changed:
            self.version += 1
        self._dirty = False
        return changed

    def _stat(self) -> tuple[int, int, int, int]:
        """run.json's identity and size now."""
        try:
            return _signature(os.stat(self.path))
        except FileNotFoundError:
            raise RunFileError("the run file is gone (deleted or moved); put it back and this "
                               "page recovers", file=str(self.path)) from None
        except OSError as e:
            raise RunFileError(f"cannot read the run file ({e.strerror})",
                               file=str(self.path)) from None

    def _explained(self, sig: tuple[int, int, int, int]) -> bool:
        """Whether run.json, changed on disk, holds a state this follower already has: the
        same bytes, or a checkpoint of events already applied (its digest was journaled)."""
        try:
            digest = digest_of(read_regular(self.path))
        except OSError:
            return False
        if digest == self._digest or digest in self._checkpoints:
            self._run_sig, self._digest = sig, digest
            return True
        return False

    def _load(self) -> None:
        """Read the journal, then the run as ``load_run`` does (retried: a drive may write
        between the two reads). Firings journaled after the first read are applied again
        when followed, and skipped when the run already holds them."""
        for attempt in range(3):
            sig = self._stat()
            try:
                raw, journal_id = self._read_journal()
                durable = load_durable(self.path, template_dirs=self._dirs)
                break
            except JournalError:
                if attempt == 2:
                    raise
                time.sleep(0.05)
            except OSError as e:
                raise RunFileError(f"cannot read the run file ({e.strerror})",
                                   file=str(self.path)) from None
        end = raw.rfind(b"\n") + 1
        events = [parse_line(line, f"{self.journal}: line {n}")
                  for n, line in enumerate(raw[:end].split(b"\n")[:-1], start=1)]
        self.loads += 1
        self.run, self.template = durable.run, durable.template
        self.net = compile_run(durable.run, template=durable.template)
        self._live = LiveRun(durable.run, durable.template)
        self.events.clear()
        self.events.extend(events)
        self.total = len(events)
        self.torn = end < len(raw)
        self.stats = RunStats(self.net, events)
        self._fired = {e.transition for e in events
                       if e.kind == "transition_fired" and e.transition}
        self._checkpoints = collections.deque(
            (e.digest for e in events if e.kind == "checkpoint" and e.digest), maxlen=8)
        self._run_sig, self._digest = sig, durable.digest
        self._offset, self._journal_id = end, journal_id
        self._refresh()

    def _read_journal(self) -> tuple[bytes, tuple[int, int] | None]:
        """The journal's bytes and identity (none yet: empty)."""
        try:
            fd = open_regular(self.journal, os.O_RDONLY)
        except FileNotFoundError:
            return b"", None
        except OSError as e:
            raise JournalError(f"{self.journal}: cannot read the journal ({e.strerror})") \
                from None
        try:
            st = os.fstat(fd)
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            return b"".join(chunks), (st.st_dev, st.st_ino)
        finally:
            os.close(fd)

    def _follow(self) -> None:
        """Apply the events appended since the last look."""
        try:
            fd = open_regular(self.journal, os.O_RDONLY)
        except FileNotFoundError:
            if self._offset:
                raise _Reload from None
            return
        except OSError as e:
            raise JournalError(f"{self.journal}: cannot read the journal ({e.strerror})") \
                from None
        try:
            st = os.fstat(fd)
            if self._journal_id not in (None, (st.st_dev, st.st_ino)) \
                    or st.st_size < self._offset:
                raise _Reload
            self._journal_id = (st.st_dev, st.st_ino)
            chunks = []
            pos = self._offset
            while chunk := os.pread(fd, 1 << 20, pos):
                chunks.append(chunk)
                pos += len(chunk)
            data = b"".join(chunks)
        finally:
            os.close(fd)
        end = data.rfind(b"\n") + 1
        if (end < len(data)) != self.torn:
            self.torn = end < len(data)
            self._dirty = True
        if not end:
            return
        lines = data[:end].split(b"\n")[:-1]
        for n, line in enumerate(lines, start=self.total + 1):
            self._apply(parse_line(line, f"{self.journal}: line {n}"))
        self.total += len(lines)
        self._offset += end
        self._refresh()

    def _apply(self, e: Event) -> None:
        assert self._live is not None and self.net is not None and self.stats is not None
        if e.kind == "transition_fired":
            try:
                t = self.net.transition(e.transition or "")
            except UnknownTransitionError:
                raise _Reload from None
            if not self._live.applied(t):
                self._live.apply(t, e.facts or {})
            self._fired.add(t.name)
        elif e.kind == "run_abandoned":
            self._live.abandoned = e.reason or "abandoned"
        elif e.kind == "checkpoint":
            if e.digest:  # run.json is (or is about to be) these bytes: nothing new
                self._checkpoints.append(e.digest)
        elif e.kind not in _QUIET:
            raise _Reload
        self.events.append(e)
        self.stats.add(e)

    def _refresh(self) -> None:
        """Rebuild the run value and the overlay after a batch of events (O(net))."""
        assert self._live is not None and self.net is not None
        self.run = self._live.snapshot()
        failed, reason = last_failure(list(self.events))
        marking = marking_of(self.run)
        enabled = frozenset(t.name for t in PetriScheduler(self.net).ready(marking)) \
            if self.run.abandoned is None else frozenset()
        assert self.stats is not None
        running = frozenset(n for lane in self.stats.lanes.values() for n in lane.running)
        self.overlay = Overlay(enabled=enabled, fired=frozenset(self._fired), failed=failed,
                               failed_reason=reason, running=running)
        self._dirty = True
