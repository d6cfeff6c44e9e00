"""Built-in ``shell`` ports: drive a run with shell commands, without writing Python.

- ``agent_runner`` (executor) and ``runner`` (minimal) run the slice's ``meta.run``;
- ``test_runner`` runs ``meta.verify`` when present (exit 0 -> verdict ``passed``, else
  ``failed``) and reports ``passed`` when there is none;
- ``workspace`` creates the run directory ``<run_id>.work/`` beside run.json;
- ``land`` and ``host_land`` record what would be landed (the files in the run directory);
  they never touch git.

Commands run through ``/bin/sh -c`` with the run directory as working directory; stdout
and stderr go to ``<run dir>/logs/<slice or step>.<attempt>.log``. A non-zero exit fails
the step with the exit code and the log path in the reason.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from .protocol import StepContext, StepResult

__all__ = ["ShellPorts"]


class ShellPorts:
    """The built-in shell ports (``petri-exec drive RUN --ports shell``).

    Args:
        timeout_s: Kill a command after this many seconds (None: no limit).
    """

    def __init__(self, timeout_s: float | None = None) -> None:
        self.timeout_s = timeout_s

    @staticmethod
    def work_dir(ctx: StepContext) -> Path:
        """The run directory ``<run_id>.work`` beside run.json."""
        if ctx.run_dir is None:
            raise ValueError("shell ports need a run file (run_dir is None for in-memory runs)")
        stem = ctx.idempotency_key.split("/", 1)[0]
        return ctx.run_dir / f"{stem}.work"

    def _run(self, ctx: StepContext, command: str, what: str) -> tuple[int, Path]:
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
            try:
                proc = subprocess.run(["/bin/sh", "-c", command], cwd=work, stdout=out,
                                      stderr=subprocess.STDOUT, env=env, check=False,
                                      timeout=self.timeout_s, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                return -1, log
        return proc.returncode, log

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
            what = "timed out" if rc == -1 else f"exited with {rc}"
            return StepResult.fail(f"meta.run {what} (log: {rel})", exit_code=rc, log=rel)
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
