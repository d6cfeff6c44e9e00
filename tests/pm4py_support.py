"""pm4py, as the tests use it: nets it discovers, PNML it writes and reads, its state spaces.

pm4py (AGPL) is a ``dev`` extra; every test that needs it imports it through
:func:`pm4py_or_skip`. Nothing here is imported by petri_exec.
"""

from __future__ import annotations

import contextlib
import io
import random
from typing import Any

import pytest

import petri_exec as pe


def pm4py_or_skip() -> Any:
    """pm4py, imported quietly (it prints a banner), or a skipped test."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return pytest.importorskip("pm4py")


def discovered(seed: int, miner: str) -> tuple[Any, Any, Any]:
    """A workflow net discovered by one of pm4py's miners from a log played out of a random
    process tree: ``(net, initial marking, final marking)``."""
    pm4py = pm4py_or_skip()
    from pm4py.algo.simulation.playout.process_tree import algorithm as playout
    from pm4py.algo.simulation.tree_generator import algorithm as tree_gen

    state = random.getstate()
    random.seed(seed)
    try:
        tree = tree_gen.apply(parameters={"min": 4, "mode": 6, "max": 9})
        log = playout.apply(tree, parameters={"num_traces": 40})
    finally:
        random.setstate(state)
    discover = {"inductive": pm4py.discover_petri_net_inductive,
                "alpha": pm4py.discover_petri_net_alpha,
                "heuristics": pm4py.discover_petri_net_heuristics}[miner]
    with contextlib.redirect_stdout(io.StringIO()):
        return discover(log)  # type: ignore[no-any-return]


def export(net: Any, im: Any, fm: Any = None, *, prom5: bool = False) -> bytes:
    """pm4py's own PNML of a pm4py net (ProM 5 mode: nodes directly under ``<net>``)."""
    pm4py_or_skip()
    from pm4py.objects.petri_net.exporter.variants import pnml

    data: bytes = pnml.export_petri_as_string(net, im, final_marking=fm, export_prom5=prom5)
    return data


def read(data: bytes) -> tuple[Any, Any, Any]:
    """pm4py reads PNML bytes: ``(net, initial marking, final marking)``."""
    pm4py_or_skip()
    from pm4py.objects.petri_net.importer.variants import pnml

    return pnml.import_net_from_string(data)  # type: ignore[no-any-return]


def place_name(p: Any) -> str:
    """The name pm4py writes for a place."""
    from pm4py.util import constants

    return str(p.properties.get(constants.PLACE_NAME_TAG, p.name))


def transition_name(t: Any) -> str:
    """The name pm4py writes for a transition (its label, or its id when silent)."""
    return str(t.label if t.label is not None else t.name)


def shape(net: Any, im: Any) -> tuple[set[str], set[str], set[tuple[str, str, int]],
                                      dict[str, int]]:
    """A pm4py net as names: places, transitions, weighted arcs, initial marking."""
    def name(node: Any) -> str:
        return place_name(node) if type(node).__name__ == "Place" else transition_name(node)

    return ({place_name(p) for p in net.places}, {transition_name(t) for t in net.transitions},
            {(name(a.source), name(a.target), a.weight) for a in net.arcs},
            {place_name(p): n for p, n in im.items() if n})


def our_shape(net: pe.Net, m: pe.Marking) -> tuple[set[str], set[str],
                                                   set[tuple[str, str, int]], dict[str, int]]:
    """A petri-exec net as PNML P/T arcs would show it (read arcs as loops)."""
    arcs = set()
    for t in net.transitions:
        consumed = dict(net.consume[t.index])
        produced = dict(net.produce[t.index])
        for p, r in net.read[t.index]:
            c = consumed.get(p, 0)
            top = max(c, r)
            consumed[p] = top
            produced[p] = produced.get(p, 0) + top - c
        arcs |= {(net.places[p], t.name, w) for p, w in consumed.items()}
        arcs |= {(t.name, net.places[p], w) for p, w in produced.items() if w}
    return set(net.places), {t.name for t in net.transitions}, arcs, dict(m)


def state_space(net: Any, im: Any) -> tuple[set[frozenset[tuple[str, int]]], int]:
    """pm4py's reachability graph: the markings (as names) and the number of firings."""
    pm4py_or_skip()
    from pm4py.objects.petri_net.utils.reachability_graph import marking_flow_petri

    incoming, outgoing, _ev = marking_flow_petri(net, im)
    markings = {frozenset((place_name(p), n) for p, n in m.items() if n) for m in incoming}
    return markings, sum(len(v) for v in outgoing.values())


def is_workflow_net(net: pe.Net) -> bool:
    """One source place, one sink place, every node on a path from the source to the sink
    (the structure classical soundness, and Woflan, presuppose)."""
    succ: dict[str, set[str]] = {}
    pred: dict[str, set[str]] = {}
    for t in net.transitions:
        ins = {net.places[p] for p, _w in (*net.consume[t.index], *net.read[t.index])}
        outs = {net.places[p] for p, _w in (*net.produce[t.index], *net.read[t.index])}
        node = "t:" + t.name
        for p in ins:
            succ.setdefault(p, set()).add(node)
            pred.setdefault(node, set()).add(p)
        for p in outs:
            succ.setdefault(node, set()).add(p)
            pred.setdefault(p, set()).add(node)
    sources = [p for p in net.places if not pred.get(p)]
    sinks = [p for p in net.places if not succ.get(p)]
    if len(sources) != 1 or len(sinks) != 1:
        return False
    nodes = set(net.places) | {"t:" + t.name for t in net.transitions}

    def reach(start: str, edges: dict[str, set[str]]) -> set[str]:
        seen, stack = {start}, [start]
        while stack:
            for n in edges.get(stack.pop(), ()):
                if n not in seen:
                    seen.add(n)
                    stack.append(n)
        return seen

    return reach(sources[0], succ) >= nodes and reach(sinks[0], pred) >= nodes
