"""Views: what a person looks at. The DOT net view and the slices view, Mermaid, the
self-contained HTML report, the Graphviz back ends (system ``dot``, else WebAssembly), the
terminal progress board, and ``visualize`` (the one view that reads a run file).

Values in, text or bytes out. Imports anything below (``engine`` for journals and
``load_run``); never the command line. The ``petri_exec`` facade never imports this package.
"""

from __future__ import annotations

from .graphviz import INSTALL_HINT, render_dot
from .htmlreport import html_report, last_failure, overlay_for
from .netview import (
    COLOURS,
    Overlay,
    dot_escape,
    dot_tooltip_escape,
    html_escape,
    mermaid_escape,
    shorten,
    to_dot,
)
from .progress import BoardProgress, LineProgress, event_line
from .sliceview import header_label, slice_state, to_dot_slices, to_mermaid
from .visualize import FORMATS, SLICES_VIEW_ABOVE, format_for, visualize

__all__ = [
    "BoardProgress",
    "COLOURS",
    "FORMATS",
    "INSTALL_HINT",
    "LineProgress",
    "Overlay",
    "SLICES_VIEW_ABOVE",
    "dot_escape",
    "dot_tooltip_escape",
    "event_line",
    "format_for",
    "header_label",
    "html_escape",
    "html_report",
    "last_failure",
    "mermaid_escape",
    "overlay_for",
    "render_dot",
    "shorten",
    "slice_state",
    "to_dot",
    "to_dot_slices",
    "to_mermaid",
    "visualize",
]
