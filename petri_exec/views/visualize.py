"""``petri-exec visualize`` as a function: a run file drawn in one of six formats.

The net view or the slices view (default above :data:`SLICES_VIEW_ABOVE` slices) as DOT,
SVG or PNG (through :mod:`petri_exec.views.graphviz`), the self-contained HTML report, Mermaid, or
the net's JSON form, each with the current marking and the journal's fired and failed steps.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..core.compile import compile_run, marking_of
from ..engine.durable import load_run
from ..errors import UsageError
from ..interchange.netjson import net_json
from ..run.templates import load_template
from .graphviz import render_dot
from .htmlreport import html_report, overlay_for
from .netview import to_dot
from .sliceview import to_dot_slices, to_mermaid

__all__ = ["FORMATS", "SLICES_VIEW_ABOVE", "format_for", "visualize"]

#: The formats ``visualize`` writes.
FORMATS = ("dot", "svg", "png", "mermaid", "html", "json")
#: Runs with more slices than this are drawn with the slices view unless told otherwise.
SLICES_VIEW_ABOVE = 40
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


def visualize(run_path: str | os.PathLike[str], fmt: str, view: str | None = None) -> bytes:
    """Draw a run file.

    Args:
        run_path: The run file (its journal beside it gives the fired and failed steps).
        fmt: One of :data:`FORMATS`.
        view: ``"net"`` or ``"slices"``; None picks ``slices`` above
            :data:`SLICES_VIEW_ABOVE` slices, else ``net``.

    Returns:
        The file's bytes (UTF-8 text for every format but PNG).

    Raises:
        RunFileError: The run file is invalid.
        UsageError: Unknown format or view, or no Graphviz for SVG, PNG or HTML.
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if view not in (None, "net", "slices"):
        raise UsageError(f"unknown view {view!r}; use net or slices")
    run = load_run(run_path)
    template = load_template(run.template)
    net = compile_run(run, template=template)
    overlay = overlay_for(run_path, net, run)
    view = view or ("slices" if len(run.slices) > SLICES_VIEW_ABOVE else "net")
    marking = marking_of(run)
    if fmt == "json":
        enabled = (net.transition(n) for n in overlay.enabled)
        return (json.dumps(net_json(net, marking, enabled), indent=2) + "\n").encode()
    if fmt == "mermaid":
        return to_mermaid(run, template, overlay).encode()
    src = (to_dot(net, run, template, marking, overlay) if view == "net"
           else to_dot_slices(run, template, overlay))
    if fmt == "dot":
        return src.encode()
    if fmt == "html":
        return html_report(run, template, overlay, render_dot(src, "svg"), run_path).encode()
    return render_dot(src, fmt)
