"""Hypothesis strategies for runs (test-local; the public harness comes with the testing issue)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

import petri_exec as pe


@st.composite
def dag_runs(
    draw: st.DrawFn,
    *,
    max_slices: int = 10,
    templates: tuple[str, ...] = ("executor", "minimal"),
    linear: bool = False,
    epics: bool = True,
) -> pe.Run:
    """A random valid run at its initial marking: a DAG of slices in a shuffled file order."""
    n = draw(st.integers(0, max_slices))
    names = [f"s{i}" for i in range(n)]
    deps: list[list[str]] = []
    for i in range(n):
        if linear:
            deps.append([names[i - 1]] if i else [])
        elif i:
            picks = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True))
            deps.append([names[j] for j in picks])
        else:
            deps.append([])
    order = list(range(n)) if linear else draw(st.permutations(list(range(n))))
    use_epics = epics and not linear and n > 0 and draw(st.booleans())
    epic_list: list[pe.Epic] = []
    epic_of: dict[int, str] = {}
    if use_epics:
        # epics partition slices by topological position, later epics depend on earlier ones
        k = draw(st.integers(1, 3))
        for i in range(n):
            epic_of[i] = f"e{min(k - 1, i * k // max(n, 1))}"
        for e in range(k):
            dep = [f"e{e - 1}"] if e and draw(st.booleans()) else []
            epic_list.append(pe.Epic(f"e{e}", tuple(dep)))
    template = draw(st.sampled_from(templates))
    slices = [
        pe.Slice(
            id=names[i],
            status="pending",
            depends_on=tuple(deps[i]),
            epic=epic_of.get(i),
            title=f"Slice {i}",
        )
        for i in order
    ]
    return pe.Run(run_id="prop", slices=tuple(slices), template=template, status="created",
                  epics=tuple(epic_list))


def ports_for(template: str, **kw: Any) -> Any:
    """FakePorts for a template."""
    from petri_exec.testing import FakePorts

    return FakePorts(**kw)
