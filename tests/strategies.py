"""Run strategies for the foundation's property tests, on top of the public harness
(:func:`petri_exec.testing.runs`)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

import petri_exec as pe
from petri_exec.testing import FakePorts, runs


def dag_runs(
    *,
    max_slices: int = 10,
    templates: tuple[str, ...] = ("executor", "minimal"),
    linear: bool = False,
    epics: bool = True,
) -> st.SearchStrategy[pe.Run]:
    """Valid runs at their initial marking: a DAG of slices in a shuffled file order, or
    (``linear``) one chain in file order."""
    if linear:
        return runs(shapes=("linear",), max_slices=max_slices, templates=templates,
                    shuffle=False)
    shapes = ("wide", "forest", "dag", "epics") if epics else ("wide", "forest", "dag")
    return runs(shapes=shapes, max_slices=max_slices, templates=templates)


def ports_for(template: str, **kw: Any) -> FakePorts:
    """FakePorts for a template."""
    return FakePorts(**kw)
