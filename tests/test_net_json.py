"""The JSON form of a net: each slice's subnet, validated against docs/net.schema.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import petri_exec as pe
from petri_exec.interchange import net_json

SCHEMA = Path(__file__).resolve().parent.parent / "docs" / "net.schema.json"


def test_subnets_partition_the_compiled_net() -> None:
    run = pe.Run(run_id="x", template="executor",
                 slices=(pe.Slice("a"), pe.Slice("b.c", depends_on=("a",))))
    net = pe.compile_run(run)
    doc = net_json(net, pe.marking_of(run))
    subnets = doc["subnets"]
    assert list(subnets) == ["", "a", "b.c"]
    assert subnets["b.c"]["places"] == [f"slice:b.c:{s}" for s in
                                        pe.load_template("executor").slice.statuses]
    assert subnets["a"]["transitions"][0] == "slice_start:a"
    every_place = [p for sub in subnets.values() for p in sub["places"]]
    every_transition = [t for sub in subnets.values() for t in sub["transitions"]]
    assert sorted(every_place) == sorted(net.places)
    assert sorted(every_transition) == sorted(t.name for t in net.transitions)
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
