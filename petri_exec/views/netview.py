"""Drawing a run's net: the DOT net view, with the current marking.

Pure functions from values to text. What the net view draws: places with their tokens,
transitions (enabled ones green, fired ones from the journal greyed, the failed step of the
last halt red with its reason, manual gates as house-shaped gates), read arcs dashed with a
round head (consuming arcs solid), slices grouped by epic, and the run lane as the spine
along the top. Every label is escaped for its format. The slices view and Mermaid live in
:mod:`.sliceview`; the HTML report in :mod:`.htmlreport`; the JSON form in
:mod:`petri_exec.interchange.netjson`.

Each SVG element carries a ``class`` naming what it is (``place marked``, ``transition
enabled``, ``transition fired``, ``transition failed``, ``transition manual``,
``slice done`` …) so that tools and tests can find it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from ..core.net import Net, Transition
from ..run.model import Run
from ..run.templates import Template

__all__ = [
    "COLOURS",
    "Overlay",
    "dot_escape",
    "dot_tooltip_escape",
    "html_escape",
    "mermaid_escape",
    "shorten",
    "to_dot",
]

#: Fill colours shared by every view and the HTML legend.
COLOURS = {
    "marked": "#a9c8f0",
    "token": "#10305c",
    "enabled": "#c8f7d4",
    "enabled_border": "#1b7f3b",
    "fired": "#e4e4e4",
    "failed": "#f9c0c0",
    "failed_border": "#c0392b",
    "manual": "#e8e0ff",
    "transition": "#f7f7f7",
    "initial": "#ffffff",
    "started": "#ffe8a3",
    "running_border": "#b07d00",
    "done": "#b7e4c7",
    "run_lane": "#eef3fb",
    "read": "#5a7fb0",
}

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@attrs.frozen
class Overlay:
    """What to highlight on top of the net.

    Attributes:
        enabled: Names of transitions enabled now.
        fired: Names of transitions fired (from the journal).
        failed: Name of the failed transition of the last halt, or None.
        failed_reason: Its reason.
        running: Names of transitions whose step is running now (started by a drive and
            neither fired nor failed yet).
    """

    enabled: frozenset[str] = frozenset()
    fired: frozenset[str] = frozenset()
    failed: str | None = None
    failed_reason: str | None = None
    running: frozenset[str] = frozenset()

    @property
    def running_slices(self) -> frozenset[str]:
        """The slices with a step running now."""
        return frozenset(n.split(":", 1)[1] for n in self.running if ":" in n)

    @property
    def failed_slice(self) -> str | None:
        """The slice of the failed transition, or None (a run step or no failure)."""
        if self.failed and ":" in self.failed:
            return self.failed.split(":", 1)[1]
        return None


def shorten(text: str, limit: int = 80) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"


def dot_escape(text: str) -> str:
    """Escape ``text`` for a double-quoted DOT string.

    Backslashes are doubled (so Graphviz's ``\\N``, ``\\G``, ``\\l`` escapes cannot be
    triggered), quotes are escaped, newlines become DOT line breaks, other control
    characters are dropped. Braces, ``<`` and ``>`` are plain characters inside a quoted DOT
    string; Graphviz escapes them itself when it writes SVG.

    Args:
        text: Any text.

    Returns:
        The escaped text, without the surrounding quotes.
    """
    out = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    out = out.replace("\\", "\\\\").replace('"', '\\"')
    return out.replace("\n", "\\n")


def dot_tooltip_escape(text: str) -> str:
    """Escape ``text`` for a double-quoted DOT ``tooltip``.

    Graphviz expands ``\\N``-style escapes in tooltips twice, so backslashes are written
    four times (the SVG then shows one); quotes and newlines as in :func:`dot_escape`.

    Args:
        text: Any text.

    Returns:
        The escaped text, without the surrounding quotes.
    """
    out = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    out = out.replace("\\", "\\" * 4).replace('"', '\\"')
    return out.replace("\n", "\\n")


def html_escape(text: str) -> str:
    """Escape ``text`` for HTML or XML text and attribute values (``& < > " '``)."""
    out = _CONTROL.sub("", text)
    return (out.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def mermaid_escape(text: str) -> str:
    """Escape ``text`` for a quoted Mermaid label (entity codes; no newlines or brackets).

    Args:
        text: Any text.

    Returns:
        The text with every character that Mermaid or the HTML it renders to could read
        as syntax replaced by a Mermaid entity code (``#quot;``, ``#lt;`` …).
    """
    table = {'"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "#": "#35;",
             "[": "#91;", "]": "#93;", "{": "#123;", "}": "#125;", "(": "#40;", ")": "#41;",
             "|": "#124;", "`": "#96;", ";": "#59;", "\\": "#92;", "'": "#39;"}
    flat = " ".join(_CONTROL.sub("", text).split("\n")).replace("\r", " ")
    return "".join(table.get(ch, ch) for ch in flat)


def _q(text: str) -> str:
    return f'"{dot_escape(text)}"'


def _tip(text: str) -> str:
    return f'"{dot_tooltip_escape(text)}"'


def _transition_node(t: Transition, ov: Overlay) -> str:
    label = t.name if t.slice_id is None else t.step
    fill, border, width, font = COLOURS["transition"], "#555555", 1, "black"
    shape, style = "box", '"filled,rounded"'
    classes = ["transition"]
    if t.manual:
        shape, style, fill = "house", "filled", COLOURS["manual"]
        label += "\n(manual gate)"
        classes.append("manual")
    if t.name in ov.fired:
        fill, border, font = COLOURS["fired"], "#999999", "#666666"
        classes.append("fired")
    if t.name in ov.enabled:
        fill, border, width, font = COLOURS["enabled"], COLOURS["enabled_border"], 3, "black"
        classes.append("enabled")
    if t.name in ov.running:
        fill, border, width, font = COLOURS["started"], COLOURS["running_border"], 3, "black"
        label += "\n(running)"
        classes.append("running")
    tooltip = t.name + (f" (port {t.port})" if t.port else "") + \
        (f" (handler {t.handler})" if t.handler else "")
    if t.name == ov.failed:
        fill, border, width, font = COLOURS["failed"], COLOURS["failed_border"], 3, "black"
        label += "\nFAILED: " + shorten(ov.failed_reason or "", 60)
        tooltip += f" FAILED: {ov.failed_reason or ''}"
        classes.append("failed")
    return (f"t{t.index} [label={_q(label)} shape={shape} style={style} "
            f'fillcolor="{fill}" color="{border}" penwidth={width} fontcolor="{font}" '
            f"class={_q(' '.join(classes))} id={_q('t:' + t.name)} tooltip={_tip(tooltip)}];")


def to_dot(net: Net, run: Run, template: Template, marking: Mapping[str, int],
           overlay: Overlay = Overlay()) -> str:
    """The net view: every place and transition; the run lane on top, slices by epic.

    Args:
        net: The run's compiled net.
        run: The run (titles, epics).
        template: Its template.
        marking: The current marking.
        overlay: Enabled, fired and failed transitions to highlight.

    Returns:
        A DOT digraph (left to right). Places are small circles with their status beside
        them and a dot per token; consuming arcs are solid, read arcs dashed.
    """
    lines = [f"digraph {_q(run.run_id)} {{", "  rankdir=LR; newrank=true; compound=true;",
             "  nodesep=0.25; ranksep=0.45; forcelabels=true;",
             '  node [fontname="Helvetica" fontsize=10];',
             '  edge [arrowsize=0.6 color="#444444"];',
             '  graph [fontname="Helvetica"];',
             f"  label={_q(f'run {run.run_id} ({run.template}): {run.status}')};",
             "  labelloc=t; fontsize=14;"]
    pid = {p: f"p{i}" for i, p in enumerate(net.places)}

    def place(p: str, short: str) -> str:
        tokens = marking.get(p, 0)
        mark = ("\u2b24" if tokens == 1 else str(tokens)) if tokens else ""
        fill, font = (COLOURS["marked"], COLOURS["token"]) if tokens else ("white", "#333333")
        cls = "place marked" if tokens else "place"
        return (f"{pid[p]} [shape=circle fixedsize=true width=0.32 label={_q(mark)} "
                f'xlabel={_q(short)} style=filled fillcolor="{fill}" fontcolor="{font}" '
                f"fontsize=9 class={_q(cls)} tooltip={_tip(p + (' (marked)' if tokens else ''))}];")

    by_slice: dict[str | None, list[Transition]] = {}
    for t in net.transitions:
        by_slice.setdefault(t.slice_id, []).append(t)
    lines.append("  subgraph cluster_run {")
    lines.append(f'    label="run lane"; style=filled; color="{COLOURS["run_lane"]}";'
                 ' class="lane run-lane";')
    for status in template.run.statuses:
        lines.append("    " + place(f"run:{status}", status))
    for t in by_slice.get(None, []):
        lines.append("    " + _transition_node(t, overlay))
    lines.append("  }")
    groups: dict[str | None, list[int]] = {}
    for k, s in enumerate(run.slices):
        groups.setdefault(s.epic, []).append(k)
    for gi, (epic, members) in enumerate(groups.items()):
        ind = "  "
        if epic is not None:
            lines.append(f"  subgraph cluster_epic_{gi} {{")
            lines.append(f"    label={_q('epic ' + epic)}; style=dashed; class=\"epic\";")
            ind = "    "
        for k in members:
            s = run.slices[k]
            label = s.id if not s.title else f"{s.id}: {shorten(s.title)}"
            colour, cls = "#999999", "slice-lane"
            if s.facts.get("verdict") == "failed":
                label += " (verdict: failed)"
                colour, cls = COLOURS["failed_border"], "slice-lane failed"
            lines.append(f"{ind}subgraph cluster_slice_{k} {{")
            lines.append(f"{ind}  label={_q(label)}; style=rounded; color=\"{colour}\";"
                         f" class={_q(cls)};")
            for status in template.slice.statuses:
                lines.append(f"{ind}  " + place(f"slice:{s.id}:{status}", status))
            for t in by_slice.get(s.id, []):
                lines.append(f"{ind}  " + _transition_node(t, overlay))
            lines.append(f"{ind}}}")
        if epic is not None:
            lines.append("  }")
    for t in net.transitions:
        i = t.index
        spine = ' weight=20' if t.slice_id is None else ' weight=5'
        for p, w in net.consume[i]:
            wl = f" label={w}" if w > 1 else ""
            lines.append(f"  {pid[net.places[p]]} -> t{i} [class=\"arc\"{spine}{wl}];")
        for p, w in net.produce[i]:
            wl = f" label={w}" if w > 1 else ""
            lines.append(f"  t{i} -> {pid[net.places[p]]} [class=\"arc\"{spine}{wl}];")
    lines.extend(_read_arcs(net, run, pid, {e: f"cluster_epic_{gi}" for gi, e in
                                            enumerate(groups) if e is not None}))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _read_arcs(net: Net, run: Run, pid: Mapping[str, str],
               clusters: Mapping[str, str]) -> list[str]:
    """DOT edges for the read arcs, dashed with a round head.

    Every read arc constrains the layout (the frontier and completion arcs lay the slices
    out between the run lane's frontier and its next step; dependencies push dependents
    to the right). Arcs that epics multiply (the frontier into each slice of an epic, each
    slice of an epic into the run lane's completion step, and an epic's dependency on
    another: every slice of one read by every slice of the other) are drawn once per epic,
    as a bold arc to or from the epic's box, and kept invisible one by one for the layout.
    """
    epic_of = {s.id: s.epic for s in run.slices}
    own = {s.id: frozenset(s.depends_on) for s in run.slices}
    epic_deps = {e.id: frozenset(e.depends_on) for e in run.epics}
    style = f'style=dashed arrowhead=odot color="{COLOURS["read"]}"'
    lines: list[str] = []
    bundles: dict[tuple[str, str, str], str] = {}
    for t in net.transitions:
        i = t.index
        for p, _w in net.read[i]:
            name = net.places[p]
            src = name.split(":", 2)[1] if name.startswith("slice:") else None
            key = tip = attrs_ = None
            if t.slice_id is None and src is not None and epic_of.get(src) in clusters:
                ep = epic_of[src]
                assert ep is not None
                key = ("out", ep, t.name)
                attrs_ = f"ltail={clusters[ep]}"
                tip = f"read arcs: {t.name} waits for every slice of epic {ep} to complete"
            elif t.slice_id is not None and src is None and epic_of.get(t.slice_id) in clusters:
                ep = epic_of[t.slice_id]
                assert ep is not None
                key = ("in", ep, name)
                attrs_ = f"lhead={clusters[ep]}"
                tip = f"read arcs: every slice of epic {ep} starts only while {name} is marked"
            elif t.slice_id is not None and src is not None:
                mine, theirs = epic_of.get(t.slice_id), epic_of.get(src)
                if (mine in clusters and theirs in clusters and mine != theirs
                        and theirs in epic_deps.get(mine or "", ()) and src not in own[t.slice_id]):
                    assert mine is not None and theirs is not None
                    key = ("dep", theirs, mine)
                    attrs_ = f"ltail={clusters[theirs]} lhead={clusters[mine]} penwidth=2.5"
                    tip = (f"read arcs: every slice of epic {mine} waits for every slice of "
                           f"epic {theirs} to complete")
            if key is None:
                lines.append(f"  {pid[name]} -> t{i} [{style} constraint=true weight=0 "
                             'class="arc read"];')
                continue
            lines.append(f"  {pid[name]} -> t{i} [style=invis constraint=true weight=0];")
            if key not in bundles:
                bundles[key] = (f"  {pid[name]} -> t{i} [{style} {attrs_} penwidth=2 "
                                'constraint=false class="arc read epic" '
                                f"tooltip={_tip(tip or '')}];")
    return lines + list(bundles.values())
