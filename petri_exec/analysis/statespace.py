"""Compact state spaces: every reachable marking of a net as a token vector, breadth first.

A marking is stored as ``bytes`` (one byte per place, in net order) while every count fits
in a byte, else as a ``tuple`` of ints; the exploration restarts in the wide form the first
time a count passes 255. Transitions are indices; each has a precomputed *need* (the most
tokens each input place must hold: consume and read arcs merged) and *delta* (the net
change per place). A successor is the parent's vector plus the delta. Enabling is
incremental: a successor's enabled set is its parent's, with only the transitions that
watch a place the firing changed checked again. Edges are kept in compressed rows (state
``i``'s firings are ``dst[first[i]:first[i + 1]]``, labelled by transition index), so the
whole graph costs a few machine words per firing.

Cost: O(states x places) bytes for the markings, O(edges) for the graph, and per firing
O(places) to copy the vector plus the arcs of the transitions it affects. Two bounds stop
it early, with a message saying which was hit: ``max_states`` markings, and ``max_memory``
bytes as estimated from the vector size. Unboundedness is detected as in Karp and Miller's
construction (a new marking strictly covering an ancestor can be pumped forever), checked
only when the token sum grows and only on nets that no place invariant bounds.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Sequence
from operator import ge
from typing import Any

import attrs

from ..core.marking import Marking
from ..core.net import Net
from .structure import bounds

__all__ = ["DEFAULT_MAX_MEMORY", "DEFAULT_MAX_STATES", "StateSpace", "Witness", "explore"]

#: Default bound on the number of markings explored.
DEFAULT_MAX_STATES = 100_000
#: Default bound on the memory the state space may take (bytes, estimated).
DEFAULT_MAX_MEMORY = 1 << 30
#: Estimated bytes per stored marking beyond its vector (index entry, parent, arrays).
_STATE_OVERHEAD = 120
#: Estimated bytes per stored firing.
_EDGE_BYTES = 12
#: Ancestors compared while exploring (all of them are compared if a bound is hit).
_COVER_WALK = 4


@attrs.frozen
class Witness:
    """A reachable marking that shows a property failing (or a bound reached).

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


class _Overflow(Exception):
    """A token count passed 255: explore again with wide vectors."""


class StateSpace:
    """The explored part of a reachability graph, in compact form.

    Attributes:
        net: The net.
        markings: Token vectors (``bytes`` or ``tuple``), state ``0`` the start.
        parent: The state each state was first reached from (``-1`` for the start).
        via: The transition index that first reached each state (``-1`` for the start).
        first: Row offsets: state ``i < expanded`` fires ``dst[first[i]:first[i + 1]]``.
        dst: Target state of each firing.
        label: Transition index of each firing.
        expanded: States ``0 .. expanded - 1`` have all their firings recorded.
        limit: Why the exploration stopped early (a bound or an unbounded place), or None.
        unbounded: Place indices found to grow without limit.
        pump_from: The state a pumping sequence starts from (``-1`` if none).
        pump_to: The state, strictly covering ``pump_from``, that it reaches.
        work: Arc checks and vector cells touched (the operation count tests assert on).
    """

    __slots__ = ("dst", "expanded", "first", "label", "limit", "markings", "net", "parent",
                 "pump_from", "pump_to", "unbounded", "via", "work")

    def __init__(self, net: Net) -> None:
        self.net = net
        self.markings: list[Sequence[int]] = []
        self.parent = array("q")
        self.via = array("q")
        self.first = array("q")
        self.dst = array("q")
        self.label = array("l")
        self.expanded = 0
        self.limit: str | None = None
        self.unbounded: tuple[int, ...] = ()
        self.pump_from = -1
        self.pump_to = -1
        self.work = 0

    @property
    def complete(self) -> bool:
        """Whether the whole reachability graph was built."""
        return self.limit is None

    @property
    def states(self) -> int:
        """Markings explored."""
        return len(self.markings)

    @property
    def edges(self) -> int:
        """Firings recorded."""
        return len(self.dst)

    def marking(self, i: int) -> Marking:
        """State ``i`` as a :class:`~petri_exec.core.marking.Marking`."""
        places = self.net.places
        return Marking._of({places[p]: n for p, n in enumerate(self.markings[i]) if n})

    def path(self, i: int) -> tuple[str, ...]:
        """A shortest firing sequence from the start to state ``i`` (names)."""
        ts = self.net.transitions
        out = []
        while i > 0:
            out.append(ts[self.via[i]].name)
            i = self.parent[i]
        return tuple(reversed(out))

    def witness(self, i: int, enabled: tuple[str, ...] = ()) -> Witness:
        """State ``i`` with a shortest path to it."""
        return Witness(self.marking(i), self.path(i), enabled)

    def successors(self, i: int) -> list[tuple[int, int]]:
        """``(transition index, target state)`` of each firing of expanded state ``i``."""
        lo, hi = self.first[i], self.first[i + 1]
        return list(zip(self.label[lo:hi], self.dst[lo:hi], strict=True))


