"""Behavioural analysis: what the reachability graph shows (soundness, contest properties).

The graph is explored breadth first from a marking by :mod:`.statespace` (compact token
vectors, every transition included: manual gates too, a human may fire them), up to
``max_states`` markings and ``max_memory`` bytes. Breadth first means every witness (a
deadlock, an improper end, an unbounded place) comes with a shortest firing sequence that
reaches it. Every check after the exploration is linear in the states and firings.

The *driven* view keeps only what ``drive()`` does: non-manual transitions, stopping at a
final marking. It answers whether ``drive()`` alone reaches the end.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from ..core.marking import Marking
from ..core.net import Net
from .properties import Properties, contest_properties
from .statespace import DEFAULT_MAX_MEMORY, DEFAULT_MAX_STATES, StateSpace, Witness, explore

__all__ = ["DEFAULT_MAX_MEMORY", "DEFAULT_MAX_STATES", "Behaviour", "Goal", "Witness",
           "behaviour", "reachability_graph"]

_LISTED = 10


@attrs.frozen
class Goal:
    """What counts as finished.

    Attributes:
        is_final: Whether a marking is final (None: no marking is; every dead marking is
            then a deadlock and completion is not checked).
        improper: Whether a reachable marking breaks proper completion (None: not checked).
        passed: Transitions not reported dead (for a run: steps already behind its status).
        final_markings: Fast form of ``is_final``/``improper`` (they must agree): final iff
            equal to one of these; improper iff not final and covering one.
        final_any: Fast form of ``is_final``: final iff one of these places is marked.
        improper_any: With ``final_any``, fast form of ``improper``: final and one of these
            places is marked. The fast forms test token vectors, so a state space never
            builds a mapping per marking.
    """

    is_final: Callable[[Marking], bool] | None = None
    improper: Callable[[Marking], bool] | None = None
    passed: frozenset[str] = frozenset()
    final_markings: tuple[Marking, ...] | None = None
    final_any: frozenset[str] | None = None
    improper_any: frozenset[str] | None = None


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
        properties: The Model Checking Contest's standard properties (liveness, stable
            places, one-safety, quasi-liveness, the most tokens in a place and in a
            marking), with witnesses.
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
    properties: Properties | None = None

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
            "properties": self.properties.to_json() if self.properties else None,
        }


def reachability_graph(net: Net, marking: Marking, *, max_states: int = DEFAULT_MAX_STATES,
                       max_memory: int = DEFAULT_MAX_MEMORY) -> tuple[Any, bool]:
    """The reachability graph of ``net`` from ``marking``, as a networkx graph.

    Args:
        net: The net.
        marking: The start marking (node 0).
        max_states: Stop after this many markings.
        max_memory: Stop before the state space takes more bytes than this (estimated).

    Returns:
        ``(graph, complete)``: a ``networkx.MultiDiGraph`` whose nodes are integers with a
        ``marking`` attribute and whose edges are keyed by transition name (attribute
        ``manual``); ``complete`` is False when a bound was hit or a place is unbounded.
    """
    import networkx as nx  # imported on first use: it is most of petri_exec's import time

    ss = explore(net, Marking(marking), max_states=max_states, max_memory=max_memory)
    graph = nx.MultiDiGraph()
    for i in range(ss.states):
        graph.add_node(i, marking=ss.marking(i))
    ts = net.transitions
    for i in range(ss.expanded):
        for t, j in ss.successors(i):
            graph.add_edge(i, j, key=ts[t].name, manual=ts[t].manual)
    return graph, ss.complete


def _finals(ss: StateSpace, goal: Goal) -> tuple[bytearray, int]:
    """Per state: final or not; and the first improper state (-1 if none)."""
    n, net = ss.states, ss.net
    final = bytearray(n)
    bad = -1
    if goal.is_final is None and goal.final_markings is None and goal.final_any is None:
        return final, bad
    ms = ss.markings
    if goal.final_markings is not None:
        freeze = bytes if isinstance(ms[0], bytes) else tuple
        vectors = set()
        supports = []  # a final marking's marked places: covering is checked on them only
        known = frozenset(net.places)
        for t in goal.final_markings:
            if any(k and p not in known for p, k in t.items()):
                continue  # a place the net lacks: never reached, never covered
            v = [t.get(p, 0) for p in net.places]
            if freeze is tuple or max(v, default=0) < 256:
                vectors.add(freeze(v))
            supports.append([(net.place_index(p), k) for p, k in t.items() if k])
        for i in range(n):
            if ms[i] in vectors:
                final[i] = 1
            elif bad < 0 and any(_covers(ms[i], s) for s in supports):
                bad = i
        return final, bad
    if goal.final_any is not None:
        ends = [net.place_index(p) for p in goal.final_any]
        early = [net.place_index(p) for p in goal.improper_any or ()]
        for i in range(n):
            m = ms[i]
            if any(m[p] for p in ends):
                final[i] = 1
                if bad < 0 and any(m[p] for p in early):
                    bad = i
        return final, bad
    assert goal.is_final is not None
    for i in range(n):
        mk = ss.marking(i)
        if goal.is_final(mk):
            final[i] = 1
        if bad < 0 and goal.improper is not None and goal.improper(mk):
            bad = i
    return final, bad


def _covers(m: Sequence[int], support: list[tuple[int, int]]) -> bool:
    return all(m[p] >= k for p, k in support)


def _reverse(ss: StateSpace) -> tuple[array[int], array[int]]:
    """Incoming firings in compressed rows: sources of state j are src[start[j]:start[j+1]]."""
    n = ss.states
    count = [0] * (n + 1)
    for j in ss.dst:
        count[j + 1] += 1
    for j in range(n):
        count[j + 1] += count[j]
    start = array("q", count)
    fill = count[:]
    src = array("q", bytes(8 * len(ss.dst)))
    first, dst = ss.first, ss.dst
    for i in range(ss.expanded):
        for e in range(first[i], first[i + 1]):
            j = dst[e]
            src[fill[j]] = i
            fill[j] += 1
    return start, src


def _backward(ss: StateSpace, targets: list[int], keep: bytearray | None = None) -> bytearray:
    """States from which a target is reachable (through states in ``keep`` only)."""
    start, src = _reverse(ss)
    seen = bytearray(ss.states)
    queue = deque(targets)
    for t in targets:
        seen[t] = 1
    while queue:
        j = queue.popleft()
        for e in range(start[j], start[j + 1]):
            i = src[e]
            if not seen[i] and (keep is None or keep[i]):
                seen[i] = 1
                queue.append(i)
    return seen


def behaviour(net: Net, marking: Marking, goal: Goal = Goal(), *,
              max_states: int = DEFAULT_MAX_STATES,
              max_memory: int = DEFAULT_MAX_MEMORY) -> Behaviour:
    """Explore the reachability graph and check soundness and the contest's properties.

    Args:
        net: The net.
        marking: The start marking.
        goal: What counts as final, proper, and already passed.
        max_states: Bound on the markings explored.
        max_memory: Bound on the bytes the state space may take (estimated).

    Returns:
        The :class:`Behaviour` report.
    """
    ss = explore(net, Marking(marking), max_states=max_states, max_memory=max_memory)
    n = ss.states
    complete = ss.complete
    final, bad = _finals(ss, goal)
    first = ss.first
    dead_ends = [i for i in range(ss.expanded) if first[i] == first[i + 1] and not final[i]]
    deadlocks = tuple(ss.witness(i) for i in dead_ends[:_LISTED])
    has_goal = any(x is not None for x in (goal.is_final, goal.final_markings,
                                            goal.final_any))
    option: bool | None = None
    proper: bool | None = None
    improper = None
    drive_ok: bool | None = None
    stops: tuple[Witness, ...] = ()
    if has_goal:
        reach_end = _backward(ss, [i for i in range(n) if final[i]])
        if complete:
            option = all(reach_end)
        elif dead_ends:
            option = False
        if goal.improper is not None or goal.final_markings is not None or (
                goal.improper_any is not None):
            if bad >= 0:
                proper, improper = False, ss.witness(bad)
            elif complete:
                proper = True
        drive_ok, stops = _drive_view(ss, final)
    props = contest_properties(ss)
    dead: tuple[str, ...] | None = None
    if complete:
        fired = set(ss.label)
        dead = tuple(t.name for t in net.transitions
                     if t.index not in fired and t.name not in goal.passed)
    pump = None
    if ss.unbounded:
        prefix = ss.path(ss.pump_from)
        pump = Witness(ss.marking(ss.pump_from), prefix,
                       pump=ss.path(ss.pump_to)[len(prefix):])
    return Behaviour(
        states=n, edges=ss.edges, complete=complete, limit=ss.limit,
        deadlocks=deadlocks, deadlock_count=len(dead_ends),
        option_to_complete=option, proper_completion=proper, improper=improper,
        dead_transitions=dead,
        bounded=False if ss.unbounded else (True if complete else None),
        bound=props.max_tokens_in_place if complete else None,
        unbounded=tuple(net.places[p] for p in ss.unbounded), pump=pump,
        drive_completes=drive_ok, drive_stops=stops, properties=props,
    )


def _drive_view(ss: StateSpace, final: bytearray) -> tuple[bool | None, tuple[Witness, ...]]:
    """Whether drive() completes: BFS over non-manual firings, stopping at final markings."""
    manual = bytes(t.manual for t in ss.net.transitions)
    names = [t.name for t in ss.net.transitions]
    first, dst, label = ss.first, ss.dst, ss.label
    n = ss.states
    parent = array("q", [-2]) * n
    via = array("q", [-1]) * n
    parent[0] = -1
    queue = deque([0])
    order = []
    while queue:
        i = queue.popleft()
        order.append(i)
        if final[i] or i >= ss.expanded:
            continue
        for e in range(first[i], first[i + 1]):
            j = dst[e]
            if not manual[label[e]] and parent[j] == -2:
                parent[j] = i
                via[j] = label[e]
                queue.append(j)
    stuck = [i for i in order if i < ss.expanded and not final[i]
             and all(manual[label[e]] for e in range(first[i], first[i + 1]))]

    def path(i: int) -> tuple[str, ...]:
        out = []
        while parent[i] >= 0:
            out.append(names[via[i]])
            i = parent[i]
        return tuple(reversed(out))

    stops = tuple(
        Witness(ss.marking(i), path(i),
                tuple(sorted(names[label[e]] for e in range(first[i], first[i + 1]))))
        for i in stuck[:_LISTED]
    )
    if stuck:
        return False, stops
    if not ss.complete:
        return None, stops
    keep = bytearray(n)
    for i in order:
        keep[i] = 1
    driven = _driven_backward(ss, [i for i in order if final[i]], keep, manual)
    return all(driven[i] for i in order), stops


def _driven_backward(ss: StateSpace, targets: list[int], keep: bytearray,
                     manual: bytes) -> bytearray:
    """States in ``keep`` from which a target is reachable by non-manual firings within
    ``keep``."""
    first, dst, label = ss.first, ss.dst, ss.label
    incoming: dict[int, list[int]] = {}
    for i in range(ss.expanded):
        if not keep[i]:
            continue
        for e in range(first[i], first[i + 1]):
            j = dst[e]
            if keep[j] and not manual[label[e]]:
                incoming.setdefault(j, []).append(i)
    seen = bytearray(ss.states)
    queue = deque(targets)
    for t in targets:
        seen[t] = 1
    while queue:
        j = queue.popleft()
        for i in incoming.get(j, ()):
            if not seen[i]:
                seen[i] = 1
                queue.append(i)
    return seen
