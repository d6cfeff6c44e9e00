"""A custom scheduler: prefer the step with the longest remaining chain (critical path first).

``PriorityScheduler`` hands ``drive()`` one transition at a time (it declares
``linear = True``): among the enabled non-manual transitions, the one with the most steps
still to run after it, counting its own slice's remaining steps and the longest chain of
slices that depend on it. Ties go to the transition first in net order, so the answer is
a function of the marking alone.

Check it against the scheduler contract (from a checkout, ``docs/examples`` on sys.path)::

    python docs/examples/priority_scheduler.py
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import petri_exec as pe
from petri_exec.run.model import dependencies


class PriorityScheduler(pe.Scheduler):
    """Longest remaining chain first, one transition at a time.

    Args:
        net: The run's net (from :func:`petri_exec.compile_run`).
        remaining: Per transition index, the number of steps on the longest chain that
            starts with it.
    """

    linear: ClassVar[bool] = True  # ready() returns at most one transition

    def __init__(self, net: pe.Net, remaining: Sequence[int]) -> None:
        self.net = net
        self._remaining = tuple(remaining)

    def __repr__(self) -> str:
        return f"PriorityScheduler({self.net.name!r})"

    @classmethod
    def for_run(cls, run: pe.Run, *, template: pe.Template | None = None) -> PriorityScheduler:
        """Compile ``run`` and rank its transitions by their longest remaining chain.

        Args:
            run: The run.
            template: Its template (looked up by name when None).

        Returns:
            The scheduler.
        """
        template = template or pe.load_template(run.template)
        net = pe.compile_run(run, template=template)
        lane = len(template.slice.steps)
        dependents: list[list[int]] = [[] for _ in run.slices]
        for k, deps in enumerate(dependencies(run)):
            for d in deps:
                dependents[d].append(k)
        chain = [0] * len(run.slices)  # slices on the longest chain starting at each slice
        for k in reversed(pe.linear_order(run)):
            chain[k] = 1 + max((chain[j] for j in dependents[k]), default=0)
        index = {s.id: k for k, s in enumerate(run.slices)}
        position = {s.name: j for j, s in enumerate(template.slice.steps)}
        remaining = []
        for t in net.transitions:
            if t.slice_id is None:
                remaining.append(0)  # run steps never compete with slice steps
            else:
                k = index[t.slice_id]
                remaining.append(lane - position[t.step] + lane * (chain[k] - 1))
        return cls(net, remaining)

    def ready(self, marking: Mapping[str, int]) -> frozenset[pe.Transition]:
        """The enabled non-manual transition with the longest remaining chain. Pure.

        Args:
            marking: Place name -> token count.

        Returns:
            At most one transition.
        """
        enabled = [t for t in self.net.enabled(marking) if not t.manual]
        if not enabled:
            return frozenset()
        best = max(enabled, key=lambda t: (self._remaining[t.index], -t.index))
        return frozenset({best})


if __name__ == "__main__":
    from petri_exec.testing import check_scheduler

    # 'module:attr' so that rule 'determinism' can import it in fresh processes
    report = check_scheduler("priority_scheduler:PriorityScheduler")
    print("PriorityScheduler honours the contract:", ", ".join(report.checked))
    run = pe.Run(run_id="demo", template="minimal", slices=(
        pe.Slice("docs"), pe.Slice("api"), pe.Slice("ui", depends_on=("api",))))
    order: list[str] = []
    pe.drive(run, {"runner": lambda ctx: order.append(ctx.slice_id)},
             scheduler=PriorityScheduler.for_run(run))
    print("order:", " -> ".join(order))  # api first: it heads the longest chain
