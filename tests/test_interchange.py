"""Interchange: PNML export/import, SNAKES both ways, the JSON form and its schema.

The differential tests hold pe.Net to SNAKES' semantics on random general nets (weights
above one, several tokens per place, conflicts, read arcs): the enabled sets and the
markings after every firing agree, directly and through PNML and SNAKES round trips.
"""

from __future__ import annotations

import json
import random
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snakes.nets import (
    Expression,
    Inhibitor,
    MultiArc,
    PetriNet,
    Place,
    Transition,
    Value,
    Variable,
    dot,
)
from snakes.nets import Test as SnakesTest

import petri_exec as pe
from petri_exec.interchange import net_json
from petri_exec.testing import FakePorts

from .net_strategies import general_nets, snakes_enabled, snakes_fire, snakes_marking

DOCS = Path(__file__).resolve().parent.parent / "docs"
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _names(ts: frozenset[pe.Transition]) -> set[str]:
    return {t.name for t in ts}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(general_nets(), st.randoms(use_true_random=False))
def test_random_general_nets_agree_with_snakes(case: tuple[pe.Net, pe.Marking],
                                               rnd: random.Random) -> None:
    net, m = case
    sn = pe.to_snakes(net, m)
    via_pnml, m_pnml = pe.from_pnml(pe.to_pnml(net, m))
    via_snakes, m_snakes = pe.from_snakes(sn)
    assert m_pnml == m and m_snakes == m
    state = net.state(m)  # one incremental state across every firing
    handed = {t.name for t in state.get_ready()}
    for _ in range(12):
        enabled = _names(net.enabled(m))
        assert enabled == snakes_enabled(sn)
        assert {t.name for t in net.transitions if state.is_enabled(t)} == enabled
        assert handed == {n for n in enabled if not net.transition(n).manual}
        assert _names(via_pnml.enabled(m)) == enabled
        assert _names(via_snakes.enabled(m)) == enabled
        if not enabled:
            break
        name = rnd.choice(sorted(enabled))
        snakes_fire(sn, name)
        m2 = net.fire(m, name)
        assert dict(m2) == snakes_marking(sn)
        assert via_pnml.fire(m, name) == m2 and via_snakes.fire(m, name) == m2
        state.fire(net.transition(name))
        assert state.marking() == m2
        handed = {n for n in handed if state.is_enabled(net.transition(n))}
        handed.update(t.name for t in state.get_ready())
        m = m2


@FAST
@given(general_nets())
def test_pnml_round_trip_of_general_nets_is_byte_identical(
        case: tuple[pe.Net, pe.Marking]) -> None:
    net, m = case
    data = pe.to_pnml(net, m)
    net2, m2 = pe.from_pnml(data)
    assert pe.to_pnml(net2, m2) == data
    assert net2.places == net.places and [t.name for t in net2.transitions] == [
        t.name for t in net.transitions]


def _runs() -> list[pe.Run]:
    return [
        pe.Run(run_id="checkout", slices=(pe.Slice("api"), pe.Slice("ui", depends_on=("api",)),
                                          pe.Slice("docs"))),
        pe.Run(run_id="mid", template="minimal", status="running",
               slices=(pe.Slice("a", status="done"), pe.Slice("b", depends_on=("a",)))),
        pe.Run(run_id="empty", template="minimal"),
    ]


@pytest.mark.parametrize("run", _runs(), ids=lambda r: r.run_id)
def test_run_pnml_net_pnml_round_trip(run: pe.Run) -> None:
    net, m = pe.compile_run(run), pe.marking_of(run)
    data = pe.to_pnml(net, m)
    net2, m2 = pe.from_pnml(data)
    assert pe.to_pnml(net2, m2) == data
    assert m2 == m and net2.name == net.name and net2.places == net.places
    assert net2.transitions == net.transitions  # step, slice, port, handler, manual kept
    assert (net2.consume, net2.produce, net2.read) == (net.consume, net.produce, net.read)
    rnd = random.Random(7)
    while True:  # enabled sets equal before and after, all along a run
        assert net2.enabled(m) == net.enabled(m)
        assert pe.PetriScheduler(net2).ready(m) == pe.PetriScheduler(net).ready(m)
        enabled = sorted(net.enabled(m), key=lambda t: t.index)
        if not enabled:
            break
        m = net.fire(m, rnd.choice(enabled))


