"""docs/run.schema.json describes run.json version 1 as petri_exec.load_run reads it.

The schema checks structure only; the loader also checks what a schema cannot
(unknown ids, cycles, statuses of the template). So: every file the loader accepts, the
schema accepts; every file the loader refuses for a structural reason, the schema refuses.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import petri_exec as pe

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "docs" / "run.schema.json"
EXAMPLES = sorted((ROOT / "nets" / "examples").glob("*.json"))


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Any:
    return jsonschema.Draft202012Validator(schema)


def _write(tmp_path: Path, doc: Any, name: str = "run.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _errors(validator: Any, doc: Any) -> list[str]:
    return [e.message for e in validator.iter_errors(doc)]


# -- the schema itself ------------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_is_wired_into_the_wheel() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"docs/run.schema.json" = "petri_exec/run.schema.json"' in text


# -- accepted documents -----------------------------------------------------------------

CONTRACT_EXAMPLE: dict[str, Any] = {
    "version": 1,
    "run_id": "checkout-redesign",
    "template": "executor",
    "status": "created",
    "facts": {},
    "epics": [{"id": "backend", "depends_on": []}],
    "slices": [
        {
            "id": "api",
            "title": "Cart API",
            "epic": "backend",
            "depends_on": [],
            "status": "pending",
            "facts": {},
        },
        {"id": "ui", "depends_on": ["api"]},
    ],
}

VALID_RUNS: dict[str, dict[str, Any]] = {
    "contract_example": CONTRACT_EXAMPLE,
    "minimal_document": {"version": 1, "run_id": "r", "slices": []},
    "minimal_template_dag": {
        "version": 1,
        "run_id": "dag",
        "template": "minimal",
        "slices": [
            {"id": "a"},
            {"id": "b.2", "depends_on": ["a"]},
            {"id": "C_3-x", "depends_on": ["a", "b.2"], "meta": {"cmd": "make test"}},
        ],
    },
    "epics_and_free_form_data": {
        "version": 1,
        "run_id": "epics",
        "facts": {"anything": [1, {"nested": True}], "n": None},
        "meta": {"owner": "me", "tags": ["x"], "deep": {"unknown_key": 1}},
        "epics": [{"id": "backend"}, {"id": "frontend", "depends_on": ["backend"]}],
        "slices": [
            {"id": "api", "epic": "backend", "facts": {"verdict": "passed"}},
            {"id": "ui", "epic": "frontend", "title": "", "meta": {}},
        ],
    },
    "in_progress": {
        "version": 1,
        "run_id": "mid",
        "template": "executor",
        "status": "reports_initialized",
        "facts": {"commit": "abc"},
        "slices": [
            {"id": "api", "status": "completed", "facts": {"verdict": "passed"}},
            {"id": "ui", "depends_on": ["api"], "status": "agent_result_ingested"},
            {"id": "docs", "status": "pending"},
        ],
    },
    "nulls_read_as_absent": {
        "version": 1,
        "run_id": "nulls",
        "facts": None,
        "meta": None,
        "slices": [{"id": "a", "title": None, "epic": None, "facts": None, "meta": None}],
    },
    "longest_id": {"version": 1, "run_id": "long", "slices": [{"id": "x" * 128}]},
}


@pytest.mark.parametrize("name", sorted(VALID_RUNS))
def test_runs_the_loader_accepts_validate(name: str, validator: Any, tmp_path: Path) -> None:
    doc = VALID_RUNS[name]
    pe.load_run(_write(tmp_path, doc))  # the loader accepts it ...
    assert _errors(validator, doc) == []  # ... and so does the schema


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_validate(path: Path, validator: Any) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    pe.load_run(path)
    assert _errors(validator, doc) == []


@pytest.mark.parametrize("name", sorted(VALID_RUNS))
def test_files_the_library_writes_validate(name: str, validator: Any, tmp_path: Path) -> None:
    path = _write(tmp_path, VALID_RUNS[name])
    pe.save_run(pe.load_run(path), path)
    assert _errors(validator, json.loads(path.read_bytes())) == []


def test_a_driven_run_still_validates(validator: Any, tmp_path: Path) -> None:
    from petri_exec.testing import FakePorts

    path = _write(tmp_path, CONTRACT_EXAMPLE)
    outcome = pe.drive(path, FakePorts())
    assert outcome.status == "completed"
    assert _errors(validator, json.loads(path.read_bytes())) == []


# -- structurally refused documents -----------------------------------------------------


def _with(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``doc`` with ``value`` set at a dotted path (``slices.0.id``)."""
    out = copy.deepcopy(doc)
    *parents, last = path.split(".")
    node: Any = out
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


