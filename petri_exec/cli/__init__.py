"""The ``petri-exec`` command (also ``python -m petri_exec``): parse, dispatch, exit codes.

The top layer: it may import every other package; nothing imports it. ``app`` holds the
parser frame and ``main``; each sibling module declares its commands with ``register(add)``.

Exit codes: 0 success / completed; 2 bad input or usage (one line, no traceback, nothing
modified); 3 halted; 4 deadlocked; 5 paused; 1 internal error.
"""

from __future__ import annotations

from .app import build_parser, main

__all__ = ["build_parser", "main"]
