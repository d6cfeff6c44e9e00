"""The one live object of the core: a marking with incremental enabling.

Per transition, a graphlib-style counter of arcs whose place lacks tokens; firing a
transition updates only the counters of transitions watching a place it touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .marking import Marking, not_enabled

if TYPE_CHECKING:
    from .net import Net, Transition

__all__ = ["NetState"]


class NetState:
    """A live marking of a net with incremental enabling.

    Per transition it keeps the number of arcs whose place lacks tokens; firing updates
    only the counters of transitions watching a place the firing touched.
    ``arc_checks`` counts that work, so tests can assert it does not grow with the net.
    """

    __slots__ = ("_fresh", "_missing", "_net", "_tokens", "arc_checks", "fired")

    def __init__(self, net: Net, marking: Mapping[str, int]) -> None:
        """Start at ``marking``.

        Raises:
            KeyError: The marking has tokens in a place the net does not have.
        """
        self._net = net
        tokens = [0] * len(net.places)
        for place, n in marking.items():
            if n:
                try:
                    tokens[net.place_index(place)] = n
                except KeyError:
                    raise KeyError(f"marking has tokens in {place!r}, not a place of {net!r}")\
                        from None
        self._tokens = tokens
        missing = []
        for i in range(len(net.transitions)):
            k = 0
            for p, w in net.consume[i]:
                if tokens[p] < w:
                    k += 1
            for p, w in net.read[i]:
                if tokens[p] < w:
                    k += 1
            missing.append(k)
        self._missing = missing
        self._fresh = [i for i, k in enumerate(missing) if k == 0]
        self.arc_checks = 0
        self.fired = 0

    @property
    def net(self) -> Net:
        """The net."""
        return self._net

    def tokens(self, place: str) -> int:
        """Tokens now in ``place``."""
        return self._tokens[self._net.place_index(place)]

    def marking(self) -> Marking:
        """A snapshot of the current marking (costs O(places))."""
        places = self._net.places
        return Marking._of({places[p]: n for p, n in enumerate(self._tokens) if n})

    def is_enabled(self, t: Transition) -> bool:
        """Whether ``t`` is enabled now. O(1)."""
        return self._missing[self._net._own(t)] == 0

    def index_enabled(self, i: int) -> bool:
        """Whether the transition with index ``i`` is enabled now. O(1)."""
        return self._missing[i] == 0

    def missing(self, t: Transition) -> list[tuple[str, int, int]]:
        """``(place, needed, present)`` for each arc of ``t`` lacking tokens."""
        net = self._net
        i = net._own(t)
        return [
            (net.places[p], w, self._tokens[p])
            for p, w in (*net.consume[i], *net.read[i])
            if self._tokens[p] < w
        ]

    def get_ready(self) -> list[Transition]:
        """Non-manual transitions that became enabled since the last call, in net order.

        Like ``graphlib.TopologicalSorter.get_ready``: each is returned once per time it
        becomes enabled. In a net with conflicts one may be disabled again before it is
        fired: check :meth:`is_enabled` before firing.
        """
        fresh = self._fresh
        if not fresh:
            return []
        self._fresh = []
        missing = self._missing
        ts = self._net.transitions
        if len(fresh) == 1:
            i = fresh[0]
            return [ts[i]] if missing[i] == 0 and not ts[i].manual else []
        return [
            ts[i] for i in sorted(dict.fromkeys(fresh)) if missing[i] == 0 and not ts[i].manual
        ]

    def fire(self, t: Transition) -> None:
        """Fire ``t``: consume and produce its tokens, update enabling of its neighbourhood.

        Raises:
            NotEnabledError: ``t`` is not enabled (nothing changes).
        """
        net = self._net
        i = net._own(t)
        missing = self._missing
        if missing[i]:
            raise not_enabled(net.transitions[i], self.missing(t))
        tokens = self._tokens
        watch = net._watch
        fresh = self._fresh
        checks = 0
        for p, dw in net.consume[i]:
            old = tokens[p]
            new = tokens[p] = old - dw
            watchers = watch[p]
            checks += len(watchers)
            for u, w in watchers:
                if old >= w > new:  # this arc lost its tokens
                    missing[u] += 1
        for p, dw in net.produce[i]:
            old = tokens[p]
            new = tokens[p] = old + dw
            watchers = watch[p]
            checks += len(watchers)
            for u, w in watchers:
                if old < w <= new:  # this arc got its tokens
                    missing[u] -= 1
                    if not missing[u]:
                        fresh.append(u)
        self.arc_checks += checks
        self.fired += 1
