"""Peak memory per slice of an in-memory drive at 100,000 slices (``minimal`` and
``executor`` templates), measured with ``tracemalloc`` (Python allocations only).

The run value itself is built before tracing starts; what is measured is everything
``drive()`` allocates on top of it: validation, the compiled net, the live state, the
final run. Run: ``python benchmarks/bench_memory.py [--slices N]``.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import tracemalloc

import petri_exec as pe
from petri_exec.testing import FakePorts


def _run(n: int, template: str) -> pe.Run:
    rnd = random.Random(3)
    slices = []
    for i in range(n):
        k = rnd.randint(0, min(3, i))
        deps = tuple(f"s{j}" for j in sorted(rnd.sample(range(i), k))) if k else ()
        slices.append(pe.Slice(f"s{i}", depends_on=deps))
    return pe.Run(run_id=f"mem-{template}", template=template, slices=tuple(slices))


def peak_per_slice(n: int, template: str) -> tuple[float, float]:
    """(peak bytes per slice during drive(), bytes per slice of the run value itself)."""
    gc.collect()
    tracemalloc.start()
    run = _run(n, template)
    run_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    out = pe.drive(run, FakePorts())
    peak = tracemalloc.get_traced_memory()[1] - run_bytes
    tracemalloc.stop()
    assert out.status == "completed"
    return peak / n, run_bytes / n


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--slices", type=int, default=100_000)
    a = ap.parse_args(argv)
    print(f"{'template':>9} {'slices':>8} {'drive peak B/slice':>19} {'run value B/slice':>18}")
    for template in ("minimal", "executor"):
        peak, base = peak_per_slice(a.slices, template)
        print(f"{template:>9} {a.slices:>8,} {peak:>19,.0f} {base:>18,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
