"""Structural analysis of a place/transition net: what the arcs alone prove.

Everything here is linear in the size of the net (no state space):

- *place invariants*: places are grouped into components (a transition joins every place it
  consumes from and produces into); a component whose every transition puts back as many
  tokens as it takes keeps its token sum, so each of its places holds at most that sum. A
  compiled run has one such component per lane, holding one token: it is 1-safe.
- *markable places*: a fixpoint from the marked places through transitions whose every
  input could be marked (weights above a place's invariant bound can never be met). A
  transition with an input that is never markable is *dead*: it can never fire.
- *conflicts*: places consumed by two or more transitions (firing one may disable the
  other). Read arcs never conflict with each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ..core.net import Net

__all__ = ["Conflict", "Structure", "bounds", "structure"]


@attrs.frozen
class Conflict:
    """Transitions competing for the tokens of one place.

    Attributes:
        place: The place.
        transitions: The transitions consuming from it (net order).
    """

    place: str
    transitions: tuple[str, ...]


@attrs.frozen
class Structure:
    """What the net's structure proves at a marking.

    Attributes:
        places: Number of places.
        transitions: Number of transitions.
        arcs: Number of arcs (consume + produce + read).
        dead_transitions: Transitions that can never fire: an input place can never hold
            enough tokens (net order).
        unmarkable_places: Empty places that no firing sequence can mark.
        unproduced_places: Places no transition produces into (their tokens only decrease).
        conflicts: Places consumed by two or more transitions.
        bounded: True when every place is covered by a place invariant (None: not provable
            structurally).
        bound: The largest invariant bound of a place when ``bounded``, else None.
        safe: True when the invariants prove that no place ever holds two tokens; None when
            they cannot tell.
        uncovered_places: Places no invariant covers (their bound is unknown).
    """

    places: int
    transitions: int
    arcs: int
    dead_transitions: tuple[str, ...]
    unmarkable_places: tuple[str, ...]
    unproduced_places: tuple[str, ...]
    conflicts: tuple[Conflict, ...]
    bounded: bool | None
    bound: int | None
    safe: bool | None
    uncovered_places: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """This report as a JSON-ready dict."""
        out = attrs.asdict(self, recurse=True)
        out["conflicts"] = [
            {"place": c.place, "transitions": list(c.transitions)} for c in self.conflicts
        ]
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        return out


def _find(parent: list[int], x: int) -> int:
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        parent[x], x = root, parent[x]
    return root


def bounds(net: Net, marking: Mapping[str, int]) -> list[int | None]:
    """Per place, the bound proved by its place invariant (None when not covered).

    Args:
        net: The net.
        marking: The marking the bound holds from.

    Returns:
        ``bounds[p]``: no marking reachable from ``marking`` puts more tokens in place ``p``.
    """
    n = len(net.places)
    parent = list(range(n))
    for cons, prod in zip(net.consume, net.produce, strict=True):
        touched = [p for p, _ in cons] + [p for p, _ in prod]
        if len(touched) > 1:
            root = _find(parent, touched[0])
            for p in touched[1:]:
                other = _find(parent, p)
                if other != root:
                    parent[other] = root
    roots = [_find(parent, p) for p in range(n)]
    balanced = [True] * n
    for cons, prod in zip(net.consume, net.produce, strict=True):
        delta: dict[int, int] = {}
        for p, w in cons:
            delta[roots[p]] = delta.get(roots[p], 0) - w
        for p, w in prod:
            delta[roots[p]] = delta.get(roots[p], 0) + w
        for root, d in delta.items():
            if d:
                balanced[root] = False
    total = [0] * n
    for p, place in enumerate(net.places):
        total[roots[p]] += marking.get(place, 0)
    return [total[roots[p]] if balanced[roots[p]] else None for p in range(n)]


def structure(net: Net, marking: Mapping[str, int]) -> Structure:
    """Analyse the structure of ``net`` at ``marking`` in time linear in the net.

    Args:
        net: Any net.
        marking: Place name -> tokens.

    Returns:
        The :class:`Structure` report.
    """
    places = net.places
    bound = bounds(net, marking)
    markable = [marking.get(p, 0) > 0 for p in places]
    produced = [False] * len(places)
    for prod in net.produce:
        for p, _ in prod:
            produced[p] = True

    def can_hold(p: int, w: int) -> bool:
        b = bound[p]
        return b is None or w <= b

    impossible = [
        any(not can_hold(p, w) for p, w in (*net.consume[i], *net.read[i]))
        for i in range(len(net.transitions))
    ]
    waiting = [
        sum(1 for p, _ in (*net.consume[i], *net.read[i]) if not markable[p])
        for i in range(len(net.transitions))
    ]
    queue = [i for i, k in enumerate(waiting) if k == 0 and not impossible[i]]
    fired = [False] * len(net.transitions)
    while queue:
        i = queue.pop()
        if fired[i]:
            continue
        fired[i] = True
        for p, _ in net.produce[i]:
            if markable[p]:
                continue
            markable[p] = True
            for u, _w in net.watchers(p):
                waiting[u] -= 1
                if waiting[u] == 0 and not impossible[u]:
                    queue.append(u)
    consumers: dict[int, list[int]] = {}
    for i, cons in enumerate(net.consume):
        for p, _ in cons:
            consumers.setdefault(p, []).append(i)
    conflicts = tuple(
        Conflict(places[p], tuple(net.transitions[i].name for i in sorted(ts)))
        for p, ts in sorted(consumers.items())
        if len(ts) > 1
    )
    covered = [b for b in bound if b is not None]
    all_covered = len(covered) == len(bound)
    return Structure(
        places=len(places),
        transitions=len(net.transitions),
        arcs=sum(len(c) + len(p) + len(r)
                 for c, p, r in zip(net.consume, net.produce, net.read, strict=True)),
        dead_transitions=tuple(t.name for t in net.transitions if not fired[t.index]),
        unmarkable_places=tuple(p for k, p in enumerate(places) if not markable[k]),
        unproduced_places=tuple(p for k, p in enumerate(places) if not produced[k]),
        conflicts=conflicts,
        bounded=True if all_covered else None,
        bound=max(covered, default=0) if all_covered else None,
        safe=True if all_covered and max(covered, default=0) <= 1 else None,
        uncovered_places=tuple(p for k, p in enumerate(places) if bound[k] is None),
    )
