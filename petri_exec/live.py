"""The run being driven or replayed: O(1) updates per firing, a :class:`Run` on demand."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from .model import Run, Slice
from .net import Transition
from .templates import Template

__all__ = ["LiveRun"]


class LiveRun:
    """The run being driven: O(1) updates per firing, a :class:`Run` on demand."""

    def __init__(self, run: Run, template: Template) -> None:
        self.base = run
        self.abandoned = run.abandoned
        self.status = run.status
        self.facts: dict[str, Any] = dict(run.facts)
        self._facts_view: Mapping[str, Any] = MappingProxyType(dict(run.facts))
        self.slices = list(run.slices)
        self.index = {s.id: i for i, s in enumerate(run.slices)}
        self.run_targets = {st.name: st.target for st in template.run.steps}
        self.slice_targets = {st.name: st.target for st in template.slice.steps}
        rl = template.run
        self._end_pos = rl.position(rl.end)
        self._lane = rl
        self._slice_lane = template.slice
        self.at_end = rl.position(run.status) >= self._end_pos

    def run_facts(self) -> Mapping[str, Any]:
        """A read-only snapshot of the run's facts (rebuilt only when a run step adds some)."""
        return self._facts_view

    def apply(self, t: Transition, facts: Mapping[str, Any]) -> None:
        k = self.index.get(t.slice_id) if t.slice_id is not None else None
        if k is None:
            self.status = self.run_targets[t.step]
            self.at_end = self._lane.position(self.status) >= self._end_pos
            if facts:
                self.facts.update(facts)
                self._facts_view = MappingProxyType(dict(self.facts))
        else:
            s = self.slices[k]
            self.slices[k] = Slice(s.id, self.slice_targets[t.step], s.depends_on, s.title,
                                   s.epic, {**s.facts, **facts} if facts else s.facts, s.meta)

    def snapshot(self) -> Run:
        return attrs.evolve(self.base, status=self.status, facts=dict(self.facts),
                            slices=tuple(self.slices), abandoned=self.abandoned)

    def applied(self, t: Transition) -> bool:
        """Whether ``t`` already fired: its lane is at or past the step's target status."""
        k = self.index.get(t.slice_id) if t.slice_id is not None else None
        if k is None:
            lane, status, target = self._lane, self.status, self.run_targets[t.step]
        else:
            lane = self._slice_lane
            status, target = self.slices[k].status, self.slice_targets[t.step]
        return lane.position(status) >= lane.position(target)
