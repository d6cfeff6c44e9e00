"""What ``visualize`` adds from the journal, and the self-contained HTML report.

:func:`overlay_for` reads the run's journal to find the fired transitions and the failed
step of the last halt. :func:`html_report` writes one HTML file that needs nothing else
when opened (no scripts, no stylesheets, fonts or images from elsewhere): the SVG inline,
a legend, a progress summary, the slice table and the journal.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter

from ..core.compile import marking_of
from ..core.net import Net
from ..core.schedulers import PetriScheduler
from ..engine.journal import Event, journal_path, read_journal
from ..run.model import Run
from ..run.templates import Template
from .netview import COLOURS, Overlay, html_escape, shorten
from .sliceview import STATES, slice_state

__all__ = ["html_report", "last_failure", "overlay_for"]

_TERMINAL = ("net_completed", "net_deadlocked", "net_paused", "net_halted")
_JOURNAL_ROWS = 2000


def last_failure(events: list[Event]) -> tuple[str | None, str | None]:
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


def overlay_for(run_path: str | os.PathLike[str], net: Net, run: Run) -> Overlay:
    """The overlay of a run file: enabled transitions now, fired ones from the journal,
    and the failed step of the last halt.

    Args:
        run_path: The run file (its journal is ``<stem>.events.jsonl`` beside it).
        net: The run's compiled net.
        run: The run as loaded from ``run_path``.

    Returns:
        The overlay.
    """
    events, _ = read_journal(journal_path(run_path))
    fired = frozenset(e.transition for e in events
                      if e.kind == "transition_fired" and e.transition)
    failed, reason = last_failure(events)
    enabled = frozenset(t.name for t in PetriScheduler(net).ready(marking_of(run)))
    return Overlay(enabled=enabled, fired=fired, failed=failed, failed_reason=reason)


_STYLE = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;font-size:0.9em}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td:first-child{white-space:nowrap}
.net{overflow:auto;border:1px solid #ddd;padding:4px;max-height:85vh}
.net svg{max-width:100%;height:auto}
.sw{display:inline-block;width:1.1em;height:1.1em;border:1px solid #555;
vertical-align:middle;margin-right:.4em}
.bar{width:30em;height:1em;border:1px solid #555;display:flex}
.bar span{display:block;height:100%}.failed{color:#c0392b;font-weight:bold}
code{font-size:0.95em}ul.legend{list-style:none;padding-left:0}ul.legend li{margin:3px 0}
"""


def _svg_inline(svg: bytes) -> str:
    text = svg.decode("utf-8")
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    start = text.find("<svg")
    return text[start:] if start >= 0 else ""


def _legend() -> str:
    e = html_escape
    items = [
        (COLOURS["marked"], "place holding a token (the current marking)"),
        (COLOURS["enabled"], "transition enabled now (green border)"),
        (COLOURS["fired"], "transition fired (from the journal)"),
        (COLOURS["failed"], "the failed step of the last halt (red, with its reason)"),
        (COLOURS["manual"], "manual gate (house shape): fire it with petri-exec fire"),
    ] + [(COLOURS[k], f"slice: {v}") for k, v in STATES.items()]
    lis = "".join(f'<li><span class="sw" style="background:{c}"></span>{e(t)}</li>'
                  for c, t in items)
    lis += ("<li>solid arrow: consuming arc (the token moves)</li>"
            "<li>dashed arc with a round head: read arc (the token is tested, "
            "not consumed: dependencies and the frontier)</li>")
    return f'<ul class="legend">{lis}</ul>'


