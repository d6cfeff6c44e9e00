"""Benchmark of the in-memory ``drive()`` (contract section 7), as ratios in one process.

Method
------
Every measurement uses one seeded random DAG run (template ``minimal``): slice ``i``
depends on 0-3 distinct random earlier slices, so file order is a topological order.
Timings use ``time.perf_counter`` with the garbage collector enabled as normal (it is only
``gc.collect()``-ed *between* samples); a number is the median of ``--repeat`` samples.

1. Scheduling overhead per slice, N slices (default 100,000).
   graphlib: ``TopologicalSorter`` construction + ``prepare()`` + the
   ``get_ready()``/``done()`` loop, calling a no-op per node.
   drive: ``petri_exec.drive(run, {"runner": noop}, scheduler="petri")`` (whole call), and
   the same minus "setup" = ``validate_run`` + ``compile_run`` timed on their own (the
   one-off work ``drive()`` does before its loop; the medians are subtracted, so that
   row is approximate). Target: drive/graphlib <= 2.0.
2. Against SNAKES, M slices (default 2,000). SNAKES: ``to_snakes(net, marking)`` then the
   naive driver (scan ``net.transition()`` in net order for the first transition with
   non-empty ``modes()``, fire it, repeat until none). Ours: the
   ``PetriScheduler.for_run(run).session(marking)`` ``get_ready()``/``fire()`` loop, and the
   whole in-memory ``drive()``. The SNAKES side runs once (it is slow); if it passes
   ``--snakes-budget`` seconds it stops and its total is a labelled *lower bound*
   (the naive scan costs more per step as the run advances). Target: >= 500x.
3. Scaling: ``compile_run`` and ``drive()`` at 1k, 10k and 100k slices (``--quick``
   skips 100k). Target: t(100k)/t(10k) <= 12 (total cost linear in the run's size).
   graphlib's own ratio is printed as a reference for what this machine does at 10x size
   (larger working sets cost more per object in CPython: caches, the cyclic GC).

``--profile`` instead runs cProfile over one in-memory drive of N slices and prints the
top 25 functions by tottime.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import graphlib
import os
import platform
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import petri_exec as pe

SEED = 20240601


def noop(*_: Any) -> None:
    """The no-op port / per-node callback."""
    return None


PORTS = {"runner": noop}


def make_run(n: int, seed: int = SEED) -> tuple[pe.Run, tuple[tuple[int, ...], ...]]:
    """A random DAG run of ``n`` slices and its dependencies as slice indexes.

    Not cached: each section builds its own inputs and drops them, so that no other
    section's objects sit in the heap the cyclic GC walks while a section is timed.
    """
    rng = random.Random(seed)
    deps: list[tuple[int, ...]] = []
    slices = []
    for i in range(n):
        k = rng.randint(0, min(3, i))
        d = tuple(sorted(rng.sample(range(i), k))) if k else ()
        deps.append(d)
        slices.append(pe.Slice(id=f"s{i}", status="pending",
                               depends_on=tuple(f"s{j}" for j in d)))
    run = pe.Run(run_id=f"bench-{n}", slices=tuple(slices), template="minimal",
                 status="created")
    return run, tuple(deps)


def measure(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of ``repeat`` calls of ``fn`` and the last result."""
    times, result = [], None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def graphlib_drive(deps: tuple[tuple[int, ...], ...]) -> int:
    """Construct, prepare and exhaust a TopologicalSorter, calling a no-op per node."""
    ts: graphlib.TopologicalSorter[int] = graphlib.TopologicalSorter()
    for i, d in enumerate(deps):
        ts.add(i, *d)
    ts.prepare()
    done = 0
    while ts.is_active():
        for node in ts.get_ready():
            noop(node)
            ts.done(node)
            done += 1
    return done


def petri_drive(run: pe.Run) -> pe.DriveOutcome:
    """The in-memory drive with no-op ports; checks it completed."""
    out = pe.drive(run, PORTS, scheduler="petri")
    assert out.status == "completed" and out.fired == len(run.slices) + 2, out
    return out


