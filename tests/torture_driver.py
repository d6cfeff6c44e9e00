"""Child process of the kill-and-resume torture test (not a test module).

Usage: python torture_driver.py RUN_JSON CALLS_FILE CHECKPOINT_EVERY
Prints ``ready`` once imported, then drives the run; every port call is appended (and
fsync-ed) to CALLS_FILE before the port returns.
"""

from __future__ import annotations

import json
import os
import sys
import time

import petri_exec as pe


def main() -> int:
    run_path, calls_path, every = sys.argv[1], sys.argv[2], int(sys.argv[3])

    def runner(ctx: pe.StepContext) -> dict[str, str]:
        with open(calls_path, "a") as f:
            f.write(json.dumps([ctx.transition, ctx.attempt, ctx.idempotency_key]) + "\n")
            f.flush()
            os.fsync(f.fileno())
        time.sleep(0.001)
        return {"out": ctx.transition}

    print("ready", flush=True)
    out = pe.drive(run_path, {"runner": runner}, checkpoint_every=every)
    print(out.status, flush=True)
    return 0 if out.status == "completed" else 3


if __name__ == "__main__":
    raise SystemExit(main())