def test_read_arcs_are_exported_as_loops() -> None:
    run = _runs()[0]
    net = pe.compile_run(run)
    doc = ET.fromstring(pe.to_pnml(net, pe.marking_of(run)))
    ns = {"p": pe.interchange.pnml.PNML_NS}
    ids = {e.get("id"): e.findtext("p:name/p:text", namespaces=ns)
           for e in doc.iterfind(".//p:place", ns)}
    ids.update({e.get("id"): e.findtext("p:name/p:text", namespaces=ns)
                for e in doc.iterfind(".//p:transition", ns)})
    arcs = {(ids[a.get("source")], ids[a.get("target")]) for a in doc.iterfind(".//p:arc", ns)}
    assert ("run:reports_initialized", "slice_start:ui") in arcs
    assert ("slice_start:ui", "run:reports_initialized") in arcs
    assert ("slice:api:completed", "slice_start:ui") in arcs
    assert ("slice_start:ui", "slice:api:completed") in arcs
    assert doc.find(".//p:net", ns).get("type") == pe.interchange.pnml.PTNET_TYPE


def test_consume_and_read_of_one_place_keep_their_meaning() -> None:
    # consume 1 and read 2 of p: needs 2 tokens, takes 1 (an old export wrote in=3, out=2)
    net = pe.Net(["p", "q"], [pe.Transition("t", "t")], [[(0, 1)]], [[(1, 1)]], [[(0, 2)]])
    for tokens in (1, 2, 3):
        m = pe.Marking({"p": tokens})
        back, _ = pe.from_pnml(pe.to_pnml(net, m))
        sn = pe.to_snakes(net, m)
        assert net.is_enabled("t", m) == (tokens >= 2) == back.is_enabled("t", m)
        assert snakes_enabled(sn) == ({"t"} if tokens >= 2 else set())
        if tokens >= 2:
            assert back.fire(m, "t") == net.fire(m, "t") == pe.Marking({"p": tokens - 1,
                                                                         "q": 1})