def setup_only(run: pe.Run) -> pe.Net:
    """What drive() does once before its loop: validation and compilation."""
    return pe.compile_run(pe.validate_run(run))


def session_loop(sched: pe.PetriScheduler, marking: pe.Marking) -> int:
    """Fire everything through a scheduler session's get_ready()/fire()."""
    s = sched.session(marking)
    todo = s.get_ready()
    fired = 0
    while todo:
        s.fire(todo.pop())
        fired += 1
        todo.extend(s.get_ready())
    return fired


def snakes_drive(sn: Any, deadline: float) -> tuple[int, bool]:
    """The naive SNAKES driver; returns (firings, finished before the deadline)."""
    fired = 0
    while True:
        for t in sn.transition():
            modes = t.modes()
            if modes:
                t.fire(modes[0])
                fired += 1
                break
        else:
            return fired, True
        if time.perf_counter() > deadline:
            return fired, False


# -- output -----------------------------------------------------------------------------

ROWS: list[tuple[str, str, str]] = []


def row(metric: str, value: str, target: str = "") -> None:
    ROWS.append((metric, value, target))


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def machine() -> list[str]:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")),
                       "?")
    except OSError:
        pass
    return [f"platform: {platform.platform()}",
            f"python:   {platform.python_implementation()} {platform.python_version()}",
            f"cpu:      {cpu}, {os.cpu_count()} cores"]


def us(seconds: float, n: int) -> str:
    return f"{seconds / n * 1e6:.2f} us/slice"


# -- the three sections -----------------------------------------------------------------

def bench_overhead(n: int, repeat: int) -> None:
    run, deps = make_run(n)
    t_g, done = measure(lambda: graphlib_drive(deps), repeat)
    assert done == n
    t_d, _ = measure(lambda: petri_drive(run), repeat)
    t_v, valid = measure(lambda: pe.validate_run(run), repeat)
    t_c, _ = measure(lambda: pe.compile_run(valid), repeat)
    loop = t_d - t_v - t_c
    row(f"[1] graphlib construct+prepare+loop, {n:,} slices", us(t_g, n))
    row("[1] drive() whole", us(t_d, n))
    row("[1]   setup: validate_run", us(t_v, n))
    row("[1]   setup: compile_run", us(t_c, n))
    row("[1]   drive() minus setup (session + loop)", us(loop, n))
    row("[1] ratio drive()/graphlib, whole", f"{t_d / t_g:.2f}x")
    row("[1] ratio drive()/graphlib, minus validate_run", f"{(t_d - t_v) / t_g:.2f}x")
    row("[1] ratio drive()/graphlib, minus setup", f"{loop / t_g:.2f}x",
        f"<= 2.0x  {verdict(loop / t_g <= 2.0)}")


def bench_snakes(m: int, repeat: int, budget: float) -> None:
    run, _ = make_run(m)
    net, marking = pe.compile_run(run), pe.marking_of(run)
    sched = pe.PetriScheduler.for_run(run)
    total = len(net.transitions)
    t_loop, fired = measure(lambda: session_loop(sched, marking), repeat)
    assert fired == total, (fired, total)
    t_drive, _ = measure(lambda: petri_drive(run), repeat)

    # SNAKES' modes() recurses once per input arc: `finish` reads every slice's done place.
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, 4 * m + 1000))
    try:
        gc.collect()
        t0 = time.perf_counter()
        sn = pe.to_snakes(net, marking)
        t_build = time.perf_counter() - t0
        t0 = time.perf_counter()
        s_fired, finished = snakes_drive(sn, t0 + budget)
        t_snakes = time.perf_counter() - t0
    finally:
        sys.setrecursionlimit(old_limit)
    label = ""
    if finished:
        assert s_fired == total, (s_fired, total)
    else:
        t_snakes *= total / s_fired
        label = f" (LOWER BOUND from first {s_fired} firings)"
    row(f"[2] SNAKES to_snakes(), {m:,} slices", f"{t_build * 1e3:.1f} ms")
    row("[2] SNAKES naive modes()/fire() drive" + label, f"{t_snakes * 1e3:.1f} ms"
        f" ({t_snakes / total * 1e6:.0f} us/firing)")
    row("[2] ours: session get_ready()/fire()",
        f"{t_loop * 1e3:.2f} ms ({t_loop / total * 1e6:.2f} us/firing)")
    row("[2] ours: drive() whole", f"{t_drive * 1e3:.2f} ms "
        f"({t_drive / total * 1e6:.2f} us/firing)")
    sp_loop, sp_drive = t_snakes / t_loop, t_snakes / t_drive
    row("[2] speedup SNAKES drive / session loop", f"{sp_loop:,.0f}x",
        f">= 500x  {verdict(sp_loop >= 500)}")
    row("[2] speedup SNAKES drive / drive() whole", f"{sp_drive:,.0f}x",
        f">= 500x  {verdict(sp_drive >= 500)}")


