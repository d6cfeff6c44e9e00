"""The compiled net of a run, and its fast live state.

A run's net has a shape no general net has: the run lane and every slice lane are state
machines holding exactly one token, and the only read arcs join a slice's first step to
the run's frontier and to its dependencies' ``done`` places (and the run's frontier step
to every slice's ``done`` place). :class:`RunNet` keeps the net in that form — the
transitions plus each slice's dependencies — and builds the general arrays of
:class:`~petri_exec.net.Net` (place names, arcs, watcher lists) only when something asks
for them (analysis, rendering, interchange). :class:`RunState` is the
:class:`~petri_exec.netstate.NetState` of such a net: per slice, its lane position and a
graphlib-style counter of dependencies not yet done, so a firing costs O(the transition's
neighbourhood) with no place names, arc tuples or watcher lists at all.

Both are checked against the general net and :class:`NetState` by property tests
(``tests/test_runnet.py``): same ready sets, enabling, missing tokens and markings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .net import Arc, Effect, Marking, Net, Transition, not_enabled
from .netstate import NetState
from .templates import Lane, _positions

if TYPE_CHECKING:
    from .model import Run

__all__ = ["RunMarking", "RunNet", "RunState"]


def _one_token_each(run_status: str, slices: Iterable[tuple[str, str]]) -> dict[str, int]:
    """The token counts of a run's marking: ``run:<status>`` and ``slice:<id>:<status>``."""
    counts = {f"run:{run_status}": 1}
    counts.update((f"slice:{sid}:{status}", 1) for sid, status in slices)
    return counts


