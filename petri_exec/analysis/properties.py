"""The Model Checking Contest's standard properties of a net, read off its state space.

- *deadlock* (``ReachabilityDeadlock``): some reachable marking enables nothing;
- *liveness* (``Liveness``): every transition can always fire again, from every reachable
  marking; decided on the strongly connected components of the reachability graph: a
  transition is live iff it labels a firing inside every bottom component (one that no
  firing leaves);
- *quasi-liveness* (``QuasiLiveness``): every transition fires at least once;
- *stable places* (``StableMarking`` holds iff there is one): places whose token count is
  the same in every reachable marking, i.e. no transition that ever fires changes them;
- *one-safety* (``OneSafe``): no reachable marking puts two tokens in a place;
- the most tokens in one place (``MAX_TOKEN_IN_PLACE``) and in one marking
  (``MAX_TOKEN_PER_MARKING``).

Where a property fails a witness says why: a marking with a shortest firing sequence to it.
Everything is linear in the state space (states + firings, Tarjan's algorithm without
recursion); the token vectors are scanned once. On a partial state space only what the
explored part already proves is reported; the rest is None.
"""

from __future__ import annotations

from array import array
from typing import Any

import attrs

from .statespace import StateSpace, Witness

__all__ = ["Properties", "contest_properties"]


@attrs.frozen
class Properties:
    """The contest's standard properties (None: not decided on the part explored).

    Attributes:
        deadlock: Some reachable marking enables nothing (manual gates count as enabled).
        deadlock_witness: The first such marking.
        live: Every transition can fire again from every reachable marking.
        not_live: Transitions that are not live (net order).
        live_witness: A reachable marking from which ``not_live[0]`` can never fire.
        quasi_live: Every transition fires at least once.
        never_fired: Transitions that never fire (all of them, passed steps included).
        stable_places: Places whose token count never changes (net order).
        stable_marking: Some place is stable.
        one_safe: No place ever holds two tokens.
        unsafe: A marking where a place holds two or more tokens.
        max_tokens_in_place: The most tokens one place holds.
        max_place: A place that holds them.
        max_place_witness: A marking where it does.
        max_tokens_per_marking: The most tokens one marking holds.
        max_marking_witness: A marking that holds them.
    """

    deadlock: bool | None
    deadlock_witness: Witness | None
    live: bool | None
    not_live: tuple[str, ...]
    live_witness: Witness | None
    quasi_live: bool | None
    never_fired: tuple[str, ...] | None
    stable_places: tuple[str, ...] | None
    stable_marking: bool | None
    one_safe: bool | None
    unsafe: Witness | None
    max_tokens_in_place: int | None
    max_place: str | None
    max_place_witness: Witness | None
    max_tokens_per_marking: int | None
    max_marking_witness: Witness | None

    def to_json(self) -> dict[str, Any]:
        """This report as a JSON-ready dict."""
        out: dict[str, Any] = {}
        for field in attrs.fields(Properties):
            value = getattr(self, field.name)
            if isinstance(value, Witness):
                value = value.to_json()
            elif isinstance(value, tuple):
                value = list(value)
            out[field.name] = value
        return out


def _sccs(n: int, first: array[int], dst: array[int]) -> list[int]:
    """Component number of each state (Tarjan, iterative; components in reverse
    topological order)."""
    index = [-1] * n
    low = [0] * n
    on = bytearray(n)
    comp = [-1] * n
    stack: list[int] = []
    counter = ncomp = 0
    for root in range(n):
        if index[root] != -1:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on[root] = 1
        work = [(root, first[root])]
        while work:
            v, e = work[-1]
            end = first[v + 1]
            descended = False
            while e < end:
                w = dst[e]
                e += 1
                if index[w] == -1:
                    work[-1] = (v, e)
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on[w] = 1
                    work.append((w, first[w]))
                    descended = True
                    break
                if on[w] and index[w] < low[v]:
                    low[v] = index[w]
            if descended:
                continue
            work.pop()
            if low[v] == index[v]:
                while True:
                    w = stack.pop()
                    on[w] = 0
                    comp[w] = ncomp
                    if w == v:
                        break
                ncomp += 1
            if work:
                u = work[-1][0]
                if low[v] < low[u]:
                    low[u] = low[v]
    return comp