def bench_scaling(sizes: list[int], repeat: int) -> None:
    times: dict[int, tuple[float, float, float]] = {}
    for n in sizes:
        run, deps = make_run(n)
        t_c, _ = measure(lambda run=run: pe.compile_run(run), repeat)
        t_d, _ = measure(lambda run=run: petri_drive(run), repeat)
        t_g, _ = measure(lambda deps=deps: graphlib_drive(deps), repeat)
        times[n] = (t_c, t_d, t_g)
        row(f"[3] {n:>7,} slices: compile_run / drive()", f"{us(t_c, n)} / {us(t_d, n)}")
        del run, deps
    if 100_000 in times and 10_000 in times:
        for k, what in ((0, "compile_run"), (1, "drive()"), (2, "graphlib (reference)")):
            r = times[100_000][k] / times[10_000][k]
            row(f"[3] t(100k)/t(10k) {what}", f"{r:.2f}",
                "" if k == 2 else f"<= 12  {verdict(r <= 12)}")


def profile(n: int) -> None:
    run, _ = make_run(n)
    petri_drive(run)  # warm the template cache and imports
    prof = cProfile.Profile()
    prof.enable()
    petri_drive(run)
    prof.disable()
    print(f"cProfile of one in-memory drive() of {n:,} slices (top 25 by tottime):")
    pstats.Stats(prof).strip_dirs().sort_stats("tottime").print_stats(25)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slices", type=int, help="N for [1] (default 100,000; quick 10,000)")
    ap.add_argument("--snakes-slices", type=int, help="M for [2] (default 2,000; quick 500)")
    ap.add_argument("--repeat", type=int, help="samples per median (default 3; quick 1)")
    ap.add_argument("--snakes-budget", type=float, default=600.0,
                    help="seconds before the SNAKES drive stops and extrapolates (600)")
    ap.add_argument("--quick", action="store_true", help="smaller sizes; scaling skips 100k")
    ap.add_argument("--profile", action="store_true", help="only profile a drive of N slices")
    a = ap.parse_args(argv)
    n = a.slices or (10_000 if a.quick else 100_000)
    m = a.snakes_slices or (500 if a.quick else 2_000)
    repeat = a.repeat or (1 if a.quick else 3)
    print("\n".join(machine()))
    if a.profile:
        profile(n)
        return 0
    print(f"seed {SEED}, median of {repeat}, gc enabled\n")
    bench_overhead(n, repeat)
    bench_snakes(m, repeat, a.snakes_budget)
    bench_scaling([1_000, 10_000] if a.quick else [1_000, 10_000, 100_000], repeat)
    w0, w1 = (max(len(r[i]) for r in ROWS) for i in (0, 1))
    print(f"{'metric':<{w0}}  {'value':<{w1}}  target")
    print("-" * (w0 + w1 + 20))
    for metric, value, target in ROWS:
        print(f"{metric:<{w0}}  {value:<{w1}}  {target}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
