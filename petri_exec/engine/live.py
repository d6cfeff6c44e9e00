"""The run being driven or replayed: O(1) updates per firing, a :class:`Run` on demand."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from .._gc import gc_paused
from ..core.net import Transition
from ..run.model import Run, Slice
from ..run.templates import Template

__all__ = ["DependencyFacts", "LiveRun"]


class LiveRun:
    """The run being driven: O(1) updates per firing, a :class:`Run` on demand.

    A slice step records the slice's new status (and merged facts) without building a new
    :class:`Slice`; the value is built when something asks for it (the next step's
    context, a handler, a checkpoint or the outcome), in one batch for a snapshot.
    """

    def __init__(self, run: Run, template: Template,
                 slice_of: Callable[[Transition], int | None] | None = None) -> None:
        """Start from ``run``.

        Args:
            run: The run.
            template: Its template.
            slice_of: The index of a transition's slice in ``run.slices`` (None for run
                steps); default: looked up by the transition's ``slice_id``.
        """
        self.base = run
        self.abandoned = run.abandoned
        self.status = run.status
        self.facts: dict[str, Any] = dict(run.facts)
        #: A read-only snapshot of the run's facts (rebuilt only when a run step adds some).
        self.facts_view: Mapping[str, Any] = MappingProxyType(dict(run.facts))
        self._slices = list(run.slices)  # values; stale where the status or facts moved on
        self._status = [s.status for s in run.slices]
        self._new_facts: dict[int, Mapping[str, Any]] = {}
        self._index: dict[str, int] | None = None
        #: The index of a transition's slice, or None for a run step.
        self.slice_of = slice_of or self._slice_by_id
        self.run_targets = {st.name: st.target for st in template.run.steps}
        self.slice_targets = {st.name: st.target for st in template.slice.steps}
        rl = template.run
        self._end_pos = rl.position(rl.end)
        self._lane = rl
        self._slice_lane = template.slice
        self.at_end = rl.position(run.status) >= self._end_pos

    def _slice_by_id(self, t: Transition) -> int | None:
        if t.slice_id is None:
            return None
        if self._index is None:
            self._index = {s.id: i for i, s in enumerate(self.base.slices)}
        return self._index.get(t.slice_id)

    def slice(self, k: int) -> Slice:
        """Slice ``k`` as it is now."""
        s = self._slices[k]
        status = self._status[k]
        if status is s.status and not self._new_facts:
            return s
        facts = self._new_facts.get(k)
        if facts is None and status == s.status:
            return s
        self._slices[k] = s = Slice(s.id, status, s.depends_on, s.title, s.epic,
                                    s.facts if facts is None else facts, s.meta)
        if facts is not None:  # only after the new value is in place: see facts_of()
            del self._new_facts[k]
        return s

    def facts_of(self, k: int) -> Mapping[str, Any]:
        """Slice ``k``'s facts as they are now, without building its value.

        Safe to call from a worker thread while the driving thread runs :meth:`slice`
        (which publishes the new value before it forgets the pending facts).
        """
        facts = self._new_facts.get(k)
        return self._slices[k].facts if facts is None else facts

    @property
    def slices(self) -> list[Slice]:
        """Every slice as it is now (builds the values that moved on: O(slices))."""
        with gc_paused():
            for k in range(len(self._slices)):
                self.slice(k)
        return self._slices

    def apply(self, t: Transition, facts: Mapping[str, Any]) -> None:
        """Record the firing of ``t`` with the facts of its successful attempt."""
        k = self.slice_of(t)
        if k is None:
            self.status = self.run_targets[t.step]
            self.at_end = self._lane.position(self.status) >= self._end_pos
            if facts:
                self.facts.update(facts)
                self.facts_view = MappingProxyType(dict(self.facts))
            return
        self._status[k] = self.slice_targets[t.step]
        if facts:
            old = self._new_facts.get(k)
            self._new_facts[k] = {**(self._slices[k].facts if old is None else old), **facts}

    def snapshot(self) -> Run:
        """The run as it is now."""
        slices = tuple(self.slices)
        return attrs.evolve(self.base, status=self.status, facts=dict(self.facts),
                            slices=slices, abandoned=self.abandoned)

    def applied(self, t: Transition) -> bool:
        """Whether ``t`` already fired: its lane is at or past the step's target status."""
        k = self.slice_of(t)
        if k is None:
            lane, status, target = self._lane, self.status, self.run_targets[t.step]
        else:
            lane = self._slice_lane
            status, target = self._status[k], self.slice_targets[t.step]
        return lane.position(status) >= lane.position(target)


class DependencyFacts(Mapping[str, Mapping[str, Any]]):
    """A slice step's ``ctx.dependencies``: each dependency's id -> its facts.

    O(1) to build (it keeps the live run and the dependencies' indexes); facts are read on
    access. A dependency is done before its dependant's first step, so what a port reads
    is stable. Pickles as a plain dict.
    """

    __slots__ = ("_deps", "_live")

    def __init__(self, live: LiveRun, deps: tuple[int, ...]) -> None:
        """View the facts of slices ``deps`` (indexes into the run's slices) of ``live``."""
        self._live = live
        self._deps = deps

    def __getitem__(self, slice_id: str) -> Mapping[str, Any]:
        slices = self._live.base.slices
        for k in self._deps:
            if slices[k].id == slice_id:
                return MappingProxyType(self._live.facts_of(k))  # read-only, O(1)
        raise KeyError(slice_id)

    def __iter__(self) -> Iterator[str]:
        slices = self._live.base.slices
        return iter([slices[k].id for k in self._deps])

    def __len__(self) -> int:
        return len(self._deps)

    def __repr__(self) -> str:
        return f"DependencyFacts({dict(self.items())!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return dict, ({k: dict(v) for k, v in self.items()},)