def _prepare(net: Net) -> tuple[list[tuple[tuple[int, int], ...]],
                                 list[tuple[tuple[int, int], ...]], list[int],
                                 list[tuple[int, ...]], list[frozenset[int]]]:
    """Per transition: need, delta, token-sum change, affected transitions (as tuple, set)."""
    nplaces = len(net.places)
    watchers: list[list[int]] = [[] for _ in range(nplaces)]
    need_of, delta_of, dsum = [], [], []
    for i in range(len(net.transitions)):
        need: dict[int, int] = {}
        for p, w in (*net.consume[i], *net.read[i]):
            need[p] = max(need.get(p, 0), w)
        change: dict[int, int] = {}
        for p, w in net.consume[i]:
            change[p] = change.get(p, 0) - w
        for p, w in net.produce[i]:
            change[p] = change.get(p, 0) + w
        delta = tuple((p, d) for p, d in sorted(change.items()) if d)
        need_of.append(tuple(sorted(need.items())))
        delta_of.append(delta)
        dsum.append(sum(d for _p, d in delta))
        for p in need:
            watchers[p].append(i)
    affected = []
    for delta in delta_of:
        touched = sorted({u for p, _d in delta for u in watchers[p]})
        affected.append(tuple(touched))
    return need_of, delta_of, dsum, affected, [frozenset(a) for a in affected]


def explore(net: Net, start: Marking, *, max_states: int = DEFAULT_MAX_STATES,
            max_memory: int = DEFAULT_MAX_MEMORY) -> StateSpace:
    """Explore the reachability graph of ``net`` from ``start``, breadth first.

    Args:
        net: The net (every transition, manual ones included).
        start: The start marking (places of the net only).
        max_states: Stop before storing more markings than this.
        max_memory: Stop before the estimated size of the state space passes this (bytes).

    Returns:
        The :class:`StateSpace`; ``limit`` says why it is partial, if it is.
    """
    vec = [start.get(p, 0) for p in net.places]
    prep = _prepare(net)
    watch_growth = not all(b is not None for b in bounds(net, start))
    if max(vec, default=0) < 256:
        try:
            return _explore(net, prep, bytes(vec), bytes, bytearray, max_states,
                            max_memory, watch_growth)
        except _Overflow:
            pass
    return _explore(net, prep, tuple(vec), tuple, list, max_states, max_memory,
                    watch_growth)


