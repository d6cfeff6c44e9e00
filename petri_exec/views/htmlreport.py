"""What ``visualize`` adds from the journal, and the self-contained HTML report.

:func:`overlay_of` reads a run's events for the fired transitions and the failed step of
the last halt. :func:`html_report` writes one HTML file that needs nothing else when opened
(no scripts, no stylesheets, fonts or images from elsewhere): the run page of
:mod:`.runpage` (summary, the SVG inline, legend, waiting steps, slice board, journal),
drawn by the same renderer as the live page of ``petri-exec serve``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence

from ..core.compile import marking_of
from ..core.net import Net
from ..core.schedulers import PetriScheduler
from ..engine.journal import Event, journal_path, read_journal
from ..run.model import Run
from ..run.templates import Template
from .netview import Overlay
from .runpage import RunPage, report_html
from .runstats import RunStats

__all__ = ["html_report", "last_failure", "overlay_for", "overlay_of", "svg_inline"]

_TERMINAL = ("net_completed", "net_deadlocked", "net_paused", "net_halted")


def last_failure(events: Sequence[Event]) -> tuple[str | None, str | None]:
    """The failed transition of the last halt and its reason.

    Args:
        events: The journal, oldest first.

    Returns:
        ``(transition, reason)``, or ``(None, None)`` when there was no halt or a later
        firing or outcome superseded it.
    """
    for e in reversed(events):
        if e.kind == "net_halted":
            return e.transition, e.reason
        if e.kind in _TERMINAL or e.kind == "transition_fired":
            break
    return None, None


def overlay_of(events: Sequence[Event], net: Net, run: Run) -> Overlay:
    """The overlay of a run: enabled transitions now, fired ones from ``events``, the
    failed step of the last halt and the steps running now (nothing is enabled in an
    abandoned run).

    Args:
        events: The run's journal, oldest first.
        net: The run's compiled net.
        run: The run.

    Returns:
        The overlay.
    """
    fired = frozenset(e.transition for e in events
                      if e.kind == "transition_fired" and e.transition)
    failed, reason = last_failure(events)
    enabled = frozenset(t.name for t in PetriScheduler(net).ready(marking_of(run))) \
        if run.abandoned is None else frozenset()
    running = frozenset(n for lane in RunStats(net, events).lanes.values()
                        for n in lane.running)
    return Overlay(enabled=enabled, fired=fired, failed=failed, failed_reason=reason,
                   running=running)


def overlay_for(run_path: str | os.PathLike[str], net: Net, run: Run) -> Overlay:
    """:func:`overlay_of` the journal beside ``run_path`` (``<stem>.events.jsonl``).

    Args:
        run_path: The run file.
        net: The run's compiled net.
        run: The run as loaded from ``run_path``.

    Returns:
        The overlay.
    """
    events, _ = read_journal(journal_path(run_path))
    return overlay_of(events, net, run)


def svg_inline(svg: bytes) -> str:
    """Rendered SVG ready to inline in HTML: comments and the XML prolog dropped."""
    text = svg.decode("utf-8")
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    start = text.find("<svg")
    return text[start:] if start >= 0 else ""


def html_report(run: Run, template: Template, net: Net, overlay: Overlay, svg: bytes,
                run_path: str | os.PathLike[str], events: Sequence[Event], torn: bool,
                view: str) -> str:
    """One self-contained HTML page for a run.

    Args:
        run: The run.
        template: Its template.
        net: Its compiled net.
        overlay: Enabled, fired and failed transitions.
        svg: The rendered picture (inlined; comments and the XML prolog are dropped).
        run_path: The run file (named on the page).
        events: Its journal, oldest first.
        torn: Whether the journal's last line is torn.
        view: What the picture draws (``net`` or ``slices``).

    Returns:
        The HTML text. It loads nothing from elsewhere: no scripts, no external
        stylesheets, images or fonts; every label is escaped.
    """
    page = RunPage(name=os.fspath(run_path), run=run, template=template, net=net,
                   overlay=overlay, svg=svg_inline(svg), view=view, events=events,
                   total_events=len(events), torn=torn, stats=RunStats(net, events),
                   now=time.time())
    return report_html(page)
