"""The run being driven or replayed: O(1) updates per firing, a :class:`Run` on demand."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from .gcpause import gc_paused
from .model import Run, Slice
from .net import Transition
from .templates import Template

__all__ = ["LiveRun"]


class LiveRun:
    """The run being driven: O(1) updates per firing, a :class:`Run` on demand.

    A slice step records the slice's new status (and merged facts) without building a new
    :class:`Slice`; the value is built when something asks for it (the next step's
    context, a handler, a checkpoint or the outcome), in one batch for a snapshot.
    """

    def __init__(self, run: Run, template: Template) -> None:
        self.base = run
        self.abandoned = run.abandoned
        self.status = run.status
        self.facts: dict[str, Any] = dict(run.facts)
        #: A read-only snapshot of the run's facts (rebuilt only when a run step adds some).
        self.facts_view: Mapping[str, Any] = MappingProxyType(dict(run.facts))
        self._slices = list(run.slices)  # values, stale where _dirty says so
        self._status = [s.status for s in run.slices]
        self._new_facts: dict[int, Mapping[str, Any]] = {}
        self._dirty: set[int] = set()
        self.index = {s.id: i for i, s in enumerate(run.slices)}
        self.run_targets = {st.name: st.target for st in template.run.steps}
        self.slice_targets = {st.name: st.target for st in template.slice.steps}
        rl = template.run
        self._end_pos = rl.position(rl.end)
        self._lane = rl
        self._slice_lane = template.slice
        self.at_end = rl.position(run.status) >= self._end_pos

    def slice(self, k: int) -> Slice:
        """Slice ``k`` as it is now."""
        if k in self._dirty:
            self._dirty.discard(k)
            s = self._slices[k]
            facts = self._new_facts.pop(k, s.facts)
            self._slices[k] = s = Slice(s.id, self._status[k], s.depends_on, s.title, s.epic,
                                        facts, s.meta)
            return s
        return self._slices[k]

    @property
    def slices(self) -> list[Slice]:
        """Every slice as it is now (builds the pending values: O(changed slices))."""
        if self._dirty:
            with gc_paused():
                for k in sorted(self._dirty):
                    self.slice(k)
        return self._slices

    def apply(self, t: Transition, facts: Mapping[str, Any]) -> None:
        """Record the firing of ``t`` with the facts of its successful attempt."""
        k = self.index.get(t.slice_id) if t.slice_id is not None else None
        if k is None:
            self.status = self.run_targets[t.step]
            self.at_end = self._lane.position(self.status) >= self._end_pos
            if facts:
                self.facts.update(facts)
                self.facts_view = MappingProxyType(dict(self.facts))
            return
        self._status[k] = self.slice_targets[t.step]
        self._dirty.add(k)
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
        k = self.index.get(t.slice_id) if t.slice_id is not None else None
        if k is None:
            lane, status, target = self._lane, self.status, self.run_targets[t.step]
        else:
            lane = self._slice_lane
            status, target = self._status[k], self.slice_targets[t.step]
        return lane.position(status) >= lane.position(target)
