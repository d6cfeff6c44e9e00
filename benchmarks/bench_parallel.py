"""Concurrency benchmarks (contract section 7 and the concurrency issue), as ratios.

1. A wide run: 64 independent slices whose port sleeps S seconds, driven in memory with
   ``max_parallel=16``, against the ideal schedule ceil(64/16) * S. Target: <= 1.15x.
2. Scheduling overhead per task against Dask's local threaded scheduler
   (``dask.threaded.get``) on the same 10,000-task no-op random DAG: our in-memory drive
   with a thread pool of the same size as Dask's (the machine's core count), and our
   sequential drive, each divided by Dask's time.

Medians of ``--repeat`` samples. Run: ``python benchmarks/bench_parallel.py [--quick]``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import petri_exec as pe


def _median(fn: Callable[[], Any], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def wide(sleep_s: float, repeat: int) -> tuple[float, float]:
    """(measured, ideal) seconds for 64 sleeping slices at max_parallel=16."""
    run = pe.Run(run_id="wide", template="minimal",
                 slices=tuple(pe.Slice(f"s{i}") for i in range(64)))

    def port(ctx: pe.StepContext) -> None:
        time.sleep(sleep_s)

    def go() -> None:
        out = pe.drive(run, {"runner": port}, max_parallel=16)
        assert out.status == "completed"

    return _median(go, repeat), math.ceil(64 / 16) * sleep_s


def random_dag(n: int, seed: int = 11) -> list[list[int]]:
    """Each task depends on 0-3 earlier tasks."""
    rnd = random.Random(seed)
    return [sorted({rnd.randrange(i) for _ in range(rnd.randint(0, 3))}) if i else []
            for i in range(n)]


def noop(*_: Any) -> None:
    """A no-op task / port."""
    return None


def versus_dask(n: int, repeat: int) -> tuple[float, float, float, int]:
    """(dask, ours parallel, ours sequential) seconds per task, and the pool size."""
    import dask.threaded

    deps = random_dag(n)
    dsk = {f"t{i}": (noop, *[f"t{d}" for d in ds]) for i, ds in enumerate(deps)}
    run = pe.Run(run_id="dag", template="minimal", slices=tuple(
        pe.Slice(f"t{i}", depends_on=tuple(f"t{d}" for d in ds)) for i, ds in enumerate(deps)))
    workers = os.cpu_count() or 1
    t_dask = _median(lambda: dask.threaded.get(dsk, list(dsk), num_workers=workers), repeat)
    t_par = _median(lambda: pe.drive(run, {"runner": noop}, max_parallel=max(2, workers)),
                    repeat)
    t_seq = _median(lambda: pe.drive(run, {"runner": noop}), repeat)
    return t_dask / n, t_par / n, t_seq / n, workers


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="shorter sleeps, fewer tasks")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    sleep_s, n = (0.05, 2000) if a.quick else (0.25, 10_000)
    print(f"python {platform.python_version()} on {platform.platform()}, "
          f"{os.cpu_count()} cores; median of {a.repeat}")
    measured, ideal = wide(sleep_s, a.repeat)
    ratio = measured / ideal
    print(f"[1] wide run, 64 x {sleep_s}s at max_parallel=16: {measured:.3f}s vs ideal "
          f"{ideal:.3f}s = {ratio:.3f}x (target <= 1.15x: {'ok' if ratio <= 1.15 else 'MISSED'})")
    d, par, seq, workers = versus_dask(n, a.repeat)
    print(f"[2] {n:,}-task no-op DAG, per task: dask.threaded.get {d * 1e6:.1f} us "
          f"({workers} workers); petri-exec max_parallel={max(2, workers)} {par * 1e6:.1f} us "
          f"({par / d:.2f}x dask); sequential {seq * 1e6:.1f} us ({seq / d:.2f}x dask)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
