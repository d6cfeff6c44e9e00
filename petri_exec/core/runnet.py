"""The compiled net of a run, and its fast live state.

A run's net has a shape no general net has: the run lane and every slice lane are state
machines holding exactly one token, and the only read arcs join a slice's first step to
the run's frontier and to its dependencies' ``done`` places (and the run's frontier step
to every slice's ``done`` place). :class:`RunNet` keeps the net in that form — the
transitions plus each slice's dependencies — and builds the general arrays of
:class:`~petri_exec.core.net.Net` (place names, arcs, watcher lists) only when something asks
for them (analysis, rendering, interchange). :class:`~.runstate.RunState` is the
:class:`~petri_exec.core.netstate.NetState` of such a net: per slice, its lane position and a
graphlib-style counter of dependencies not yet done, so a firing costs O(the transition's
neighbourhood) with no place names, arc tuples or watcher lists at all.

Both are checked against the general net and :class:`NetState` by property tests
(``tests/test_runnet.py``): same ready sets, enabling, missing tokens and markings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..run.templates import Lane, positions
from .marking import Marking
from .net import Arc, Effect, Net, Transition
from .netstate import NetState
from .runstate import RunState, one_token_each

if TYPE_CHECKING:
    from ..run.model import Run

__all__ = ["RunMarking", "RunNet"]


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
        self._counts = one_token_each(run.status, ((sl.id, sl.status) for sl in run.slices))
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
        found = None
        if type(marking) is RunMarking and marking._run is self._source:
            found = self._run_positions(marking._run)
        if found is None:
            found = self._positions(marking)
        if found is None:
            return NetState(self, marking)
        return RunState(self, *found)

    def _run_positions(self, run: Run) -> tuple[int, list[int]] | None:
        """Each lane's status index in the run compiled, or None for an unknown status."""
        spos = positions(self._slane.statuses)
        run_pos = positions(self._rlane.statuses).get(run.status)
        pos = [spos.get(sl.status, -1) for sl in run.slices]
        if run_pos is None or -1 in pos:
            return None
        return run_pos, pos

    def _positions(self, marking: Mapping[str, int]) -> tuple[int, list[int]] | None:
        """Each lane's status index at ``marking``, or None if some lane is not one token."""
        rpos = positions(self._rlane.statuses)
        spos = positions(self._slane.statuses)
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