class RunMarking(Marking):
    """The marking of a run (what :func:`petri_exec.marking_of` returns): a
    :class:`~petri_exec.Marking` whose place names are built on first use, so that the
    net compiled from the same run can start its :class:`RunState` from the run's
    statuses directly."""

    __slots__ = ("_run",)

    def __init__(self, run: Run) -> None:
        """The marking of ``run``: one token in its run status and in each slice's."""
        self._run = run
        self._hash = None

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as a plain :class:`Marking` (without the run)."""
        return Marking, (dict(self._counts),)

    def __getattr__(self, attr: str) -> Any:
        if attr != "_counts":
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")
        run = self._run
        self._counts = _one_token_each(run.status, ((sl.id, sl.status) for sl in run.slices))
        return self._counts

#: Attributes of :class:`Net` that a :class:`RunNet` builds on first use.
_LAZY = frozenset({"places", "consume", "produce", "read", "_watch", "_place_index",
                   "_sources", "_effects"})


class RunNet(Net):
    """The Petri net of one run (see :func:`petri_exec.compile_run`).

    Same places, transitions, arcs and names as the general net the compiler describes;
    the general arrays are built on first access. :meth:`state` returns a
    :class:`RunState` for markings with one token per lane.
    """

    __slots__ = (
        "_dependents",
        "_deps",
        "_rlane",
        "_slane",
        "_slice_ids",
        "_slice_index",
        "_source",
        "done",
        "frontier",
        "run_steps",
        "slice_steps",
    )

    def __init__(self, name: str, rlane: Lane, slane: Lane, slice_ids: Sequence[str],
                 deps: Sequence[tuple[int, ...]], source: Run | None = None) -> None:
        """Build the transitions; the general arrays wait until they are asked for.

        Args:
            name: The net's name.
            rlane: The template's run lane.
            slane: The template's slice lane.
            slice_ids: The slices' ids in file order (distinct: the compiler checks).
            deps: Per slice, the slice indexes its first step reads ``done`` from (its
                dependencies, plus its predecessor in a linear net).
            source: The run compiled (its :class:`RunMarking` needs no parsing).
        """
        self.name = name
        self._source = source
        self._rlane, self._slane = rlane, slane
        self._slice_ids = tuple(slice_ids)
        self._deps = deps
        self.frontier = rlane.statuses.index(rlane.frontier or rlane.initial)
        self.done = slane.statuses.index(slane.end)
        self.run_steps = nr = len(rlane.steps)
        self.slice_steps = nst = len(slane.steps)
        ts = [Transition(st.name, st.name, None, st.port, st.handler, st.manual, j)
              for j, st in enumerate(rlane.steps)]
        steps = list(enumerate(slane.steps))
        if nst == 1:
            st = slane.steps[0]
            name_, port, handler = st.name, st.port, st.handler
            ts.extend([Transition(f"{name_}:{sid}", name_, sid, port, handler, False, nr + k)
                       for k, sid in enumerate(self._slice_ids)])
        else:
            ts.extend([Transition(f"{st.name}:{sid}", st.name, sid, st.port, st.handler, False,
                                  nr + k * nst + j)
                       for k, sid in enumerate(self._slice_ids) for j, st in steps])
        self.transitions = tuple(ts)

    def __getstate__(self) -> Any:
        """Pickle the net without the run it was compiled from (only its shape is needed;
        the run may hold values that do not pickle)."""
        state: Any = super().__getstate__()  # (None, {slot: value}) for a slotted object
        slots = dict(state[1])
        slots["_source"] = None
        return None, slots

    def _place_count(self) -> int:
        return len(self._rlane.statuses) + len(self._slice_ids) * len(self._slane.statuses)

    def __getattr__(self, attr: str) -> Any:
        # called only for attributes not set yet: build the general form on first use
        if attr == "_by_name":
            self._by_name = {t.name: t for t in self.transitions}
            return self._by_name
        if attr in _LAZY:
            self._materialise()
            return object.__getattribute__(self, attr)
        if attr == "_dependents":  # per slice, the slices depending on it (or None)
            dependents: list[list[int] | None] = [None] * len(self._slice_ids)
            for k, ds in enumerate(self._deps):
                for d in ds:
                    on = dependents[d]
                    if on is None:
                        dependents[d] = [k]
                    else:
                        on.append(k)
            self._dependents = dependents
            return dependents
        if attr == "_slice_index":
            self._slice_index = {sid: k for k, sid in enumerate(self._slice_ids)}
            return self._slice_index
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")

    def _materialise(self) -> None:
        rs, ss = self._rlane.statuses, self._slane.statuses
        nr, ns = len(rs), len(ss)
        places = [f"run:{s}" for s in rs]
        for sid in self._slice_ids:
            prefix = f"slice:{sid}:"
            places.extend(prefix + s for s in ss)
        arc = [(p, 1) for p in range(len(places))]
        done_arcs = [arc[nr + k * ns + self.done] for k in range(len(self._slice_ids))]
        consume: list[tuple[Arc, ...]] = []
        produce: list[tuple[Arc, ...]] = []
        read: list[tuple[Arc, ...]] = []
        for j in range(self.run_steps):
            consume.append((arc[j],))
            produce.append((arc[j + 1],))
            read.append(tuple(done_arcs) if j == self.frontier else ())
        frontier_arc = arc[self.frontier]
        for k, dk in enumerate(self._deps):
            base = nr + k * ns
            for j in range(self.slice_steps):
                consume.append((arc[base + j],))
                produce.append((arc[base + j + 1],))
                read.append((frontier_arc, *[done_arcs[d] for d in dk]) if j == 0 else ())
        Net.__init__(self, places, self.transitions, consume, produce, read, name=self.name,
                     check=False)

    def slice_of(self, t: Transition) -> int | None:
        """The index of ``t``'s slice in the compiled run's slices (None for a run step).

        ``t`` must be a transition of this net.
        """
        i = t.index
        return None if i < self.run_steps else (i - self.run_steps) // self.slice_steps

    def compiled_from(self, run: Run) -> bool:
        """Whether this net was compiled from ``run`` (the very object)."""
        return self._source is run

    def effect(self, t: Transition | str) -> Effect:
        """What firing ``t`` consumes, produces and reads (as :meth:`Net.effect`, without
        building the general arrays).

        Raises:
            UnknownTransitionError: ``t`` is not in this net.
        """
        i = self._own(t)
        rs, ss, ids = self._rlane.statuses, self._slane.statuses, self._slice_ids
        done = ss[self.done]
        read: tuple[tuple[str, int], ...] = ()
        if i < self.run_steps:
            consumed, produced = f"run:{rs[i]}", f"run:{rs[i + 1]}"
            if i == self.frontier:
                read = tuple((f"slice:{sid}:{done}", 1) for sid in ids)
        else:
            k, j = divmod(i - self.run_steps, self.slice_steps)
            consumed, produced = f"slice:{ids[k]}:{ss[j]}", f"slice:{ids[k]}:{ss[j + 1]}"
            if j == 0:
                read = ((f"run:{rs[self.frontier]}", 1),
                        *[(f"slice:{ids[d]}:{done}", 1) for d in self._deps[k]])
        return Effect(self.transitions[i], ((consumed, 1),), ((produced, 1),), read)

    def state(self, marking: Mapping[str, int]) -> NetState:
        """A live state at ``marking``: a :class:`RunState` when every lane holds exactly
        one token (every marking a run reaches), else the general :class:`NetState`.

        Raises:
            KeyError: The marking has tokens in a place the net does not have.
        """
        positions = None
        if type(marking) is RunMarking and marking._run is self._source:
            positions = self._run_positions(marking._run)
        if positions is None:
            positions = self._positions(marking)
        if positions is None:
            return NetState(self, marking)
        return RunState(self, *positions)

    def _run_positions(self, run: Run) -> tuple[int, list[int]] | None:
        """Each lane's status index in the run compiled, or None for an unknown status."""
        spos = _positions(self._slane.statuses)
        run_pos = _positions(self._rlane.statuses).get(run.status)
        pos = [spos.get(sl.status, -1) for sl in run.slices]
        if run_pos is None or -1 in pos:
            return None
        return run_pos, pos

    def _positions(self, marking: Mapping[str, int]) -> tuple[int, list[int]] | None:
        """Each lane's status index at ``marking``, or None if some lane is not one token."""
        rpos = _positions(self._rlane.statuses)
        spos = _positions(self._slane.statuses)
        index = self._slice_index
        pos = [-1] * len(self._slice_ids)
        run = -1
        for place, n in marking.items():
            if not n:
                continue
            parts = place.split(":") if type(place) is str else ()
            k = j = None
            if len(parts) == 3 and parts[0] == "slice":
                k, j = index.get(parts[1]), spos.get(parts[2])
            elif len(parts) == 2 and parts[0] == "run":
                k, j = -1, rpos.get(parts[1])
            if k is None or j is None:
                raise KeyError(f"marking has tokens in {place!r}, not a place of {self!r}")
            if n != 1 or (run if k < 0 else pos[k]) != -1:
                return None
            if k < 0:
                run = j
            else:
                pos[k] = j
        if run < 0 or -1 in pos:
            return None
        return run, pos


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
        return Marking._of(_one_token_each(
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
        i = self._net._own(t)
        t = self._ts[i]
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
