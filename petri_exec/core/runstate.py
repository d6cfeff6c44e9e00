"""The live state of a compiled run's net: lane positions and dependency counters.

:class:`RunState` is the :class:`~petri_exec.core.netstate.NetState` of a
:class:`~petri_exec.core.runnet.RunNet`: per slice, its lane position and a graphlib-style
counter of dependencies not yet done, so a firing costs O(the transition's neighbourhood)
with no place names, arc tuples or watcher lists. Property-tested against ``NetState``
(``tests/test_runnet.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .marking import Marking, not_enabled
from .netstate import NetState

if TYPE_CHECKING:
    from .net import Transition
    from .runnet import RunNet

__all__ = ["RunState", "one_token_each"]


def one_token_each(run_status: str, slices: Iterable[tuple[str, str]]) -> dict[str, int]:
    """The token counts of a run's marking: ``run:<status>`` and ``slice:<id>:<status>``."""
    counts = {f"run:{run_status}": 1}
    counts.update((f"slice:{sid}:{status}", 1) for sid, status in slices)
    return counts


class RunState(NetState):
    """The live state of a :class:`RunNet` with one token per lane.

    Per slice: its lane position and how many of its dependencies are not ``done``;
    plus the run's position and how many slices are ``done``. Enabling is computed from
    those in O(1); firing visits only the fired slice's dependents (or, for the run step
    entering the frontier, every slice: the frontier place's neighbourhood).
    """

    __slots__ = ("_base", "_dependents", "_done", "_frontier", "_ndone", "_nst", "_pos",
                 "_run", "_ts", "_waiting")

    def __init__(self, net: RunNet, run: int, pos: list[int]) -> None:
        """Start with the run at status ``run`` and slice ``k`` at status ``pos[k]``."""
        self._net: RunNet = net
        # the net's shape, copied here for the hot paths
        self._ts = net.transitions
        self._base = base = net.run_steps
        self._nst = nst = net.slice_steps
        self._done = done = net.done
        self._frontier = net.frontier
        self._dependents = net._dependents
        self._run = run
        self._pos = pos
        self._ndone = ndone = pos.count(done)
        self._waiting = waiting = (
            [sum(1 for d in ds if pos[d] != done) if ds else 0 for ds in net._deps]
            if ndone else list(map(len, net._deps)))
        fresh = [j for j in range(base) if self.index_enabled(j)]
        starting = run == net.frontier
        fresh.extend([base + k * nst + j for k, j in enumerate(pos)
                      if j < nst and (j or (starting and not waiting[k]))])
        self._fresh = fresh
        self.arc_checks = 0
        self.fired = 0

    @property
    def net(self) -> RunNet:
        """The net."""
        return self._net

    def _lane_of(self, i: int) -> tuple[int, int]:
        """``(slice index or -1 for the run lane, step index)`` of transition ``i``."""
        if i < self._base:
            return -1, i
        return divmod(i - self._base, self._nst)

    def index_enabled(self, i: int) -> bool:
        """Whether the transition with index ``i`` is enabled now. O(1)."""
        if i < self._base:
            return self._run == i and (i != self._frontier or self._ndone == len(self._pos))
        k, j = divmod(i - self._base, self._nst)
        if self._pos[k] != j:
            return False
        return j != 0 or (self._run == self._frontier and not self._waiting[k])

    def is_enabled(self, t: Transition) -> bool:
        """Whether ``t`` is enabled now. O(1)."""
        if not isinstance(t, str):  # (a name is looked up)
            i = t.index
            ts = self._ts
            if i < len(ts) and ts[i] is t:  # this net's own transition: no lookup
                return self.index_enabled(i)
        return self.index_enabled(self._net._own(t))

    def get_ready(self) -> list[Transition]:
        """Non-manual transitions that became enabled since the last call, in net order
        (as :meth:`NetState.get_ready`)."""
        fresh = self._fresh
        if not fresh:
            return []
        self._fresh = []
        ts, enabled = self._ts, self.index_enabled
        if len(fresh) > 1:
            fresh = sorted(dict.fromkeys(fresh))  # mostly in order: timsort runs in O(n)
        return [ts[i] for i in fresh if enabled(i) and not ts[i].manual]

    def tokens(self, place: str) -> int:
        """Tokens now in ``place``.

        Raises:
            KeyError: No such place.
        """
        net = self._net
        p = net.place_index(place)
        nr = len(net._rlane.statuses)
        if p < nr:
            return int(self._run == p)
        k, j = divmod(p - nr, len(net._slane.statuses))
        return int(self._pos[k] == j)

    def marking(self) -> Marking:
        """A snapshot of the current marking (costs O(places))."""
        net = self._net
        ss = net._slane.statuses
        return Marking._of(one_token_each(
            net._rlane.statuses[self._run],
            ((sid, ss[j]) for sid, j in zip(net._slice_ids, self._pos, strict=True))))

    def missing(self, t: Transition) -> list[tuple[str, int, int]]:
        """``(place, needed, present)`` for each arc of ``t`` lacking tokens (consumed
        place first, then read places in arc order)."""
        net = self._net
        k, j = self._lane_of(net._own(t))
        rs, ss = net._rlane.statuses, net._slane.statuses
        out: list[tuple[str, int, int]] = []
        done = ss[net.done]
        if k < 0:
            if self._run != j:
                out.append((f"run:{rs[j]}", 1, 0))
            if j == net.frontier:
                out.extend((f"slice:{sid}:{done}", 1, 0)
                           for sid, p in zip(net._slice_ids, self._pos, strict=True)
                           if p != net.done)
            return out
        sid = net._slice_ids[k]
        if self._pos[k] != j:
            out.append((f"slice:{sid}:{ss[j]}", 1, 0))
        if j == 0:
            if self._run != net.frontier:
                out.append((f"run:{rs[net.frontier]}", 1, 0))
            out.extend((f"slice:{net._slice_ids[d]}:{done}", 1, 0)
                       for d in net._deps[k] if self._pos[d] != net.done)
        return out

    def fire(self, t: Transition) -> None:
        """Fire ``t``: move its lane's token, update enabling of its neighbourhood.

        Raises:
            NotEnabledError: ``t`` is not enabled (nothing changes).
        """
        ts = self._ts
        if isinstance(t, str) or (i := t.index) >= len(ts) or ts[i] is not t:
            i = self._net._own(t)  # a name, or another net's transition: looked up
            t = ts[i]
        base = self._base
        if i < base:
            self._fire_run_step(i)
            return
        nst, pos = self._nst, self._pos
        k, j = divmod(i - base, nst)
        if pos[k] != j or (not j and (self._run != self._frontier or self._waiting[k])):
            raise not_enabled(t, self.missing(t))
        pos[k] = nxt = j + 1
        self.fired += 1
        done = self._done
        if nxt == done:
            dependents = self._dependents[k] or ()
            self.arc_checks += len(dependents) + 2
            waiting = self._waiting
            self._ndone += 1
            if self._run == self._frontier:
                fresh = self._fresh
                for u in dependents:
                    waiting[u] -= 1
                    if not waiting[u] and not pos[u]:
                        fresh.append(base + u * nst)
                if self._ndone == len(pos):
                    fresh.append(self._frontier)
            else:
                for u in dependents:
                    waiting[u] -= 1
        else:
            self.arc_checks += 1
            if j == done:  # left done: its dependents wait for it again
                dependents = self._dependents[k] or ()
                self.arc_checks += len(dependents) + 1
                self._ndone -= 1
                waiting = self._waiting
                for u in dependents:
                    waiting[u] += 1
        if nxt < nst:
            self._fresh.append(i + 1)

    def _fire_run_step(self, i: int) -> None:
        if not self.index_enabled(i):
            raise not_enabled(self._ts[i], self.missing(self._ts[i]))
        self._run = nxt = i + 1
        self.fired += 1
        self.arc_checks += 1
        fresh = self._fresh
        if nxt < self._base and self.index_enabled(nxt):
            fresh.append(nxt)
        if nxt == self._frontier and self._nst:  # slices may start
            base, nst, waiting = self._base, self._nst, self._waiting
            self.arc_checks += len(self._pos)
            fresh.extend([base + k * nst for k, p in enumerate(self._pos)
                          if p == 0 and not waiting[k]])