def _liveness(ss: StateSpace) -> tuple[bool, tuple[int, ...], int]:
    """Whether every transition is live, the ones that are not, and a witness state."""
    n, ntrans = ss.states, len(ss.net.transitions)
    first, dst, label = ss.first, ss.dst, ss.label
    comp = _sccs(n, first, dst)
    ncomp = max(comp, default=-1) + 1
    leaves = bytearray(ncomp)
    for v in range(n):
        c = comp[v]
        for e in range(first[v], first[v + 1]):
            if comp[dst[e]] != c:
                leaves[c] = 1
                break
    seen: dict[int, set[int]] = {}
    anchor: dict[int, int] = {}
    for v in range(n):
        c = comp[v]
        if leaves[c]:
            continue
        labels = seen.setdefault(c, set())
        anchor.setdefault(c, v)
        labels.update(label[first[v]:first[v + 1]])
    missing: set[int] = set()
    witness = -1
    for c in sorted(seen, key=anchor.__getitem__):
        lack = ntrans - len(seen[c])
        if lack:
            if witness < 0:
                witness = anchor[c]
            missing.update(t for t in range(ntrans) if t not in seen[c])
            if len(missing) == ntrans:
                break
    return not missing, tuple(sorted(missing)), witness


def contest_properties(ss: StateSpace) -> Properties:
    """The contest's standard properties of an explored state space.

    Args:
        ss: The state space (complete or partial).

    Returns:
        The :class:`Properties`; undecided ones are None.
    """
    net = ss.net
    complete = ss.complete
    names = [t.name for t in net.transitions]
    first = ss.first
    dead = next((i for i in range(ss.expanded) if first[i] == first[i + 1]), None)
    deadlock = True if dead is not None else (False if complete else None)
    fired = set(ss.label)
    never = tuple(names[t] for t in range(len(names)) if t not in fired)
    quasi = True if not never else (False if complete else None)
    changed = bytearray(len(net.places))
    for t in fired:  # a consume and produce of one weight on one place changes nothing
        delta: dict[int, int] = {}
        for p, w in net.consume[t]:
            delta[p] = delta.get(p, 0) - w
        for p, w in net.produce[t]:
            delta[p] = delta.get(p, 0) + w
        for p, d in delta.items():
            if d:
                changed[p] = 1
    stable = tuple(net.places[p] for p in range(len(net.places)) if not changed[p])
    top_place = top_sum = -1
    at_place = at_sum = 0
    first_unsafe = -1
    for i, m in enumerate(ss.markings):
        big = max(m, default=0)
        if big > top_place:
            top_place, at_place = big, i
        if big > 1 and first_unsafe < 0:
            first_unsafe = i
        total = sum(m)
        if total > top_sum:
            top_sum, at_sum = total, i
    bounded = complete and not ss.unbounded
    live: bool | None = None
    not_live: tuple[str, ...] = ()
    live_witness = None
    if bounded:
        ok, missing, w = _liveness(ss)
        live, not_live = ok, tuple(names[t] for t in missing)
        live_witness = ss.witness(w) if w >= 0 else None
    elif dead is not None and names:
        live, not_live, live_witness = False, tuple(names), ss.witness(dead)
    unsafe = ss.witness(first_unsafe) if first_unsafe >= 0 else None
    if unsafe is None and ss.unbounded:
        unsafe = Witness(ss.marking(ss.pump_from), ss.path(ss.pump_from),
                         pump=ss.path(ss.pump_to)[len(ss.path(ss.pump_from)):])
    max_place = None
    if bounded and top_place > 0:
        m = ss.markings[at_place]
        max_place = net.places[list(m).index(top_place)]
    return Properties(
        deadlock=deadlock,
        deadlock_witness=ss.witness(dead) if dead is not None else None,
        live=live, not_live=not_live, live_witness=live_witness,
        quasi_live=quasi, never_fired=never if complete or not never else None,
        stable_places=stable if complete else None,
        stable_marking=bool(stable) if complete else (False if not stable else None),
        one_safe=False if unsafe is not None else (True if bounded else None),
        unsafe=unsafe,
        max_tokens_in_place=top_place if bounded else None,
        max_place=max_place,
        max_place_witness=ss.witness(at_place) if bounded else None,
        max_tokens_per_marking=top_sum if bounded else None,
        max_marking_witness=ss.witness(at_sum) if bounded else None,
    )