def _without(doc: dict[str, Any], key: str) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    del out[key]
    return out


BASE = CONTRACT_EXAMPLE

# name -> (document, JSON path the loader names)
STRUCTURALLY_BAD: dict[str, tuple[Any, str]] = {
    "not_an_object": ([BASE], ""),
    "unknown_run_key": (_with(BASE, "stauts", "created"), "stauts"),
    "unknown_slice_key": (_with(BASE, "slices.1.depends", ["api"]), "slices[1].depends"),
    "unknown_epic_key": (_with(BASE, "epics.0.meta", {}), "epics[0].meta"),
    "missing_version": (_without(BASE, "version"), "version"),
    "version_2": (_with(BASE, "version", 2), "version"),
    "version_string": (_with(BASE, "version", "1"), "version"),
    "version_true": (_with(BASE, "version", True), "version"),
    "missing_run_id": (_without(BASE, "run_id"), "run_id"),
    "empty_run_id": (_with(BASE, "run_id", ""), "run_id"),
    "run_id_number": (_with(BASE, "run_id", 7), "run_id"),
    "missing_slices": (_without(BASE, "slices"), "slices"),
    "slices_object": (_with(BASE, "slices", {}), "slices"),
    "slice_string": (_with(BASE, "slices.1", "ui"), "slices[1]"),
    "slice_without_id": (_with(BASE, "slices.1", {"depends_on": ["api"]}), "slices[1].id"),
    "slice_id_number": (_with(BASE, "slices.1.id", 3), "slices[1].id"),
    "slice_id_space": (_with(BASE, "slices.1.id", "user interface"), "slices[1].id"),
    "slice_id_slash": (_with(BASE, "slices.1.id", "ui/x"), "slices[1].id"),
    "slice_id_colon": (_with(BASE, "slices.1.id", "ui:x"), "slices[1].id"),
    "slice_id_empty": (_with(BASE, "slices.1.id", ""), "slices[1].id"),
    "slice_id_too_long": (_with(BASE, "slices.1.id", "x" * 129), "slices[1].id"),
    "epic_id_bad": (_with(BASE, "epics.0.id", "back end"), "epics[0].id"),
    "epic_without_id": (_with(BASE, "epics.0", {"depends_on": []}), "epics[0].id"),
    "epics_object": (_with(BASE, "epics", {"backend": []}), "epics"),
    "epics_null": (_with(BASE, "epics", None), "epics"),
    "template_number": (_with(BASE, "template", 1), "template"),
    "template_path": (_with(BASE, "template", "../executor"), "template"),
    "run_status_number": (_with(BASE, "status", 0), "status"),
    "run_status_null": (_with(BASE, "status", None), "status"),
    "slice_status_number": (_with(BASE, "slices.0.status", 1), "slices[0].status"),
    "facts_array": (_with(BASE, "facts", []), "facts"),
    "slice_facts_string": (_with(BASE, "slices.0.facts", "x"), "slices[0].facts"),
    "meta_string": (_with(BASE, "meta", "x"), "meta"),
    "slice_meta_array": (_with(BASE, "slices.0.meta", []), "slices[0].meta"),
    "title_number": (_with(BASE, "slices.0.title", 1), "slices[0].title"),
    "epic_ref_number": (_with(BASE, "slices.0.epic", 1), "slices[0].epic"),
    "depends_on_string": (_with(BASE, "slices.1.depends_on", "api"), "slices[1].depends_on"),
    "depends_on_null": (_with(BASE, "slices.1.depends_on", None), "slices[1].depends_on"),
    "depends_on_number_item": (_with(BASE, "slices.1.depends_on", [1]), "slices[1].depends_on[0]"),
    "depends_on_twice": (
        _with(BASE, "slices.1.depends_on", ["api", "api"]),
        "slices[1].depends_on[1]",
    ),
    "epic_depends_on_string": (_with(BASE, "epics.0.depends_on", "x"), "epics[0].depends_on"),
}


