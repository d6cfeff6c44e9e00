"""The whole-run fast check never accepts what the rule-by-rule checks refuse."""

from __future__ import annotations

from collections import UserString
from types import MappingProxyType
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

import petri_exec as pe
from petri_exec.run.checks import _check_rules, _fast_check, _validate_rules
from petri_exec.run.model import dependencies
from petri_exec.testing import runs

DAMAGE = ["none", "bad_id", "newline_id", "empty_id", "long_id", "dup_id", "unknown_dep",
          "self_dep", "repeat_dep", "forward_dep", "unhashable_dep", "int_dep",
          "bad_status", "list_status", "done_early", "title", "facts_list", "facts_proxy",
          "meta", "epic", "run_past", "run_status", "run_facts", "abandoned_empty",
          "userstring_dep", "userstring_status", "str_subclass_dep"]


class _Str(str):
    """A str subclass: the rules accept it as an id."""


def _damage(run: pe.Run, how: str, k: int, tpl: pe.Template) -> pe.Run:
    if not run.slices:
        return run
    slices = list(run.slices)
    s = slices[k % len(slices)]
    other = slices[(k + 1) % len(slices)]
    change: dict[str, Any] = {
        "bad_id": {"id": "a b"}, "newline_id": {"id": "a\nb"}, "empty_id": {"id": ""},
        "long_id": {"id": "x" * 129}, "dup_id": {"id": other.id},
        "unknown_dep": {"depends_on": (*s.depends_on, "nope")},
        "self_dep": {"depends_on": (s.id,)},
        "repeat_dep": {"depends_on": (other.id, other.id)},
        "forward_dep": {"depends_on": (other.id,)},
        "unhashable_dep": {"depends_on": (["x"],)}, "int_dep": {"depends_on": (5,)},
        "bad_status": {"status": "nope"}, "list_status": {"status": ["x"]},
        "done_early": {"status": tpl.slice.end}, "title": {"title": 5},
        "facts_list": {"facts": [1]}, "facts_proxy": {"facts": MappingProxyType({"a": 1})},
        "meta": {"meta": [1]}, "epic": {"epic": "e0"},
        "userstring_dep": {"depends_on": (UserString(other.id),)},  # equal, hashes alike
        "str_subclass_dep": {"depends_on": (_Str(other.id),)},
    }.get(how, {})
    if change:
        slices[k % len(slices)] = attrs.evolve(s, **change)
        return attrs.evolve(run, slices=tuple(slices))
    if how == "run_past":
        return attrs.evolve(run, status=tpl.run.end)
    if how == "run_status":
        return attrs.evolve(run, status=tpl.run.statuses[min(k, len(tpl.run.statuses) - 1)])
    if how == "run_facts":
        return attrs.evolve(run, facts=[1])
    if how == "abandoned_empty":
        return attrs.evolve(run, abandoned="")
    if how == "userstring_status":
        return attrs.evolve(run, status=UserString(run.status))
    return run


@settings(max_examples=400, deadline=None)
@given(run=runs(max_slices=6, shuffle=False) | runs(max_slices=6),
       how=st.sampled_from(DAMAGE), k=st.integers(0, 10))
def test_fast_check_agrees_with_the_rules(run: pe.Run, how: str, k: int) -> None:
    tpl = pe.load_template(run.template)
    run = _damage(run, how, k, tpl)
    fast = _fast_check(run, tpl)
    try:
        slow = _validate_rules(run, tpl)
    except pe.RunFileError:
        assert fast is None
        return
    if fast is not None:
        assert fast == slow == _check_rules(run, tpl, None)


@settings(max_examples=100, deadline=None)
@given(run=runs(max_slices=8, shuffle=False, shapes=("wide", "linear", "forest", "dag")))
def test_runs_in_dependency_order_take_the_fast_path(run: pe.Run) -> None:
    tpl = pe.load_template(run.template)
    assert _fast_check(run, tpl) == _validate_rules(run, tpl) == dependencies(run)
