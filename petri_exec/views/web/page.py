"""The live pages: each run's page and the index, as the server sends them.

:class:`LivePages` turns a followed run into the sections of :mod:`petri_exec.views.runpage`
(the renderer the HTML report uses too), with the picture laid out by Graphviz, and keeps
the result per (run version, view) so every open page shares one rendering. The page's
script and stylesheet ship in this package (``assets/``) and are inlined: the page loads
nothing else, from anywhere. Thread-safe: the server calls :meth:`LivePages.update` from
worker threads.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path

from ...errors import PetriExecError
from ..graphviz import render_dot
from ..htmlreport import svg_inline
from ..netview import html_escape
from ..runpage import SECTIONS, RunPage, document, sections
from ..sliceview import slice_state
from ..viewchoice import choose_view
from ..visualize import VIEWS, picture_dot
from .catalog import Catalog, Entry

__all__ = ["LivePages", "asset", "index_html", "live_html", "log_files"]

#: Seconds between two looks at a run's files.
POLL_S = 0.2
#: A page is rendered again at most every twice its last rendering's cost, and at least
#: every this many seconds while the run moves (a big run's picture takes a while).
MAX_LAG_S = 5.0


def asset(name: str) -> str:
    """The text of a shipped page asset (``live.js``, ``live.css``)."""
    return resources.files(__package__ or "petri_exec.views.web").joinpath(
        "assets", name).read_text("utf-8")


def log_files(run_path: Path) -> dict[str, list[str]]:
    """The shell ports' log files of a run (``<stem>.work/logs/<key>.<what>.<n>.log``), by
    slice id or run step name, as paths relative to the run file's directory."""
    logs = run_path.parent / f"{run_path.stem}.work" / "logs"
    try:
        names = sorted(os.listdir(logs))
    except OSError:
        return {}
    out: dict[str, list[str]] = {}
    for name in names:
        parts = name.rsplit(".", 3)
        if len(parts) == 4 and parts[3] == "log":
            out.setdefault(parts[0], []).append(f"{run_path.stem}.work/logs/{name}")
    return out


