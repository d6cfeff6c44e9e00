"""Worker process of rule ``determinism``: ``python -m petri_exec.testing._worker SPEC DIRS``.

Reads one JSON request per line (``{"run": <run.json text>}``) and answers one JSON line
(``{"answers": [[names...], ...]}`` or ``{"error": "..."}``). The first line it writes
is ``{"ready": true}``, or ``{"fatal": "..."}`` when the factory cannot be imported.
Anything the scheduler prints goes to stderr, never into the protocol.
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any

__all__ = ["main"]


def main(argv: list[str]) -> int:
    """Serve requests on stdin until it closes.

    Args:
        argv: ``[program, spec, template_dirs_json]``.

    Returns:
        The exit code.
    """
    out = sys.stdout
    sys.stdout = sys.stderr

    def reply(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    try:
        from ..run.runfile import parse_run
        from ..run.templates import load_template
        from .determinism import answers_along, resolve_factory

        dirs = tuple(json.loads(argv[2])) if len(argv) > 2 else ()
        factory = resolve_factory(argv[1])
    except Exception as e:
        reply({"fatal": f"{type(e).__name__}: {e}"})
        return 1
    reply({"ready": True})
    for line in sys.stdin:
        try:
            run = parse_run(json.loads(json.loads(line)["run"]), template_dirs=dirs)
            template = load_template(run.template, dirs)
            answers, _ = answers_along(factory(run), run, template)
            reply({"answers": answers})
        except Exception as e:
            last = traceback.extract_tb(e.__traceback__)[-1:]
            where = f" at {last[0].filename}:{last[0].lineno}" if last else ""
            reply({"error": f"{type(e).__name__}: {e}{where}"})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
