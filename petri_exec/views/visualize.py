"""``petri-exec visualize`` as a function: a run file drawn in one of six formats.

The net view or the slices view (by default the net view while its picture stays readable,
see :mod:`.viewchoice`) as DOT, SVG or PNG (through :mod:`petri_exec.views.graphviz`), the
self-contained HTML report, Mermaid, or the net's JSON form, each with the current marking
and the journal's fired and failed steps.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from ..core.compile import compile_run, marking_of
from ..core.net import Net
from ..engine.durable import load_durable
from ..engine.journal import journal_path, read_journal
from ..errors import UsageError
from ..interchange.netjson import net_json
from ..run.model import Run
from ..run.templates import Template
from .graphviz import render_dot
from .htmlreport import html_report, overlay_of
from .netview import Overlay, to_dot
from .sliceview import to_dot_slices, to_mermaid
from .viewchoice import choose_view

__all__ = ["FORMATS", "VIEWS", "format_for", "picture_dot", "visualize"]

#: The formats ``visualize`` writes.
FORMATS = ("dot", "svg", "png", "mermaid", "html", "json")
#: The views it draws.
VIEWS = ("net", "slices")
_ALIASES = {"gv": "dot", "htm": "html", "mmd": "mermaid"}


def format_for(output: str | None, fmt: str | None) -> str:
    """The format to write: ``fmt`` if given, else from ``output``'s extension, else DOT.

    Args:
        output: The output file, or None for stdout.
        fmt: The format asked for, or None.

    Returns:
        One of :data:`FORMATS`.

    Raises:
        UsageError: The extension names no known format.
    """
    chosen = fmt or (Path(output).suffix.lstrip(".").lower() if output else "dot")
    chosen = _ALIASES.get(chosen, chosen)
    if chosen not in FORMATS:
        raise UsageError(f"{output}: unknown format {chosen!r} (from the file's extension); "
                         f"use --format with one of {', '.join(FORMATS)}")
    return chosen


def picture_dot(net: Net, run: Run, template: Template, overlay: Overlay, view: str) -> str:
    """The DOT source of ``view`` (``net`` or ``slices``) for a run: the one picture the
    report, the live page and ``visualize`` draw.

    Args:
        net: The run's compiled net.
        run: The run.
        template: Its template.
        overlay: Enabled, fired and failed transitions.
        view: ``net`` or ``slices``.

    Returns:
        A DOT digraph.
    """
    if view == "net":
        return to_dot(net, run, template, marking_of(run), overlay)
    return to_dot_slices(run, template, overlay)


def visualize(run_path: str | os.PathLike[str], fmt: str, view: str | None = None,
              explain: Callable[[str], object] | None = None) -> bytes:
    """Draw a run file.

    Args:
        run_path: The run file (its journal beside it gives the fired and failed steps).
        fmt: One of :data:`FORMATS`.
        view: ``"net"`` or ``"slices"``; None picks the net view while its picture stays
            readable, else the slices view (:func:`petri_exec.views.viewchoice.choose_view`).
        explain: Called with one line saying which view was picked and why, when ``view``
            is None and the format draws a view (dot, svg, png, html), once it is drawn.

    Returns:
        The file's bytes (UTF-8 text for every format but PNG).

    Raises:
        RunFileError: The run file is invalid.
        JournalError: Its journal is damaged.
        UsageError: Unknown format or view, or no Graphviz for SVG, PNG or HTML.
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if view not in (None, *VIEWS):
        raise UsageError(f"unknown view {view!r}; use net or slices")
    durable = load_durable(run_path)
    run, template = durable.run, durable.template
    events, torn = read_journal(journal_path(run_path))
    net = compile_run(run, template=template)
    overlay = overlay_of(events, net, run)
    if fmt == "json":
        enabled = (net.transition(n) for n in overlay.enabled)
        return (json.dumps(net_json(net, marking_of(run), enabled), indent=2) + "\n").encode()
    if fmt == "mermaid":
        return to_mermaid(run, template, overlay).encode()
    choice = choose_view(net, run) if view is None else None
    view = choice.view if choice is not None else view or "net"
    src = picture_dot(net, run, template, overlay, view)
    if fmt == "dot":
        out = src.encode()
    elif fmt == "html":
        out = html_report(run, template, net, overlay, render_dot(src, "svg"), run_path,
                          events, torn, view).encode()
    else:
        out = render_dot(src, fmt)
    if choice is not None and explain is not None:
        explain(choice.reason)
    return out
