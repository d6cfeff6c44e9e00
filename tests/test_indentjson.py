"""The fast indented writer returns exactly what json.dumps(indent=2) returns."""

from __future__ import annotations

import enum
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from petri_exec.run.indentjson import dumps_indented

SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(-2**80, 2**80)
           | st.floats() | st.text())
KEYS = st.text() | st.integers()  # json.dumps turns int keys into strings: the fallback
VALUES = st.recursive(SCALARS, lambda inner: (
    st.lists(inner, max_size=4) | st.lists(inner, max_size=3).map(tuple)
    | st.dictionaries(KEYS, inner, max_size=4)), max_leaves=40)


def _same(v: Any) -> None:
    assert dumps_indented(v) == json.dumps(v, indent=2, ensure_ascii=False)


@settings(max_examples=500, deadline=None)
@given(VALUES)
def test_same_text_as_json_dumps(value: Any) -> None:
    _same(value)


class Level(enum.IntEnum):
    LOW = 1


def test_odd_values_match_too() -> None:
    for v in ({}, [], (), {"a": {}}, {"a": []}, "é\u2028\ud800", Level.LOW, {"k": Level.LOW},
              float("nan"), [float("inf")], {None: 1, True: 2, 1.5: 3}, [[[[]]]]):
        _same(v)
    for bad in ({1, 2}, object(), {"a": {1}}, {(1, 2): 3}):
        with pytest.raises(TypeError):
            dumps_indented(bad)
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        dumps_indented(loop)
