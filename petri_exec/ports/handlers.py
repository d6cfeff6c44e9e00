"""Built-in step handlers, named by templates (never code in a template).

- ``verify_slices``: fails with ``verification_failed`` when any slice's
  ``facts.verdict`` is ``"failed"``.
- ``export_pnml``: writes the compiled net as PNML to ``<run stem>.pnml`` beside
  run.json (nothing to write for an in-memory run).
- ``promote``: calls the step's port (``land``); a failure becomes
  ``promotion_failed`` (the port's reason kept as ``detail``), a result with
  ``changes: false`` or a failure ``promotion_no_changes`` becomes
  ``promotion_no_changes``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import attrs

from ..core.marking import Marking
from ..core.net import Net
from ..interchange.pnml import to_pnml
from ..run.model import Slice
from .protocol import StepContext, StepResult

__all__ = ["HANDLERS", "HandlerEnv"]


@attrs.frozen
class HandlerEnv:
    """What a built-in handler may use besides the step context.

    Attributes:
        slices: Returns the run's slices as they are now.
        net: Returns the run's full compiled net.
        marking: Returns the current marking.
        run_path: The run file, or None for an in-memory run.
        call_port: Calls the step's port, or None when the step names no port.
        write_file: Writes bytes to a path atomically.
    """

    slices: Callable[[], Iterable[Slice]]
    net: Callable[[], Net]
    marking: Callable[[], Marking]
    run_path: Path | None
    call_port: Callable[[], StepResult] | None
    write_file: Callable[[Path, bytes], None]


def verify_slices(ctx: StepContext, env: HandlerEnv) -> StepResult:
    """Fail with ``verification_failed`` if any slice's verdict is ``"failed"``."""
    failed = [s.id for s in env.slices() if s.facts.get("verdict") == "failed"]
    if failed:
        shown = ", ".join(failed[:10]) + (f" and {len(failed) - 10} more"
                                          if len(failed) > 10 else "")
        return StepResult.fail("verification_failed", failed_slices=failed,
                               detail=f"the tests of slice{'s' if len(failed) > 1 else ''} "
                                      f"{shown} failed (facts.verdict)")
    return StepResult.ok()


def export_pnml(ctx: StepContext, env: HandlerEnv) -> StepResult:
    """Write ``<run stem>.pnml`` beside run.json and record its file name as ``pnml``."""
    if env.run_path is None:
        return StepResult.ok()
    target = env.run_path.with_name(f"{env.run_path.stem}.pnml")
    env.write_file(target, to_pnml(env.net(), env.marking()))
    return StepResult.ok(pnml=target.name)


def promote(ctx: StepContext, env: HandlerEnv) -> StepResult:
    """Land the run through its port, mapping failures to the promotion reasons."""
    if env.call_port is None:
        return StepResult.ok()
    result = env.call_port()
    if result.failed:
        if result.reason == "promotion_no_changes":
            return result
        return StepResult("promotion_failed", {**result.facts, "detail": result.reason})
    if result.facts.get("changes") is False:
        return StepResult("promotion_no_changes", result.facts)
    return result


#: Built-in handlers by name.
HANDLERS: dict[str, Callable[[StepContext, HandlerEnv], StepResult]] = {
    "verify_slices": verify_slices,
    "export_pnml": export_pnml,
    "promote": promote,
}