class LivePages:
    """The latest sections of each served run, rendered once per change and view."""

    def __init__(self, catalog: Catalog, *, actions: bool,
                 render: Callable[[str, str], bytes] = render_dot) -> None:
        """Serve ``catalog``'s runs.

        Args:
            catalog: The runs.
            actions: Whether the pages draw action buttons.
            render: Lays DOT out as SVG (the Graphviz back ends by default).
        """
        self.catalog = catalog
        self.actions = actions
        self._render = render
        self._locks: dict[str, threading.Lock] = {}
        self._looked: dict[str, float] = {}
        self._cache: dict[tuple[str, str], tuple[int, dict[str, object], float, float]] = {}
        self._serial = 0
        self._guard = threading.Lock()

    def _lock(self, slug: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(slug, threading.Lock())

    def look(self, entry: Entry) -> None:
        """Let ``entry``'s follower look at its files (at most every :data:`POLL_S`)."""
        with self._lock(entry.slug):
            now = time.monotonic()
            if now - self._looked.get(entry.slug, -1.0) >= POLL_S:
                self._looked[entry.slug] = now
                entry.follower.poll()

    def update(self, entry: Entry, view: str | None) -> dict[str, object]:
        """The run's page state now: ``{"version", "error", "view", "title",
        "sections"}`` (sections empty until the run loaded once; ``version`` is a serial
        number that changes with every new rendering).

        Args:
            entry: The run.
            view: ``net``, ``slices`` or None (chosen by the picture's size).

        Returns:
            The payload the page applies (the same object while nothing changed).
        """
        self.look(entry)
        with self._lock(entry.slug):
            f = entry.follower
            key = (entry.slug, view or "")
            hit = self._cache.get(key)
            now = time.monotonic()
            if hit is not None and (hit[0] == f.version or now - hit[2] < min(2 * hit[3],
                                                                                 MAX_LAG_S)):
                return hit[1]  # unchanged, or the last rendering was recent and slow
            self._serial += 1
            payload: dict[str, object] = {"version": self._serial, "error": f.error,
                                          "view": view, "title": os.fspath(entry.path),
                                          "sections": {}}
            if f.run is not None and f.template is not None and f.net is not None \
                    and f.stats is not None:
                chosen = view if view in VIEWS else choose_view(f.net, f.run).view
                try:
                    svg = svg_inline(self._render(picture_dot(
                        f.net, f.run, f.template, f.overlay, chosen), "svg"))
                except (PetriExecError, RuntimeError) as e:
                    svg = f'<p class="failed">{html_escape(str(e))}</p>'
                page = RunPage(name=os.fspath(entry.path), run=f.run, template=f.template,
                               net=f.net, overlay=f.overlay, svg=svg, view=chosen,
                               events=list(f.events), total_events=f.total, torn=f.torn,
                               stats=f.stats, now=time.time(), live=True,
                               actions=self.actions, running_logs=log_files(entry.path))
                payload.update(view=chosen, title=f.run.run_id, sections=sections(page))
            self._cache[key] = (f.version, payload, now, time.monotonic() - now)
            return payload

    def summary(self, entry: Entry) -> dict[str, object]:
        """One index row's facts: run id, status, slice states, error."""
        self.look(entry)
        f = entry.follower
        row: dict[str, object] = {"slug": entry.slug, "path": os.fspath(entry.path),
                                  "error": f.error, "run_id": None}
        if f.run is not None and f.template is not None:
            states: dict[str, int] = {}
            for s in f.run.slices:
                k = slice_state(s, f.template, f.overlay)
                states[k] = states.get(k, 0) + 1
            row.update(run_id=f.run.run_id, status=f.run.status, states=states,
                       slices=len(f.run.slices), abandoned=f.run.abandoned,
                       last=f.events[-1].time if f.events else None)
        return row


def _bar(base: str, view: str | None, actions: bool, index: bool) -> str:
    views = "" if index else (
        ' · view: <a href="?view=net">net</a> | <a href="?view=slices">slices</a> | '
        '<a href="?">by size</a> · <button type="button" id="fit">fit the picture</button>'
        ' · <a href="/">all runs</a>')
    mode = "actions allowed with the token" if actions else "read-only"
    return (f'<div id="live" data-base="{html_escape(base)}" data-view="{html_escape(view or "")}"'
            f' data-actions="{"1" if actions else ""}"><span id="live-status">connecting'
            f"\u2026</span> · {mode}{views}</div>"
            '<p id="live-error" class="failed" hidden></p><p id="action-status" hidden></p>')


def _tail(nonce: str) -> str:
    return ('<div id="panel" hidden><div class="panel-head"><b id="panel-title"></b> '
            '<button type="button" id="panel-close">close</button></div>'
            '<pre id="panel-text"></pre></div>'
            f'<script nonce="{html_escape(nonce)}">{asset("live.js")}</script>')


def live_html(entry: Entry, payload: Mapping[str, object], nonce: str, actions: bool) -> str:
    """A run's live page.

    Args:
        entry: The run.
        payload: Its state from :meth:`LivePages.update`.
        nonce: The script nonce of this response's Content-Security-Policy.
        actions: Whether actions are allowed.

    Returns:
        The HTML document.
    """
    html = payload.get("sections") or {}
    assert isinstance(html, dict)
    if not html:
        html = {sid: "" for sid, _ in SECTIONS}
    view = payload.get("view")
    return document(str(payload.get("title") or entry.slug), os.fspath(entry.path), html,
                    extra_head=f"<style>{asset('live.css')}</style>",
                    banner=_bar(f"/runs/{entry.slug}", view if isinstance(view, str) else None,
                                actions, False),
                    extra_body=_tail(nonce))


def index_rows(rows: list[dict[str, object]]) -> str:
    """The index table (one row per run)."""
    e = html_escape
    out = []
    for r in rows:
        link = f'<a href="/runs/{e(str(r["slug"]))}"><code>{e(str(r["path"]))}</code></a>'
        if r.get("run_id") is None:
            out.append(f'<tr><td>{link}</td><td colspan="4" class="failed">'
                       f"{e(str(r.get('error') or 'loading'))}</td></tr>")
            continue
        states = r.get("states") or {}
        assert isinstance(states, dict)
        counts = ", ".join(f"{n} {k}" for k, n in sorted(states.items()))
        last = r.get("last")
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last)) \
            if isinstance(last, float) else ""
        note = f' <span class="failed">{e(str(r["error"]))}</span>' if r.get("error") else ""
        status = e(str(r.get("status"))) + (" (abandoned)" if r.get("abandoned") else "")
        out.append(f"<tr><td>{link}</td><td><code>{e(str(r['run_id']))}</code></td>"
                   f"<td>{status}{note}</td><td>{r.get('slices')} slices: {e(counts)}</td>"
                   f"<td>{e(when)}</td></tr>")
    return ("<table><tr><th>run file</th><th>run</th><th>status</th><th>slices</th>"
            f"<th>last event</th></tr>{''.join(out)}</table>")


def index_html(rows: list[dict[str, object]], nonce: str, actions: bool) -> str:
    """The index page of every served run."""
    body = {"index": index_rows(rows)}
    return document("runs", f"{len(rows)} run(s)", body, heading="runs",
                    sections_order=(("index", ""),),
                    extra_head=f"<style>{asset('live.css')}</style>",
                    banner=_bar("", None, actions, True), extra_body=_tail(nonce))


def payload_json(payload: Mapping[str, object]) -> str:
    """The payload as one line of JSON (for a Server-Sent Event)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
