"""Module-level ports for the concurrency tests (importable by Dask worker processes)."""

from __future__ import annotations

import os
import time

import petri_exec as pe


def sleepy(ctx: pe.StepContext) -> dict[str, object]:
    """Sleep ``meta.sleep`` seconds; report whether another process than the driver's ran it."""
    meta = dict(ctx.slice.meta or {}) if ctx.slice is not None else {}
    time.sleep(float(meta.get("sleep", 0.01)))
    return {"remote": os.getpid() != meta.get("driver_pid"), "ran": ctx.transition}


def noop(ctx: pe.StepContext) -> None:
    """Do nothing."""
    return None
