"""Text for a terminal: user text never carries control characters to the screen.

Titles, failure reasons, facts and ids come from users and their ports; a reason holding
an escape sequence or a newline must not move the cursor, recolour the terminal or forge
a line of output. :func:`for_terminal` shows such characters as escapes (``\\x1b``,
``\\n``) instead.
"""

from __future__ import annotations

import re

__all__ = ["for_terminal"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def for_terminal(text: str) -> str:
    """``text`` with every control character (C0, DEL, C1, line separators, bidi overrides)
    shown as an escape, so it prints on one line and cannot drive the terminal.

    Args:
        text: Any text.

    Returns:
        Printable text (unchanged when it had no control character).
    """
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}"
                                             if ord(m.group()) < 0x100
                                             else f"\\u{ord(m.group()):04x}"), text)
