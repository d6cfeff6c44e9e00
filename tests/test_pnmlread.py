"""PNML as other tools write it: net types, nodes without pages, refusals with lines.

The files under ``tests/nets/thirdparty`` are other tools' own (sources and licences in the
README there); ``tests/nets/pm4py`` holds files pm4py wrote (``regenerate.py`` there).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import petri_exec as pe
from petri_exec.interchange import CORE_TYPE, read_pnml

NETS = Path(__file__).resolve().parent / "nets"
THIRD = NETS / "thirdparty"
PM4PY = NETS / "pm4py"


def _doc(net_attrs: str, body: str, ns: str = "") -> bytes:
    xmlns = f' xmlns="{ns}"' if ns else ""
    return f"<pnml{xmlns}><net id=\"n\"{net_attrs}>{body}</net></pnml>".encode()


TWO = ('<place id="a"><initialMarking><text>1</text></initialMarking></place>'
       '<place id="b"/><transition id="t"/>'
       '<arc id="x" source="a" target="t"/><arc id="y" source="t" target="b"/>')


@pytest.mark.parametrize("net_type", [
    ' type="http://www.pnml.org/version-2009/grammar/ptnet"',
    f' type="{CORE_TYPE}"',
    ' type="http://www.informatik.hu-berlin.de/top/pntd/ptNetb"',
    ' type="https://www2.informatik.hu-berlin.de/top/pntd/ptNetb"',
    "",
])
def test_p_t_compatible_types_are_read_with_or_without_pages(net_type: str) -> None:
    for body in (TWO, f'<page id="g">{TWO}</page>', f'<page id="g"><page id="h">{TWO}'
                 "</page></page>"):
        net, m = pe.from_pnml(_doc(net_type, body))
        assert net.places == ("a", "b") and m == {"a": 1}
        assert net.fire(m, "t") == {"b": 1}


def test_lola_namespace_is_accepted() -> None:
    data = _doc(' type="http://www.informatik.hu-berlin.de/top/pntd/ptNetb"', TWO,
                ns="http://www.informatik.hu-berlin.de/top/pnml/ptNetb")
    assert pe.from_pnml(data)[0].places == ("a", "b")


def test_a_file_without_nodes_is_refused_never_returned_empty() -> None:
    data = b'<pnml><net id="n" type="http://www.pnml.org/version-2009/grammar/ptnet">' \
           b'<name><text>x</text></name>\n<page id="g"/></net></pnml>'
    with pytest.raises(pe.NetFormatError) as info:
        pe.from_pnml(data)
    assert str(info.value) == (
        '<bytes>:1: <net id="n">: the net has no place and no transition; nodes must sit '
        "in a <page> or directly under <net>: this file describes an empty net")


REFUSED = [
    # (net type, body, element, line, words)
    ("", '<place id="p">\n<type domain="universal"/></place>', '<place id="p">', 1,
     "coloured places"),
    ("", '<place id="p"/>\n<transition id="t"><priority/></transition>',
     '<transition id="t">', 2, "<priority> inside <transition> is not part of"),
    (f' type="{CORE_TYPE}"', '<place id="g"/><transition id="t"/>\n<arc id="a" source="g" '
     'target="t"><arctype><text>inhibitor</text></arctype></arc>', '<arc id="a">', 2,
     "an inhibitor arc is not part of a place/transition net"),
    (' type="http://www.pnml.org/version-2009/grammar/ptnet"', '<place id="g"/>'
     '<transition id="t"/>\n<arc id="a" source="g" target="t"><type value="reset"/></arc>',
     '<arc id="a">', 2, "a reset arc"),
    (' type="http://www.pnml.org/version-2009/grammar/ptnet"',
     '\n\n<place id="p"><hlinitialMarking><text>1</text></hlinitialMarking></place>',
     '<place id="p">', 3, "coloured (high-level) initial marking"),
    (f' type="{CORE_TYPE}"', '<place id="p"/>\n<transition id="t" guard="x &gt; 1"/>',
     '<transition id="t">', 2, "guard"),
    ("", '<place id="p"><initialMarking><multiset/></initialMarking></place>',
     '<place id="p">', 1, "<initialMarking> holds <multiset>, not <text>: coloured tokens"),
    (' type="http://www.pnml.org/version-2009/grammar/symmetricnet"', TWO, '<net id="n">', 1,
     "is not a place/transition net"),
]


@pytest.mark.parametrize(("net_type", "body", "element", "line", "words"), REFUSED)
def test_what_a_p_t_net_cannot_hold_is_refused_naming_element_and_line(
        net_type: str, body: str, element: str, line: int, words: str) -> None:
    with pytest.raises(pe.NetFormatError) as info:
        pe.from_pnml(_doc(net_type, body))
    err = info.value
    assert (err.element, err.line) == (element, line)
    assert str(err).startswith(f"<bytes>:{line}: {element}: ") and words in str(err)


def test_pm4py_files_with_and_without_pages_and_their_final_marking() -> None:
    paged = read_pnml(PM4PY / "inductive-7.pnml")
    flat = read_pnml(PM4PY / "inductive-7-prom5.pnml")
    assert paged.net_type == flat.net_type == CORE_TYPE
    assert len(flat.net.places) == len(paged.net.places) == 11
    assert sorted(t.name for t in flat.net.transitions) == sorted(
        t.name for t in paged.net.transitions)
    assert flat.marking == paged.marking == {"source": 1}
    assert flat.finals == paged.finals == (pe.Marking({"sink": 1}),)
    a = pe.analyze(flat.net, flat.marking, final=flat.finals)
    assert a.sound is True  # the inductive miner's nets are sound by construction


@pytest.mark.parametrize(("name", "what"), [("inhibitor", "an inhibitor arc"),
                                            ("reset", "a reset arc")])
def test_pm4py_inhibitor_and_reset_arcs_are_refused(name: str, what: str) -> None:
    path = PM4PY / f"{name}.pnml"
    with pytest.raises(pe.NetFormatError) as info:
        pe.from_pnml(path)
    assert info.value.element.startswith("<arc id=") and info.value.line == 2
    assert f"{what} is not part of a place/transition net" in str(info.value)


def test_woped_snakes_and_contest_files() -> None:
    net, m = pe.from_pnml(THIRD / "woped" / "Insurance.pnml")  # no page, ptNetb, operators
    assert len(net.places) == 8 and len(net.transitions) == 8 and m == {"start": 1}
    net, m = pe.from_pnml(THIRD / "snakes" / "simple-pt.pnml")  # no type, no names
    assert net.places == ("p2", "p1") and m == {"p1": 1}
    assert sorted(t.name for t in net.enabled(m)) == ["t1"]
    with pytest.raises(pe.NetFormatError, match=r"simple-coloured\.pnml:4: <place id=\"p2\">:"
                                                r" the place has a <type>"):
        pe.from_pnml(THIRD / "snakes" / "simple-coloured.pnml")
    with pytest.raises(pe.NetFormatError, match=r"Subprocesses\.pnml:280: <page id=\"sub1\">"
                                                r": the page holds a <net>"):
        pe.from_pnml(THIRD / "woped" / "Subprocesses.pnml")
    with pytest.raises(pe.NetFormatError, match=r"COL-000005\.pnml:3: <net id=.*symmetricnet"):
        pe.from_pnml(THIRD / "mcc" / "Philosophers-COL-000005.pnml")


def test_every_shipped_p_t_file_reads() -> None:
    refused = {"Subprocesses", "simple-coloured", "Philosophers-COL-000005", "inhibitor",
               "reset"}
    files = sorted([*THIRD.glob("*/*.pnml"), *PM4PY.glob("*.pnml")])
    assert len(files) > 30
    for f in files:
        if f.stem not in refused:
            net, _m = pe.from_pnml(f)
            assert net.places and net.transitions, f


def test_5000_nested_pages_are_read_without_recursion() -> None:
    depth = 5000
    body = "".join(f'<page id="g{k}">' for k in range(depth)) + TWO + "</page>" * depth
    net, m = pe.from_pnml(_doc("", body))
    assert net.places == ("a", "b") and m == {"a": 1}


def test_huge_numbers_are_refused_not_crashing() -> None:
    digits = "9" * 5000
    with pytest.raises(pe.NetFormatError) as info:
        pe.from_pnml(_doc("", f'<place id="p"><initialMarking><text>{digits}</text>'
                              "</initialMarking></place>"))
    assert "has 5000 digits; petri-exec reads token counts and weights below 10**18" in str(
        info.value)
    _net, m = pe.from_pnml(_doc("", '<place id="p"><initialMarking><text>00000000000000000000'
                                   "999999999999999999</text></initialMarking></place>"))
    assert m == {"p": 10**18 - 1}


def test_duplicate_names_never_disambiguate_to_a_duplicate() -> None:
    body = ('<place id="p1"><name><text>a</text></name></place>'
            '<place id="p2"><name><text>a</text></name></place>'
            '<place id="p3"><name><text>a#p1</text></name></place>')
    net, _m = pe.from_pnml(_doc("", body))
    assert len(set(net.places)) == 3 and net.places == ("a#p1#p1", "a#p2", "a#p1")


def test_a_long_chain_of_references_resolves() -> None:
    n = 3000
    refs = "".join(f'<referencePlace id="r{k}" ref="{"a" if k == 0 else f"r{k - 1}"}"/>'
                   for k in range(n))
    body = TWO + refs + f'<arc id="z" source="r{n - 1}" target="t"/>'
    net, _m = pe.from_pnml(_doc("", body))
    t = net.transition("t")
    assert net.read[t.index] == () and dict(net.consume[t.index]) == {0: 2}
