"""Bad input everywhere: every mutated or corpus run file is loaded or refused with a
PetriExecError — never another exception — and no file is modified."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import petri_exec as pe

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.json"))

BASE: dict[str, Any] = {
    "version": 1, "run_id": "fuzz", "template": "executor", "status": "reports_initialized",
    "facts": {"k": [1, 2]},
    "epics": [{"id": "e1", "depends_on": []}, {"id": "e2", "depends_on": ["e1"]}],
    "slices": [
        {"id": "a", "epic": "e1", "depends_on": [], "status": "completed", "facts": {}},
        {"id": "b", "epic": "e2", "depends_on": ["a"], "status": "started", "meta": {"x": 1}},
        {"id": "c", "title": "C", "depends_on": ["a", "b"]},
    ],
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20) | st.sampled_from(["a", "b", "e1", "", "x" * 200, "\u202e", "a\n"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=3),
    max_leaves=8,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.extend(_paths(v, (*prefix, i)))
    return out


@st.composite
def mutated_documents(draw: st.DrawFn) -> bytes:
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)[1:]))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add_key"]))
        if action == "replace":
            parent[path[-1]] = draw(json_values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(json_values)
    data = json.dumps(doc).encode()
    tail = draw(st.sampled_from(["keep", "truncate", "garbage"]))
    if tail == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif tail == "garbage":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    return data


def _load_or_refuse(path: Path) -> pe.Run | None:
    before = path.read_bytes()
    listing = sorted(p.name for p in path.parent.iterdir())
    try:
        run = pe.load_run(path)
    except pe.PetriExecError as e:
        assert str(e).startswith(str(path)), str(e)
        assert "\n" not in str(e)
        run = None
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == listing
    if run is not None:  # what loads must also save and load back identically
        copy_path = path.with_name("copy.json")
        pe.save_run(run, copy_path)
        assert pe.load_run(copy_path) == run
        copy_path.unlink()
    return run


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents())
def test_mutated_run_files_are_loaded_or_refused(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d, "run.json")
        path.write_bytes(data)
        _load_or_refuse(path)


#: Each corpus file's verdict: None = it loads, else a fragment of the one-line refusal.
CORPUS_VERDICTS: dict[str, str | None] = {
    "array": ": the document must be a JSON object, got an array",
    "big_int": ": a JSON value cannot be read (Exceeds the limit (4300 digits)",
    "bom": ": invalid JSON at line 1 column 1: Unexpected UTF-8 BOM",
    "control_chars_id": ": slices[0].id: invalid id 'a\\x00b'",
    "cycle3": ": slices[0].depends_on: dependency cycle a -> c -> b -> a",
    "deep_but_parseable": ": facts: nested more than 64 levels deep",
    "deep_nesting": ": JSON nested too deeply",
    "depends_on_object": ": slices[0].depends_on: expected an array of ids, got an object",
    "duplicate_key": ": run_id: key 'run_id' appears twice in one JSON object",
    "empty": ": invalid JSON at line 1 column 1: Expecting value",
    "huge_id": ": slices[0].id: invalid id 'xxxx",
    "invalid_utf8": ": not UTF-8 (byte 26); save the file as UTF-8",
    "lone_surrogate": ": a string holds a lone surrogate escape (like \\ud800)",
    "nan": ": NaN is not valid JSON",
    "nulls": ": run_id: expected a non-empty string, got null",
    "status_number": ": status: 5 is not a status of the template's run lane",
    "truncated": ": invalid JSON at line 1 column 54: Expecting property name",
    "unicode_id": ": slices[0].id: invalid id 'été'",
    "version_float": ": version: unsupported version 1.5; only 1 is known",
    "unicode_title_loads": None,
}


def test_every_corpus_file_has_a_verdict() -> None:
    assert sorted(CORPUS_VERDICTS) == [p.stem for p in CORPUS]


@pytest.mark.parametrize("case", CORPUS, ids=[p.stem for p in CORPUS])
def test_corpus(case: Path, tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_bytes(case.read_bytes())
    run = _load_or_refuse(path)
    expected = CORPUS_VERDICTS[case.stem]
    if expected is None:
        assert run is not None, f"{case.name} must load"
        return
    assert run is None, f"{case.name} must be refused"
    with pytest.raises(pe.PetriExecError) as e:
        pe.load_run(path)
    assert str(e.value).startswith(f"{path}{expected}"), str(e.value)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=40), st.integers(0, 10_000))
def test_damaged_journals_are_replayed_or_refused(garbage: bytes, at: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d, "run.json")
        pe.save_run(pe.Run(run_id="j", template="minimal",
                           slices=(pe.Slice("a"), pe.Slice("b", depends_on=("a",)))), path)
        pe.drive(path, {"runner": lambda ctx: None}, max_firings=2)
        journal = pe.journal_path(path)
        data = journal.read_bytes()
        at = min(at, len(data))
        journal.write_bytes(data[:at] + garbage + data[at:])
        before = (path.read_bytes(), journal.read_bytes())
        try:
            pe.load_run(path)
        except pe.PetriExecError as e:
            assert "\n" not in str(e)
        assert (path.read_bytes(), journal.read_bytes()) == before
