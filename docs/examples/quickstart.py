"""Quick start: drive the example checkout run with small Python ports.

Run from a checkout: ``python docs/examples/quickstart.py [OUTPUT_DIR]``. It copies
``nets/examples/checkout.json`` into OUTPUT_DIR (default ``./quickstart-run``), drives it
with ports that do real (small) work in that directory, and prints what happened.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import petri_exec as pe

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent.parent / "nets" / "examples" / "checkout.json"


def workspace(ctx: pe.StepContext) -> dict[str, str]:
    """Create the run's work directory (the worktree ports)."""
    assert ctx.run_dir is not None
    work = ctx.run_dir / "work"
    work.mkdir(exist_ok=True)
    return {f"{ctx.step}_dir": str(work.name)}


def agent_runner(ctx: pe.StepContext) -> dict[str, str]:
    """Stand-in for a coding agent: writes one file per slice."""
    assert ctx.run_dir is not None and ctx.slice is not None
    out = ctx.run_dir / "work" / f"{ctx.slice.id}.txt"
    out.write_text(f"{ctx.slice.title}\n")
    return {"output": out.name}


def test_runner(ctx: pe.StepContext) -> dict[str, str]:
    """Verify the slice's file with a real subprocess."""
    assert ctx.run_dir is not None and ctx.slice is not None
    rc = subprocess.call(["test", "-s", f"work/{ctx.slice.id}.txt"], cwd=ctx.run_dir)
    return {"verdict": "passed" if rc == 0 else "failed"}


def land(ctx: pe.StepContext) -> pe.StepResult:
    """Record what would be landed."""
    assert ctx.run_dir is not None
    files = sorted(p.name for p in (ctx.run_dir / "work").glob("*.txt"))
    if not files:
        return pe.StepResult.fail("promotion_no_changes")
    return pe.StepResult.ok(landed=files)


def main() -> int:
    """Copy the example, drive it, print the outcome and the journal summary."""
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "quickstart-run")
    target.mkdir(parents=True, exist_ok=True)
    run_file = target / "run.json"
    shutil.copyfile(EXAMPLE, run_file)
    journal = pe.journal_path(run_file)
    journal.unlink(missing_ok=True)

    def show(e: pe.Event) -> None:
        if e.kind == "transition_fired":
            print(f"  fired {e.transition}")

    ports = {"workspace": workspace, "agent_runner": agent_runner,
             "test_runner": test_runner, "land": land}
    outcome = pe.drive(run_file, ports, on_event=show)
    print(f"{outcome.status}: run is {outcome.run_status} after {outcome.fired} firings")
    print(f"run file: {run_file}  journal: {journal}")
    return 0 if outcome.status == "completed" else 3


if __name__ == "__main__":
    raise SystemExit(main())
