"""pm4py, as the tests use it: nets it discovers, PNML it writes and reads, its state spaces.

pm4py (AGPL) is a ``dev`` extra; every test that needs it imports it through
:func:`pm4py_or_skip`. Nothing here is imported by petri_exec.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path
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


#: How long one pm4py subprocess may take before it is ended and the cases it had not
#: finished go to a fresh one. pm4py iterates sets of strings and of objects hashed by
#: address, so the net a seeded log discovers, and Woflan's cost on it, change from one
#: process to the next: usually milliseconds, on some nets a minute, or hours (in CI).
WOFLAN_TIMEOUT_S = 30
#: Fresh processes tried before the test fails (each has other hash seeds and addresses).
WOFLAN_TRIES = 4

_WOFLAN = """
import json, sys, warnings
from tests.pm4py_support import discovered, export, pm4py_or_skip
pm4py = pm4py_or_skip()
for case in sys.argv[1:]:
    seed, miner = case.split("-")
    net, im, fm = discovered(int(seed), miner)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        verdict, _ = pm4py.check_soundness(net, im, fm)
    print(json.dumps({"case": case, "pnml": export(net, im, fm).decode("utf-8"),
                      "sound": bool(verdict)}), flush=True)
"""


@functools.cache
def woflan(cases: tuple[tuple[int, str], ...]) -> dict[tuple[int, str], tuple[bytes, bool]]:
    """For each ``(seed, miner)``: a net :func:`discovered` gives, as pm4py's PNML, and
    Woflan's soundness verdict on it, computed once for all the cases in pm4py
    subprocesses. A process still running after :data:`WOFLAN_TIMEOUT_S` is ended and the
    cases it had not finished go to a fresh one (which discovers other nets for them).

    Raises:
        pytest.fail.Exception: :data:`WOFLAN_TRIES` processes in a row finished no case.
    """
    pm4py_or_skip()
    root = Path(__file__).resolve().parents[1]
    names = {f"{seed}-{miner}": (seed, miner) for seed, miner in cases}
    done: dict[tuple[int, str], tuple[bytes, bool]] = {}
    stalled = 0
    while len(done) < len(cases):
        todo = [n for n, c in names.items() if c not in done]
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen([sys.executable, "-c", _WOFLAN, *todo], cwd=root,
                                    stdout=out, stderr=err)
            try:
                rc = proc.wait(WOFLAN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                rc = None
            out.seek(0)
            before = len(done)
            for line in out:
                if line.startswith("{") and line.endswith("}\n"):
                    doc = json.loads(line)
                    done[names[doc["case"]]] = (doc["pnml"].encode("utf-8"), doc["sound"])
            if rc not in (0, None):
                err.seek(0)
                pytest.fail(f"the pm4py subprocess failed (exit code {rc}): "
                            f"{err.read()[-2000:]}")
        stalled = stalled + 1 if len(done) == before else 0
        if stalled >= WOFLAN_TRIES:
            left = ", ".join(n for n, c in names.items() if c not in done)
            pytest.fail(f"pm4py's Woflan took over {WOFLAN_TIMEOUT_S} s on the net of {left} "
                        f"in {WOFLAN_TRIES} processes in a row")
    return done


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
