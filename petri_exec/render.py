"""Drawing a run's net: DOT, Mermaid and the JSON form, with the current marking.

Pure functions from values to text. What is drawn: places with their tokens, transitions
(enabled ones stand out, fired ones from the journal are greyed, the failed step of the
last halt in red with its reason, manual gates as gates), read arcs dashed, slices grouped
by epic, the run lane as a spine. Every label is escaped for its format.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .model import Run, dependencies
from .net import Net, Transition
from .templates import Template

__all__ = ["Overlay", "dot_escape", "mermaid_escape", "net_json", "to_dot", "to_mermaid"]

_STATUS_COLOURS = {"done": "#b7e4c7", "started": "#ffe8a3", "initial": "#ffffff",
                   "failed": "#f4a5a5"}


@attrs.frozen
class Overlay:
    """What to highlight on top of the net.

    Attributes:
        enabled: Names of transitions enabled now.
        fired: Names of transitions fired (from the journal).
        failed: Name of the failed transition of the last halt, or None.
        failed_reason: Its reason.
    """

    enabled: frozenset[str] = frozenset()
    fired: frozenset[str] = frozenset()
    failed: str | None = None
    failed_reason: str | None = None


def dot_escape(text: str) -> str:
    """Escape ``text`` for a double-quoted DOT string (quotes, backslashes, newlines)."""
    out = text.replace("\\", "\\\\").replace('"', '\\"')
    return out.replace("\r", "").replace("\n", "\\n")


def mermaid_escape(text: str) -> str:
    """Escape ``text`` for a quoted Mermaid label (entity codes, no newlines or brackets)."""
    table = {'"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "\n": " ", "\r": " ",
             "[": "#91;", "]": "#93;", "{": "#123;", "}": "#125;", "|": "#124;", "`": "#96;"}
    return "".join(table.get(ch, ch) for ch in text)


def _q(text: str) -> str:
    return f'"{dot_escape(text)}"'


def _transition_attrs(t: Transition, ov: Overlay) -> str:
    label = t.name if t.slice_id is None else t.step
    parts = ["shape=box", "style=\"filled,rounded\"", "fillcolor=\"#f0f0f0\""]
    if t.manual:
        parts = ["shape=house", "style=filled", "fillcolor=\"#e8e0ff\""]
        label = f"{label}\n(manual gate)"
    if t.name in ov.fired:
        parts.append("fontcolor=\"#777777\" color=\"#999999\"")
    if t.name in ov.enabled:
        parts.append("color=\"#1b7f3b\" penwidth=3 fillcolor=\"#c8f7d4\"")
    if t.name == ov.failed:
        parts.append("color=\"#c0392b\" penwidth=3 fillcolor=\"#f9c0c0\"")
        label = f"{label}\nFAILED: {ov.failed_reason or ''}"
    cls = "enabled" if t.name in ov.enabled else ""
    if t.name in ov.fired:
        cls += " fired"
    if t.name == ov.failed:
        cls += " failed"
    parts.append(f"class={_q(('transition ' + cls).strip())}")
    parts.append(f"tooltip={_q(t.name)}")
    return f"label={_q(label)} " + " ".join(parts)


def to_dot(net: Net, run: Run, template: Template, marking: Mapping[str, int],
           overlay: Overlay = Overlay()) -> str:
    """The net view: every place and transition, grouped into the run lane and slices.

    Args:
        net: The run's compiled net.
        run: The run (titles, epics).
        template: Its template.
        marking: The current marking.
        overlay: Enabled, fired and failed transitions to highlight.

    Returns:
        A DOT digraph.
    """
    lines = [f"digraph {_q(run.run_id)} {{", "  rankdir=LR;", "  newrank=true;",
             '  node [fontname="Helvetica" fontsize=10];', '  edge [fontsize=9];',
             f"  label={_q(f'run {run.run_id} ({run.template})')}; labelloc=t;"]
    pid = {p: f"p{i}" for i, p in enumerate(net.places)}

    def place(p: str, short: str) -> str:
        tokens = marking.get(p, 0)
        label = short + ("\n" + "\u25cf" * min(tokens, 5) if tokens else "")
        style = 'style=filled fillcolor="#3b6fb6" fontcolor=white' if tokens else ""
        cls = "place marked" if tokens else "place"
        return (f"    {pid[p]} [shape=circle label={_q(label)} tooltip={_q(p)} "
                f"class={_q(cls)} {style}];")

    by_slice: dict[str | None, list[Transition]] = {}
    for t in net.transitions:
        by_slice.setdefault(t.slice_id, []).append(t)
    lines.append('  subgraph cluster_run {\n    label="run lane"; style=filled; color="#eef3fb";')
    for status in template.run.statuses:
        lines.append(place(f"run:{status}", status))
    for t in by_slice.get(None, []):
        lines.append(f"    t{t.index} [{_transition_attrs(t, overlay)}];")
    lines.append("  }")
    groups: dict[str | None, list[str]] = {}
    for s in run.slices:
        groups.setdefault(s.epic, []).append(s.id)
    titles = {s.id: s.title for s in run.slices}
    for gi, (epic, ids) in enumerate(groups.items()):
        indent = "  "
        if epic is not None:
            lines.append(f"  subgraph cluster_epic_{gi} {{\n    label={_q('epic ' + epic)};"
                         ' style=dashed;')
            indent = "    "
        for sid in ids:
            title = titles.get(sid)
            label = sid if not title else f"{sid}: {title}"
            lines.append(f"{indent}subgraph {_q('cluster_slice_' + sid)} {{")
            lines.append(f"{indent}  label={_q(label)}; style=rounded;")
            for status in template.slice.statuses:
                lines.append(indent + place(f"slice:{sid}:{status}", status).lstrip())
            for t in by_slice.get(sid, []):
                lines.append(f"{indent}  t{t.index} [{_transition_attrs(t, overlay)}];")
            lines.append(f"{indent}}}")
        if epic is not None:
            lines.append("  }")
    for t in net.transitions:
        i = t.index
        for p, w in net.consume[i]:
            lines.append(f"  {pid[net.places[p]]} -> t{i}" + (f" [label={w}]" if w > 1 else "")
                         + ";")
        for p, w in net.produce[i]:
            lines.append(f"  t{i} -> {pid[net.places[p]]}" + (f" [label={w}]" if w > 1 else "")
                         + ";")
        for p, _w in net.read[i]:
            lines.append(f"  {pid[net.places[p]]} -> t{i} [style=dashed arrowhead=odot "
                         'color="#888888" constraint=false class="read"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def slice_status_class(status: str, template: Template) -> str:
    """``initial``, ``done`` or ``started`` for a slice status."""
    if status == template.slice.initial:
        return "initial"
    if status == template.slice.end:
        return "done"
    return "started"


def to_dot_slices(run: Run, template: Template, overlay: Overlay = Overlay()) -> str:
    """The slices view: one node per slice coloured by status, dependency edges, and the
    run lane as a header.

    Args:
        run: The run.
        template: Its template.
        overlay: The failed transition (its slice is drawn red).

    Returns:
        A DOT digraph.
    """
    failed_slice = None
    if overlay.failed and ":" in overlay.failed:
        failed_slice = overlay.failed.split(":", 1)[1]
    lines = [f"digraph {_q(run.run_id)} {{", "  rankdir=LR;",
             '  node [fontname="Helvetica" fontsize=10 shape=box style="filled,rounded"];',
             f"  label={_q(f'run {run.run_id}: {run.status}')}; labelloc=t;"]
    lines.append('  subgraph cluster_run { label="run lane"; style=filled; color="#eef3fb";')
    prev = None
    for i, status in enumerate(template.run.statuses):
        here = status == run.status
        fill = "#3b6fb6" if here else "#ffffff"
        font = "white" if here else "black"
        cls = "run-status current" if here else "run-status"
        lines.append(f"    r{i} [label={_q(status)} shape=ellipse fillcolor={_q(fill)} "
                     f"fontcolor={font} class={_q(cls)}];")
        if prev is not None:
            lines.append(f"    {prev} -> r{i} [arrowsize=0.6];")
        prev = f"r{i}"
    lines.append("  }")
    deps = dependencies(run)
    for k, s in enumerate(run.slices):
        cls = slice_status_class(s.status, template)
        if s.id == failed_slice:
            cls = "failed"
        label = s.id + (f"\n{s.title}" if s.title else "") + f"\n[{s.status}]"
        lines.append(f"  s{k} [label={_q(label)} fillcolor={_q(_STATUS_COLOURS[cls])} "
                     f"class={_q('slice ' + cls)} tooltip={_q(s.id)}];")
        for d in deps[k]:
            lines.append(f"  s{d} -> s{k};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(run: Run, template: Template, overlay: Overlay = Overlay()) -> str:
    """A Mermaid flowchart of the slices view (labels escaped with entity codes).

    Args:
        run: The run.
        template: Its template.
        overlay: The failed transition.

    Returns:
        Mermaid source text.
    """
    lines = ["flowchart LR"]
    lines.append(f'  subgraph run["{mermaid_escape("run " + run.run_id)}"]')
    for i, status in enumerate(template.run.statuses):
        mark = " *" if status == run.status else ""
        lines.append(f'    r{i}(["{mermaid_escape(status + mark)}"])')
    for i in range(len(template.run.statuses) - 1):
        lines.append(f"    r{i} --> r{i + 1}")
    lines.append("  end")
    deps = dependencies(run)
    failed_slice = overlay.failed.split(":", 1)[1] if overlay.failed and ":" in \
        overlay.failed else None
    for k, s in enumerate(run.slices):
        cls = "failed" if s.id == failed_slice else slice_status_class(s.status, template)
        label = f"{s.id}{': ' + s.title if s.title else ''} [{s.status}]"
        lines.append(f'  s{k}["{mermaid_escape(label)}"]:::{cls}')
        for d in deps[k]:
            lines.append(f"  s{d} --> s{k}")
    for cls, colour in _STATUS_COLOURS.items():
        lines.append(f"  classDef {cls} fill:{colour},stroke:#555")
    return "\n".join(lines) + "\n"


def net_json(net: Net, marking: Mapping[str, int],
             enabled: Iterable[Transition] = ()) -> dict[str, Any]:
    """The documented JSON form of a net (see docs/concepts.md).

    Args:
        net: The net.
        marking: Its marking.
        enabled: Transitions to list as enabled.

    Returns:
        ``{"name", "places", "transitions", "marking", "enabled"}`` with arcs per transition.
    """
    places = net.places
    return {
        "name": net.name,
        "places": list(places),
        "transitions": [
            {
                "name": t.name,
                "step": t.step,
                "slice_id": t.slice_id,
                "port": t.port,
                "handler": t.handler,
                "manual": t.manual,
                "consume": {places[p]: w for p, w in net.consume[t.index]},
                "produce": {places[p]: w for p, w in net.produce[t.index]},
                "read": {places[p]: w for p, w in net.read[t.index]},
            }
            for t in net.transitions
        ],
        "marking": {p: marking[p] for p in places if marking.get(p, 0)},
        "enabled": sorted(t.name for t in enabled),
    }

