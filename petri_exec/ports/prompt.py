"""The prompt an agent gets for a slice: its title, ``meta.prompt`` and what its
dependencies did (their facts), as Markdown.

The text is a pure function of the slice and its dependencies' facts, so every attempt of a
slice sees the same prompt. Its sections: a title line, a short preamble, ``## Task`` (the
slice's ``meta.prompt``, or its title when there is none) and ``## Done before you`` (one
``### <id>`` per dependency with its facts as ``- key: value`` lines).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..run.model import Slice

__all__ = ["prompt_text", "write_prompt"]

#: Longest value of a dependency's fact shown in a prompt (longer ones are cut).
_MAX_VALUE = 400


def _value(v: Any) -> str:
    text = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    text = text.replace("\n", " ")
    return text if len(text) <= _MAX_VALUE else text[:_MAX_VALUE] + " …"


def prompt_text(run_id: str, slice_: Slice, dependencies: Mapping[str, Mapping[str, Any]],
                branch: str) -> str:
    """The prompt for ``slice_``.

    Args:
        run_id: The run's id.
        slice_: The slice.
        dependencies: Each dependency's id -> its facts (``ctx.dependencies``).
        branch: The slice's branch.

    Returns:
        Markdown text ending with a newline.

    Raises:
        ValueError: ``meta.prompt`` is present but not a string.
    """
    meta = slice_.meta or {}
    task = meta.get("prompt")
    if task is not None and not isinstance(task, str):
        raise ValueError(f"slice {slice_.id!r}: meta.prompt must be a string (the task for "
                         f"the agent), got {type(task).__name__}")
    title = slice_.title or slice_.id
    lines = [
        f"# {title}",
        "",
        f"Slice `{slice_.id}` of run `{run_id}`. You work in the current directory, a git "
        f"worktree on branch `{branch}`. Edit files there; when you exit with status 0, "
        "petri-exec commits every change you leave (do not commit yourself, do not switch "
        "branches). A non-zero exit fails the slice and nothing is committed.",
        "",
        "## Task",
        "",
        (task if task is not None else title).rstrip("\n"),
    ]
    if dependencies:
        lines += ["", "## Done before you", "",
                  "These slices ran before this one; their work is already in your worktree.",
                  ""]
        for dep, facts in dependencies.items():
            lines.append(f"### {dep}")
            lines += [f"- {k}: {_value(v)}" for k, v in sorted(facts.items())]
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def write_prompt(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a reader never sees half a prompt)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
