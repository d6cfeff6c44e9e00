"""The run page: one HTML renderer for ``visualize -o run.html`` and ``petri-exec serve``.

A :class:`RunPage` holds what the page shows (the run, its picture, the journal's events
and per-slice statistics, the explanations of waiting steps); :func:`sections` renders it
as HTML fragments keyed by section id, which the self-contained report
(:func:`report_html`) lays out once and the live page swaps in as the run moves. Every
text is escaped here, once, for both; buttons (logs, why, actions) are drawn only for the
live page and carry their argument in ``data-`` attributes, never in script.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence

import attrs

from ..analysis import Why, why
from ..core.compile import marking_of
from ..core.net import Net
from ..engine.journal import Event
from ..run.model import Run, Slice
from ..run.templates import Template
from .netview import COLOURS, Overlay, html_escape, shorten
from .runstats import LaneStats, RunStats
from .sliceview import STATES, slice_state

__all__ = ["SECTIONS", "STYLE", "RunPage", "document", "duration_text", "legend_html",
           "report_html", "sections", "waiting_steps"]

#: The page's sections, in page order: (id, heading).
SECTIONS = (("summary", ""), ("picture", "Picture"), ("waiting", "Waiting"),
            ("slices", "Slices"), ("journal", "Journal"))
_TERMINAL = ("net_completed", "net_deadlocked", "net_paused", "net_halted")
_JOURNAL_ROWS = 2000

#: The stylesheet both pages use.
STYLE = """
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
pre.why{background:#f7f7f7;border:1px solid #ddd;padding:.5em;white-space:pre-wrap}
.running{color:#9a6b00}
"""


@attrs.frozen
class RunPage:
    """Everything the run page shows.

    Attributes:
        name: The run file, as the page names it.
        run: The run.
        template: Its template.
        net: Its compiled net.
        overlay: Enabled, fired and failed transitions.
        svg: The picture (inline SVG text), or ``""``.
        view: ``"net"`` or ``"slices"``: what the picture draws.
        events: The journal events to list, oldest first.
        total_events: How many events the journal holds.
        torn: Whether the journal ends in a torn line.
        stats: Attempts, timing and logs per slice.
        now: The time the page is drawn at (epoch seconds).
        live: Draw the live page's buttons (logs, why) instead of plain text.
        actions: Draw the action buttons (fire, retry, abandon).
        running_logs: Log files of steps in flight, by slice id (``""``: run lane).
    """

    name: str
    run: Run
    template: Template
    net: Net
    overlay: Overlay
    svg: str
    view: str
    events: Sequence[Event]
    total_events: int
    torn: bool
    stats: RunStats
    now: float
    live: bool = False
    actions: bool = False
    running_logs: Mapping[str, Sequence[str]] = attrs.field(factory=dict)


def duration_text(seconds: float) -> str:
    """``850 ms``, ``12.3 s``, ``4 min 05 s`` or ``2 h 03 min``."""
    if seconds < 1:
        return f"{max(seconds, 0) * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def waiting_steps(page: RunPage) -> list[Why]:
    """The run lane's next step and every manual gate, explained (enabled or what each
    waits for). Abandoned or finished runs have none."""
    run, lane = page.run, page.template.run
    if run.abandoned is not None:
        return []
    pos = lane.position(run.status)
    names = [st.name for st in lane.steps[pos:pos + 1]]
    names += [st.name for st in lane.steps[pos + 1:] if st.manual]
    marking = marking_of(run)
    return [why(page.net, marking, n) for n in names]


def _button(kind: str, label: str, **data: str) -> str:
    attrs_ = "".join(f' data-{k}="{html_escape(v)}"' for k, v in data.items())
    return f'<button type="button" class="{kind}"{attrs_}>{html_escape(label)}</button>'


def _summary(page: RunPage) -> str:
    e, run = html_escape, page.run
    states = Counter(slice_state(s, page.template, page.overlay) for s in run.slices)
    total = max(len(run.slices), 1)
    bar = "".join(f'<span style="width:{100 * states[k] / total:.2f}%;background:'
                  f'{COLOURS[k]}" title="{e(v)}"></span>' for k, v in STATES.items())
    counts = ", ".join(f"{states[k]} {v}" for k, v in STATES.items())
    out = (f"<p>run status <b>{e(run.status)}</b> · template <code>{e(run.template)}</code>"
           f" · {len(run.slices)} slices: {e(counts)}</p><div class=\"bar\">{bar}</div>")
    last = next((ev for ev in reversed(page.events) if ev.kind in _TERMINAL), None)
    if last is not None:
        out += f"<p>last drive: <b>{e(last.kind.removeprefix('net_'))}</b>"
        if last.transition:
            out += f" at <code>{e(last.transition)}</code>"
        if last.reason:
            out += f': <span class="failed">{e(last.reason)}</span>'
        out += "</p>"
    if run.abandoned is not None:
        out += f'<p class="failed">abandoned: {e(run.abandoned)}</p>'
    if page.overlay.failed:
        retry = ""
        if page.actions and ":" not in page.overlay.failed:  # a run step: retry it here
            retry = " " + _button("act", f"retry {page.overlay.failed}", action="retry",
                                  target=page.overlay.failed)
        out += (f'<p class="failed">failed step: <code>{e(page.overlay.failed)}</code>: '
                f"{e(page.overlay.failed_reason or '')}{retry}</p>")
    if page.actions and run.abandoned is None:
        out += ('<p class="actions"><input id="abandon-reason" placeholder="why abandon"> '
                + _button("act", "abandon the run", action="abandon") + "</p>")
    return out


def _picture(page: RunPage) -> str:
    return (f'<div class="net" data-view="{html_escape(page.view)}">{page.svg}</div>'
            if page.svg else "<p>no picture</p>")


def _waiting(page: RunPage) -> str:
    items = []
    for w in waiting_steps(page):
        text = w.explain().rstrip("\n")
        if len(text) > 4000:
            text = text[:4000] + "\u2026"
        button = ""
        if page.actions and w.enabled and w.manual:
            button = " " + _button("act", f"fire {w.transition}", action="fire",
                                   target=w.transition)
        items.append(f'<li><code>{html_escape(w.transition)}</code>{button}'
                     f'<pre class="why">{html_escape(text)}</pre></li>')
    return f"<ul>{''.join(items)}</ul>" if items else "<p>nothing waits</p>"


def _next_step(s: Slice, template: Template) -> str | None:
    pos = template.slice.position(s.status)
    steps = template.slice.steps
    return f"{steps[pos].name}:{s.id}" if pos < len(steps) else None


def _timing(st: LaneStats, now: float) -> str:
    if st.running:
        since = min(st.running.values())
        return (f'<span class="running" data-since="{since:.3f}">running '
                f"{duration_text(now - since)}</span>")
    if st.first is not None and st.last is not None:
        return duration_text(st.last - st.first)
    return ""


def _logs(page: RunPage, key: str, st: LaneStats) -> str:
    paths = list(st.logs) + [p for p in page.running_logs.get(key, ()) if p not in st.logs]
    if not page.live:
        return "<br>".join(f"<code>{html_escape(p)}</code>" for p in paths)
    return " ".join(_button("log", p.rsplit("/", 1)[-1], path=p) for p in paths)


def _board(page: RunPage) -> str:
    e, template = html_escape, page.template
    rows = []
    for s in page.run.slices:
        state = slice_state(s, template, page.overlay)
        st = page.stats.lane(s.id)
        facts = json.dumps(dict(s.facts), sort_keys=True) if s.facts else ""
        attempts = f"{st.attempts}" + (f" ({st.failed} failed)" if st.failed else "")
        status = e(s.status) + "".join(f'<br><span class="running">running '
                                       f"<code>{e(t)}</code></span>" for t in st.running)
        tools = ""
        if page.live:
            nxt = _next_step(s, template)
            if nxt is not None and nxt not in page.overlay.enabled:
                tools += _button("why", "why", target=nxt)
            if page.actions and state != "initial":
                tools += " " + _button("act", "retry", action="retry", target=s.id)
        rows.append(
            f'<tr data-slice="{e(s.id)}"><td><span class="sw" style="background:'
            f'{COLOURS[state]}"></span><code>{e(s.id)}</code></td><td>{e(s.title or "")}</td>'
            f"<td>{e(s.epic or '')}</td><td>{status}</td><td>{e(attempts)}</td>"
            f"<td>{_timing(st, page.now)}</td><td>{e(', '.join(s.depends_on))}</td>"
            f"<td>{e(str(s.facts.get('verdict', '')))}</td><td><code>{e(shorten(facts, 200))}"
            f"</code></td><td>{_logs(page, s.id, st)}</td>"
            + (f"<td>{tools}</td>" if page.live else "") + "</tr>")
    lane = page.stats.lane("")
    run_logs = _logs(page, "", lane)
    head = ("<th>slice</th><th>title</th><th>epic</th><th>status</th><th>attempts</th>"
            "<th>time</th><th>depends on</th><th>verdict</th><th>facts</th><th>logs</th>"
            + ("<th></th>" if page.live else ""))
    lane_note = (f"<p>run steps: {lane.attempts} attempts, {lane.failed} failed"
                 + (f"; logs: {run_logs}" if run_logs else "") + "</p>")
    return f"{lane_note}<table><tr>{head}</tr>{''.join(rows)}</table>"


def _journal(page: RunPage) -> str:
    e = html_escape
    shown = list(page.events)[-_JOURNAL_ROWS:]
    rows = []
    for ev in reversed(shown):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ev.time))
        cls = ' class="failed"' if ev.kind in ("transition_failed", "net_halted") else ""
        facts = json.dumps(dict(ev.facts), sort_keys=True) if ev.facts else ""
        rows.append(f"<tr{cls}><td>{ev.seq}</td><td>{e(when)}</td><td>{e(ev.kind)}</td>"
                    f"<td><code>{e(ev.transition or '')}</code></td>"
                    f"<td>{e(str(ev.attempt or ''))}</td><td>{e(ev.reason or '')}</td>"
                    f"<td><code>{e(shorten(facts, 200))}</code></td></tr>")
    note = "<p>newest first"
    if page.total_events > len(shown):
        note += f"; showing the last {len(shown)} of {page.total_events} events"
    note += ".</p>"
    if page.torn:
        note += "<p class=\"failed\">the journal's last line is torn and was ignored.</p>"
    return (f"{note}<table><tr><th>seq</th><th>time</th><th>event</th><th>transition</th>"
            f"<th>attempt</th><th>reason</th><th>facts</th></tr>{''.join(rows)}</table>")


def legend_html() -> str:
    """The colour legend (a list; the same on both pages)."""
    e = html_escape
    items = [
        (COLOURS["marked"], "place holding a token (the current marking)"),
        (COLOURS["enabled"], "transition enabled now (green border)"),
        (COLOURS["fired"], "transition fired (from the journal)"),
        (COLOURS["started"], "transition running now (started by a drive, not yet done)"),
        (COLOURS["failed"], "the failed step of the last halt (red, with its reason)"),
        (COLOURS["manual"], "manual gate (house shape): fire it with petri-exec fire"),
    ] + [(COLOURS[k], f"slice: {v}") for k, v in STATES.items()]
    lis = "".join(f'<li><span class="sw" style="background:{c}"></span>{e(t)}</li>'
                  for c, t in items)
    lis += ("<li>solid arrow: consuming arc (the token moves)</li>"
            "<li>dashed arc with a round head: read arc (the token is tested, "
            "not consumed: dependencies and the frontier)</li>")
    return f'<ul class="legend">{lis}</ul>'


def sections(page: RunPage) -> dict[str, str]:
    """Each section of the page as an HTML fragment.

    Args:
        page: What to show.

    Returns:
        ``{section id: HTML}`` for every id of :data:`SECTIONS`.
    """
    return {"summary": _summary(page), "picture": _picture(page),
            "waiting": _waiting(page), "slices": _board(page), "journal": _journal(page)}


def document(title: str, name: str, html: Mapping[str, str], *, heading: str | None = None,
             sections_order: Sequence[tuple[str, str]] = SECTIONS, extra_head: str = "",
             banner: str = "", extra_body: str = "") -> str:
    """A whole page around rendered sections.

    Args:
        title: The run id (the page's title and heading).
        name: The run file, shown beside the heading.
        html: Each section's HTML, by id.
        heading: The heading (default ``run <title>``).
        sections_order: ``(id, heading)`` of each section, in page order.
        extra_head: Markup added to ``<head>`` (the live page's stylesheet).
        banner: Markup above the sections (the live page's status line).
        extra_body: Markup added at the end of ``<body>`` (the live page's script).

    Returns:
        The HTML document.
    """
    e = html_escape
    parts: list[str] = []
    for sid, head in sections_order:
        top = f"<h2>{head}</h2>" if head else ""
        parts.append(f'{top}<section id="{sid}">{html.get(sid, "")}</section>')
    if any(sid == "picture" for sid, _ in sections_order):
        parts.append(f"<h2>Legend</h2>{legend_html()}")
    h1 = e(heading) if heading is not None else f"run <code>{e(title)}</code>"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{e(title)} · petri-exec</title><style>{STYLE}</style>{extra_head}"
        f"</head><body><h1>{h1} <small><code>{e(name)}</code></small></h1>{banner}"
        f"{''.join(parts)}{extra_body}</body></html>\n"
    )


def report_html(page: RunPage) -> str:
    """The self-contained report: the page's sections in a document that loads nothing
    from elsewhere and runs no script (no external stylesheets, images or fonts; every
    label is escaped).

    Args:
        page: What to show.

    Returns:
        The HTML document.
    """
    return document(page.run.run_id, page.name, sections(page))
