"""Behavioural analysis: the reachability graph, built with networkx, and what it shows.

The graph is explored breadth first from a marking, every transition included (manual gates
too: a human may fire them), up to ``max_states`` markings. Breadth first means every
witness (a deadlock, an improper end, an unbounded place) comes with a shortest firing
sequence that reaches it. Unboundedness is detected as in Karp and Miller's construction: a
new marking that strictly covers one of its ancestors can be pumped forever.

The *driven* view keeps only what ``drive()`` does: non-manual transitions, stopping at a
final marking. It answers whether ``drive()`` alone reaches the end.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import attrs

from ..core.marking import Marking
from ..core.net import Net

__all__ = ["DEFAULT_MAX_STATES", "Behaviour", "Goal", "Witness", "behaviour",
           "reachability_graph"]

#: Default bound on the number of markings explored.
DEFAULT_MAX_STATES = 100_000
_LISTED = 10


@attrs.frozen
class Goal:
    """What counts as finished.

    Attributes:
        is_final: Whether a marking is final (None: no marking is; every dead marking is
            then a deadlock and completion is not checked).
        improper: Whether a reachable marking breaks proper completion (None: not checked).
        passed: Transitions not reported dead (for a run: steps already behind its status).
    """

    is_final: Callable[[Marking], bool] | None = None
    improper: Callable[[Marking], bool] | None = None
    passed: frozenset[str] = frozenset()


@attrs.frozen
class Witness:
    """A reachable marking that shows a property failing.

    Attributes:
        marking: The marking.
        path: A shortest firing sequence from the start marking to it.
        enabled: Transitions enabled there (for a ``drive()`` stop: the manual gates).
        pump: (unboundedness) a firing sequence from ``marking`` to a strictly larger
            marking, which can therefore be repeated forever.
    """

    marking: Marking
    path: tuple[str, ...]
    enabled: tuple[str, ...] = ()
    pump: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """This witness as a JSON-ready dict."""
        return {"marking": dict(self.marking), "path": list(self.path),
                "enabled": list(self.enabled), "pump": list(self.pump)}


@attrs.frozen
class Behaviour:
    """What the reachability graph shows.

    ``None`` means "not known": the graph was cut at ``max_states`` (see ``limit``) or the
    property needs a final marking that was not given.

    Attributes:
        states: Markings explored.
        edges: Firings explored.
        complete: Whether the whole reachability graph was built.
        limit: Why it was not (the state bound or an unbounded place), else None.
        deadlocks: Reachable markings, not final, where nothing is enabled (shortest first;
            at most ten listed).
        deadlock_count: How many were found.
        option_to_complete: A final marking is reachable from every reachable marking.
        proper_completion: No reachable marking breaks proper completion.
        improper: A marking that breaks it, else None.
        dead_transitions: Transitions that never fire (steps already passed excluded).
        bounded: Whether every place is bounded.
        bound: The most tokens a place holds, when the graph is complete.
        unbounded: Places found to grow without limit.
        pump: The witness for ``unbounded``: from ``pump.marking``, the firing sequence
            ``pump.pump`` leads to a strictly larger marking.
        drive_completes: ``drive()`` (non-manual steps only) reaches a final marking from
            every marking it can reach.
        drive_stops: Markings where ``drive()`` finds nothing to fire before the end;
            ``enabled`` lists the manual gates a human must fire there.
    """

    states: int
    edges: int
    complete: bool
    limit: str | None
    deadlocks: tuple[Witness, ...]
    deadlock_count: int
    option_to_complete: bool | None
    proper_completion: bool | None
    improper: Witness | None
    dead_transitions: tuple[str, ...] | None
    bounded: bool | None
    bound: int | None
    unbounded: tuple[str, ...]
    pump: Witness | None
    drive_completes: bool | None
    drive_stops: tuple[Witness, ...]

    @property
    def safe(self) -> bool | None:
        """No place ever holds two tokens (None when unknown)."""
        if self.bounded is False:
            return False
        if self.bound is not None and self.bound > 1:
            return False
        return True if self.complete else None

    def to_json(self) -> dict[str, Any]:
        """This report as a JSON-ready dict."""
        return {
            "states": self.states, "edges": self.edges, "complete": self.complete,
            "limit": self.limit,
            "deadlocks": [w.to_json() for w in self.deadlocks],
            "deadlock_count": self.deadlock_count,
            "option_to_complete": self.option_to_complete,
            "proper_completion": self.proper_completion,
            "improper": self.improper.to_json() if self.improper else None,
            "dead_transitions": None if self.dead_transitions is None
            else list(self.dead_transitions),
            "bounded": self.bounded, "bound": self.bound, "safe": self.safe,
            "unbounded": list(self.unbounded),
            "pump": self.pump.to_json() if self.pump else None,
            "drive_completes": self.drive_completes,
            "drive_stops": [w.to_json() for w in self.drive_stops],
        }


@attrs.frozen
class _Explored:
    graph: Any  # nx.MultiDiGraph: node i has attribute "marking"; edge key = transition
    markings: list[Marking]
    parent: list[int]
    via: list[str]
    expanded: int  # nodes 0 .. expanded-1 have all their successors in the graph
    limit: str | None
    unbounded: tuple[str, ...]
    pump: Witness | None


def _path(parent: list[int], via: list[str], node: int) -> tuple[str, ...]:
    out = []
    while node > 0:
        out.append(via[node])
        node = parent[node]
    return tuple(reversed(out))


def _explore(net: Net, start: Marking, max_states: int) -> _Explored:
    import networkx as nx  # imported on first use: it is most of petri_exec's import time

    graph = nx.MultiDiGraph()
    graph.add_node(0, marking=start)
    markings = [start]
    index = {start: 0}
    parent, via = [-1], [""]
    sums = [sum(start.values())]
    least = sums[:]  # least token sum on the path from the start (cheap covering filter)
    queue = deque([0])
    expanded = 0
    limit = None
    unbounded: tuple[str, ...] = ()
    pump = None
    while queue:
        i = queue.popleft()
        m = markings[i]
        for t in sorted(net.enabled(m), key=lambda t: t.index):
            m2 = net.fire(m, t)
            j = index.get(m2)
            if j is None:
                if len(markings) >= max_states:
                    limit = (f"the state space has more than max_states={max_states} "
                             "markings; the other results cover only the part explored: "
                             "raise max_states (petri-exec check --max-states) to see more")
                    break
                j = len(markings)
                s2 = sum(m2.values())
                markings.append(m2)
                index[m2] = j
                parent.append(i)
                via.append(t.name)
                sums.append(s2)
                least.append(min(s2, least[i]))
                graph.add_node(j, marking=m2)
                queue.append(j)
                if s2 > least[i]:
                    k = i
                    while k >= 0 and not unbounded:
                        old = markings[k]
                        if s2 > sums[k] and all(m2.get(p, 0) >= n for p, n in old.items()):
                            unbounded = tuple(p for p in net.places
                                              if m2.get(p, 0) > old.get(p, 0))
                            prefix = _path(parent, via, k)
                            pump = Witness(old, prefix,
                                           pump=_path(parent, via, j)[len(prefix):])
                        k = parent[k]
            graph.add_edge(i, j, key=t.name, manual=t.manual)
            if unbounded:
                break
        if limit is not None:
            break
        if unbounded:
            limit = (f"places {', '.join(unbounded)} are unbounded: from the marking reached "
                     f"by {' '.join(pump.path) if pump and pump.path else '(start)'}, firing "
                     f"{' '.join(pump.pump) if pump else ''} gives a strictly larger "
                     "marking, so it can be repeated forever; the state space is infinite")
            break
        expanded = i + 1
    return _Explored(graph, markings, parent, via, expanded, limit, unbounded, pump)


def reachability_graph(net: Net, marking: Marking, *,
                       max_states: int = DEFAULT_MAX_STATES) -> tuple[Any, bool]:
    """The reachability graph of ``net`` from ``marking``.

    Args:
        net: The net.
        marking: The start marking (node 0).
        max_states: Stop after this many markings.

    Returns:
        ``(graph, complete)``: a ``networkx.MultiDiGraph`` whose nodes are integers with a
        ``marking`` attribute and whose edges are keyed by transition name (attribute
        ``manual``); ``complete`` is False when the bound was hit or a place is unbounded.
    """
    ex = _explore(net, Marking(marking), max_states)
    return ex.graph, ex.limit is None


def _backward(graph: Any, targets: list[int], keep: Callable[[Any], bool]) -> set[int]:
    seen = set(targets)
    queue = deque(targets)
    while queue:
        j = queue.popleft()
        for i, _j, data in graph.in_edges(j, data=True):
            if i not in seen and keep(data):
                seen.add(i)
                queue.append(i)
    return seen


def _all(_data: Any) -> bool:
    return True


def _driven(data: Any) -> bool:
    return not data["manual"]


def behaviour(net: Net, marking: Marking, goal: Goal = Goal(), *,
              max_states: int = DEFAULT_MAX_STATES) -> Behaviour:
    """Explore the reachability graph and check the workflow-net soundness properties.

    Args:
        net: The net.
        marking: The start marking.
        goal: What counts as final, proper, and already passed.
        max_states: Bound on the markings explored.

    Returns:
        The :class:`Behaviour` report.
    """
    ex = _explore(net, Marking(marking), max_states)
    g, ms, n = ex.graph, ex.markings, len(ex.markings)
    complete = ex.limit is None
    final = [goal.is_final(m) for m in ms] if goal.is_final else [False] * n
    dead_ends = [i for i in range(ex.expanded) if g.out_degree(i) == 0 and not final[i]]
    deadlocks = tuple(Witness(ms[i], _path(ex.parent, ex.via, i)) for i in dead_ends[:_LISTED])
    option: bool | None = None
    proper: bool | None = None
    improper = None
    drive_ok: bool | None = None
    stops: tuple[Witness, ...] = ()
    if goal.is_final is not None:
        finals = [i for i in range(n) if final[i]]
        reach_end = _backward(g, finals, _all)
        if complete:
            option = len(reach_end) == n
        elif dead_ends:
            option = False
        if goal.improper is not None:
            bad = next((i for i in range(n) if goal.improper(ms[i])), None)
            if bad is not None:
                proper, improper = False, Witness(ms[bad], _path(ex.parent, ex.via, bad))
            elif complete:
                proper = True
        drive_ok, stops = _drive_view(net, ex, final, complete)
    dead: tuple[str, ...] | None = None
    if complete:
        fired = {key for _i, _j, key in g.edges(keys=True)}
        dead = tuple(t.name for t in net.transitions
                     if t.name not in fired and t.name not in goal.passed)
    return Behaviour(
        states=n, edges=g.number_of_edges(), complete=complete, limit=ex.limit,
        deadlocks=deadlocks, deadlock_count=len(dead_ends),
        option_to_complete=option, proper_completion=proper, improper=improper,
        dead_transitions=dead,
        bounded=False if ex.unbounded else (True if complete else None),
        bound=max((max(m.values(), default=0) for m in ms), default=0) if complete else None,
        unbounded=ex.unbounded, pump=ex.pump,
        drive_completes=drive_ok, drive_stops=stops,
    )


def _drive_view(net: Net, ex: _Explored, final: list[bool], complete: bool
                ) -> tuple[bool | None, tuple[Witness, ...]]:
    """Whether drive() completes: BFS over non-manual firings, stopping at final markings."""
    g = ex.graph
    parent = {0: -1}
    via = {0: ""}
    queue = deque([0])
    order = []
    while queue:
        i = queue.popleft()
        order.append(i)
        if final[i]:
            continue
        for _i, j, key, data in g.out_edges(i, keys=True, data=True):
            if not data["manual"] and j not in parent:
                parent[j] = i
                via[j] = key
                queue.append(j)
    stuck = [i for i in order if i < ex.expanded and not final[i]
             and not any(not d["manual"] for _i, _j, d in g.out_edges(i, data=True))]

    def path(i: int) -> tuple[str, ...]:
        out = []
        while parent[i] >= 0:
            out.append(via[i])
            i = parent[i]
        return tuple(reversed(out))

    stops = tuple(
        Witness(ex.markings[i], path(i),
                tuple(sorted(key for _i, _j, key in g.out_edges(i, keys=True))))
        for i in stuck[:_LISTED]
    )
    if stuck:
        return False, stops
    if not complete:
        return None, stops
    sub = g.subgraph(order)
    done = _backward(sub, [i for i in order if final[i]], _driven)
    return len(done) == len(order), stops
