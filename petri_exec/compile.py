"""The compiler: a run and its template become a Petri net (contract section 4).

Places are ``run:<status>`` and ``slice:<id>:<status>``, nothing else. Run steps are
transitions named ``<step>``, slice steps ``<step>:<slice_id>``. Dependencies and the
slice frontier are read arcs. Layout is deterministic: run lane first, then each slice
in file order, each lane in chain order.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
from collections.abc import Iterator

from .model import Run, dependencies, topological_order
from .net import Arc, Marking, Net, Transition
from .templates import Template, load_template

__all__ = ["compile_run", "linear_order", "marking_of"]


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
    return _compile(run, template or load_template(run.template), linear)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic structures.

    Compiling or validating a 100,000-slice run allocates millions of small tuples and
    lists, none of them in reference cycles; without the pause, CPython's collector walks
    the growing heap again and again and the cost stops being linear. Re-enabled on exit
    (only if it was enabled on entry).
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


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


def _compile(
    run: Run, template: Template, linear: bool, deps: list[tuple[int, ...]] | None = None
) -> Net:
    with gc_paused():
        return _build(run, template, linear, deps)


def _build(
    run: Run, template: Template, linear: bool, deps: list[tuple[int, ...]] | None
) -> Net:
    rlane, slane = template.run, template.slice
    rs, ss = rlane.statuses, slane.statuses
    nr, ns = len(rs), len(ss)
    places = [f"run:{s}" for s in rs]
    for sl in run.slices:
        prefix = f"slice:{sl.id}:"
        places.extend(prefix + s for s in ss)
    frontier = rs.index(rlane.frontier or rlane.initial)
    done = ss.index(slane.end)
    nslices = len(run.slices)

    transitions: list[Transition] = []
    consume: list[tuple[Arc, ...]] = []
    produce: list[tuple[Arc, ...]] = []
    read: list[tuple[Arc, ...]] = []
    # one arc tuple per place, shared by every arc that touches it (fewer allocations)
    arc = [(p, 1) for p in range(len(places))]
    done_arcs = [arc[nr + k * ns + done] for k in range(nslices)]
    all_done = tuple(done_arcs)
    for j, st in enumerate(rlane.steps):
        transitions.append(
            Transition(st.name, st.name, None, st.port, st.handler, st.manual, len(transitions))
        )
        consume.append((arc[j],))
        produce.append((arc[j + 1],))
        read.append(all_done if j == frontier else ())

    if deps is None:
        deps = dependencies(run)
    frontier_arc = arc[frontier]
    if linear:
        order = topological_order(deps)
        if order is None:
            raise ValueError(f"run {run.run_id!r} has a dependency cycle; validate it first")
        prev: list[int | None] = [None] * nslices
        for a, b in itertools.pairwise(order):
            prev[b] = a
    for k, sl in enumerate(run.slices):
        base = nr + k * ns
        for j, st in enumerate(slane.steps):
            transitions.append(
                Transition(
                    f"{st.name}:{sl.id}", st.name, sl.id, st.port, st.handler, False,
                    len(transitions),
                )
            )
            consume.append((arc[base + j],))
            produce.append((arc[base + j + 1],))
            if j == 0:
                dk = deps[k]
                pk = prev[k] if linear else None
                if pk is not None and pk not in dk:
                    dk = (*dk, pk)
                read.append((frontier_arc, *[done_arcs[d] for d in dk]) if dk
                            else (frontier_arc,))
            else:
                read.append(())
    return Net(places, transitions, consume, produce, read,
               name=f"{run.run_id}{'.linear' if linear else ''}", check=False)


def marking_of(run: Run) -> Marking:
    """The marking of ``run``: one token in ``run:<status>`` and one in
    ``slice:<id>:<status>`` per slice. A pure function of run.json.

    Args:
        run: The run.

    Returns:
        The marking.
    """
    counts = {f"run:{run.status}": 1}
    counts.update((f"slice:{sl.id}:{sl.status}", 1) for sl in run.slices)
    return Marking._of(counts)
