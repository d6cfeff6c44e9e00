"""The compiler: a run and its template become a Petri net (contract section 4).

Places are ``run:<status>`` and ``slice:<id>:<status>``, nothing else. Run steps are
transitions named ``<step>``, slice steps ``<step>:<slice_id>``. Dependencies and the
slice frontier are read arcs. Layout is deterministic: run lane first, then each slice
in file order, each lane in chain order.
"""

from __future__ import annotations

import itertools

from .._gc import gc_paused
from ..run.model import Run, dependencies, topological_order
from ..run.templates import Template, load_template
from .marking import Marking
from .net import Net
from .runnet import RunMarking, RunNet

__all__ = ["compile_checked", "compile_run", "linear_order", "marking_of"]


def compile_run(
    run: Run, *, template: Template | None = None, linear: bool = False
) -> Net:
    """Compile ``run`` into its Petri net.

    Args:
        run: The run (validated: see :func:`petri_exec.load_run`).
        template: Its template; looked up by ``run.template`` when None.
        linear: Build the degenerate net of :class:`~petri_exec.LinearScheduler`: the same
            places and transitions plus read arcs that chain the slices' first steps in
            :func:`linear_order`.

    Returns:
        The net. Its cost is O(places + transitions + arcs).

    Raises:
        TemplateError: The template cannot be found.
    """
    return compile_checked(run, template or load_template(run.template), linear)


def linear_order(run: Run) -> list[int]:
    """The deterministic topological order of the slices used by the linear net.

    Dependencies come first; ties are broken by file order.

    Args:
        run: A validated (acyclic) run.

    Returns:
        Slice indexes into ``run.slices``.

    Raises:
        ValueError: The dependencies have a cycle.
    """
    order = topological_order(dependencies(run))
    if order is None:
        raise ValueError(f"run {run.run_id!r} has a dependency cycle; validate it with load_run")
    return order


def compile_checked(
    run: Run, template: Template, linear: bool, deps: list[tuple[int, ...]] | None = None
) -> Net:
    """Compile a run already validated against ``template`` (the engine's path: no lookup).

    Args:
        run: The run (validated: its ids are distinct).
        template: Its template.
        linear: Build the LinearScheduler's degenerate net instead of the concurrent one.
        deps: Each slice's dependencies as indices, when validation already computed them.

    Returns:
        The compiled net.

    Raises:
        ValueError: The dependencies have a cycle (only possible for an unvalidated run).
    """
    with gc_paused():
        if deps is None:  # (given deps come from validation: the ids are distinct)
            deps = dependencies(run, unique=True)
        if linear:
            order = topological_order(deps)
            if order is None:
                raise ValueError(f"run {run.run_id!r} has a dependency cycle; validate it first")
            deps = list(deps)
            for a, b in itertools.pairwise(order):
                if a not in deps[b]:
                    deps[b] = (*deps[b], a)
        return RunNet(f"{run.run_id}{'.linear' if linear else ''}", template.run,
                      template.slice, [s.id for s in run.slices], deps, run)


def marking_of(run: Run) -> Marking:
    """The marking of ``run``: one token in ``run:<status>`` and one in
    ``slice:<id>:<status>`` per slice. A pure function of run.json.

    Args:
        run: The run.

    Returns:
        The marking.
    """
    return RunMarking(run)
