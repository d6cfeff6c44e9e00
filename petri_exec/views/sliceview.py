"""The slices view of a run (DOT and Mermaid): the readable picture of a big plan.

One node per slice coloured by its status, grouped by epic; dependency edges (an epic's
dependency is one bold edge between the two epic boxes); the run lane as a header above
it all with the current status highlighted; a colour legend. Pure functions from values to
text; every label is escaped for its format. Laying out 1,000 slices takes Graphviz a few
seconds.
"""

from __future__ import annotations

from ..run.model import Run, Slice
from ..run.templates import Template
from .netview import (
    COLOURS,
    Overlay,
    dot_escape,
    dot_tooltip_escape,
    mermaid_escape,
    shorten,
)

__all__ = ["header_nodes", "slice_state", "to_dot_slices", "to_mermaid"]

#: Slice states drawn by the views, with their legend text.
STATES = {
    "initial": "not started",
    "started": "in progress",
    "done": "done",
    "failed": "failed",
}

def slice_state(s: Slice, template: Template, overlay: Overlay) -> str:
    """``initial``, ``started``, ``done`` or ``failed`` (the failed step of the last halt
    is in this slice, or its ``facts.verdict`` is ``"failed"``; a slice whose first step is
    running is ``started``)."""
    if s.id == overlay.failed_slice or s.facts.get("verdict") == "failed":
        return "failed"
    if s.status == template.slice.initial and s.id not in overlay.running_slices:
        return "initial"
    if s.status == template.slice.end:
        return "done"
    return "started"


#: Lane and legend cells per header row when the body is narrower than this.
HEADER_MIN_COLUMNS = 6


def _enabled_slices(overlay: Overlay) -> set[str]:
    return {name.split(":", 1)[1] for name in overlay.enabled if ":" in name}


def _row(cells: list[str], ids: list[str], visible: bool) -> list[str]:
    """One header row: its cells, chained left to right (arrows when ``visible``)."""
    edge = ('[arrowsize=0.4 color="#999999" weight=50]' if visible
            else "[style=invis weight=50]")
    out = [f"  {c}" for c in cells]
    if len(ids) > 1:
        out.append(f"  {' -> '.join(ids)} {edge};")
    return out


def header_nodes(run: Run, template: Template, columns: int) -> list[str]:
    """The slices view's header as plain DOT nodes: the run lane (statuses and the steps
    between them, the current status filled) and a legend of the slice colours.

    Plain nodes and text only (no HTML-like labels), so system Graphviz and the WebAssembly
    build draw the same thing. Each row is its own chain of nodes, so it starts at the left
    edge; rows are declared bottom row first, as Graphviz stacks a left-to-right graph's
    separate parts from the bottom up in the order they are declared, which puts the lane
    on top of the legend and both on top of the slices declared before them.

    Args:
        run: The run.
        template: Its template.
        columns: Cells per row (the lane and the legend wrap there).

    Returns:
        DOT statements (node and edge lines).
    """
    q, tip = dot_escape, dot_tooltip_escape
    lane: list[tuple[str, str]] = []
    for i, status in enumerate(template.run.statuses):
        if i:
            step = template.run.steps[i - 1]
            text = step.name + (" (manual)" if step.manual else "")
            lane.append((f"h{i}s", f'[label="{q(text)}" shape=plaintext style="" fontsize=8 '
                         'fontcolor="#555555" class="lane step" '
                         f'tooltip="{tip("run step " + text)}"]'))
        here = status == run.status
        fill = COLOURS["marked"] if here else "white"
        extra = ' penwidth=2 class="lane status current"' if here else ' class="lane status"'
        what = "the run's status now" if here else "run status"
        lane.append((f"h{i}", f'[label="{q(status)}" fillcolor="{fill}"{extra} '
                     f'tooltip="{tip(what + ": " + status)}"]'))
    legend = [("hl", '[label="legend:" shape=plaintext style="" class="legend" '
               'tooltip="legend"]')]
    for state, text in STATES.items():
        legend.append((f"hl_{state}", f'[label="{q(text)}" fillcolor="{COLOURS[state]}" '
                       f'class="legend {state}" tooltip="slice {q(text)}"]'))
    legend.append(("hl_enabled", f'[label="next step enabled" fillcolor="white" '
                   f'color="{COLOURS["enabled_border"]}" penwidth=3 class="legend enabled" '
                   'tooltip="slice whose next step is enabled (green border)"]'))
    rows: list[list[str]] = []
    for cells, visible in ((lane, True), (legend, False)):
        for k in range(0, len(cells), columns):
            chunk = cells[k:k + columns]
            rows.append(_row([f"{n} {a};" for n, a in chunk], [n for n, _ in chunk], visible))
    return [line for row in reversed(rows) for line in row]


def _ranks(n: int, edges: list[tuple[int, int]]) -> int:
    """How many columns Graphviz gives ``n`` nodes joined by ``edges`` (the longest path
    in nodes; ``edges`` is acyclic, as a run's dependencies are)."""
    succ: list[list[int]] = [[] for _ in range(n)]
    indeg = [0] * n
    for a, b in edges:
        succ[a].append(b)
        indeg[b] += 1
    level = [1] * n
    todo = [k for k in range(n) if not indeg[k]]
    while todo:
        k = todo.pop()
        for m in succ[k]:
            level[m] = max(level[m], level[k] + 1)
            indeg[m] -= 1
            if not indeg[m]:
                todo.append(m)
    return max(level, default=0)


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
             f'  labelloc=t; label="{q(f"run {run.run_id} ({run.template}): {run.status}")}";']
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
            if s.id in overlay.running_slices:
                label += "\n(running)"
                cls += " running"
            if s.id in enabled:
                cls += " enabled"
                extra = f' color="{COLOURS["enabled_border"]}" penwidth=3'
            elif state == "failed":
                extra = f' color="{COLOURS["failed_border"]}" penwidth=2'
            lines.append(f'{ind}s{k} [label="{q(label)}" fillcolor="{COLOURS[state]}" '
                         f'class="{cls}" id="s:{q(s.id)}" tooltip="{dot_tooltip_escape(tooltip)}"'
                         f"{extra}];")
        if epic is not None:
            lines.append("  }")
    edges: list[tuple[int, int]] = []
    for k, s in enumerate(run.slices):
        for d in s.depends_on:
            if d in index:
                edges.append((index[d], k))
                lines.append(f'  s{index[d]} -> s{k} [class="dependency"];')
    for ep in run.epics:
        if ep.id not in cluster_of:
            continue
        head = groups[ep.id][0]
        for dep in ep.depends_on:
            if dep in cluster_of:
                edges.append((groups[dep][0], head))
                lines.append(f"  s{groups[dep][0]} -> s{head} [ltail={cluster_of[dep]} "
                             f'lhead={cluster_of[ep.id]} penwidth=2.5 class="dependency epic"];')
    columns = max(_ranks(len(run.slices), edges), HEADER_MIN_COLUMNS)
    lines.extend(header_nodes(run, template, columns))
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
    lines.append(f"  classDef current fill:{COLOURS['marked']},color:{COLOURS['token']}")
    return "\n".join(lines) + "\n"
