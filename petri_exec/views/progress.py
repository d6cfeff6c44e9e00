"""Live progress of ``petri-exec drive``: a status board on a terminal, plain lines elsewhere.

:class:`LineProgress` prints one line per event (for logs, pipes and CI).
:class:`BoardProgress` redraws a small board in place: the run status, a progress bar of
completed slices, the number of slices in each slice status, what is running, the failed
step and the last few events. Both are ``on_event`` observers for :func:`petri_exec.drive`
and are safe to call from several threads.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections import Counter, deque
from typing import TextIO

from ..engine.journal import Event
from ..run.model import Run
from ..run.templates import Template
from .terminal import for_terminal

__all__ = ["BoardProgress", "LineProgress", "event_line"]


def event_line(e: Event) -> str:
    """One readable line for an event: ``[seq] kind transition (attempt n) reason=…``."""
    bits = [f"[{e.seq}]", e.kind]
    if e.kind == "journal_started":
        bits.append(f"run {e.run_id} ({e.run_file})")
    if e.transition:
        bits.append(e.transition)
    if e.attempt and e.attempt > 1:
        bits.append(f"(attempt {e.attempt})")
    if e.reason:
        bits.append(f"reason={e.reason}")
    if e.kind == "transition_fired" and e.facts:
        log = e.facts.get("log")
        if isinstance(log, str):
            bits.append(f"log={log}")
    return for_terminal(" ".join(bits))


class LineProgress:
    """Print one line per event to ``stream``.

    Args:
        stream: Where to write (flushed after each line).
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def __call__(self, e: Event) -> None:
        """Print the event's line."""
        with self._lock:
            self.stream.write(event_line(e) + "\n")
            self.stream.flush()

    def close(self) -> None:
        """Nothing to clean up (for symmetry with :class:`BoardProgress`)."""


class BoardProgress:
    """Redraw a status board of the run in place on a terminal (ANSI cursor movement).

    Args:
        run: The run as it is before the drive.
        template: Its template.
        stream: A terminal.
        interval_s: Redraw at most this often (terminal events always redraw).
        colour: Use ANSI colours (default: unless ``NO_COLOR`` is set).
    """

    def __init__(self, run: Run, template: Template, stream: TextIO, *,
                 interval_s: float = 0.1, colour: bool | None = None) -> None:
        self.run_id = run.run_id
        self.template = template
        self.stream = stream
        self.interval_s = interval_s
        self.colour = (not os.environ.get("NO_COLOR")) if colour is None else colour
        self.run_status = run.status
        self.slice_status = {s.id: s.status for s in run.slices}
        self.running: dict[str, float] = {}
        self.recent: deque[str] = deque(maxlen=5)
        self.failed: str | None = None
        self.fired = 0
        self.started = time.monotonic()
        self._lines = 0
        self._last_draw = 0.0
        self._lock = threading.Lock()

    def __call__(self, e: Event) -> None:
        """Record the event and redraw (throttled)."""
        with self._lock:
            self._apply(e)
            now = time.monotonic()
            terminal = e.kind.startswith("net_") or e.kind == "transition_failed"
            if terminal or now - self._last_draw >= self.interval_s:
                self._draw()
                self._last_draw = now

    def _apply(self, e: Event) -> None:
        if e.kind == "transition_started" and e.transition:
            self.running[e.transition] = time.monotonic()
            return
        if e.transition:
            self.running.pop(e.transition, None)
        if e.kind == "transition_fired":
            self.fired += 1
            self.failed = None
            for place in e.produced or {}:
                kind, _, rest = place.partition(":")
                if kind == "run":
                    self.run_status = rest
                else:
                    sid, _, status = rest.rpartition(":")
                    if sid in self.slice_status:
                        self.slice_status[sid] = status
        elif e.kind == "transition_failed":
            self.failed = for_terminal(f"{e.transition}: {e.reason}")
        if e.run_status:
            self.run_status = e.run_status
        self.recent.append(event_line(e))

    def _paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour else text

    def board(self) -> list[str]:
        """The board's lines (without colour codes when ``colour`` is False)."""
        counts = Counter(self.slice_status.values())
        total = len(self.slice_status)
        done = counts.get(self.template.slice.end, 0)
        width = 30
        filled = width * done // total if total else width
        bar = "\u2588" * filled + "\u2591" * (width - filled)
        pct = 100 * done // total if total else 100
        elapsed = time.monotonic() - self.started
        lines = [
            f"run {for_terminal(self.run_id)}  status {self._paint(self.run_status, '1')}  "
            f"{self.fired} fired  {elapsed:.1f}s",
            f"[{self._paint(bar, '32')}] {done}/{total} slices {self.template.slice.end} "
            f"({pct}%)",
            "slices: " + "  ".join(f"{st} {counts.get(st, 0)}"
                                   for st in self.template.slice.statuses
                                   if counts.get(st) or st in (self.template.slice.initial,
                                                               self.template.slice.end)),
        ]
        if self.running:
            names = sorted(self.running, key=self.running.__getitem__)
            shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more"
                                            if len(names) > 6 else "")
            lines.append(f"running: {shown}")
        if self.failed:
            lines.append(self._paint(f"failed: {self.failed}", "31"))
        lines.extend("  " + r for r in self.recent)
        return lines

    def _draw(self) -> None:
        cols = shutil.get_terminal_size((100, 24)).columns
        out = []
        if self._lines:
            out.append(f"\x1b[{self._lines}F")
        for line in self.board():
            out.append("\x1b[2K" + _clip(line, cols - 1) + "\n")
        new = len(out) - (1 if self._lines else 0)
        for _ in range(self._lines - new):
            out.append("\x1b[2K\n")
        self._lines = max(new, self._lines)
        self.stream.write("".join(out))
        self.stream.flush()

    def close(self) -> None:
        """Draw the final board."""
        with self._lock:
            self._draw()


def _clip(line: str, cols: int) -> str:
    """Cut ``line`` to ``cols`` visible characters (ANSI codes do not count)."""
    visible = 0
    out = []
    i = 0
    while i < len(line):
        if line[i] == "\x1b":
            j = line.find("m", i)
            j = len(line) - 1 if j < 0 else j
            out.append(line[i:j + 1])
            i = j + 1
            continue
        if visible >= cols:
            out.append("\x1b[0m" if "\x1b" in line else "")
            break
        out.append(line[i])
        visible += 1
        i += 1
    return "".join(out)