@pytest.mark.parametrize("name", sorted(STRUCTURALLY_BAD))
def test_structural_refusals_agree(name: str, validator: Any, tmp_path: Path) -> None:
    doc, json_path = STRUCTURALLY_BAD[name]
    with pytest.raises(pe.RunFileError) as info:
        pe.load_run(_write(tmp_path, doc))
    assert info.value.json_path == json_path
    assert _errors(validator, doc), f"the schema accepts {name}, the loader refuses it"


# Refused by the loader for reasons a schema cannot see: the schema accepts them.
SEMANTICALLY_BAD: dict[str, Any] = {
    "duplicate_slice_id": _with(BASE, "slices.1.id", "api"),
    "unknown_dependency": _with(BASE, "slices.1.depends_on", ["apj"]),
    "cycle": _with(BASE, "slices.0.depends_on", ["ui"]),
    "status_not_in_template": _with(BASE, "status", "creatd"),
    "unknown_template": _with(BASE, "template", "no_such_template"),
}


@pytest.mark.parametrize("name", sorted(SEMANTICALLY_BAD))
def test_semantic_refusals_are_left_to_the_loader(
    name: str, validator: Any, tmp_path: Path
) -> None:
    doc = SEMANTICALLY_BAD[name]
    with pytest.raises(pe.RunFileError):
        pe.load_run(_write(tmp_path, doc))
    assert _errors(validator, doc) == []


# -- property: the schema never refuses a run the loader accepts ------------------------

_json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=3))
_json_any = st.recursive(
    _json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=2), st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=4,
)
_odd_values = st.one_of(
    _json_any, st.sampled_from(["", "a b", "x" * 129, "ui:x", "created", "pending", "api"])
)


def _locations(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every (container path, key) in ``doc`` that a mutation may touch."""
    out: list[tuple[Any, ...]] = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.append((*path, k))
            out.extend(_locations(v, (*path, k)))
    elif isinstance(doc, list):
        for k, v in enumerate(doc):
            out.append((*path, k))
            out.extend(_locations(v, (*path, k)))
    return out


@st.composite
def _run_docs(draw: st.DrawFn) -> Any:
    """A valid run (contract example or a variant), then zero to two random mutations."""
    doc = copy.deepcopy(draw(st.sampled_from([VALID_RUNS[k] for k in sorted(VALID_RUNS)])))
    if draw(st.booleans()):  # free-form places only: most such documents load
        for _ in range(draw(st.integers(1, 3))):
            owner = draw(st.sampled_from([doc, *doc.get("slices", [])]))
            keys = ["meta", "facts"] if owner is doc else ["meta", "facts", "title"]
            key = draw(st.sampled_from(keys))
            owner[key] = draw(st.text(max_size=5) if key == "title" else
                              st.dictionaries(st.text(max_size=3), _json_any, max_size=3))
        return doc
    for _ in range(draw(st.integers(0, 2))):
        where = _locations(doc)
        if not where:
            break
        loc = draw(st.sampled_from(where))
        parent: Any = doc
        for k in loc[:-1]:
            parent = parent[k]
        action = draw(st.sampled_from(["set", "delete", "add_key"]))
        if action == "set":
            parent[loc[-1]] = draw(_odd_values)
        elif action == "delete":
            del parent[loc[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["x", "meta", "facts", "title", "epics"]))] = draw(
                _odd_values
            )
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=_run_docs())
def test_the_schema_never_refuses_what_the_loader_accepts(doc: Any, validator: Any) -> None:
    try:
        pe.parse_run(doc)
    except pe.RunFileError as e:
        event("loader refuses")
        assert str(e) and "\n" not in str(e)  # a one-line refusal
        return
    event("loader accepts")
    assert _errors(validator, doc) == [], doc
