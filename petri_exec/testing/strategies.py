"""Hypothesis strategies: runs of every shape, reachable markings, port behaviours.

Every strategy shrinks toward the simplest case: fewer slices, fewer dependencies, the
first shape and template listed, slices in dependency order, earlier transitions.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hypothesis import strategies as st

from ..core.compile import compile_run, marking_of
from ..core.marking import Marking
from ..core.net import Transition
from ..errors import UsageError
from ..run.model import Epic, Run, Slice
from ..run.templates import load_template
from .fakes import PortBehaviour

__all__ = [
    "SHAPES",
    "port_behaviours",
    "reachable_markings",
    "runs",
    "runs_and_markings",
]

#: The run shapes, simplest first: ``wide`` (no dependencies), ``linear`` (one chain),
#: ``forest`` (at most one dependency per slice), ``dag`` (up to three), ``epics``
#: (slices grouped in epics that depend on earlier epics, plus some slice dependencies).
SHAPES = ("wide", "linear", "forest", "dag", "epics")

_Dirs = Iterable[str | os.PathLike[str]]


def _check_shapes(shapes: Sequence[str]) -> tuple[str, ...]:
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown or not shapes:
        raise UsageError(f"runs(shapes={tuple(shapes)!r}): unknown or no shape; choose "
                         f"from {', '.join(SHAPES)}")
    return tuple(s for s in SHAPES if s in shapes)  # simplest first: shrinks toward it


def runs(
    *,
    shapes: Sequence[str] = SHAPES,
    min_slices: int = 0,
    max_slices: int = 8,
    templates: Sequence[str] = ("minimal", "executor"),
    template_dirs: _Dirs = (),
    run_id: str = "prop",
    shuffle: bool = True,
) -> st.SearchStrategy[Run]:
    """Valid runs at their initial marking (run and slices at their lanes' initial status).

    Args:
        shapes: Which of :data:`SHAPES` to draw from.
        min_slices: Fewest slices.
        max_slices: Most slices.
        templates: Template names to draw from (shrinks toward the first).
        template_dirs: Extra directories to look templates up in.
        run_id: The runs' id.
        shuffle: Draw the file order of the slices (a permutation of the dependency
            order); False keeps dependencies before dependents.

    Returns:
        A strategy of :class:`~petri_exec.Run` values; slice ids are ``s0``, ``s1``, …
        numbered in dependency order.

    Raises:
        UsageError: An unknown shape or bad size bounds.
        TemplateError: A template cannot be found.
    """
    order = _check_shapes(shapes)
    if not 0 <= min_slices <= max_slices:
        raise UsageError(f"runs(min_slices={min_slices}, max_slices={max_slices}): need "
                         "0 <= min_slices <= max_slices")
    if not templates:
        raise UsageError("runs(templates=()): name at least one template")
    dirs = tuple(template_dirs)
    initial = {name: (t.run.initial, t.slice.initial)
               for name in templates for t in [load_template(name, dirs)]}
    return _runs(order, min_slices, max_slices, tuple(templates), initial, run_id, shuffle)


@st.composite
def _runs(
    draw: st.DrawFn,
    shapes: tuple[str, ...],
    min_slices: int,
    max_slices: int,
    templates: tuple[str, ...],
    initial: Mapping[str, tuple[str, str]],
    run_id: str,
    shuffle: bool,
) -> Run:
    template = draw(st.sampled_from(templates))
    shape = draw(st.sampled_from(shapes))
    n = draw(st.integers(min_slices, max_slices))
    names = [f"s{i}" for i in range(n)]
    deps: list[list[int]] = [[] for _ in range(n)]
    epics: list[Epic] = []
    epic_of: dict[int, str] = {}
    for i in range(1, n):
        if shape == "linear":
            deps[i] = [i - 1]
        elif shape == "forest":
            parent = draw(st.integers(-1, i - 1))
            deps[i] = [parent] if parent >= 0 else []
        elif shape == "dag":
            deps[i] = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True))
        elif shape == "epics":
            deps[i] = draw(st.lists(st.integers(0, i - 1), max_size=1))
    if shape == "epics" and n:
        # epics partition the slices by dependency position; an epic depends on earlier ones
        k = draw(st.integers(1, min(3, n)))
        for i in range(n):
            epic_of[i] = f"e{i * k // n}"
        for e in range(k):
            on = draw(st.lists(st.integers(0, e - 1), max_size=2, unique=True)) if e else []
            epics.append(Epic(f"e{e}", tuple(f"e{d}" for d in sorted(on))))
    perm = draw(st.permutations(range(n))) if shuffle else range(n)
    run_status, slice_status = initial[template]
    slices = tuple(
        Slice(id=names[i], status=slice_status, depends_on=tuple(names[d] for d in deps[i]),
              epic=epic_of.get(i))
        for i in perm
    )
    return Run(run_id=run_id, slices=slices, template=template, status=run_status,
               epics=tuple(epics))


def reachable_markings(
    run: Run,
    *,
    scheduler: Any = None,
    max_steps: int | None = None,
    template_dirs: _Dirs = (),
) -> st.SearchStrategy[Marking]:
    """Markings reachable from ``run``'s marking by firing enabled non-manual transitions.

    Args:
        run: The starting run.
        scheduler: When given, only transitions its ``ready()`` returns (and that are
            enabled in the run's net) are fired: the markings ``drive()`` can reach with it.
        max_steps: Most firings (default: until nothing is left to fire).
        template_dirs: Extra directories to look the run's template up in.

    Returns:
        A strategy of :class:`~petri_exec.Marking`; shrinks toward fewer, earlier firings.
    """
    net = compile_run(run, template=load_template(run.template, tuple(template_dirs)))
    start = marking_of(run)
    limit = len(net.transitions) if max_steps is None else max_steps

    @st.composite
    def walk(draw: st.DrawFn) -> Marking:
        m = start
        for _ in range(draw(st.integers(0, limit))):
            offered = net.enabled(m) if scheduler is None else scheduler.ready(m)
            choices = sorted((t for t in offered if _fireable(net, t, m)),
                             key=lambda t: net.transition(t.name).index)
            if not choices:
                break
            m = net.fire(m, choices[draw(st.integers(0, len(choices) - 1))].name)
        return m

    return walk()


def _fireable(net: Any, t: Transition, m: Marking) -> bool:
    try:
        own = net.transition(t.name)
    except LookupError:
        return False
    return not own.manual and bool(net.is_enabled(own, m))


def runs_and_markings(**kwargs: Any) -> st.SearchStrategy[tuple[Run, Marking]]:
    """``(run, marking)`` pairs: a run from :func:`runs` and a marking reachable from it.

    Args:
        **kwargs: Arguments of :func:`runs` (``template_dirs`` is passed on).

    Returns:
        The strategy.
    """
    dirs = tuple(kwargs.get("template_dirs", ()))
    return runs(**kwargs).flatmap(
        lambda r: st.tuples(st.just(r), reachable_markings(r, template_dirs=dirs)))


def port_behaviours(
    run: Run,
    *,
    failures: bool = True,
    verdicts: bool = True,
    latency: bool = False,
    max_failures: int = 1,
    template_dirs: _Dirs = (),
) -> st.SearchStrategy[PortBehaviour]:
    """Port behaviours for ``run``: failures at chosen steps, verdicts, latencies.

    Args:
        run: The run whose steps may fail.
        failures: Draw up to ``max_failures`` failing port-backed transitions (a reason
            or a raised exception).
        verdicts: Draw ``test_runner`` verdicts (``passed`` or ``failed``) per slice.
        latency: Draw small per-port latencies (at most 2 ms).
        max_failures: Most failing transitions.
        template_dirs: Extra directories to look the run's template up in.

    Returns:
        A strategy of :class:`PortBehaviour`; use ``behaviour.ports()`` for fresh fakes.
    """
    net = compile_run(run, template=load_template(run.template, tuple(template_dirs)))
    stepped = [t.name for t in net.transitions if t.port is not None and not t.manual]
    ports = sorted({t.port for t in net.transitions if t.port is not None})
    slice_ids = [s.id for s in run.slices]
    none: st.SearchStrategy[list[Any]] = st.just([])
    fail = (st.lists(st.tuples(st.sampled_from(stepped),
                               st.sampled_from(["injected", "raise:injected"])),
                     max_size=max_failures, unique_by=lambda p: p[0])
            if failures and stepped and max_failures > 0 else none)
    verdict = (st.lists(st.tuples(st.sampled_from(slice_ids),
                                  st.sampled_from(["passed", "failed"])),
                        unique_by=lambda p: p[0])
               if verdicts and slice_ids else none)
    delay = (st.lists(st.tuples(st.sampled_from(ports), st.sampled_from([0.0, 0.0005, 0.002])),
                      unique_by=lambda p: p[0])
             if latency and ports else none)
    return st.builds(PortBehaviour, fail, verdict, delay)
