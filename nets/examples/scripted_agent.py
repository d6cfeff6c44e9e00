#!/usr/bin/env python3
"""A scripted stand-in for a coding agent: it edits files as its prompt says, no model.

petri-exec's git ports run the agent command in a slice's worktree with the prompt file's
path in ``PETRI_PROMPT_FILE`` (or pass the path as the first argument). This program reads
the prompt's ``## Task`` section and obeys the lines that start with one of:

    - write PATH: TEXT          create or overwrite PATH with TEXT
    - append PATH: TEXT         add TEXT to the end of PATH
    - replace PATH: OLD => NEW  replace every OLD in PATH by NEW (OLD must be there)
    - fail: MESSAGE             print MESSAGE and exit 1 (to see a failing agent)

In TEXT, ``\\n`` is a newline and ``\\t`` a tab. Every other line of the prompt is read and
ignored, as a model would read the context. PATH must stay inside the working directory.
Exit codes: 0 done, 1 a ``fail`` line, 2 a line it cannot obey.

Usage: petri-exec drive RUN --ports git --agent "python3 /path/to/scripted_agent.py"
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

VERBS = ("write", "append", "replace", "fail")


def task_lines(prompt: str) -> list[str]:
    """The lines of the prompt's ``## Task`` section."""
    lines, inside = [], False
    for line in prompt.splitlines():
        if line.startswith("## "):
            inside = line.strip() == "## Task"
            continue
        if inside:
            lines.append(line)
    return lines


def target(path: str) -> Path:
    """``path`` inside the working directory (refuses absolute paths and '..')."""
    p = Path(path.strip())
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise ValueError(f"path {path!r} leaves the working directory")
    return p


def unescape(text: str) -> str:
    """``\\n`` -> newline, ``\\t`` -> tab, ``\\\\`` -> backslash."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "nt\\":
            out.append({"n": "\n", "t": "\t", "\\": "\\"}[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def obey(line: str) -> int | None:
    """Carry out one instruction; an exit code to stop with, or None to go on."""
    verb, _, rest = line[2:].partition(" ")
    if verb == "fail:":
        print(f"scripted agent: failing as told: {rest.strip()}")
        return 1
    path, sep, text = rest.partition(": ")
    if not sep:
        raise ValueError(f"expected '- {verb} PATH: TEXT', got {line!r}")
    p = target(path)
    if p.parent != Path("."):
        p.parent.mkdir(parents=True, exist_ok=True)
    if verb == "write":
        p.write_text(unescape(text))
    elif verb == "append":
        with p.open("a") as f:
            f.write(unescape(text))
    else:
        old, arrow, new = text.partition(" => ")
        body = p.read_text()
        if not arrow or unescape(old) not in body:
            raise ValueError(f"cannot replace {old!r} in {p}: not found")
        p.write_text(body.replace(unescape(old), unescape(new)))
    print(f"scripted agent: {verb} {p}")
    return None


def main(argv: list[str]) -> int:
    """Read the prompt file and obey its task."""
    source = argv[1] if len(argv) > 1 else os.environ.get("PETRI_PROMPT_FILE")
    if not source:
        print("scripted agent: no prompt: set PETRI_PROMPT_FILE or pass the prompt file",
              file=sys.stderr)
        return 2
    done = 0
    for line in task_lines(Path(source).read_text()):
        if not any(line.startswith(f"- {verb} ") or line.startswith(f"- {verb}:")
                   for verb in VERBS):
            continue
        try:
            code = obey(line)
        except (OSError, ValueError) as e:
            print(f"scripted agent: {e}", file=sys.stderr)
            return 2
        if code is not None:
            return code
        done += 1
    print(f"scripted agent: {done} instruction(s) carried out")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
