"""State-space exploration on real Model Checking Contest nets: petri-exec's compact
explorer against a straightforward explorer written here, and against pm4py.

1. ``explore()`` (token vectors, precomputed deltas, incremental enabling, edges in
   compressed rows, witnesses' parent links) against :func:`straightforward`: a dictionary
   from marking tuples to state numbers, every transition tested at every state, the graph
   as a list of ``(source, transition, target)`` triples. Same net, same start marking, the
   same state and edge counts (checked); target: at most 1.2x its time. ``behaviour()``,
   the whole analysis on top (soundness checks, liveness by components, the contest's
   properties), is shown beside it.
2. Above 50,000 states: ``explore()`` and ``behaviour()`` against pm4py's
   ``construct_reachability_graph`` on the same PNML file, read by pm4py itself; target:
   at least 10x faster. Skipped with a message when pm4py is not installed
   (``pip install pm4py``).

The nets are the contest's own files shipped in ``tests/nets/thirdparty/mcc`` (sources and
licence in the README there). Ratios are medians over rounds of paired samples (a round
runs each side once, back to back). Run: ``python benchmarks/bench_statespace.py
[--repeat R] [--quick] [--no-pm4py]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench_drive import machine, paired, rounds, sample

import petri_exec as pe
from petri_exec.analysis import behaviour, explore

NETS = Path(__file__).resolve().parent.parent / "tests" / "nets" / "thirdparty" / "mcc"
SMALL = ["FMS-PT-00002", "Dekker-PT-010", "Raft-PT-02", "PGCD-PT-D02N005"]
LARGE = ["JoinFreeModules-PT-0003", "Murphy-PT-D1N010", "RefineWMG-PT-002002",
         "Philosophers-PT-000010", "Referendum-PT-0010", "SatelliteMemory-PT-X00100Y0003"]


def straightforward(net: pe.Net, start: pe.Marking) -> tuple[int, int]:
    """The obvious explorer: BFS over marking tuples, every transition tested everywhere.

    Returns:
        ``(states, edges)``; the graph is kept as a list of triples, as a user would.
    """
    places = net.places
    need = []
    post = []
    for i in range(len(net.transitions)):
        req: dict[int, int] = {}
        for p, w in (*net.consume[i], *net.read[i]):
            req[p] = max(req.get(p, 0), w)
        need.append(list(req.items()))
        post.append((list(net.consume[i]), list(net.produce[i])))
    m0 = tuple(start.get(p, 0) for p in places)
    seen = {m0: 0}
    queue = deque([m0])
    edges: list[tuple[int, int, int]] = []
    while queue:
        m = queue.popleft()
        i = seen[m]
        for t in range(len(need)):
            if all(m[p] >= w for p, w in need[t]):
                v = list(m)
                cons, prod = post[t]
                for p, w in cons:
                    v[p] -= w
                for p, w in prod:
                    v[p] += w
                m2 = tuple(v)
                j = seen.get(m2)
                if j is None:
                    j = seen[m2] = len(seen)
                    queue.append(m2)
                edges.append((i, t, j))
    return len(seen), len(edges)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def pm4py_graph(path: Path) -> tuple[int, int, float]:
    """pm4py reads the file and builds its reachability graph: (states, edges, seconds)."""
    with _quiet():  # pm4py prints a banner on import
        from pm4py.objects.petri_net.importer import importer
        from pm4py.objects.petri_net.utils import reachability_graph as rg
    net, im, _fm = importer.apply(str(path))
    result: list[Any] = []
    seconds = sample(lambda: result.append(rg.construct_reachability_graph(net, im)))
    ts = result[0]
    return len(ts.states), len(ts.transitions), seconds


def main(argv: list[str] | None = None) -> int:
    """Print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="small nets only, 3 rounds")
    ap.add_argument("--no-pm4py", action="store_true", help="skip the pm4py comparison")
    a = ap.parse_args(argv)
    repeat = 3 if a.quick else a.repeat
    names = SMALL if a.quick else SMALL + LARGE
    print("\n".join(machine()))
    print(f"\n{'net':<32}{'states':>8}{'edges':>9}{'straight s':>11}{'explore s':>10}"
          f"{'ratio':>7}{'behaviour s':>12}  target <= 1.2")
    worst = 0.0
    for name in names:
        net, m = pe.from_pnml(NETS / f"{name}.pnml")
        ss = explore(net, m, max_states=10**7)
        assert (ss.states, ss.edges) == straightforward(net, m), name
        base, ours, full = rounds([lambda n=net, s=m: straightforward(n, s),
                                   lambda n=net, s=m: explore(n, s, max_states=10**7),
                                   lambda n=net, s=m: behaviour(n, s, max_states=10**7)],
                                  repeat)
        ratio = paired(base, ours)
        worst = max(worst, ratio)
        print(f"{name:<32}{ss.states:>8,}{ss.edges:>9,}{statistics.median(base):>11.3f}"
              f"{statistics.median(ours):>10.3f}{ratio:>7.2f}{statistics.median(full):>12.3f}")
    print(f"worst ratio explore/straightforward: {worst:.2f} "
          f"({'ok' if worst <= 1.2 else 'MISSED'})")
    if a.no_pm4py or a.quick:
        return 0
    try:
        with _quiet():
            import pm4py  # noqa: F401
    except ImportError:
        print("\npm4py comparison skipped: pm4py is not installed (pip install pm4py)")
        return 0
    print(f"\n{'net (> 50k states)':<32}{'states':>8}{'pm4py s':>9}{'explore s':>10}"
          f"{'x faster':>9}{'behaviour s':>12}{'x faster':>9}  target >= 10x")
    least = float("inf")
    for name in LARGE:
        net, m = pe.from_pnml(NETS / f"{name}.pnml")
        ss = explore(net, m, max_states=10**7)
        if ss.states <= 50_000:
            continue
        states, edges, t_pm = pm4py_graph(NETS / f"{name}.pnml")
        assert (states, edges) == (ss.states, ss.edges), name
        t_ex = statistics.median(sample(lambda n=net, s=m: explore(n, s, max_states=10**7))
                                 for _ in range(repeat))
        t_b = statistics.median(sample(lambda n=net, s=m: behaviour(n, s, max_states=10**7))
                                for _ in range(repeat))
        least = min(least, t_pm / t_b)
        print(f"{name:<32}{states:>8,}{t_pm:>9.2f}{t_ex:>10.3f}{t_pm / t_ex:>9.0f}"
              f"{t_b:>12.3f}{t_pm / t_b:>9.0f}")
    print(f"least speed-up of behaviour() over pm4py: {least:.0f}x "
          f"({'ok' if least >= 10 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