def _explore(net: Net, prep: Any, m0: Sequence[int], freeze: Callable[[Any], Any],
             thaw: Callable[[Any], Any], max_states: int, max_memory: int,
             watch_growth: bool) -> StateSpace:
    need_of, delta_of, dsum, affected, affected_set = prep
    ss = StateSpace(net)
    per_state = sys.getsizeof(m0) + _STATE_OVERHEAD
    cap = min(max_states, max(1, max_memory // per_state))
    markings = ss.markings
    markings.append(m0)
    index = {m0: 0}
    parent, via, first, dst, label = ss.parent, ss.via, ss.first, ss.dst, ss.label
    parent.append(-1)
    via.append(-1)
    sums = array("q", [sum(m0)])
    least = array("q", [sums[0]])
    work = len(need_of)
    pending: list[tuple[int, ...] | None] = [tuple(
        t for t, need in enumerate(need_of) if all(m0[p] >= w for p, w in need))]
    wide = thaw is list
    i = 0
    n = 1
    while i < n:
        m = markings[i]
        en = pending[i]
        pending[i] = None
        assert en is not None
        lo = len(dst)
        first.append(lo)
        if lo * _EDGE_BYTES + n * per_state > max_memory:
            del first[-1]
            ss.limit = _memory_limit(net, n, lo, per_state, max_memory)
            break
        s = sums[i]
        for t in en:
            delta = delta_of[t]
            if not delta:
                dst.append(i)
                label.append(t)
                continue
            v = thaw(m)
            try:
                for p, d in delta:
                    v[p] += d
            except ValueError:
                if wide:
                    raise
                raise _Overflow from None
            m2 = freeze(v)
            j = index.get(m2)
            if j is None:
                if n >= cap:
                    ss.limit = (_state_limit(max_states) if cap == max_states
                                else _memory_limit(net, n, len(dst), per_state, max_memory))
                    break
                j = n
                n += 1
                markings.append(m2)
                index[m2] = j
                parent.append(i)
                via.append(t)
                s2 = s + dsum[t]
                sums.append(s2)
                least.append(s2 if s2 < least[i] else least[i])
                aff = affected_set[t]
                en2 = [u for u in en if u not in aff]
                for u in affected[t]:
                    for p, w in need_of[u]:
                        if m2[p] < w:
                            break
                    else:
                        en2.append(u)
                en2.sort()
                pending.append(tuple(en2))
                work += len(en) + len(affected[t])
                if watch_growth and s2 > least[i] and _covers(ss, sums, j, _COVER_WALK):
                    dst.append(j)
                    label.append(t)
                    break
            dst.append(j)
            label.append(t)
        if ss.limit is not None or ss.unbounded:
            del dst[lo:], label[lo:]
            first.pop()
            break
        i += 1
    ss.expanded = i
    first.append(len(dst))
    if ss.limit is not None and watch_growth and not ss.unbounded:
        for j in range(1, n):  # a bound was hit: is the net in fact unbounded?
            if sums[j] > least[parent[j]] and _covers(ss, sums, j, n):
                break
    if ss.unbounded:
        ss.limit = _unbounded_limit(ss)
    ss.work += work + len(dst) * (len(m0) + 1)  # each firing copies a vector
    return ss


def _covers(ss: StateSpace, sums: array[int], j: int, walk: int) -> bool:
    """Whether state ``j`` strictly covers one of its ``walk`` nearest ancestors."""
    m2 = ss.markings[j]
    s2 = sums[j]
    k = ss.parent[j]
    while k >= 0 and walk > 0:
        walk -= 1
        if s2 > sums[k]:
            old = ss.markings[k]
            ss.work += len(old)
            if all(map(ge, m2, old)):
                ss.unbounded = tuple(p for p, (a, b) in enumerate(zip(m2, old, strict=True))
                                     if a > b)
                ss.pump_from, ss.pump_to = k, j
                return True
        k = ss.parent[k]
    return False


def _state_limit(max_states: int) -> str:
    return (f"the state space has more than max_states={max_states} markings; the other "
            "results cover only the part explored: raise max_states (petri-exec check "
            "--max-states) to see more")


def _memory_limit(net: Net, states: int, edges: int, per_state: int, max_memory: int) -> str:
    return (f"the state space needs more than max_memory={max_memory:,} bytes: {states:,} "
            f"markings of {len(net.places):,} places (about {per_state:,} bytes each) and "
            f"{edges:,} firings so far; the other results cover only the part explored: "
            "raise max_memory (petri-exec check --max-memory MB) or analyse a smaller net")


def _unbounded_limit(ss: StateSpace) -> str:
    places = ", ".join(ss.net.places[p] for p in ss.unbounded)
    prefix = ss.path(ss.pump_from)
    pump = ss.path(ss.pump_to)[len(prefix):]
    return (f"places {places} are unbounded: from the marking reached by "
            f"{' '.join(prefix) if prefix else '(start)'}, firing {' '.join(pump)} gives a "
            "strictly larger marking, so it can be repeated forever; the state space is "
            "infinite")
