"""Built-in ``shell`` ports: drive a run with shell commands, without writing Python.

- ``agent_runner`` (executor) and ``runner`` (minimal) run the slice's ``meta.run``;
- ``test_runner`` runs ``meta.verify`` when present (exit 0 -> verdict ``passed``, else
  ``failed``) and reports ``passed`` when there is none;
- ``workspace`` creates the run directory ``<run stem>.work/`` beside run.json;
- ``land`` and ``host_land`` record what would be landed (the files in the run directory);
  they never touch git.

Commands run through ``/bin/sh -c`` with the run directory as working directory, each in
its own process group (:mod:`.procgroup`): a timeout, an interrupt or the drive's end ends
everything the command started. stdout and stderr go to
``<run dir>/logs/<slice or step>.<what>.<attempt>.log``. A non-zero exit fails the step with
the exit code and the log path in the reason.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .procgroup import KILL_AFTER_S, run_command
from .protocol import StepContext, StepResult

__all__ = ["ShellPorts"]


class ShellPorts:
    """The built-in shell ports (``petri-exec drive RUN --ports shell``).

    Args:
        timeout_s: End a command (its whole process group) after this many seconds (None:
            no limit).
        kill_after_s: Seconds between ``SIGTERM`` and ``SIGKILL`` when a command is ended.
    """

    def __init__(self, timeout_s: float | None = None,
                 kill_after_s: float = KILL_AFTER_S) -> None:
        self.timeout_s = timeout_s
        self.kill_after_s = kill_after_s

    @staticmethod
    def work_dir(ctx: StepContext) -> Path:
        """The run directory ``<run stem>.work`` beside run.json."""
        if ctx.run_path is not None:
            return ctx.run_path.with_name(f"{ctx.run_path.stem}.work")
        if ctx.run_dir is None:
            raise ValueError("shell ports need a run file (run_dir is None for in-memory runs)")
        return ctx.run_dir / f"{ctx.run_id}.work"

    def _run(self, ctx: StepContext, command: str, what: str) -> tuple[int | None, Path]:
        work = self.work_dir(ctx)
        work.mkdir(parents=True, exist_ok=True)
        logs = work / "logs"
        logs.mkdir(exist_ok=True)
        log = logs / f"{ctx.slice_id or ctx.step}.{what}.{ctx.attempt}.log"
        env = dict(os.environ)
        env.update({"PETRI_RUN_ID": ctx.run_id, "PETRI_TRANSITION": ctx.transition,
                    "PETRI_SLICE_ID": ctx.slice_id or "", "PETRI_ATTEMPT": str(ctx.attempt),
                    "PETRI_IDEMPOTENCY_KEY": ctx.idempotency_key})
        with open(log, "wb") as out:
            rc = run_command(["/bin/sh", "-c", command], owner=_owner(ctx), cwd=work,
                             env=env, stdout=out, timeout_s=self.timeout_s,
                             kill_after_s=self.kill_after_s)
        return rc, log

    def _command(self, ctx: StepContext, key: str) -> str | None:
        meta = ctx.slice.meta if ctx.slice is not None else None
        value = (meta or {}).get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"slice {ctx.slice_id!r}: meta.{key} must be a shell command string")
        return value

    def workspace(self, ctx: StepContext) -> dict[str, Any]:
        """Create the run directory."""
        work = self.work_dir(ctx)
        work.mkdir(parents=True, exist_ok=True)
        return {"work_dir": work.name}

    def agent_runner(self, ctx: StepContext) -> StepResult:
        """Run ``meta.run`` (fails when the slice has none)."""
        command = self._command(ctx, "run")
        if command is None:
            return StepResult.fail(f"slice {ctx.slice_id!r} has no meta.run command; add "
                                   '"meta": {"run": "<shell command>"} to the slice')
        rc, log = self._run(ctx, command, "run")
        rel = str(log.relative_to(self.work_dir(ctx).parent))
        if rc != 0:
            what = _ending(rc, self.timeout_s)
            return StepResult.fail(f"meta.run {what} (log: {rel})",
                                   exit_code=-1 if rc is None else rc, log=rel)
        return StepResult.ok(exit_code=0, log=rel)

    runner = agent_runner

    def test_runner(self, ctx: StepContext) -> dict[str, Any]:
        """Run ``meta.verify``: exit 0 gives verdict ``passed``, anything else ``failed``."""
        command = self._command(ctx, "verify")
        if command is None:
            return {"verdict": "passed"}
        rc, log = self._run(ctx, command, "verify")
        rel = str(log.relative_to(self.work_dir(ctx).parent))
        return {"verdict": "passed" if rc == 0 else "failed", "verify_log": rel}

    def land(self, ctx: StepContext) -> StepResult:
        """Record the files that would be landed (never touches git)."""
        work = self.work_dir(ctx)
        files = sorted(
            str(p.relative_to(work)) for p in work.rglob("*")
            if p.is_file() and "logs" not in p.relative_to(work).parts
        ) if work.is_dir() else []
        if not files:
            return StepResult.ok(changes=False)
        return StepResult.ok(would_land=files)

    host_land = land


def _owner(ctx: StepContext) -> str | None:
    """The drive a command belongs to (its process group is ended with the drive)."""
    return os.fspath(ctx.run_path) if ctx.run_path is not None else None


def _ending(rc: int | None, timeout_s: float | None) -> str:
    if rc is None:
        return f"timed out after {timeout_s:g}s (its process group was ended)"
    if rc < 0:
        return f"was killed by signal {-rc}"
    return f"exited with {rc}"