def _summary(run: Run, template: Template, overlay: Overlay, events: list[Event]) -> str:
    e = html_escape
    states = Counter(slice_state(s, template, overlay) for s in run.slices)
    total = max(len(run.slices), 1)
    bar = "".join(f'<span style="width:{100 * states[k] / total:.2f}%;background:'
                  f'{COLOURS[k]}" title="{e(v)}"></span>' for k, v in STATES.items())
    counts = ", ".join(f"{states[k]} {v}" for k, v in STATES.items())
    out = (f"<p>run status <b>{e(run.status)}</b> · template <code>{e(run.template)}</code>"
           f" · {len(run.slices)} slices: {e(counts)}</p><div class=\"bar\">{bar}</div>")
    last = next((ev for ev in reversed(events) if ev.kind in _TERMINAL), None)
    if last is not None:
        out += f"<p>last drive: <b>{e(last.kind.removeprefix('net_'))}</b>"
        if last.transition:
            out += f" at <code>{e(last.transition)}</code>"
        if last.reason:
            out += f': <span class="failed">{e(last.reason)}</span>'
        out += "</p>"
    return out


def html_report(run: Run, template: Template, overlay: Overlay, svg: bytes,
                run_path: str | os.PathLike[str]) -> str:
    """One self-contained HTML page for a run.

    Args:
        run: The run.
        template: Its template.
        overlay: Enabled, fired and failed transitions.
        svg: The rendered picture (inlined; comments and the XML prolog are dropped).
        run_path: The run file (its journal is listed).

    Returns:
        The HTML text. It loads nothing from elsewhere: no scripts, no external
        stylesheets, images or fonts; every label is escaped.
    """
    e = html_escape
    events, torn = read_journal(journal_path(run_path))
    rows = []
    for s in run.slices:
        state = slice_state(s, template, overlay)
        facts = json.dumps(dict(s.facts), sort_keys=True) if s.facts else ""
        rows.append(
            f'<tr><td><span class="sw" style="background:{COLOURS[state]}"></span>'
            f"<code>{e(s.id)}</code></td><td>{e(s.title or '')}</td><td>{e(s.epic or '')}"
            f"</td><td>{e(s.status)}</td><td>{e(', '.join(s.depends_on))}</td>"
            f"<td>{e(str(s.facts.get('verdict', '')))}</td><td><code>{e(shorten(facts, 200))}"
            "</code></td></tr>")
    shown = events[-_JOURNAL_ROWS:]
    jrows = []
    for ev in shown:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ev.time))
        cls = ' class="failed"' if ev.kind in ("transition_failed", "net_halted") else ""
        facts = json.dumps(dict(ev.facts), sort_keys=True) if ev.facts else ""
        jrows.append(f"<tr{cls}><td>{ev.seq}</td><td>{e(when)}</td><td>{e(ev.kind)}</td>"
                     f"<td><code>{e(ev.transition or '')}</code></td>"
                     f"<td>{e(str(ev.attempt or ''))}</td><td>{e(ev.reason or '')}</td>"
                     f"<td><code>{e(shorten(facts, 200))}</code></td></tr>")
    note = ""
    if len(events) > len(shown):
        note += f"<p>showing the last {len(shown)} of {len(events)} events.</p>"
    if torn:
        note += "<p class=\"failed\">the journal's last line is torn and was ignored.</p>"
    failed = ""
    if overlay.failed:
        failed = (f'<p class="failed">failed step: <code>{e(overlay.failed)}</code>: '
                  f"{e(overlay.failed_reason or '')}</p>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{e(run.run_id)} · petri-exec</title><style>{_STYLE}</style></head><body>"
        f"<h1>run <code>{e(run.run_id)}</code></h1>"
        f"{_summary(run, template, overlay, events)}{failed}"
        f'<h2>Net</h2><div class="net">{_svg_inline(svg)}</div>'
        f"<h2>Legend</h2>{_legend()}"
        "<h2>Slices</h2><table><tr><th>slice</th><th>title</th><th>epic</th><th>status</th>"
        f"<th>depends on</th><th>verdict</th><th>facts</th></tr>{''.join(rows)}</table>"
        f"<h2>Journal</h2>{note}<table><tr><th>seq</th><th>time</th><th>event</th>"
        "<th>transition</th><th>attempt</th><th>reason</th><th>facts</th></tr>"
        f"{''.join(jrows)}</table></body></html>\n"
    )
