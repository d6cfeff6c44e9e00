"""What the live page can do to a run, through the same API as the command line.

``fire`` calls :func:`petri_exec.fire` (a manual gate such as ``host_promotion``, with the
ports given to ``petri-exec serve --ports``), ``abandon`` calls :func:`petri_exec.abandon`,
and ``retry`` calls :func:`petri_exec.retry` (with the same ports, for their
``reset_slices`` hook). Each runs in the caller's thread (the server hands it a worker
thread) and returns an :class:`ActionResult`: bad input and refusals (not enabled, locked by
a drive, unknown slice) are results with a message, never exceptions.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs

from ...engine import abandon, fire, retry
from ...errors import PetriExecError

__all__ = ["ACTIONS", "ActionResult", "perform"]

#: The actions, each with the body field it needs.
ACTIONS = {"fire": "target", "retry": "target", "abandon": "reason"}


@attrs.frozen
class ActionResult:
    """How an action went.

    Attributes:
        ok: Whether it did what was asked.
        status: The HTTP status to answer with.
        message: One line for the page.
    """

    ok: bool
    status: int
    message: str


def _text(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def perform(kind: str, path: str | os.PathLike[str], body: Mapping[str, Any],
            ports: Any) -> ActionResult:
    """Do one action on the run file ``path``.

    Args:
        kind: ``fire``, ``retry`` or ``abandon``.
        path: The run file.
        body: The request's JSON object (``target``: a transition or slice; ``reason``).
        ports: The ports ``fire`` uses.

    Returns:
        The result (200 done, 400 bad request, 409 refused by the run, 422 the step failed).
    """
    if kind not in ACTIONS:
        return ActionResult(False, 404, f"unknown action {kind!r}; use "
                                        f"{', '.join(ACTIONS)}")
    field = ACTIONS[kind]
    value = _text(body, field)
    if value is None:
        return ActionResult(False, 400, f"{kind} needs a non-empty {field!r}")
    try:
        if kind == "abandon":
            run = abandon(path, value)
            return ActionResult(True, 200, f"abandoned run {run.run_id!r} at {run.status!r}")
        if kind == "fire":
            out = fire(path, value, ports)
            if out.status == "fired":
                return ActionResult(True, 200, f"fired {value}: run status {out.run_status}")
            why = out.reason or out.status
            return ActionResult(False, 422, f"{value} {out.status}: {why}"
                                + (f" ({out.detail})" if out.detail else ""))
        run = retry(path, value, ports=ports)
        return ActionResult(True, 200, f"retried {value}: run status {run.status}")
    except PetriExecError as e:
        return ActionResult(False, 409, str(e))
