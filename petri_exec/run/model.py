"""The run model: frozen values for a run, its epics and its slices.

``facts`` and ``meta`` are plain JSON objects; treat them as read-only (use
:func:`attrs.evolve` with a new dict to change them).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

__all__ = ["Epic", "Run", "Slice", "dependencies", "topological_order"]


def _tuple(value: Iterable[str]) -> tuple[str, ...]:
    return value if type(value) is tuple else tuple(value)


def _slices(value: Iterable[Slice]) -> tuple[Slice, ...]:
    return tuple(value)


def _epics(value: Iterable[Epic]) -> tuple[Epic, ...]:
    return tuple(value)


@attrs.frozen
class Epic:
    """A group of slices.

    Attributes:
        id: Epic id.
        depends_on: Ids of epics whose every slice each slice of this epic depends on.
    """

    id: str
    depends_on: tuple[str, ...] = attrs.field(default=(), converter=_tuple)


@attrs.frozen
class Slice:
    """One unit of work of a run (e.g. one coding-agent task).

    Attributes:
        id: Slice id (letters, digits, ``_``, ``-``, ``.``; at most 128 characters).
        status: Its place in the template's slice lane.
        depends_on: Ids of the slices it depends on directly.
        title: Optional human title.
        epic: Optional epic id.
        facts: Values recorded from step results.
        meta: Free-form user data (e.g. the command a shell port runs), or None.
    """

    id: str
    status: str = "pending"
    depends_on: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    title: str | None = None
    epic: str | None = None
    facts: Mapping[str, Any] = attrs.field(factory=dict)
    meta: Mapping[str, Any] | None = None


@attrs.frozen
class Run:
    """A run: a lifecycle (the run lane) plus a plan of slices.

    Attributes:
        run_id: The run's id.
        slices: Slices in file order (the order that breaks every tie).
        template: Name of the net template.
        status: The run's place in the template's run lane.
        facts: Values recorded from run-step results.
        epics: Epics in file order.
        meta: Free-form user data, or None.
        version: Format version; always 1.
        abandoned: Why the run was abandoned (see :func:`petri_exec.abandon`), or None.
        identity: The run file's identity (32 hex digits), minted when the file is first
            driven and recorded in its journal's header, so a journal is never applied to
            another run; None for a run never driven from a file.
    """

    run_id: str
    slices: tuple[Slice, ...] = attrs.field(default=(), converter=_slices)
    template: str = "executor"
    status: str = "created"
    facts: Mapping[str, Any] = attrs.field(factory=dict)
    epics: tuple[Epic, ...] = attrs.field(default=(), converter=_epics)
    meta: Mapping[str, Any] | None = None
    version: int = 1
    abandoned: str | None = None
    identity: str | None = None

    def slice(self, slice_id: str) -> Slice:
        """The slice with id ``slice_id``.

        Raises:
            KeyError: No such slice.
        """
        for s in self.slices:
            if s.id == slice_id:
                return s
        raise KeyError(slice_id)


def dependencies(run: Run, *, unique: bool = False) -> list[tuple[int, ...]]:
    """Every slice's effective dependencies, as indexes into ``run.slices``.

    A slice depends on the slices in its own ``depends_on`` and on every slice of each
    epic its epic depends on. Unknown ids are skipped (validation reports them).

    Args:
        run: The run.
        unique: Refuse a run whose slice ids are not distinct.

    Returns:
        For each slice in file order, the sorted, duplicate-free indexes it depends on.

    Raises:
        ValueError: ``unique`` and two slices share an id.
    """
    index = {s.id: i for i, s in enumerate(run.slices)}
    if unique and len(index) != len(run.slices):
        raise ValueError(f"run {run.run_id!r}: slice ids must be unique; validate it first")
    epic_deps = {e.id: e.depends_on for e in run.epics if e.depends_on}
    members: dict[str, list[int]] = {}
    if epic_deps:
        for i, s in enumerate(run.slices):
            if s.epic is not None:
                members.setdefault(s.epic, []).append(i)
    result: list[tuple[int, ...]] = []
    cache: dict[str, tuple[int, ...]] = {}
    get = index.get
    for s in run.slices:
        on = s.depends_on
        if not (epic_deps and s.epic in epic_deps):  # the common case: own dependencies only
            if not on:
                result.append(())
            elif len(on) == 1:
                d = get(on[0])
                result.append(() if d is None else (d,))
            else:
                result.append(tuple(sorted({index[d] for d in on if d in index})))
            continue
        epic = s.epic or ""
        deps = {index[d] for d in on if d in index}
        extra = cache.get(epic)
        if extra is None:
            extra = cache[epic] = tuple(i for e in epic_deps[epic] for i in members.get(e, ()))
        deps.update(extra)
        result.append(tuple(sorted(deps)) if len(deps) > 1 else tuple(deps))
    return result


def topological_order(deps: list[tuple[int, ...]]) -> list[int] | None:
    """A deterministic topological order: dependencies first, ties by file order.

    Args:
        deps: For each node, the nodes it depends on (as from :func:`dependencies`).

    Returns:
        Node indexes in order, or None when there is a cycle.
    """
    n = len(deps)
    waiting = [len(d) for d in deps]
    dependents: list[list[int]] = [[] for _ in range(n)]
    for i, ds in enumerate(deps):
        for d in ds:
            dependents[d].append(i)
    heap = [i for i in range(n) if waiting[i] == 0]
    heapq.heapify(heap)
    order: list[int] = []
    while heap:
        i = heapq.heappop(heap)
        order.append(i)
        for j in dependents[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(heap, j)
    return order if len(order) == n else None