def test_petri_export_step_writes_an_importable_pnml(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    pe.save_run(_runs()[0], path)
    assert pe.drive(str(path), FakePorts()).status == "completed"
    net, m = pe.from_pnml(tmp_path / "run.pnml")
    run = pe.load_run(str(path))
    assert net.transitions == pe.compile_run(run).transitions
    assert m["run:run_completed"] == 1  # the marking when petri_export fired


FOREIGN = b"""<?xml version="1.0"?>
<pnml xmlns="http://www.pnml.org/version-2009/grammar/pnml">
  <net id="n1" type="http://www.pnml.org/version-2009/grammar/ptnet">
    <page id="top">
      <place id="a"><initialMarking><text> 2 </text></initialMarking>
        <graphics><position x="1" y="2"/></graphics></place>
      <transition id="go"><name><text>go</text></name></transition>
      <page id="inner">
        <place id="b"><name><text>same</text></name></place>
        <place id="c"><name><text>same</text></name></place>
        <referencePlace id="ra" ref="a"/>
        <arc id="x1" source="ra" target="go"><inscription><text>2</text></inscription></arc>
        <arc id="x2" source="go" target="b"/>
        <arc id="x3" source="go" target="c"/>
      </page>
    </page>
    <toolspecific tool="other" version="9"><anything/></toolspecific>
  </net>
</pnml>
"""


def test_foreign_pnml_with_nested_pages_references_and_no_names(tmp_path: Path) -> None:
    (tmp_path / "f.pnml").write_bytes(FOREIGN)
    net, m = pe.from_pnml(tmp_path / "f.pnml")
    assert net.name == "n1" and net.places == ("a", "same#b", "same#c")
    assert m == {"a": 2}
    assert net.fire(m, "go") == {"same#b": 1, "same#c": 1}


BAD = [
    (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
     b"<pnml>&lol2;</pnml>", "", "DOCTYPE"),
    (b'<!DOCTYPE pnml SYSTEM "http://example.invalid/evil.dtd"><pnml/>', "", "DOCTYPE"),
    (b"<pnml><net", "", "not well-formed XML at line 1"),
    (b"<petrinet/>", "<petrinet>", "not <pnml>"),
    (b'<pnml xmlns="urn:other"/>', "<pnml>", "namespace 'urn:other'"),
    (b"<pnml/>", "<pnml>", "0 <net> elements"),
    (b'<pnml><net id="n" type="http://www.pnml.org/version-2009/grammar/symmetricnet"/></pnml>',
     '<net id="n">', "not a place/transition net"),
]
PT = b'<pnml><net id="n" type="http://www.pnml.org/version-2009/grammar/ptnet"><page id="g">'
BAD += [
    (PT + b"<place/></page></net></pnml>", "<place>", "no id attribute"),
    (PT + b'<place id="x"/><transition id="x"/></page></net></pnml>', '<transition id="x">',
     "used twice"),
    (PT + b'<place id="x"><initialMarking><text>-1</text></initialMarking></place>'
          b"</page></net></pnml>", '<place id="x">', "integer >= 0"),
    (PT + b'<place id="x"><initialMarking>3</initialMarking></place></page></net></pnml>',
     '<place id="x">', "has no <text>"),
    (PT + b'<place id="x"/><transition id="t"/><arc id="a" source="x" target="t">'
          b"<inscription><text>0</text></inscription></arc></page></net></pnml>",
     '<arc id="a">', "integer >= 1"),
    (PT + b'<place id="x"/><place id="y"/><arc id="a" source="x" target="y"/>'
          b"</page></net></pnml>", '<arc id="a">', "joins two places"),
    (PT + b'<place id="x"/><arc id="a" source="x" target="nowhere"/></page></net></pnml>',
     '<arc id="a">', "'nowhere'"),
    (PT + b'<place id="x"/><referencePlace id="r" ref="r"/></page></net></pnml>',
     '<referencePlace id="r">',
     "does not lead to a place"),
    (PT + b'<transition id="t"><toolspecific tool="petri-exec" version="1"><transition '
          b'manual="maybe"/></toolspecific></transition></page></net></pnml>',
     '<transition id="t">', "manual flag"),
]


@pytest.mark.parametrize(("data", "element", "message"), BAD)
def test_malformed_pnml_is_refused_naming_file_and_element(
        tmp_path: Path, data: bytes, element: str, message: str) -> None:
    path = tmp_path / "bad.pnml"
    path.write_bytes(data)
    with pytest.raises(pe.NetFormatError) as info:
        pe.from_pnml(path)
    err = info.value
    assert isinstance(err, pe.PetriExecError) and isinstance(err, ValueError)
    assert err.file == str(path) and err.element == element
    where = f"{path}:{err.line}: {element}: " if element else f"{path}: "
    assert (err.line is not None) == bool(element)
    assert str(err).startswith(where) and message in str(err)
    with pytest.raises(pe.NetFormatError, match=r"^<bytes>(:\d+)?: "):
        pe.from_pnml(data)


def test_missing_pnml_file_is_a_net_format_error(tmp_path: Path) -> None:
    with pytest.raises(pe.NetFormatError, match="cannot read the file"):
        pe.from_pnml(tmp_path / "missing.pnml")


def test_from_snakes_reads_weights_tests_and_loops() -> None:
    sn = PetriNet("s")
    sn.add_place(Place("a", [dot, dot, dot]))
    sn.add_place(Place("b", []))
    sn.add_transition(Transition("t"))
    sn.add_input("a", "t", MultiArc([Value(dot)] * 2))
    sn.add_output("a", "t", Value(dot))
    sn.add_input("b", "t", SnakesTest(Value(dot)))
    sn.add_transition(Transition("u"))
    sn.add_output("b", "u", Value(dot))
    net, m = pe.from_snakes(sn)
    assert m == {"a": 3} and net.name == "s"
    i = net.transition("t").index
    assert (net.consume[i], net.read[i], net.produce[i]) == (((0, 1),), ((0, 2), (1, 1)), ())
    assert not net.is_enabled("t", m)
    m = net.fire(m, "u")
    assert net.fire(m, "t") == {"a": 2, "b": 1}


@pytest.mark.parametrize(("case", "message"), [
    ("token", "place 'c'"), ("inhibitor", "arc 'a' -> 't'"), ("variable", "arc 'a' -> 't'"),
    ("guard", "transition 'g'"),
])
def test_from_snakes_refuses_coloured_nets(case: str, message: str) -> None:
    sn = PetriNet("s")
    sn.add_place(Place("a", [dot]))
    sn.add_transition(Transition("t", Expression("True")))
    if case == "token":
        sn.add_place(Place("c", [1]))
    elif case == "inhibitor":
        sn.add_input("a", "t", Inhibitor(Value(dot)))
    elif case == "variable":
        sn.add_input("a", "t", Variable("x"))
    else:
        sn.add_transition(Transition("g", Expression("x > 1")))
    with pytest.raises(pe.NetFormatError, match=message):
        pe.from_snakes(sn)


def test_snakes_round_trip_of_a_compiled_run() -> None:
    run = pe.Run(run_id="wide", template="minimal",
                 slices=tuple(pe.Slice(f"s{i}", depends_on=(f"s{i - 1}",) if i else ())
                              for i in range(30)))
    net, m = pe.compile_run(run), pe.marking_of(run)
    back, m2 = pe.from_snakes(pe.to_snakes(net, m))
    assert m2 == m and back.places == net.places
    assert (back.consume, back.produce, back.read) == (net.consume, net.produce, net.read)


def test_net_json_matches_its_schema() -> None:
    import jsonschema

    schema = json.loads((DOCS / "net.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    run = _runs()[0]
    net, m = pe.compile_run(run), pe.marking_of(run)
    doc = net_json(net, m, pe.PetriScheduler(net).ready(m))
    jsonschema.validate(doc, schema)
    general = pe.Net(["p", "q"], [pe.Transition("t", "t")], [[(0, 2)]], [[(1, 1)]], [[(1, 3)]])
    jsonschema.validate(json.loads(json.dumps(net_json(general, {"p": 5}))), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**doc, "marking": {"run:created": 0}}, schema)
