"""Views: what a person looks at. The DOT net view and the slices view, Mermaid, the
self-contained HTML report, the Graphviz back ends (system ``dot``, else WebAssembly), the
terminal progress board, and ``visualize`` (the one view that reads a run file).

Values in, text or bytes out. Imports anything below (``engine`` for journals and
``load_run``); never the command line. The ``petri_exec`` facade never imports this package.
"""

from __future__ import annotations

from .graphviz import INSTALL_HINT, render_dot
from .htmlreport import html_report, last_failure, overlay_for, overlay_of, svg_inline
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
from .runpage import RunPage, duration_text, legend_html, report_html, sections
from .runstats import LaneStats, RunStats, log_paths
from .sliceview import header_nodes, slice_state, to_dot_slices, to_mermaid
from .viewchoice import ViewChoice, choose_view, net_view_size
from .visualize import FORMATS, VIEWS, format_for, picture_dot, visualize

__all__ = [
    "BoardProgress",
    "COLOURS",
    "FORMATS",
    "INSTALL_HINT",
    "LineProgress",
    "Overlay",
    "LaneStats",
    "RunPage",
    "RunStats",
    "VIEWS",
    "ViewChoice",
    "choose_view",
    "duration_text",
    "legend_html",
    "log_paths",
    "net_view_size",
    "overlay_of",
    "picture_dot",
    "report_html",
    "sections",
    "svg_inline",
    "dot_escape",
    "dot_tooltip_escape",
    "event_line",
    "format_for",
    "header_nodes",
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
