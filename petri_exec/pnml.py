"""PNML export (ISO/IEC 15909-2 place/transition nets).

Read arcs have no PNML P/T equivalent: they are written as a consume-and-reproduce
loop (an arc place -> transition and one transition -> place with the same weight).
Output is deterministic: ids follow net order (``p<i>``, ``t<i>``, ``a<i>``); names
carry the contract's place and transition names.
"""

from __future__ import annotations

from collections.abc import Mapping
from xml.etree import ElementTree as ET

from .net import Net

__all__ = ["PNML_NS", "PTNET_TYPE", "to_pnml"]

PNML_NS = "http://www.pnml.org/version-2009/grammar/pnml"
PTNET_TYPE = "http://www.pnml.org/version-2009/grammar/ptnet"


def _text(parent: ET.Element, tag: str, value: str) -> None:
    ET.SubElement(ET.SubElement(parent, tag), "text").text = value


def to_pnml(net: Net, marking: Mapping[str, int]) -> bytes:
    """Serialise ``net`` with ``marking`` as its initial marking.

    Args:
        net: The net.
        marking: Place name -> tokens (places absent from the net are ignored).

    Returns:
        UTF-8 XML bytes ending in a newline.
    """
    root = ET.Element("pnml", xmlns=PNML_NS)
    enet = ET.SubElement(root, "net", id="net", type=PTNET_TYPE)
    _text(enet, "name", net.name)
    page = ET.SubElement(enet, "page", id="page")
    for i, place in enumerate(net.places):
        ep = ET.SubElement(page, "place", id=f"p{i}")
        _text(ep, "name", place)
        tokens = marking.get(place, 0)
        if tokens:
            _text(ep, "initialMarking", str(tokens))
    for t in net.transitions:
        _text(ET.SubElement(page, "transition", id=f"t{t.index}"), "name", t.name)
    n = 0

    def arc(source: str, target: str, weight: int) -> None:
        nonlocal n
        ea = ET.SubElement(page, "arc", id=f"a{n}", source=source, target=target)
        n += 1
        if weight != 1:
            _text(ea, "inscription", str(weight))

    for i in range(len(net.transitions)):
        consumed = dict(net.consume[i])
        produced = dict(net.produce[i])
        for p, w in net.read[i]:
            consumed[p] = consumed.get(p, 0) + w
            produced[p] = produced.get(p, 0) + w
        for p, w in consumed.items():
            arc(f"p{p}", f"t{i}", w)
        for p, w in produced.items():
            arc(f"t{i}", f"p{p}", w)
    ET.indent(root, "  ")
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"
