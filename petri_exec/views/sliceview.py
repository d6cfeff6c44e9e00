"""The slices view of a run (DOT and Mermaid): the readable picture of a big plan.

One node per slice coloured by its status, grouped by epic; dependency edges (an epic's
dependency is one bold edge between the two epic boxes); the run lane as a header above
it all with the current status highlighted; a colour legend. Pure functions from values to
text; every label is escaped for its format. Laying out 1,000 slices takes Graphviz a few
seconds.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..run.model import Run, Slice
from ..run.templates import Template
from .netview import (
    COLOURS,
    Overlay,
    dot_escape,
    dot_tooltip_escape,
    html_escape,
    mermaid_escape,
    shorten,
)

__all__ = ["header_label", "slice_state", "to_dot_slices", "to_mermaid"]

#: Slice states drawn by the views, with their legend text.
STATES = {
    "initial": "not started",
    "started": "in progress",
    "done": "done",
    "failed": "failed",
}

#: Darker shades of the state colours, for legend glyphs on white.
_INK = {"initial": "#aaaaaa", "started": "#e0a800", "done": "#4caf73", "failed": "#c0392b"}


def slice_state(s: Slice, template: Template, overlay: Overlay) -> str:
    """``initial``, ``started``, ``done`` or ``failed`` (the failed step of the last halt
    is in this slice, or its ``facts.verdict`` is ``"failed"``)."""
    if s.id == overlay.failed_slice or s.facts.get("verdict") == "failed":
        return "failed"
    if s.status == template.slice.initial:
        return "initial"
    if s.status == template.slice.end:
        return "done"
    return "started"


def _enabled_slices(overlay: Overlay) -> set[str]:
    return {name.split(":", 1)[1] for name in overlay.enabled if ":" in name}


def header_label(run: Run, template: Template, legend: Iterable[tuple[str, str]]) -> str:
    """An HTML-like DOT label: the run's title, its run lane with the current status
    highlighted, and a colour legend.

    Args:
        run: The run.
        template: Its template.
        legend: ``(colour, text)`` pairs, drawn as coloured squares.

    Returns:
        The label, including its ``<`` ``>`` delimiters.
    """
    e = html_escape
    cells = []
    for i, status in enumerate(template.run.statuses):
        if i:
            step = template.run.steps[i - 1]
            arrow = "\u25b7 " + step.name + (" (manual)" if step.manual else "")
            cells.append(f'<TD BORDER="0"><FONT POINT-SIZE="8" COLOR="#555555">{e(arrow)}'
                         "</FONT></TD>")
        here = status == run.status
        fill = COLOURS["marked"] if here else "white"
        text = f'<FONT COLOR="white"><B>{e(status)}</B></FONT>' if here else e(status)
        cells.append(f'<TD BGCOLOR="{fill}" STYLE="rounded">{text}</TD>')
    keys = "  ".join(f'<FONT COLOR="{c}">\u25a0</FONT> {e(t)}' for c, t in legend)
    return (f'<<TABLE BORDER="0" CELLSPACING="2"><TR><TD><B>'
            f"{e(f'run {run.run_id} ({run.template}): {run.status}')}</B></TD></TR>"
            f'<TR><TD><TABLE BORDER="0" CELLSPACING="3"><TR>{"".join(cells)}</TR></TABLE>'
            f'</TD></TR><TR><TD><FONT POINT-SIZE="10">legend: {keys}</FONT></TD></TR>'
            "</TABLE>>")


def _legend() -> list[tuple[str, str]]:
    return [(_INK[k], v) for k, v in STATES.items()] + [
        (COLOURS["enabled_border"], "next step enabled (green border)")]


def to_dot_slices(run: Run, template: Template, overlay: Overlay | None = None) -> str:
    """The slices view as DOT.

    Args:
        run: The run.
        template: Its template.
        overlay: Enabled transitions, if any (their slices get a green border) and the failed
            transition (its slice is drawn red with the reason).

    Returns:
        A DOT digraph.
    """
    q = dot_escape
    overlay = overlay or Overlay()
    enabled = _enabled_slices(overlay)
    lines = [f'digraph "{q(run.run_id)}" {{', "  rankdir=LR; compound=true; ranksep=0.6;",
             '  graph [fontname="Helvetica" fontsize=11];',
             '  node [fontname="Helvetica" fontsize=10 shape=box style="filled,rounded"];',
             '  edge [arrowsize=0.6 color="#555555"];',
             f"  labelloc=t; label={header_label(run, template, _legend())};"]
    index = {s.id: k for k, s in enumerate(run.slices)}
    groups: dict[str | None, list[int]] = {}
    for k, s in enumerate(run.slices):
        groups.setdefault(s.epic, []).append(k)
    cluster_of: dict[str, str] = {}
    for gi, (epic, members) in enumerate(groups.items()):
        ind = "  "
        if epic is not None:
            cluster_of[epic] = f"cluster_epic_{gi}"
            lines.append(f"  subgraph cluster_epic_{gi} {{")
            lines.append(f'    label="{q("epic " + epic)}"; style="dashed,rounded"; '
                         'class="epic";')
            ind = "    "
        for k in members:
            s = run.slices[k]
            state = slice_state(s, template, overlay)
            label = s.id + (f"\n{shorten(s.title, 40)}" if s.title else "") + f"\n[{s.status}]"
            tooltip = f"{s.id}: {s.title or ''} [{s.status}]"
            if s.facts.get("verdict") == "failed":
                label += "\nverdict: failed"
            if s.id == overlay.failed_slice:
                label += f"\nFAILED {overlay.failed.split(':', 1)[0] if overlay.failed else ''}"
                label += f": {shorten(overlay.failed_reason or '', 40)}"
                tooltip += f" FAILED: {overlay.failed_reason or ''}"
            cls = f"slice {state}"
            extra = ""
            if s.id in enabled:
                cls += " enabled"
                extra = f' color="{COLOURS["enabled_border"]}" penwidth=3'
            elif state == "failed":
                extra = f' color="{COLOURS["failed_border"]}" penwidth=2'
            lines.append(f'{ind}s{k} [label="{q(label)}" fillcolor="{COLOURS[state]}" '
                         f'class="{cls}" tooltip="{dot_tooltip_escape(tooltip)}"{extra}];')
        if epic is not None:
            lines.append("  }")
    for k, s in enumerate(run.slices):
        for d in s.depends_on:
            if d in index:
                lines.append(f'  s{index[d]} -> s{k} [class="dependency"];')
    for ep in run.epics:
        if ep.id not in cluster_of:
            continue
        head = groups[ep.id][0]
        for dep in ep.depends_on:
            if dep in cluster_of:
                lines.append(f"  s{groups[dep][0]} -> s{head} [ltail={cluster_of[dep]} "
                             f'lhead={cluster_of[ep.id]} penwidth=2.5 class="dependency epic"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(run: Run, template: Template, overlay: Overlay | None = None) -> str:
    """The slices view as a Mermaid flowchart (labels escaped with entity codes).

    Args:
        run: The run.
        template: Its template.
        overlay: Enabled and failed transitions.

    Returns:
        Mermaid source text.
    """
    m = mermaid_escape
    overlay = overlay or Overlay()
    lines = ["flowchart LR"]
    lines.append(f'  subgraph run_lane["{m(f"run {run.run_id} ({run.template})")}"]')
    lines.append("    direction LR")
    for i, status in enumerate(template.run.statuses):
        cls = ":::current" if status == run.status else ""
        lines.append(f'    r{i}(["{m(status)}"]){cls}')
    for i, step in enumerate(template.run.steps):
        lines.append(f'    r{i} -->|"{m(step.name)}"| r{i + 1}')
    lines.append("  end")
    enabled = _enabled_slices(overlay)
    groups: dict[str | None, list[int]] = {}
    for k, s in enumerate(run.slices):
        groups.setdefault(s.epic, []).append(k)
    epic_ids: dict[str, str] = {}
    for gi, (epic, members) in enumerate(groups.items()):
        ind = "  "
        if epic is not None:
            epic_ids[epic] = f"epic_{gi}"
            lines.append(f'  subgraph epic_{gi}["{m("epic " + epic)}"]')
            ind = "    "
        for k in members:
            s = run.slices[k]
            state = slice_state(s, template, overlay)
            label = f"{s.id}{': ' + shorten(s.title, 40) if s.title else ''} [{s.status}]"
            if s.id == overlay.failed_slice:
                label += f" FAILED: {shorten(overlay.failed_reason or '', 40)}"
            cls = "enabled" if s.id in enabled and state != "failed" else state
            lines.append(f'{ind}s{k}["{m(label)}"]:::{cls}')
        if epic is not None:
            lines.append("  end")
    index = {s.id: k for k, s in enumerate(run.slices)}
    for k, s in enumerate(run.slices):
        for d in s.depends_on:
            if d in index:
                lines.append(f"  s{index[d]} --> s{k}")
    for ep in run.epics:
        for dep in ep.depends_on:
            if ep.id in epic_ids and dep in epic_ids:
                lines.append(f"  {epic_ids[dep]} ==> {epic_ids[ep.id]}")
    for cls in STATES:
        lines.append(f"  classDef {cls} fill:{COLOURS[cls]},stroke:#555")
    lines.append(f"  classDef enabled fill:{COLOURS['enabled']},stroke:"
                 f"{COLOURS['enabled_border']},stroke-width:3px")
    lines.append(f"  classDef current fill:{COLOURS['marked']},color:#fff")
    return "\n".join(lines) + "\n"
