"""Persisted drive: the cost of persisting one firing at 1k, 10k and 100k slices.

Method: for each size N, a ``minimal`` run of N independent slices is written to a temp
directory and driven through a no-op port; the firings between the 100th and the
(100+K)th ``transition_fired`` event are timed from the events' own timestamps, so that
loading, compiling and the final checkpoint are excluded. A checkpoint (the atomic
rewrite of run.json, O(N)) happens once per max(1000, transitions) firings: its cost is
measured separately and reported amortized per firing. Target (contract section 7): the
per-firing cost is flat from 1k to 100k slices.

Group commit (issue 18): a persisted drive of 2,000 independent slices (1,000 quick)
through a no-op port at ``max_parallel`` 1, 4 and 16, timed whole (load, firings,
checkpoints) and divided by its firings, ``fsync`` and ``flush`` sampled in rounds. With
fsync, the firings (and starts) of steps that finish (start) together share one sync.

Run: ``python benchmarks/bench_persist.py [--firings K] [--quick]``.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import petri_exec as pe


def _run(n: int) -> pe.Run:
    return pe.Run(run_id=f"persist{n}", template="minimal",
                  slices=tuple(pe.Slice(f"s{i}") for i in range(n)))


def per_firing(n: int, k: int, durability: str) -> float:
    """Median seconds per firing over K firings of an N-slice persisted drive."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d, "run.json")
        pe.save_run(_run(n), path)
        times: list[float] = []

        def on_event(e: pe.Event) -> None:
            if e.kind == "transition_fired":
                times.append(time.perf_counter())

        pe.drive(path, {"runner": lambda ctx: None}, max_firings=100 + k, on_event=on_event,
                 durability=durability)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        return statistics.median(gaps)


def checkpoint_cost(n: int) -> float:
    """Seconds to write one checkpoint (save_run) of an N-slice run."""
    with tempfile.TemporaryDirectory() as d:
        run = _run(n)
        path = Path(d, "run.json")
        samples = []
        for _ in range(3):
            t0 = time.perf_counter()
            pe.save_run(run, path)
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples)


def whole_per_firing(n: int, max_parallel: int, durability: str) -> float:
    """Seconds per firing of a whole persisted drive of N independent slices."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d, "run.json")
        pe.save_run(_run(n), path)
        t0 = time.perf_counter()
        out = pe.drive(path, {"runner": lambda ctx: None}, max_parallel=max_parallel,
                       durability=durability)
        return (time.perf_counter() - t0) / out.fired


def group_commit(n: int, rounds: int) -> None:
    """Print the persisted cost per firing at max_parallel 1, 4 and 16."""
    print(f"group commit: whole persisted drive of {n:,} independent slices, "
          f"median of {rounds} rounds")
    print(f"{'max_parallel':>12} {'fsync us/firing':>16} {'flush us/firing':>16} "
          f"{'fsync/flush':>12}")
    for mp in (1, 4, 16):
        fs, fl = [], []
        for _ in range(rounds):
            fs.append(whole_per_firing(n, mp, "fsync"))
            fl.append(whole_per_firing(n, mp, "flush"))
        ratio = statistics.median(a / b for a, b in zip(fs, fl, strict=True))
        print(f"{mp:>12} {statistics.median(fs) * 1e6:>16.1f} "
              f"{statistics.median(fl) * 1e6:>16.1f} {ratio:>11.2f}x")


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--firings", type=int, default=2000, help="K firings timed per size")
    ap.add_argument("--quick", action="store_true", help="1k and 10k only, K=500")
    a = ap.parse_args(argv)
    sizes = [1_000, 10_000] if a.quick else [1_000, 10_000, 100_000]
    k = 500 if a.quick else a.firings
    print(f"python {platform.python_version()} on {platform.platform()}")
    print(f"{'slices':>8} {'fsync us/firing':>16} {'flush us/firing':>16} "
          f"{'checkpoint ms':>14} {'amortized us':>13}")
    base: dict[str, float] = {}
    for n in sizes:
        fs = per_firing(n, k, "fsync")
        fl = per_firing(n, k, "flush")
        cp = checkpoint_cost(n)
        amort = cp / max(1000, n + 2)
        base.setdefault("fsync", fs)
        base.setdefault("flush", fl)
        print(f"{n:>8,} {fs * 1e6:>16.1f} {fl * 1e6:>16.1f} {cp * 1e3:>14.1f} "
              f"{amort * 1e6:>13.1f}")
    print(f"ratio per-firing (largest / 1k): fsync {fs / base['fsync']:.2f}x, "
          f"flush {fl / base['flush']:.2f}x (target: flat, ~1x)")
    group_commit(1_000 if a.quick else 2_000, 3 if a.quick else 5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
