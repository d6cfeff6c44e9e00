"""``pe.why``: what a transition waits for, chased back through the producers.

Each missing token is a *requirement* "place p holds at least n tokens". A requirement met
by the marking costs nothing; otherwise it costs ``k x cost(u)`` for its cheapest producer
``u`` (fired ``k`` times), and a transition costs one plus its unmet requirements. The
cheapest choices are found with Knuth's generalisation of Dijkstra's algorithm to such
AND/OR graphs, restricted to the backward cone of the transition, so the answer is the
shortest chain of steps that must fire first. A requirement no producer chain can meet
(an empty place nothing produces into, a cycle of waits, more tokens than a place
invariant allows) is why the transition can never fire.

On a compiled run every place has one producer, so the chain is exact: the lane's steps up
to the missing status. On a general net it is a plan by the producer graph: it ignores
competition for tokens, so firing it may still leave the transition disabled.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from typing import Any

import attrs

from ..core.marking import Marking
from ..core.net import Net, Transition
from .structure import bounds

__all__ = ["Need", "Why", "why"]

_CAP = 10**15  # costs saturate here (sums over shared sub-plans can grow fast)
_Req = tuple[int, int]  # (place index, tokens needed)


@attrs.frozen
class Need:
    """One missing input of the transition.

    Attributes:
        place: The place.
        needed: Tokens the transition needs there.
        present: Tokens there now.
        chain: Steps that bring the tokens, in firing order, following the token's own
            path (a lane's steps for a compiled run); empty when it can never be met.
        side: ``(step, place)``: other inputs the steps of ``chain`` wait for (their own
            chains are in :attr:`Why.plan`).
        never: Why the place can never get the tokens, else None.
    """

    place: str
    needed: int
    present: int
    chain: tuple[str, ...] = ()
    side: tuple[tuple[str, str], ...] = ()
    never: str | None = None


@attrs.frozen
class Why:
    """Why a transition is not enabled (or that it is).

    Attributes:
        transition: Its name.
        enabled: Whether it is enabled now.
        manual: Whether it is a manual gate (fired only by hand).
        needs: Its missing inputs.
        plan: Every step that must fire first, dependencies first (empty when it can never
            fire). A step that must fire ``k`` times appears ``k`` times.
        never: Why it can never fire from this marking, else None.
    """

    transition: str
    enabled: bool
    manual: bool
    needs: tuple[Need, ...] = ()
    plan: tuple[str, ...] = ()
    never: str | None = None

    def to_json(self) -> dict[str, Any]:
        """This explanation as a JSON-ready dict."""
        return {
            "transition": self.transition, "enabled": self.enabled, "manual": self.manual,
            "needs": [{"place": n.place, "needed": n.needed, "present": n.present,
                       "chain": list(n.chain), "side": [list(s) for s in n.side],
                       "never": n.never} for n in self.needs],
            "plan": list(self.plan), "never": self.never,
        }

    def explain(self) -> str:
        """A readable explanation, several lines."""
        t = self.transition
        if self.enabled:
            if self.manual:
                return f"{t} is enabled; it is a manual gate: fire it by hand (pe.fire)\n"
            return f"{t} is enabled\n"
        lines = [f"{t} is not enabled; it waits for:"]
        for n in self.needs:
            head = f"  {n.place} (needs {n.needed}, has {n.present})"
            if n.never:
                lines.append(f"{head}: never: {n.never}")
                continue
            lines.append(f"{head}: fire {' -> '.join(n.chain)}")
            lines.extend(f"    ({step} also waits for {place})" for step, place in n.side)
        if self.never:
            lines.append(f"{t} can never fire: {self.never}")
        else:
            lines.append(f"fire first, in order ({len(self.plan)} steps): "
                         + ", ".join(self.plan))
        return "\n".join(lines) + "\n"


class _Cone:
    """The backward cone of a transition's missing inputs, with Knuth's costs."""

    def __init__(self, net: Net, m: Marking, skip: int, bound: list[int | None]) -> None:
        self.net, self.skip, self.bound = net, skip, bound
        self.tokens = [m.get(p, 0) for p in net.places]
        self.producers: list[list[tuple[int, int]]] = [[] for _ in net.places]
        for u, prod in enumerate(net.produce):
            for p, w in prod:
                self.producers[p].append((u, w))
        self.lacking: dict[int, list[_Req]] = {}
        self.cost: dict[_Req, int] = {}
        self.best: dict[_Req, tuple[int, int]] = {}

    def reqs(self, u: int) -> list[_Req]:
        """Unmet inputs of transition ``u`` (per place, the larger of consume and read)."""
        got = self.lacking.get(u)
        if got is None:
            need: dict[int, int] = {}
            for p, w in (*self.net.consume[u], *self.net.read[u]):
                need[p] = max(need.get(p, 0), w)
            got = self.lacking[u] = [(p, w) for p, w in need.items() if self.tokens[p] < w]
        return got

    def solve(self, start: list[_Req]) -> None:
        users: dict[_Req, list[int]] = {}
        levels: dict[int, set[int]] = {}
        seen_req = set(start)
        seen_t: set[int] = set()
        queue = list(start)
        while queue:
            p, lvl = queue.pop()
            levels.setdefault(p, set()).add(lvl)
            for u, _w in self.producers[p]:
                if u == self.skip or u in seen_t:
                    continue
                seen_t.add(u)
                for r in self.reqs(u):
                    users.setdefault(r, []).append(u)
                    if r not in seen_req:
                        seen_req.add(r)
                        queue.append(r)
        pending = {u: len(self.reqs(u)) for u in seen_t}
        acc = dict.fromkeys(seen_t, 0)
        heap: list[tuple[int, int, int, int, int]] = []

        def offer(u: int) -> None:
            cost = min(_CAP, 1 + acc[u])
            for p, w in self.net.produce[u]:
                b = self.bound[p]
                for lvl in levels.get(p, ()):
                    if b is not None and lvl > b:
                        continue  # a place invariant forbids it
                    k = -(-(lvl - self.tokens[p]) // w)
                    heapq.heappush(heap, (min(_CAP, k * cost), u, p, lvl, k))

        for u in sorted(seen_t):
            if pending[u] == 0:
                offer(u)
        while heap:
            cost, u, p, lvl, k = heapq.heappop(heap)
            req = (p, lvl)
            if req in self.cost:
                continue
            self.cost[req], self.best[req] = cost, (u, k)
            for v in users.get(req, ()):
                pending[v] -= 1
                acc[v] = min(_CAP, acc[v] + cost)
                if pending[v] == 0:
                    offer(v)

    def chain(self, req: _Req) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
        """The steps along the token's own path, and what else they wait for."""
        names: list[str] = []
        side: list[tuple[str, str]] = []
        net = self.net
        while req in self.best:
            u, k = self.best[req]
            names.extend([net.transitions[u].name] * k)
            consumed = {p for p, _ in net.consume[u]}
            own = [r for r in self.reqs(u) if r[0] in consumed]
            nxt = max(own, key=lambda r: self.cost.get(r, _CAP)) if own else None
            side.extend((net.transitions[u].name, net.places[r[0]])
                        for r in self.reqs(u) if r != nxt)
            if nxt is None:
                break
            req = nxt
        return tuple(reversed(names)), tuple(reversed(side))

    def plan(self, start: list[_Req]) -> tuple[str, ...]:
        """Every step to fire first, dependencies first (post-order over best producers)."""
        times: dict[int, int] = {}
        todo, seen = list(start), set(start)
        while todo:
            u, k = self.best[todo.pop()]
            times[u] = max(times.get(u, 0), k)
            for r in self.reqs(u):
                if r not in seen:
                    seen.add(r)
                    todo.append(r)
        out: list[str] = []
        done: set[int] = set()
        for root in start:
            stack = [(self.best[root][0], 0)]
            while stack:
                u, i = stack.pop()
                if u in done:
                    continue
                rs = self.reqs(u)
                if i < len(rs):
                    stack.append((u, i + 1))
                    v = self.best[rs[i]][0]
                    if v not in done:
                        stack.append((v, 0))
                    continue
                done.add(u)
                out.extend([self.net.transitions[u].name] * times[u])
        return tuple(out)

    def never(self, req: _Req) -> str:
        """Why ``req`` can never be met: chase the first producer back to a root cause."""
        net = self.net
        steps: list[str] = []
        seen: set[_Req] = set()
        while True:
            p, lvl = req
            place = net.places[p]
            b = self.bound[p]
            if b is not None and lvl > b:
                return _via(steps, f"{place} can hold at most {b} token(s) (a place "
                                   f"invariant) but {lvl} are needed")
            prods = [u for u, _ in self.producers[p] if u != self.skip]
            if not prods:
                return _via(steps, f"{place} has {self.tokens[p]} token(s), needs {lvl}, and "
                                   "no transition produces into it")
            if req in seen:
                return (f"{place} waits for itself: the steps "
                        f"{' -> '.join(reversed(steps))} form a cycle of waits")
            seen.add(req)
            u = prods[0]
            nxt = next((r for r in self.reqs(u) if r not in self.cost), None)
            if nxt is None:
                return _via(steps, f"{place}'s producers cannot supply {lvl} token(s)")
            steps.append(net.transitions[u].name)
            req = nxt


def _via(steps: list[str], cause: str) -> str:
    if not steps:
        return cause
    return f"{cause}, and the chain {' -> '.join(reversed(steps))} starts there"


def why(net: Net, marking: Mapping[str, int], transition: Transition | str) -> Why:
    """Explain what ``transition`` waits for at ``marking``.

    Args:
        net: The net.
        marking: The current marking.
        transition: The transition or its name.

    Returns:
        The :class:`Why`: enabled, or each missing input with the chain of steps that
        brings it, the whole plan, or why it can never fire.

    Raises:
        UnknownTransitionError: No such transition (the message suggests close names).
    """
    t = net.transition(transition if isinstance(transition, str) else transition.name)
    m = Marking(marking)
    if net.is_enabled(t, m):
        return Why(t.name, True, t.manual)
    cone = _Cone(net, m, t.index, bounds(net, m))
    start = cone.reqs(t.index)
    cone.solve(start)
    needs = []
    for req in start:
        p, lvl = req
        if req in cone.cost:
            chain, side = cone.chain(req)
            needs.append(Need(net.places[p], lvl, cone.tokens[p], chain, side))
        else:
            needs.append(Need(net.places[p], lvl, cone.tokens[p],
                              never=cone.never(req)))
    blocked = [n for n in needs if n.never]
    if blocked:
        never = "; ".join(n.never for n in blocked if n.never)
        return Why(t.name, False, t.manual, tuple(needs), (), never)
    return Why(t.name, False, t.manual, tuple(needs), cone.plan(start))
